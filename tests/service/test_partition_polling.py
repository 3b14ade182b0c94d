"""The cluster's partition manager on PostgreSQL with its LISTEN connection down: it learns
of the partitions another node ran by reading their rows, and completes (in process: the
manager's runner and another node's claims on two threads)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from jobop.batch import JobRegistry
from jobop.batch.partition import execute_partition
from jobop.batch.runner import JobRunner
from jobop.batch.step import StopSignal
from jobop.domain import BatchStatus, JobParameters
from jobop.operator.partitions import ClusterPartitionHandler, PartitionEnds
from jobop.repository import JobRepository, create_engine
from jobop.repository.partition_claims import PartitionClaims

JOB = "demoPartitionedJob"


@pytest.fixture
def repository(db_url: str) -> Iterator[JobRepository]:
    engine = create_engine(db_url)
    try:
        yield JobRepository(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_manager_not_listening_polls_the_rows_of_partitions_run_elsewhere(
    repository: JobRepository,
) -> None:
    registry = JobRegistry.default([])
    claims = PartitionClaims(repository.engine)
    seen: list[float] = []
    handler = ClusterPartitionHandler(
        claims,
        PartitionEnds(),
        repository.explorer,
        node_id=lambda: "manager",
        job_of=registry.get,
        listening=lambda: False,
        poll_interval=0.05,
        on_end=lambda job, seconds: seen.append(seconds),
    )
    done = threading.Event()
    ran: list[int] = []

    def other_node() -> None:
        while not done.is_set():
            for found in claims.claim_partitions("other", [JOB], 8):
                job = registry.get(found.job_execution.job_name)
                execute_partition(job, found.worker, found.job_execution, repository, StopSignal())
                ran.append(found.worker.id)
            done.wait(0.005)

    worker = threading.Thread(target=other_node, daemon=True)
    worker.start()
    try:
        execution = repository.create_job_execution(
            JOB,
            JobParameters.parse(["items=400", "partitions=4", "chunkSize=10", "itemDelayMs=1"]),
        )
        final = JobRunner(repository, partition_handler=handler).run(registry.get(JOB), execution)
    finally:
        done.set()
        worker.join(10)
    assert final.status is BatchStatus.COMPLETED
    rows = repository.get_partitions(execution.id)
    assert len(rows) == 4 and all(row.ended is not None for row in rows)
    others = {row.step_execution_id for row in rows if row.node_id == "other"}
    assert others and others <= set(ran)
    assert len(seen) == len(others)  # each seen once, by reading its row
    manager = next(s for s in final.step_executions if s.step_name == "demoPartitionStep")
    assert manager.write_count == 400
