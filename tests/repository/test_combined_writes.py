"""The runner's combined writes (a job's start with its first step, the last step's end with
the job's, a tasklet's commit alone), which PostgreSQL sends as single statements: the same
rows, the same optimistic locking and the same merged stop as the step-by-step path."""

from __future__ import annotations

import pytest
from jobop.domain import (
    BatchStatus,
    ConcurrentModification,
    ExitStatus,
    JobExecution,
    JobParameters,
    StepExecution,
    utcnow,
)
from jobop.repository import JobRepository
from sqlalchemy import text


def launched(repository: JobRepository) -> JobExecution:
    return repository.create_job_execution("demoJob", JobParameters.of(run=1))


def started(repository: JobRepository) -> tuple[JobExecution, StepExecution]:
    execution = launched(repository)
    execution.status, execution.start_time = BatchStatus.STARTED, utcnow()
    step = StepExecution("step1", execution.id, status=BatchStatus.STARTED, start_time=utcnow())
    assert repository.start_job_and_step(execution, step)
    return execution, step


def reload(repository: JobRepository, execution_id: int) -> JobExecution:
    execution = repository.explorer.get_job_execution(execution_id)
    assert execution is not None
    return execution


def end(target: JobExecution | StepExecution, status: BatchStatus) -> None:
    target.status, target.exit_status, target.end_time = status, ExitStatus(status.value), utcnow()


def test_start_job_and_step_saves_both_and_the_contexts(repository: JobRepository) -> None:
    execution = launched(repository)
    execution.status, execution.start_time = BatchStatus.STARTED, utcnow()
    execution.execution_context["job.key"] = "set at start"
    step = StepExecution("step1", execution.id, status=BatchStatus.STARTED, start_time=utcnow())
    step.execution_context["position"] = 7
    assert repository.start_job_and_step(execution, step)
    assert (execution.version, step.version) == (1, 0)
    assert execution.step_executions == [step]
    assert not execution.execution_context.dirty and not step.execution_context.dirty
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.STARTED and saved.start_time is not None
    assert saved.execution_context["job.key"] == "set at start"
    [saved_step] = saved.step_executions
    assert (saved_step.id, saved_step.status) == (step.id, BatchStatus.STARTED)
    assert saved_step.execution_context["position"] == 7


def test_start_job_and_step_merges_a_stop_and_adds_no_step(repository: JobRepository) -> None:
    execution = launched(repository)
    execution.status, execution.start_time = BatchStatus.STARTED, utcnow()
    with repository.engine.begin() as connection:  # a stop requested meanwhile
        connection.execute(
            text(
                "update BATCH_JOB_EXECUTION set STATUS = 'STOPPING', VERSION = VERSION + 1 "
                "where JOB_EXECUTION_ID = :id"
            ),
            {"id": execution.id},
        )
    step = StepExecution("step1", execution.id, status=BatchStatus.STARTED, start_time=utcnow())
    assert not repository.start_job_and_step(execution, step)
    assert execution.status is BatchStatus.STOPPING
    assert execution.step_executions == []
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.STOPPING and saved.step_executions == []


def test_start_job_and_step_refuses_a_stale_execution(repository: JobRepository) -> None:
    execution = launched(repository)
    stale = reload(repository, execution.id)
    execution.status = BatchStatus.STARTED
    repository.update_job_execution(execution)
    stale.status = BatchStatus.STARTED
    step = StepExecution("step1", stale.id, status=BatchStatus.STARTED, start_time=utcnow())
    with pytest.raises(ConcurrentModification, match="updated elsewhere"):
        repository.start_job_and_step(stale, step)
    assert reload(repository, execution.id).step_executions == []


def test_finish_step_and_job_saves_both_and_the_contexts(repository: JobRepository) -> None:
    execution, step = started(repository)
    end(step, BatchStatus.COMPLETED)
    end(execution, BatchStatus.COMPLETED)
    step.execution_context["position"] = 9
    execution.execution_context["summary"] = "all done"
    repository.finish_step_and_job(step, execution)
    assert (execution.version, step.version) == (2, 1)
    saved = reload(repository, execution.id)
    assert (saved.status, saved.exit_status.exit_code) == (BatchStatus.COMPLETED, "COMPLETED")
    assert saved.end_time is not None and saved.execution_context["summary"] == "all done"
    [saved_step] = saved.step_executions
    assert (saved_step.status, saved_step.version) == (BatchStatus.COMPLETED, 1)
    assert saved_step.execution_context["position"] == 9


def test_finish_step_and_job_with_a_stale_step_writes_nothing(repository: JobRepository) -> None:
    execution, step = started(repository)
    step.commit_count = 1
    repository.update_step_execution(step)
    step.version -= 1  # as if another writer had saved it
    end(step, BatchStatus.COMPLETED)
    end(execution, BatchStatus.COMPLETED)
    with pytest.raises(ConcurrentModification, match=f"step execution {step.id}"):
        repository.finish_step_and_job(step, execution)
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.STARTED
    assert saved.step_executions[0].status is BatchStatus.STARTED


def test_finish_after_a_stop_request_ends_as_written(repository: JobRepository) -> None:
    execution, step = started(repository)
    repository.request_stop(execution.id)  # the version moves on; STOPPING is merged
    end(step, BatchStatus.COMPLETED)
    end(execution, BatchStatus.COMPLETED)
    repository.finish_step_and_job(step, execution)
    assert execution.status is BatchStatus.COMPLETED and execution.version == 3
    assert reload(repository, execution.id).status is BatchStatus.COMPLETED


def test_a_step_update_recreates_a_missing_context_row(repository: JobRepository) -> None:
    execution, step = started(repository)
    with repository.engine.begin() as connection:  # as Spring-era tooling may leave it
        connection.execute(
            text("delete from BATCH_STEP_EXECUTION_CONTEXT where STEP_EXECUTION_ID = :id"),
            {"id": step.id},
        )
    step.execution_context["position"] = 3
    assert repository.update_step_execution(step) is BatchStatus.STARTED
    saved = reload(repository, execution.id)
    assert saved.step_executions[0].execution_context["position"] == 3


def test_a_stale_step_update_raises(repository: JobRepository) -> None:
    _, step = started(repository)
    repository.update_step_execution(step)
    step.version = 0
    with pytest.raises(ConcurrentModification, match="updated elsewhere: version 1"):
        repository.update_step_execution(step)
