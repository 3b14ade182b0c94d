"""The runner's writes through the operator's publishing repository: each committed state
announced once, in order, whichever writes the unit of work merged."""

from __future__ import annotations

from typing import Any

from jobop.batch import Job, JobRunner, PartitionStep, RangePartitioner, TaskletStep
from jobop.domain import BatchStatus, JobExecution, JobParameters
from jobop.operator.events import ExecutionChange, ExecutionEvents
from jobop.operator.publishing import PublishingJobRepository
from jobop.repository import JobRepository


class RecordingEvents(ExecutionEvents):
    def __init__(self) -> None:
        super().__init__()
        self.announced: list[tuple[int, str | None, bool]] = []

    def publish(
        self,
        execution_id: int,
        job_name: str | None,
        version: int,
        status: BatchStatus | None = None,
        *,
        committed: JobExecution | None = None,
        local: bool = False,
    ) -> ExecutionChange:
        self.announced.append((version, status.value if status else None, committed is not None))
        return super().publish(
            execution_id, job_name, version, status, committed=committed, local=local
        )


def _noop(contribution: Any, chunk_context: Any) -> None:
    return None


def run(repository: JobRepository, job: Job) -> tuple[JobExecution, RecordingEvents]:
    events = RecordingEvents()
    publishing = PublishingJobRepository(repository, events)
    execution = repository.create_job_execution(job.name, JobParameters.of(run=1))
    publishing.track(execution)
    runner = JobRunner(publishing)
    try:
        return runner.run(job, execution), events
    finally:
        runner.close()


def test_a_one_step_job_announces_started_and_the_end(repository: JobRepository) -> None:
    job = Job("publishedOneStep", [TaskletStep("only", _noop)])
    execution, events = run(repository, job)
    assert execution.status is BatchStatus.COMPLETED
    # STARTED with the step; the step's end (its tasklet's one commit held for it) with
    # the job's.
    assert events.announced == [(1, "STARTED", True), (2, "COMPLETED", True)]


def _refuse(parameters: JobParameters) -> None:
    raise ValueError("bad parameters")


def test_a_stepless_end_announces_started_then_the_end(repository: JobRepository) -> None:
    job = Job("publishedInvalid", [TaskletStep("only", _noop)], validator=_refuse)
    execution, events = run(repository, job)
    assert execution.status is BatchStatus.FAILED
    assert events.announced == [(1, "STARTED", True), (2, "FAILED", True)]


def test_partitions_are_added_and_announced_through_the_wrapper(
    repository: JobRepository,
) -> None:
    worker = TaskletStep("part", _noop)
    job = Job(
        "publishedPartitions",
        [PartitionStep("split", step=worker, partitioner=RangePartitioner(1, 3), grid_size=3)],
    )
    execution, events = run(repository, job)
    assert execution.status is BatchStatus.COMPLETED
    # STARTED with the manager, its GRID_SIZE, the three partitions added, each one's
    # start, commit and end, and the job's end.
    assert events.announced[0] == (1, "STARTED", True)
    assert events.announced[-1][1] == "COMPLETED"
    assert len(events.announced) >= 2 + 1 + 3 * 3
    rows = repository.get_partitions(execution.id)
    assert [row.step_name for row in rows] == [f"part:partition{i}" for i in range(3)]
    assert all(row.ended is not None for row in rows)
