"""The partition rows and the API a claiming node uses, on both databases: partitions
added waiting (no node), announced by `pw JOBEXEC:STEPEXEC ...` on PostgreSQL, run by
`execute_partition` from another thread with the execution as the repository has it (as a
node that claimed them does), each row ended and announced by `pe JOBEXEC:STEPEXEC`."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from batch_engine_support import OutTable, RangeReader, TableWriter
from jobop.batch import (
    ChunkStep,
    Job,
    JobLauncher,
    JobRunner,
    PartitionStep,
    RangePartitioner,
    StopSignal,
    execute_partition,
    step_scope,
)
from jobop.batch.step import StepRun
from jobop.domain import BatchStatus, StepExecution
from jobop.repository import JobRepository
from jobop.repository.notify import Listener


class Payloads:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def __call__(self, payload: str, pid: int) -> None:
        with self.lock:
            self.seen.append(payload)

    def wait_for(self, prefix: str, count: int, timeout: float = 10.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                found = [p for p in self.seen if p.startswith(prefix)]
            if sum(len(p.split()) - 1 for p in found) >= count:
                return found
            time.sleep(0.02)
        with self.lock:
            return [p for p in self.seen if p.startswith(prefix)]


class ElsewhereHandler:
    """Adds the partitions waiting, then runs each with `execute_partition` on a thread of
    its own, from the execution as the repository has it: what a node that claims them
    does (the claiming itself is the cluster's)."""

    def __init__(self, job_ref: list[Job]) -> None:
        self.job_ref = job_ref
        self.waiting: list[tuple[str | None, object]] = []

    def handle(
        self,
        step: PartitionStep,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        run: StepRun,
    ) -> list[StepExecution]:
        store = run.repository
        store.add_partitions(manager, workers, node_id=None)
        rows = store.get_partitions(manager.job_execution_id)
        self.waiting = [(row.node_id, row.ended) for row in rows]
        ended: list[StepExecution] = []

        def claim(worker_id: int) -> None:
            execution = store.explorer.get_job_execution(manager.job_execution_id)
            assert execution is not None
            (worker,) = [s for s in execution.step_executions if s.id == worker_id]
            ended.append(execute_partition(self.job_ref[0], worker, execution, store, StopSignal()))

        threads = [threading.Thread(target=claim, args=(w.id,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        return sorted(ended, key=lambda s: s.id)


def test_waiting_partitions_run_by_execute_partition_end_their_rows(
    repository: JobRepository, out: OutTable
) -> None:
    payloads = Payloads()
    postgresql = repository.engine.dialect.name == "postgresql"
    listener = Listener(repository.engine, payloads) if postgresql else None
    if listener is not None:
        listener.start()
        assert listener.wait_connected(10)
    job_ref: list[Job] = []
    handler = ElsewhereHandler(job_ref)
    worker = ChunkStep("work", reader=step_scope(RangeReader), writer=TableWriter(), chunk_size=3)
    job = Job(
        "elsewhere",
        [PartitionStep("manager", step=worker, partitioner=RangePartitioner(1, 12), grid_size=3)],
    )
    job_ref.append(job)
    runner = JobRunner(repository, partition_handler=handler)
    try:
        execution = JobLauncher(repository, runner).launch(job)
        assert execution.status is BatchStatus.COMPLETED
        assert out.items() == list(range(1, 13))
        # Added waiting: no node, not ended.
        assert handler.waiting == [(None, None)] * 3
        rows = repository.get_partitions(execution.id)
        assert [(row.node_id, row.claimed) for row in rows] == [(None, None)] * 3
        assert all(row.ended is not None for row in rows)
        saved = repository.explorer.get_job_execution(execution.id)
        assert saved is not None
        workers = [s for s in saved.step_executions if s.step_name != "manager"]
        assert [(s.status, s.write_count) for s in workers] == [(BatchStatus.COMPLETED, 4)] * 3
        if listener is not None:
            entries = [f"{execution.id}:{s.id}" for s in workers]
            (waiting,) = payloads.wait_for("pw ", 3)
            assert waiting == "pw " + " ".join(entries)
            ended = payloads.wait_for("pe ", 3)
            assert sorted(ended) == sorted(f"pe {entry}" for entry in entries)
    finally:
        runner.close()
        if listener is not None:
            listener.close()


def test_partitions_claimed_at_once_are_not_announced_as_waiting(
    repository: JobRepository, out: OutTable
) -> None:
    if repository.engine.dialect.name != "postgresql":
        execution = JobLauncher(repository).launch(_small_job())
        assert execution.status is BatchStatus.COMPLETED
        return
    payloads = Payloads()
    listener = Listener(repository.engine, payloads)
    listener.start()
    try:
        assert listener.wait_connected(10)
        execution = JobLauncher(repository).launch(_small_job())
        assert execution.status is BatchStatus.COMPLETED
        assert len(payloads.wait_for("pe ", 2)) == 2
        assert payloads.wait_for("pw ", 1, timeout=0.2) == []
    finally:
        listener.close()


def _small_job() -> Job:
    worker = ChunkStep("w", reader=step_scope(RangeReader), writer=TableWriter(), chunk_size=5)
    return Job(
        "claimedAtOnce",
        [PartitionStep("m", step=worker, partitioner=RangePartitioner(1, 4), grid_size=2)],
    )
