"""Executions driven through their life cycle the way the step and job runners drive them
(imported by the repository tests; not a test module)."""

from __future__ import annotations

from collections.abc import Sequence

from jobop.domain import (
    BatchStatus,
    ExitStatus,
    JobExecution,
    JobParameters,
    StepExecution,
    utcnow,
)
from jobop.repository import JobRepository


def start_execution(repository: JobRepository, execution: JobExecution) -> None:
    execution.status = BatchStatus.STARTED
    execution.start_time = utcnow()
    repository.update_job_execution(execution)


def start_step(repository: JobRepository, execution: JobExecution, name: str) -> StepExecution:
    step = StepExecution(name, execution.id, status=BatchStatus.STARTED, start_time=utcnow())
    repository.add_step_execution(step)
    execution.step_executions.append(step)
    return step


def run_chunk(repository: JobRepository, step: StepExecution, items: int) -> BatchStatus:
    with repository.chunk_transaction(step) as chunk:
        step.read_count += items
        step.write_count += items
        step.commit_count += 1
        step.execution_context["read.count"] = step.read_count
    assert chunk.job_status is not None
    return chunk.job_status


def finish(
    repository: JobRepository, target: JobExecution | StepExecution, status: BatchStatus
) -> None:
    target.status = status
    target.exit_status = ExitStatus(status.value)
    target.end_time = utcnow()
    if isinstance(target, StepExecution):
        repository.update_step_execution(target)
    else:
        repository.update_job_execution(target)


def run_execution(
    repository: JobRepository,
    job_name: str = "demoJob",
    parameters: JobParameters | None = None,
    *,
    steps: Sequence[tuple[str, int]] = (("step1", 3),),
    status: BatchStatus = BatchStatus.COMPLETED,
) -> JobExecution:
    """Launch and run an execution to `status`: each step reads and writes its items in
    one chunk and ends with that status too."""
    if parameters is None:
        parameters = JobParameters.of(run=1)
    execution = repository.create_job_execution(job_name, parameters)
    start_execution(repository, execution)
    for name, items in steps:
        step = start_step(repository, execution, name)
        run_chunk(repository, step, items)
        finish(repository, step, status)
    finish(repository, execution, status)
    return execution
