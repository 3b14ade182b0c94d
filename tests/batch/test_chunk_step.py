"""ChunkStep on both databases: chunking and counters, skip and retry as Spring counts them,
streams, stops at chunk boundaries, restarts from the saved position, statement budget."""

from __future__ import annotations

from typing import Any

import pytest
from batch_engine_support import (
    ListWriter,
    NumberReader,
    OutTable,
    Processor,
    RecordingStream,
    TableWriter,
    call_once,
    chunk_job,
)
from jobop.batch import (
    ChunkContext,
    ChunkListener,
    ChunkStep,
    ItemProcessListener,
    ItemReadListener,
    ItemWriteListener,
    JobLauncher,
    SkipListener,
    StepContext,
    StepExecutionListener,
    step_scope,
)
from jobop.batch.readers import IterableItemReader
from jobop.domain import BatchStatus, JobExecution, JobParameters, StepExecution
from jobop.repository import JobRepository, StatementCounter
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, insert, select


def counts(step: StepExecution) -> dict[str, int]:
    return {
        "read": step.read_count,
        "write": step.write_count,
        "filter": step.filter_count,
        "commit": step.commit_count,
        "rollback": step.rollback_count,
        "read_skip": step.read_skip_count,
        "process_skip": step.process_skip_count,
        "write_skip": step.write_skip_count,
    }


def saved_step(repository: JobRepository, execution: JobExecution) -> StepExecution:
    """The step as the repository has it (not the runner's object)."""
    reloaded = repository.explorer.get_job_execution(execution.id)
    assert reloaded is not None
    assert len(reloaded.step_executions) == 1
    return reloaded.step_executions[0]


def test_chunks_commit_with_their_counters(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = chunk_job(
        "chunks",
        reader=step_scope(lambda _: NumberReader(7)),
        processor=Processor(filter_out={2}),
        writer=TableWriter(),
        chunk_size=3,
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert execution.exit_status.exit_code == "COMPLETED"
    step = saved_step(repository, execution)
    # [1,2,3] [4,5,6] [7]+end: Spring commits the chunk in which the reader ran out.
    assert counts(step) == {
        "read": 7,
        "write": 6,
        "filter": 1,
        "commit": 3,
        "rollback": 0,
        "read_skip": 0,
        "process_skip": 0,
        "write_skip": 0,
    }
    assert step.execution_context["numbers.read.count"] == 7
    assert out.items() == [1, 3, 4, 5, 6, 7]


def test_an_exact_multiple_commits_a_last_empty_chunk(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = chunk_job(
        "multiple",
        reader=step_scope(lambda _: NumberReader(6)),
        writer=TableWriter(),
        chunk_size=3,
    )
    execution = launcher.launch(job)
    step = saved_step(repository, execution)
    assert (step.read_count, step.write_count, step.commit_count) == (6, 6, 3)
    assert out.items() == [1, 2, 3, 4, 5, 6]


class CallCountingReader(NumberReader):
    """NumberReader, counting how the step asks for items."""

    def __init__(self, count: int) -> None:
        super().__init__(count)
        self.calls = {"read": 0, "read_chunk": 0}

    def read(self) -> int | None:
        self.calls["read"] += 1
        return super().read()

    def read_chunk(self, size: int) -> list[int]:
        self.calls["read_chunk"] += 1
        return super().read_chunk(size)


@pytest.mark.parametrize("with_read_listener", [False, True])
def test_a_counting_reader_is_asked_for_a_chunk_at_once_unless_reads_are_watched(
    launcher: JobLauncher, repository: JobRepository, with_read_listener: bool
) -> None:
    reader = CallCountingReader(7)
    reads: list[int] = []

    class Reads(ItemReadListener):
        def after_read(self, item: Any) -> None:
            reads.append(item)

    job = chunk_job(
        "chunked-reads",
        reader=reader,
        writer=ListWriter(),
        chunk_size=3,
        listeners=[Reads()] if with_read_listener else [],
    )
    execution = launcher.launch(job)
    step = saved_step(repository, execution)
    assert (step.read_count, step.write_count, step.commit_count) == (7, 7, 3)
    if with_read_listener:
        # A listener sees every item as it is read: one read per item, and the end.
        assert reader.calls == {"read": 8, "read_chunk": 0}
        assert reads == [1, 2, 3, 4, 5, 6, 7]
    else:
        assert reader.calls == {"read": 0, "read_chunk": 3}


def test_seed_scenario_stop_after_the_first_chunk_then_restart(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    """Chunk size 3, 6 items; a stop requested during the first chunk stops the step after
    it; the restart reads items 4-6 only and every item is written exactly once."""
    state: dict[str, Any] = {}

    def stop_now() -> None:
        repository.request_stop(state["execution_id"])

    class StopDuringFirstChunk(ChunkListener):
        def __init__(self) -> None:
            self.stop = call_once(stop_now)

        def before_chunk(self, context: Any) -> None:
            state["execution_id"] = context.job_execution.id
            if context.job_execution.job_parameters.boolean("stop"):
                self.stop()

    job = chunk_job(
        "seed",
        reader=step_scope(lambda _: NumberReader(6)),
        writer=TableWriter(),
        chunk_size=3,
        listeners=[StopDuringFirstChunk()],
    )
    first = launcher.launch(job, JobParameters.of(stop=True))
    assert first.status is BatchStatus.STOPPED
    assert first.exit_status.exit_code == "STOPPED"
    step = saved_step(repository, first)
    assert step.status is BatchStatus.STOPPED
    assert step.exit_status.exit_code == "STOPPED"
    assert "JobInterrupted" in step.exit_status.exit_description
    assert (step.read_count, step.write_count, step.commit_count) == (3, 3, 1)
    assert repository.get_job_status(first.id) is BatchStatus.STOPPED
    assert out.items() == [1, 2, 3]

    second = launcher.launch(job, JobParameters.of(stop=True))
    assert second.status is BatchStatus.COMPLETED
    assert second.job_instance_id == first.job_instance_id
    restarted = saved_step(repository, second)
    assert restarted.read_count == 3
    assert out.by_execution() == {first.id: [1, 2, 3], second.id: [4, 5, 6]}


def test_an_in_process_stop_is_noticed_at_the_next_chunk_boundary(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    class StopInProcess(ChunkListener):
        def after_chunk(self, context: Any) -> None:
            assert launcher.runner.request_stop(context.job_execution.id)

    job = chunk_job(
        "inprocess",
        reader=step_scope(lambda _: NumberReader(10)),
        writer=TableWriter(),
        chunk_size=2,
        listeners=[StopInProcess()],
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.STOPPED
    assert out.items() == [1, 2]
    assert launcher.runner.request_stop(execution.id) is False  # no longer running here


def test_a_failure_rolls_the_chunk_back_and_a_restart_resumes(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    writer = TableWriter(fail_on={5}, failures=1)
    job = chunk_job(
        "resume", reader=step_scope(lambda _: NumberReader(8)), writer=writer, chunk_size=2
    )
    first = launcher.launch(job)
    assert first.status is BatchStatus.FAILED
    assert first.exit_status.exit_code == "FAILED"
    assert "ValueError: cannot write item 5" in first.exit_status.exit_description
    step = saved_step(repository, first)
    assert step.status is BatchStatus.FAILED
    assert "Traceback" in step.exit_status.exit_description
    assert counts(step) == {
        "read": 6,
        "write": 4,
        "filter": 0,
        "commit": 2,
        "rollback": 1,
        "read_skip": 0,
        "process_skip": 0,
        "write_skip": 0,
    }
    assert step.execution_context["numbers.read.count"] == 4  # the failed chunk's reads: not saved
    assert out.items() == [1, 2, 3, 4]

    second = launcher.launch(job)
    assert second.status is BatchStatus.COMPLETED
    assert saved_step(repository, second).read_count == 4
    assert out.by_execution() == {first.id: [1, 2, 3, 4], second.id: [5, 6, 7, 8]}


def test_a_stream_update_failure_restores_the_position(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    """The chunk whose commit fails is rolled back, its position too: the restart writes it."""
    events: list[str] = []
    fail_at = [None, 2]  # the first execution's second update fails
    job = chunk_job(
        "streamfail",
        reader=step_scope(lambda _: NumberReader(6)),
        writer=TableWriter(),
        processor=step_scope(lambda _: _StreamingProcessor(events, fail_at.pop())),
        chunk_size=2,
    )
    first = launcher.launch(job)
    assert first.status is BatchStatus.FAILED
    step = saved_step(repository, first)
    assert step.execution_context["numbers.read.count"] == 2
    assert (step.commit_count, step.rollback_count, step.write_count) == (1, 1, 2)
    assert out.items() == [1, 2]
    second = launcher.launch(job)
    assert second.status is BatchStatus.COMPLETED
    assert out.by_execution() == {first.id: [1, 2], second.id: [3, 4, 5, 6]}


class _StreamingProcessor(RecordingStream):
    def __init__(self, events: list[str], fail_update_at: int | None) -> None:
        super().__init__(events, "processor", fail_update_at)

    def process(self, item: int) -> int:
        return item


def test_streams_are_opened_updated_per_commit_and_closed(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    events: list[str] = []

    class StreamWriter(RecordingStream):
        def write(self, chunk: Any) -> None:
            events.append(f"write{list(chunk)}")

    job = chunk_job(
        "streams",
        reader=step_scope(lambda _: IterableItemReader([1, 2, 3], name="list")),
        writer=step_scope(lambda _: StreamWriter(events, "writer")),
        chunk_size=2,
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert events == [
        "writer.open(0)",
        "write[1, 2]",
        "writer.update",
        "write[3]",
        "writer.update",
        "writer.close",
    ]
    context = saved_step(repository, execution).execution_context
    assert context["writer.updates"] == 2
    assert context["list.read.count"] == 3


def test_streams_are_closed_when_the_step_fails(launcher: JobLauncher) -> None:
    events: list[str] = []

    class FailingReader(RecordingStream):
        def read(self) -> int:
            raise OSError("disk gone")

    job = chunk_job(
        "closefail",
        reader=step_scope(lambda _: FailingReader(events, "reader")),
        writer=ListWriter(),
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "OSError: disk gone" in execution.exit_status.exit_description
    assert events == ["reader.open(0)", "reader.close"]


def test_a_stream_that_cannot_close_fails_the_step(launcher: JobLauncher) -> None:
    class Unclosable(ListWriter):
        def open(self, context: Any) -> None:
            pass

        def update(self, context: Any) -> None:
            pass

        def close(self) -> None:
            raise OSError("flush failed")

    job = chunk_job("unclosable", reader=step_scope(lambda _: NumberReader(2)), writer=Unclosable())
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "OSError: flush failed" in execution.exit_status.exit_description


# -- skip and retry, counted as Spring Batch counts them ------------------------------------
# FaultTolerantStepFactoryBeanTests: commit interval 2, items 1..5, skip limit 2.


def fault_tolerant(name: str, **options: Any) -> Any:
    options.setdefault("reader", step_scope(lambda _: NumberReader(5)))
    options.setdefault("writer", TableWriter())
    options.setdefault("skippable", (ValueError,))
    options.setdefault("skip_limit", 2)
    return chunk_job(name, chunk_size=2, **options)


def test_read_skip(launcher: JobLauncher, repository: JobRepository, out: OutTable) -> None:
    job = fault_tolerant("readskip", reader=step_scope(lambda _: NumberReader(5, fail_on={2})))
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    step = saved_step(repository, execution)
    assert (step.read_skip_count, step.read_count, step.write_skip_count) == (1, 4, 0)
    assert step.rollback_count == 0
    assert out.items() == [1, 3, 4, 5]


def test_process_skip(launcher: JobLauncher, repository: JobRepository, out: OutTable) -> None:
    execution = launcher.launch(fault_tolerant("processskip", processor=Processor(fail_on={4})))
    assert execution.status is BatchStatus.COMPLETED
    step = saved_step(repository, execution)
    assert (step.process_skip_count, step.read_count, step.rollback_count) == (1, 5, 1)
    assert step.skip_count == 1
    assert out.items() == [1, 2, 3, 5]


def test_process_filter_is_no_skip(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    execution = launcher.launch(fault_tolerant("filter", processor=Processor(filter_out={4})))
    step = saved_step(repository, execution)
    assert (step.filter_count, step.skip_count, step.rollback_count) == (1, 0, 0)
    assert out.items() == [1, 2, 3, 5]


def test_write_skip_scans_the_chunk_and_skips_only_the_bad_item(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    writer = TableWriter(fail_on={4})
    execution = launcher.launch(fault_tolerant("writeskip", writer=writer))
    assert execution.status is BatchStatus.COMPLETED
    step = saved_step(repository, execution)
    assert (step.write_skip_count, step.read_count, step.write_count) == (1, 5, 4)
    # One rollback for the chunk, one for the bad item during the scan.
    assert step.rollback_count == 2
    # [1,2], the scanned [3,4] in one transaction, [5]+end.
    assert step.commit_count == 3
    assert writer.calls == [[1, 2], [3, 4], [3], [4], [5]]
    assert out.items() == [1, 2, 3, 5]


def test_skip_limit_exceeded_fails_the_step(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = fault_tolerant("limit", processor=Processor(fail_on={1, 2, 3}))
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "SkipLimitExceeded: skip limit of 2 exceeded" in execution.exit_status.exit_description
    step = saved_step(repository, execution)
    assert step.process_skip_count == 2
    assert out.items() == []


def test_write_skip_limit_in_the_scan_fails_the_step_and_writes_nothing_of_the_chunk(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = fault_tolerant("scanlimit", writer=TableWriter(fail_on={3, 4}), skip_limit=1)
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    step = saved_step(repository, execution)
    assert "SkipLimitExceeded" in step.exit_status.exit_description
    # The chunk, then item 3 and item 4 in the scan.
    assert step.rollback_count == 3
    # Item 3 was skipped before item 4 exceeded the limit; like Spring, the failed chunk's
    # skips still count, though its transaction rolled back.
    assert step.write_skip_count == 1
    assert out.items() == [1, 2]


def test_a_non_skippable_error_fails_at_once(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = fault_tolerant("nonskippable", processor=Processor(fail_on={3}, error=KeyError))
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    step = saved_step(repository, execution)
    assert (step.process_skip_count, step.rollback_count) == (0, 1)
    assert out.items() == [1, 2]


def test_a_non_skippable_read_error_fails_at_once(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = fault_tolerant(
        "nonskippableread", reader=step_scope(lambda _: NumberReader(5, {2}, error=KeyError))
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert saved_step(repository, execution).read_skip_count == 0


def test_a_non_skippable_write_error_is_not_scanned(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    writer = TableWriter(fail_on={3}, error=KeyError)
    execution = launcher.launch(fault_tolerant("noscan", writer=writer))
    assert execution.status is BatchStatus.FAILED
    assert writer.calls == [[1, 2], [3, 4]]
    assert saved_step(repository, execution).rollback_count == 1
    assert out.items() == [1, 2]


def test_process_retry_then_success(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    processor = Processor(fail_on={3}, error=TimeoutError, failures=2)
    job = fault_tolerant(
        "retry", processor=processor, skippable=(), retryable=(TimeoutError,), retry_limit=3
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert processor.attempts == {3: 3}
    step = saved_step(repository, execution)
    assert (step.rollback_count, step.skip_count, step.write_count) == (2, 0, 5)
    assert out.items() == [1, 2, 3, 4, 5]


def test_process_retry_exhausted_then_skip(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    processor = Processor(fail_on={3}, error=TimeoutError)
    job = fault_tolerant(
        "retryskip",
        processor=processor,
        skippable=(TimeoutError,),
        retryable=(TimeoutError,),
        retry_limit=2,
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert processor.attempts == {3: 2}
    step = saved_step(repository, execution)
    assert (step.rollback_count, step.process_skip_count) == (2, 1)
    assert out.items() == [1, 2, 4, 5]


def test_process_retry_exhausted_fails(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    processor = Processor(fail_on={3}, error=TimeoutError)
    job = fault_tolerant(
        "retryfail", processor=processor, skippable=(), retryable=(TimeoutError,), retry_limit=2
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert processor.attempts == {3: 2}
    assert saved_step(repository, execution).rollback_count == 2


def test_write_retry_rewrites_the_chunk(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    writer = TableWriter(fail_on={3}, error=TimeoutError, failures=1)
    job = fault_tolerant("writeretry", writer=writer, retryable=(TimeoutError,))
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert writer.calls == [[1, 2], [3, 4], [3, 4], [5]]
    step = saved_step(repository, execution)
    assert (step.rollback_count, step.write_skip_count, step.commit_count) == (1, 0, 3)
    assert out.items() == [1, 2, 3, 4, 5]


def test_write_retry_exhausted_then_scan(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    writer = TableWriter(fail_on={3}, error=TimeoutError)
    job = fault_tolerant(
        "writeretryscan",
        writer=writer,
        retryable=(TimeoutError,),
        retry_limit=2,
        skippable=(TimeoutError,),
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert writer.calls == [[1, 2], [3, 4], [3, 4], [3], [4], [5]]
    step = saved_step(repository, execution)
    assert (step.rollback_count, step.write_skip_count) == (3, 1)
    assert out.items() == [1, 2, 4, 5]


def test_a_custom_skip_policy(launcher: JobLauncher, repository: JobRepository) -> None:
    class SkipOddItems:
        def should_skip(self, error: Exception, skip_count: int) -> bool:
            return "item 1" in str(error) or "item 3" in str(error)

    job = chunk_job(
        "policy",
        reader=step_scope(lambda _: NumberReader(4)),
        processor=Processor(fail_on={1, 3}),
        writer=ListWriter(),
        skip_policy=SkipOddItems(),
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert saved_step(repository, execution).process_skip_count == 2


def test_item_and_skip_listeners_are_called(launcher: JobLauncher) -> None:
    events: list[str] = []

    class Everything(
        ItemReadListener,
        ItemProcessListener,
        ItemWriteListener,
        SkipListener,
        ChunkListener,
        StepExecutionListener,
    ):
        def before_step(self, step_execution: StepExecution) -> None:
            events.append("before_step")

        def after_step(self, step_execution: StepExecution) -> None:
            events.append(f"after_step {step_execution.status.value}")

        def before_chunk(self, context: Any) -> None:
            events.append("before_chunk")

        def after_chunk(self, context: Any) -> None:
            events.append("after_chunk")

        def before_read(self) -> None:
            events.append("before_read")

        def after_read(self, item: Any) -> None:
            events.append(f"after_read {item}")

        def on_read_error(self, error: Exception) -> None:
            events.append(f"on_read_error {error}")

        def before_process(self, item: Any) -> None:
            events.append(f"before_process {item}")

        def after_process(self, item: Any, result: Any) -> None:
            events.append(f"after_process {item}->{result}")

        def on_process_error(self, item: Any, error: Exception) -> None:
            events.append(f"on_process_error {item}")

        def before_write(self, chunk: Any) -> None:
            events.append(f"before_write {list(chunk)}")

        def after_write(self, chunk: Any) -> None:
            events.append(f"after_write {list(chunk)}")

        def on_write_error(self, error: Exception, chunk: Any) -> None:
            events.append(f"on_write_error {list(chunk)}")

        def on_skip_in_read(self, error: Exception) -> None:
            events.append("skip_in_read")

        def on_skip_in_process(self, item: Any, error: Exception) -> None:
            events.append(f"skip_in_process {item}")

        def on_skip_in_write(self, item: Any, error: Exception) -> None:
            events.append(f"skip_in_write {item}")

    job = chunk_job(
        "listeners",
        reader=step_scope(lambda _: NumberReader(4, fail_on={1})),
        processor=Processor(fail_on={2}, filter_out={3}),
        writer=TableWriter(fail_on={4}),
        skippable=(ValueError,),
        chunk_size=3,
        listeners=[Everything()],
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert events == [
        "before_step",
        "before_chunk",
        "before_read",
        "on_read_error cannot read item 1",
        "before_read",
        "after_read 2",
        "before_read",
        "after_read 3",
        "before_read",
        "after_read 4",
        "before_process 2",
        "on_process_error 2",
        "before_process 3",
        "after_process 3->None",
        "before_process 4",
        "after_process 4->4",
        "before_write [4]",
        "on_write_error [4]",
        "before_write [4]",
        "on_write_error [4]",
        # Skip listeners: just before the commit, in the chunk's transaction.
        "skip_in_read",
        "skip_in_process 2",
        "skip_in_write 4",
        "after_chunk",
        "before_chunk",
        "before_read",
        "after_chunk",
        "after_step COMPLETED",
    ]


def test_a_reader_that_is_a_listener_is_registered(launcher: JobLauncher) -> None:
    seen: list[str] = []

    class ListeningReader(NumberReader):
        def before_step(self, step_execution: StepExecution) -> None:
            seen.append(step_execution.step_name)

    job = chunk_job("selflistening", reader=ListeningReader(1), writer=ListWriter())
    launcher.launch(job)
    assert seen == ["step"]


def test_chunk_size_from_a_job_parameter(launcher: JobLauncher, repository: JobRepository) -> None:
    job = chunk_job(
        "paramsize",
        reader=step_scope(lambda _: NumberReader(10)),
        writer=ListWriter(),
        chunk_size=lambda context: context.job_parameters.long("size"),
    )
    execution = launcher.launch(job, JobParameters.of(size=4))
    assert saved_step(repository, execution).commit_count == 3
    bad = launcher.launch(job, JobParameters.of(size=0))
    assert bad.status is BatchStatus.FAILED
    assert "chunk size must be at least 1" in bad.exit_status.exit_description


def test_at_most_two_metadata_statements_per_chunk(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    """Runs of 10 and 30 one-item chunks differ by 20 chunks: their statements differ by at
    most 40, whatever the fixed cost of the launch and the step."""

    def statements(items: int) -> int:
        job = chunk_job(
            f"budget{items}",
            reader=step_scope(lambda _: NumberReader(items)),  # saves its position per chunk
            writer=ListWriter(),
            chunk_size=1,
        )
        with StatementCounter(repository.engine) as counter:
            execution = launcher.launch(job)
        assert execution.status is BatchStatus.COMPLETED
        assert len(counter.matching("batch_step_execution ")) >= items
        return counter.count

    per_chunk = (statements(30) - statements(10)) / 20
    # The step's UPDATE ... RETURNING and its changed context; one statement on PostgreSQL.
    assert per_chunk == (1 if repository.engine.dialect.name == "postgresql" else 2)


def test_one_job_definition_runs_concurrently_with_step_scoped_components(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    import threading

    job = chunk_job(
        "concurrent",
        reader=step_scope(
            lambda context: NumberReader(
                context.job_parameters.long("last"),
                name="numbers",
            )
        ),
        processor=step_scope(lambda context: _Offset(context.job_parameters.long("offset"))),
        writer=TableWriter(),
        chunk_size=5,
    )
    results: list[JobExecution] = []

    def run(offset: int) -> None:
        results.append(launcher.launch(job, JobParameters.of(offset=offset, last=50)))

    threads = [threading.Thread(target=run, args=(offset,)) for offset in (0, 100, 200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status.value for r in results) == ["COMPLETED"] * 3
    expected = sorted(offset + n for offset in (0, 100, 200) for n in range(1, 51))
    assert out.items() == expected


class _Offset:
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def process(self, item: int) -> int:
        return item + self.offset


@pytest.mark.parametrize("size", [0, -1])
def test_chunk_size_must_be_positive(size: int) -> None:
    with pytest.raises(ValueError, match="chunk_size"):
        ChunkStep("bad", reader=NumberReader(1), writer=ListWriter(), chunk_size=size)


# -- skip listeners record in the chunk's transaction ---------------------------------------

_skips_metadata = MetaData()
SKIPS = Table(
    "batch_test_skips",
    _skips_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(10), nullable=False),
    Column("item", BigInteger),
)


class SkipRecorder(ChunkListener, SkipListener):
    """Inserts each skip into SKIPS on the chunk's connection."""

    def __init__(self) -> None:
        self.context: ChunkContext | None = None

    def before_chunk(self, context: ChunkContext) -> None:
        self.context = context

    def _record(self, kind: str, item: int | None) -> None:
        assert self.context is not None
        connection = self.context.connection
        assert connection is not None and connection.in_transaction()
        connection.execute(insert(SKIPS), {"kind": kind, "item": item})

    def on_skip_in_read(self, error: Exception) -> None:
        self._record("read", None)

    def on_skip_in_process(self, item: Any, error: Exception) -> None:
        self._record("process", item)

    def on_skip_in_write(self, item: Any, error: Exception) -> None:
        self._record("write", item)


def recorded_skips(repository: JobRepository) -> list[tuple[str, int | None]]:
    with repository.engine.connect() as connection:
        rows = connection.execute(select(SKIPS.c.kind, SKIPS.c.item).order_by(SKIPS.c.id))
        return [(row.kind, row.item) for row in rows]


@pytest.fixture
def skips_table(repository: JobRepository) -> None:
    _skips_metadata.create_all(repository.engine)


@pytest.mark.usefixtures("skips_table")
def test_skip_listener_rows_commit_with_their_chunk_and_roll_back_with_it(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    # [1,2]: 1 skipped in process; [_,4,5]: 3 skipped in read; [6,7]: 6 skipped in process,
    # then 7 fails to write with an error that cannot be skipped: that chunk rolls back.
    job = fault_tolerant(
        "skiprows",
        reader=step_scope(lambda _: NumberReader(8, fail_on={3})),
        processor=Processor(fail_on={1, 6}),
        writer=TableWriter(fail_on={7}, error=KeyError),
        skip_limit=5,
        listeners=[SkipRecorder()],
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert out.items() == [2, 4, 5]
    assert recorded_skips(repository) == [("process", 1), ("read", None)]
    # The failed chunk's skips still count, as in Spring, though nothing recorded them.
    step = saved_step(repository, execution)
    assert (step.read_skip_count, step.process_skip_count) == (1, 2)


@pytest.mark.usefixtures("skips_table")
def test_write_skips_of_a_scan_are_recorded_once_in_its_transaction(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    # [3,4] fails, is retried once, then scanned: 4 is skipped in the scan; the attempts
    # that rolled back recorded nothing.
    writer = TableWriter(fail_on={4}, error=TimeoutError)
    job = fault_tolerant(
        "scanrows",
        processor=Processor(fail_on={3}),
        writer=writer,
        skippable=(ValueError, TimeoutError),
        retryable=(TimeoutError,),
        retry_limit=2,
        listeners=[SkipRecorder()],
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.COMPLETED
    assert writer.calls == [[1, 2], [4], [4], [4], [5]]
    assert out.items() == [1, 2, 5]
    assert recorded_skips(repository) == [("process", 3), ("write", 4)]


@pytest.mark.usefixtures("skips_table")
def test_a_failed_scan_records_no_skips(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    job = fault_tolerant(
        "scanfails",
        writer=TableWriter(fail_on={3, 4}),
        skip_limit=1,
        listeners=[SkipRecorder()],
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert out.items() == [1, 2]
    assert recorded_skips(repository) == []


class _UpdateFailingWriter(TableWriter):
    """A TableWriter that is also a stream whose n-th update (in the n-th commit) fails."""

    def __init__(self, fail_update_at: int | None) -> None:
        super().__init__()
        self.fail_update_at = fail_update_at
        self.updates = 0

    def open(self, context: Any) -> None:
        pass

    def update(self, context: Any) -> None:
        self.updates += 1
        if self.updates == self.fail_update_at:
            raise RuntimeError("update fails")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("commit_fails", [False, True])
@pytest.mark.usefixtures("skips_table")
def test_a_chunk_of_only_bad_items_records_its_skips_in_its_own_transaction(
    launcher: JobLauncher, repository: JobRepository, out: OutTable, commit_fails: bool
) -> None:
    writer = _UpdateFailingWriter(fail_update_at=2 if commit_fails else None)
    job = fault_tolerant(
        "onlybad",
        reader=step_scope(lambda _: NumberReader(4)),
        processor=Processor(fail_on={3, 4}),
        writer=writer,
        listeners=[SkipRecorder()],
    )
    execution = launcher.launch(job)
    assert writer.calls == [[1, 2]]
    assert out.items() == [1, 2]
    if commit_fails:
        # The second chunk (3 and 4, both skipped) rolled back: so did its skip rows.
        assert execution.status is BatchStatus.FAILED
        assert recorded_skips(repository) == []
    else:
        assert execution.status is BatchStatus.COMPLETED
        assert recorded_skips(repository) == [("process", 3), ("process", 4)]
        assert saved_step(repository, execution).commit_count == 3


def test_a_failing_skip_listener_fails_the_step(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    class Failing(SkipListener):
        def on_skip_in_process(self, item: Any, error: Exception) -> None:
            raise RuntimeError("listener fails")

    writer = TableWriter()
    job = fault_tolerant(
        "failinglistener",
        processor=Processor(fail_on={3}),
        writer=writer,
        listeners=[Failing()],
    )
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "listener fails" in execution.exit_status.exit_description
    assert writer.calls == [[1, 2], [4]]  # neither retried nor scanned
    assert out.items() == [1, 2]


def test_skip_limit_may_be_a_function_of_the_step_context(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    limits: list[str] = []

    def limit(context: StepContext) -> int:
        limits.append(context.step_name)
        return 1

    job = fault_tolerant("limitfn", processor=Processor(fail_on={1, 3}), skip_limit=limit)
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "SkipLimitExceeded: skip limit of 1 exceeded" in execution.exit_status.exit_description
    assert limits == ["step"]
    assert saved_step(repository, execution).process_skip_count == 1
    assert out.items() == [2]
