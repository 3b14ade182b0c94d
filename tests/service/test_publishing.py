"""The runner's writes through the operator's publishing repository: each committed state
announced once, in order, whichever writes the unit of work merged."""

from __future__ import annotations

from typing import Any

from jobop.batch import Job, JobRunner, TaskletStep
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
