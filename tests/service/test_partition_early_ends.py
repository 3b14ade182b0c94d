"""The cluster's partition manager on PostgreSQL, listening: partitions another node claims
and ends before the manager has started to wait for their announcements (a fast partition,
a manager thread held up between adding the partitions and watching for their ends) are
still seen: the manager reads its partitions' rows once when it starts waiting, so an end
announced too early is not lost and the job does not wait for ever (in process: the other
node runs inside the manager's add_partitions, so its ends are announced before the
manager watches)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from jobop.batch import JobRegistry
from jobop.batch.partition import execute_partition
from jobop.batch.runner import JobRunner
from jobop.batch.step import StopSignal
from jobop.domain import BatchStatus, JobExecution, JobParameters, StepExecution
from jobop.operator.partitions import ClusterPartitionHandler, PartitionEnds
from jobop.repository import JobRepository, create_engine
from jobop.repository.partition_claims import PartitionClaims

JOB = "demoPartitionedJob"


class EarlyEnds(JobRepository):
    """Another node claims and runs every partition, and announces its end, before
    add_partitions returns to the manager."""

    registry: JobRegistry
    claims: PartitionClaims
    ends: PartitionEnds
    ran: list[int]

    def add_partitions(
        self,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        *,
        node_id: str | None,
        attempt: int = 1,
    ) -> None:
        super().add_partitions(manager, workers, node_id=node_id, attempt=attempt)
        for found in self.claims.claim_partitions("other", [JOB], len(workers)):
            job = self.registry.get(found.job_execution.job_name)
            execute_partition(job, found.worker, found.job_execution, self, StopSignal())
            assert found.worker.id is not None
            self.ends.announced([found.worker.id])  # not watched yet: not heard
            self.ran.append(found.worker.id)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_partitions_ended_before_the_manager_waits_are_seen(db_url: str) -> None:
    engine = create_engine(db_url)
    repository = EarlyEnds(engine)
    repository.registry = JobRegistry.default([])
    repository.claims = PartitionClaims(engine)
    repository.ends = PartitionEnds()
    repository.ran = []
    handler = ClusterPartitionHandler(
        repository.claims,
        repository.ends,
        repository.explorer,
        node_id=lambda: "manager",
        job_of=repository.registry.get,
        listening=lambda: True,  # LISTEN is up: no polling of the rows
        poll_interval=0.05,
    )
    execution = repository.create_job_execution(
        JOB, JobParameters.parse(["items=40", "partitions=4", "chunkSize=5"])
    )
    result: list[JobExecution] = []
    runner = JobRunner(repository, partition_handler=handler)
    stop = StopSignal()
    job = repository.registry.get(JOB)
    thread = threading.Thread(
        target=lambda: result.append(runner.run(job, execution, stop_signal=stop)), daemon=True
    )
    try:
        thread.start()
        thread.join(20)
        missed = thread.is_alive()
        stop.set()  # a stop makes the manager read its rows: the thread ends either way
        thread.join(20)
        assert not missed, "the manager missed the partitions' ends"
        (final,) = result
        assert final.status is BatchStatus.COMPLETED
        assert len(repository.ran) == 4
        manager = next(s for s in final.step_executions if s.step_name == "demoPartitionStep")
        assert manager.write_count == 40
    finally:
        engine.dispose()
