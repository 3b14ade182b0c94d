"""PartitionStep on both databases, its partitions on threads of this process: Spring's
splitter (names, contexts, the grid size kept on restart, completed partitions not run
again), its aggregator, a failing partition failing the job once the others ended, a stop
stopping every partition at a chunk boundary, and the JOBOP_PARTITION rows."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from batch_engine_support import OutTable, RangeReader, TableWriter
from jobop.batch import (
    ChunkListener,
    ChunkStep,
    Job,
    JobLauncher,
    JobRunner,
    LocalPartitionHandler,
    PartitionStep,
    RangePartitioner,
    RepeatStatus,
    StepContext,
    StepExecutionListener,
    TaskletStep,
    logcontext,
    step_scope,
)
from jobop.batch.partition import GRID_SIZE_KEY, UNSUCCESSFUL
from jobop.batch.step import StepRun
from jobop.domain import BatchStatus, JobExecution, JobParameters, StepExecution
from jobop.repository import JobRepository
from jobop.repository.schema import step_execution
from sqlalchemy import update

# -- the range partitioner -----------------------------------------------------------------


def test_range_partitioner_splits_contiguous_ranges_the_last_taking_the_rest() -> None:
    assert RangePartitioner(1, 10).partition(3) == {
        "partition0": {"minValue": 1, "maxValue": 3},
        "partition1": {"minValue": 4, "maxValue": 6},
        "partition2": {"minValue": 7, "maxValue": 10},
    }
    assert RangePartitioner(5, 5).partition(4) == {"partition0": {"minValue": 5, "maxValue": 5}}
    # Fewer values than the grid: one partition per value, never an empty one.
    assert [p["minValue"] for p in RangePartitioner(1, 3).partition(8).values()] == [1, 2, 3]
    assert RangePartitioner(1, 0).partition(4) == {}
    for low, high, grid in [(1, 1000, 7), (-50, 49, 4), (0, 12, 12), (3, 1_000_003, 16)]:
        ranges = list(RangePartitioner(low, high).partition(grid).values())
        assert len(ranges) == min(grid, high - low + 1)
        covered = [v for r in ranges for v in range(r["minValue"], r["maxValue"] + 1)]
        assert covered == list(range(low, high + 1))
    with pytest.raises(ValueError, match="grid size"):
        RangePartitioner(1, 10).partition(0)
    with pytest.raises(TypeError):
        RangePartitioner(1, "10")  # type: ignore[arg-type]


def test_partition_step_refuses_bad_definitions() -> None:
    worker = TaskletStep("w", lambda contribution, chunk_context: None)
    with pytest.raises(ValueError, match="grid size"):
        PartitionStep("p", step=worker, partitioner=RangePartitioner(1, 2), grid_size=0)
    with pytest.raises(TypeError, match="partition"):
        PartitionStep("p", step=worker, partitioner=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="partition_retries"):
        PartitionStep("p", step=worker, partitioner=RangePartitioner(1, 2), partition_retries=-1)
    with pytest.raises(ValueError, match="threads"):
        LocalPartitionHandler(threads=0)


# -- jobs ------------------------------------------------------------------------------------


class FailOn:
    """A processor failing on `item` while `armed`."""

    def __init__(self, item: int) -> None:
        self.item = item
        self.armed = True

    def process(self, item: int) -> int:
        if self.armed and item == self.item:
            raise ValueError(f"cannot process item {item}")
        return item


class Recorder(StepExecutionListener):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.before: list[str] = []
        self.after: list[tuple[str, BatchStatus]] = []
        self.threads: set[str] = set()

    def before_step(self, step_execution: StepExecution) -> None:
        with self.lock:
            self.before.append(step_execution.step_name)
            self.threads.add(threading.current_thread().name)

    def after_step(self, step_execution: StepExecution) -> None:
        with self.lock:
            self.after.append((step_execution.step_name, step_execution.status))


def partitioned_job(
    name: str,
    *,
    items: int,
    grid_size: Any = 3,
    chunk_size: int = 2,
    processor: object = None,
    listeners: Sequence[object] = (),
) -> Job:
    worker = ChunkStep(
        "work",
        reader=step_scope(RangeReader),
        processor=processor,
        writer=TableWriter(),
        chunk_size=chunk_size,
        listeners=listeners,
    )
    return Job(
        name,
        [
            PartitionStep(
                "manager",
                step=worker,
                partitioner=RangePartitioner(1, items),
                grid_size=grid_size,
            )
        ],
    )


def reloaded(repository: JobRepository, execution: JobExecution) -> JobExecution:
    found = repository.explorer.get_job_execution(execution.id)
    assert found is not None
    return found


def by_name(execution: JobExecution) -> dict[str, StepExecution]:
    return {step.step_name: step for step in execution.step_executions}


COUNTERS = (
    "read_count",
    "write_count",
    "filter_count",
    "commit_count",
    "rollback_count",
    "read_skip_count",
    "process_skip_count",
    "write_skip_count",
)


def test_every_item_once_in_named_partitions_aggregated_by_the_manager(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    recorder = Recorder()
    job = partitioned_job("partitioned", items=20, grid_size=4, chunk_size=3, listeners=[recorder])
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert out.items() == list(range(1, 21))

    saved = reloaded(repository, execution)
    steps = by_name(saved)
    names = [f"work:partition{i}" for i in range(4)]
    assert list(steps) == ["manager", *names]
    assert {step.job_execution_id for step in steps.values()} == {execution.id}
    for index, name in enumerate(names):
        worker = steps[name]
        assert worker.status is BatchStatus.COMPLETED
        assert worker.exit_status.exit_code == "COMPLETED"
        assert worker.execution_context["minValue"] == 5 * index + 1
        assert worker.execution_context["maxValue"] == 5 * index + 5
        assert (worker.read_count, worker.write_count, worker.commit_count) == (5, 5, 2)
        # Ran on this process: its partition row names this node.
        assert worker.node_id == logcontext.node_id()[:40]
    manager = steps["manager"]
    assert manager.status is BatchStatus.COMPLETED
    assert manager.execution_context[GRID_SIZE_KEY] == 4
    assert manager.node_id is None  # launched without a node: no launch request
    for counter in COUNTERS:
        assert getattr(manager, counter) == sum(getattr(steps[n], counter) for n in names)
    # The worker's listeners ran once per partition, on threads of their own.
    assert sorted(recorder.before) == names
    assert sorted(recorder.after) == [(n, BatchStatus.COMPLETED) for n in names]
    assert len(recorder.threads) > 1

    rows = repository.get_partitions(execution.id)
    assert [row.step_name for row in rows] == names
    assert [row.step_execution_id for row in rows] == [steps[n].id for n in names]
    for row in rows:
        assert row.manager_step_execution_id == manager.id
        assert row.attempt == 1
        assert row.node_id == logcontext.node_id()[:40]
        assert row.claimed is not None and row.ended is not None
        assert row.created <= row.claimed <= row.ended


def test_a_failed_partition_fails_the_job_after_the_others_end_and_a_restart_runs_only_it(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    processor = FailOn(7)
    job = partitioned_job("failing", items=12, grid_size=3, chunk_size=2, processor=processor)
    first = launcher.launch(job)
    assert first.status is BatchStatus.FAILED
    steps = by_name(reloaded(repository, first))
    manager = steps["manager"]
    assert manager.status is BatchStatus.FAILED
    assert UNSUCCESSFUL in manager.exit_status.exit_description
    failed = steps["work:partition1"]  # 5..8: 5 and 6 committed, the chunk of 7 failed
    assert failed.status is BatchStatus.FAILED
    counted = (failed.read_count, failed.write_count, failed.commit_count, failed.rollback_count)
    assert counted == (4, 2, 1, 1)  # Spring counts the rolled back chunk's reads
    assert "cannot process item 7" in failed.exit_status.exit_description
    for name in ("work:partition0", "work:partition2"):
        assert steps[name].status is BatchStatus.COMPLETED
        assert steps[name].end_time is not None and manager.end_time is not None
        assert steps[name].end_time <= manager.end_time
    assert all(row.ended is not None for row in repository.get_partitions(first.id))
    assert out.items() == [1, 2, 3, 4, 5, 6, 9, 10, 11, 12]

    processor.armed = False
    second = launcher.launch(job)  # the same (failed) instance: a restart
    assert second.job_instance_id == first.job_instance_id
    assert second.status is BatchStatus.COMPLETED
    again = by_name(reloaded(repository, second))
    assert list(again) == ["manager", "work:partition1"]
    resumed = again["work:partition1"]
    # Resumed after its last commit: items 7 and 8 only.
    assert (resumed.read_count, resumed.write_count) == (2, 2)
    assert resumed.execution_context["minValue"] == 5
    assert again["manager"].read_count == 2
    assert out.items() == list(range(1, 13))
    assert out.by_execution()[second.id] == [7, 8]
    assert [row.step_name for row in repository.get_partitions(second.id)] == ["work:partition1"]


def test_a_restart_keeps_the_grid_size_of_the_first_execution(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    sizes: Iterator[int] = iter([3, 5])
    processor = FailOn(1)
    job = partitioned_job(
        "grid", items=9, grid_size=lambda _context: next(sizes), processor=processor
    )
    first = launcher.launch(job)
    assert first.status is BatchStatus.FAILED
    processor.armed = False
    second = launcher.launch(job)
    assert second.status is BatchStatus.COMPLETED
    steps = by_name(reloaded(repository, second))
    assert list(steps) == ["manager", "work:partition0"]  # of the three partitions
    assert steps["manager"].execution_context[GRID_SIZE_KEY] == 3
    assert steps["work:partition0"].execution_context["maxValue"] == 3
    assert out.items() == list(range(1, 10))


@pytest.mark.parametrize("how", ["repository", "in_process"])
def test_a_stop_stops_every_partition_at_a_chunk_boundary(
    how: str, launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    grid = 3

    def stop() -> None:
        execution_id = state["execution_id"]
        if how == "repository":
            repository.request_stop(execution_id)
        else:
            assert launcher.runner.request_stop(execution_id)

    state: dict[str, Any] = {}
    barrier = threading.Barrier(grid, action=stop, timeout=20)

    class StopOnceAllCommitted(ChunkListener):
        def after_chunk(self, context: Any) -> None:
            state["execution_id"] = context.job_execution.id
            if context.step_execution.commit_count == 1 and state.get("stop", True):
                barrier.wait()

    job = partitioned_job(
        "stopping", items=30, grid_size=grid, chunk_size=2, listeners=[StopOnceAllCommitted()]
    )
    first = launcher.launch(job)
    assert first.status is BatchStatus.STOPPED
    steps = by_name(reloaded(repository, first))
    assert steps["manager"].status is BatchStatus.STOPPED
    workers = [steps[f"work:partition{i}"] for i in range(grid)]
    assert [w.status for w in workers] == [BatchStatus.STOPPED] * grid
    assert all(w.exit_status.exit_code == "STOPPED" for w in workers)
    # Each stopped at a chunk boundary: in process before its second chunk, through the
    # repository once its second commit read STOPPING.
    chunks = 2 if how == "repository" else 1
    assert [w.write_count for w in workers] == [2 * chunks] * grid
    assert len(out.items()) == 2 * chunks * grid

    state["stop"] = False
    second = launcher.launch(job)
    assert second.status is BatchStatus.COMPLETED
    assert out.items() == list(range(1, 31))
    written = 2 * chunks * grid
    assert sorted(len(items) for items in out.by_execution().values()) == [written, 30 - written]


def test_completed_partitions_run_again_only_when_allowed(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    """allow_start_if_complete on the worker step: every partition runs on restart."""
    calls: list[tuple[int, int]] = []
    armed = {"fail": True}

    def tasklet_for(context: StepContext) -> Any:
        first, last = context.execution_context["minValue"], context.execution_context["maxValue"]

        def tasklet(contribution: Any, chunk_context: Any) -> RepeatStatus:
            calls.append((first, last))
            if armed["fail"] and first == 1:
                raise RuntimeError("the first partition fails once")
            return RepeatStatus.FINISHED

        return tasklet

    def job(again: bool) -> Job:
        worker = TaskletStep("sum", step_scope(tasklet_for), allow_start_if_complete=again)
        return Job(
            f"tasklets{again}",
            [PartitionStep("split", step=worker, partitioner=RangePartitioner(1, 4), grid_size=2)],
        )

    for again, expected in ((False, [(1, 2)]), (True, [(1, 2), (3, 4)])):
        armed["fail"] = True
        assert launcher.launch(job(again)).status is BatchStatus.FAILED
        assert sorted(calls) == [(1, 2), (3, 4)]
        calls.clear()
        armed["fail"] = False
        assert launcher.launch(job(again)).status is BatchStatus.COMPLETED
        assert sorted(calls) == expected
        calls.clear()


def test_an_empty_split_completes_the_manager_and_a_runner_handler_is_used(
    repository: JobRepository, out: OutTable
) -> None:
    handled: list[list[str]] = []

    class Counting(LocalPartitionHandler):
        def handle(
            self,
            step: PartitionStep,
            manager: StepExecution,
            workers: Sequence[StepExecution],
            run: StepRun,
        ) -> list[StepExecution]:
            handled.append([w.step_name for w in workers])
            return super().handle(step, manager, workers, run)

    runner = JobRunner(repository, partition_handler=Counting(threads=1, node_id="node-a"))
    launcher = JobLauncher(repository, runner)
    empty = launcher.launch(partitioned_job("empty", items=0))
    assert empty.status is BatchStatus.COMPLETED
    assert [s.step_name for s in reloaded(repository, empty).step_executions] == ["manager"]
    two = launcher.launch(partitioned_job("two", items=4, grid_size=2))
    assert two.status is BatchStatus.COMPLETED
    assert handled == [["work:partition0", "work:partition1"]]
    assert {row.node_id for row in repository.get_partitions(two.id)} == {"node-a"}
    assert out.items() == [1, 2, 3, 4]
    runner.close()


def test_a_bad_partition_definition_at_run_time_fails_the_manager(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    worker = TaskletStep("w", lambda contribution, chunk_context: None)
    job = Job(
        "badGrid",
        [
            PartitionStep(
                "p",
                step=worker,
                partitioner=RangePartitioner(1, 5),
                grid_size=lambda context: context.job_parameters.long("grid"),
            )
        ],
    )
    execution = launcher.launch(job, JobParameters.of(grid=0))
    assert execution.status is BatchStatus.FAILED
    assert "grid size" in execution.exit_status.exit_description
    assert [s.step_name for s in reloaded(repository, execution).step_executions] == ["p"]


def test_an_execution_ended_elsewhere_ends_every_partition_at_its_next_commit(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    """Recovery (the owner lost) fails the execution while its partitions run: each one's
    next commit finds it ended, no partition writes past it, and every row is ended."""
    grid = 3
    state: dict[str, Any] = {}

    def recover() -> None:
        repository.fail_running(state["execution_id"], "owner lost: node gone")

    barrier = threading.Barrier(grid, action=recover, timeout=20)

    class RecoverOnceAllCommitted(ChunkListener):
        def after_chunk(self, context: Any) -> None:
            state["execution_id"] = context.job_execution.id
            if context.step_execution.commit_count == 1:
                barrier.wait()

    job = partitioned_job(
        "recovered", items=30, grid_size=grid, chunk_size=2, listeners=[RecoverOnceAllCommitted()]
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "owner lost: node gone" in execution.exit_status.exit_description
    steps = by_name(reloaded(repository, execution))
    assert {s.status for s in steps.values()} == {BatchStatus.FAILED}
    # Only the first chunk of each partition committed: the second found the job ended.
    assert len(out.items()) == 2 * grid
    rows = repository.get_partitions(execution.id)
    assert len(rows) == grid and all(row.ended is not None for row in rows)


def test_a_partition_left_unknown_is_not_restarted(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    processor = FailOn(4)
    job = partitioned_job("unknown", items=6, grid_size=2, processor=processor)
    first = launcher.launch(job)
    assert first.status is BatchStatus.FAILED
    failed = by_name(reloaded(repository, first))["work:partition1"]
    with repository.engine.begin() as connection:
        connection.execute(
            update(step_execution)
            .where(step_execution.c.step_execution_id == failed.id)
            .values(status="UNKNOWN")
        )
    processor.armed = False
    second = launcher.launch(job)
    assert second.status is BatchStatus.FAILED
    assert "Cannot restart step [work:partition1] from UNKNOWN" in (
        second.exit_status.exit_description
    )
    assert [s.step_name for s in reloaded(repository, second).step_executions] == ["manager"]


def test_a_partitions_log_records_name_the_partition(
    launcher: JobLauncher, caplog: pytest.LogCaptureFixture, out: OutTable
) -> None:
    caplog.set_level("INFO", logger="jobop.batch.step")
    execution = launcher.launch(partitioned_job("logged", items=4, grid_size=2))
    assert execution.status is BatchStatus.COMPLETED
    ended = {
        (record.step_name, record.job_execution_id)  # type: ignore[attr-defined]
        for record in caplog.records
        if record.getMessage().startswith("Step: [work]")
    }
    assert ended == {(f"work:partition{i}", execution.id) for i in range(2)}


def test_the_local_handler_runs_at_most_its_threads_at_once(
    repository: JobRepository, out: OutTable
) -> None:
    lock = threading.Lock()
    running = {"now": 0, "most": 0}

    class Counting(StepExecutionListener):
        def before_step(self, step_execution: StepExecution) -> None:
            with lock:
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])

        def after_step(self, step_execution: StepExecution) -> None:
            with lock:
                running["now"] -= 1

    job = partitioned_job("bounded", items=40, grid_size=8, listeners=[Counting()])
    runner = JobRunner(repository, partition_handler=LocalPartitionHandler(threads=2))
    try:
        execution = JobLauncher(repository, runner).launch(job)
    finally:
        runner.close()
    assert execution.status is BatchStatus.COMPLETED
    assert out.items() == list(range(1, 41))
    assert running["most"] <= 2
