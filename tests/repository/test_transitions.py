"""The operator's primitives: stop, abandon and recover, each a compare-and-set."""

from __future__ import annotations

import pytest
from jobop.domain import (
    BatchStatus,
    ConcurrentModification,
    JobExecution,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    JobInstanceAlreadyComplete,
    JobParameters,
    NoSuchJobExecution,
)
from jobop.repository import JobRepository
from repository_lifecycle import finish, run_chunk, start_execution, start_step


def launch(repository: JobRepository, status: BatchStatus) -> JobExecution:
    """An execution in `status`, with one step in the matching state if it got that far."""
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    if status is BatchStatus.STARTING:
        return execution
    start_execution(repository, execution)
    step = start_step(repository, execution, "step1")
    run_chunk(repository, step, 2)
    if status is BatchStatus.STARTED:
        return execution
    if status is BatchStatus.STOPPING:
        return repository.request_stop(execution.id)
    finish(repository, step, status)
    finish(repository, execution, status)
    return execution


def test_stop_moves_a_started_execution_to_stopping(repository: JobRepository) -> None:
    execution = launch(repository, BatchStatus.STARTED)
    stopped = repository.request_stop(execution.id)
    assert stopped.status is BatchStatus.STOPPING
    assert stopped.end_time is None
    assert stopped.version == execution.version + 1
    # Steps stop themselves at their next chunk; their rows are not touched.
    assert [s.status for s in stopped.step_executions] == [BatchStatus.STARTED]
    assert repository.get_job_status(execution.id) is BatchStatus.STOPPING


def test_stop_ends_an_execution_that_never_started(repository: JobRepository) -> None:
    execution = launch(repository, BatchStatus.STARTING)
    stopped = repository.request_stop(execution.id)
    assert stopped.status is BatchStatus.STOPPED
    assert stopped.exit_status.exit_code == "STOPPED"
    assert stopped.end_time is not None
    # A stopped instance can be restarted.
    restart = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    assert restart.job_instance_id == execution.job_instance_id


@pytest.mark.parametrize(
    "status",
    [BatchStatus.STOPPING, BatchStatus.STOPPED, BatchStatus.COMPLETED, BatchStatus.FAILED],
)
def test_stop_refuses_what_is_not_starting_or_started(
    repository: JobRepository, status: BatchStatus
) -> None:
    execution = launch(repository, status)
    with pytest.raises(JobExecutionNotRunning, match=status.value):
        repository.request_stop(execution.id)


@pytest.mark.parametrize(
    "status",
    [BatchStatus.STOPPING, BatchStatus.STOPPED, BatchStatus.FAILED, BatchStatus.UNKNOWN],
)
def test_abandon_ends_the_instance_for_good(repository: JobRepository, status: BatchStatus) -> None:
    execution = launch(repository, status)
    abandoned = repository.abandon(execution.id)
    assert abandoned.status is BatchStatus.ABANDONED
    assert abandoned.end_time is not None
    if execution.end_time is not None:
        assert abandoned.end_time == execution.end_time  # the real end is kept
    step = abandoned.step_executions[0]
    if status in (BatchStatus.STOPPING, BatchStatus.UNKNOWN):
        # Its unfinished step is abandoned too, so it never runs again.
        assert (step.status, step.exit_status.exit_code) == (BatchStatus.ABANDONED, "ABANDONED")
        assert step.end_time is not None
    else:
        assert step.status is status
    with pytest.raises(JobInstanceAlreadyComplete, match="ABANDONED"):
        repository.create_job_execution("demoJob", JobParameters.of(run=1))
    # Again: nothing changes.
    again = repository.abandon(execution.id)
    assert (again.status, again.version) == (BatchStatus.ABANDONED, abandoned.version)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (BatchStatus.STARTING, JobExecutionAlreadyRunning),
        (BatchStatus.STARTED, JobExecutionAlreadyRunning),
        (BatchStatus.COMPLETED, JobInstanceAlreadyComplete),
    ],
)
def test_abandon_refuses_running_and_completed_executions(
    repository: JobRepository, status: BatchStatus, error: type[Exception]
) -> None:
    execution = launch(repository, status)
    with pytest.raises(error, match=status.value):
        repository.abandon(execution.id)
    assert repository.get_job_status(execution.id) is status


def test_a_runner_that_lost_its_execution_to_abandon_is_told(repository: JobRepository) -> None:
    execution = launch(repository, BatchStatus.STARTED)
    step = execution.step_executions[0]
    repository.request_stop(execution.id)
    repository.abandon(execution.id)
    with pytest.raises(ConcurrentModification):
        run_chunk(repository, step, 1)


@pytest.mark.parametrize(
    "status", [BatchStatus.STARTING, BatchStatus.STARTED, BatchStatus.STOPPING]
)
def test_recover_fails_an_orphaned_execution_so_it_can_restart(
    repository: JobRepository, status: BatchStatus
) -> None:
    execution = launch(repository, status)
    recovered = repository.recover(execution.id)
    assert recovered.status is BatchStatus.FAILED
    assert (recovered.exit_status.exit_code, recovered.exit_status.exit_description) == (
        "FAILED",
        "recovered: owner lost",
    )
    assert recovered.end_time is not None
    for step in recovered.step_executions:
        assert (step.status, step.exit_status.exit_code) == (BatchStatus.FAILED, "FAILED")
        assert step.end_time is not None
    restart = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    assert restart.job_instance_id == execution.job_instance_id


@pytest.mark.parametrize("status", [BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.STOPPED])
def test_recover_refuses_what_is_not_running(
    repository: JobRepository, status: BatchStatus
) -> None:
    execution = launch(repository, status)
    with pytest.raises(JobExecutionNotRunning, match="nothing to recover"):
        repository.recover(execution.id)


def test_unknown_executions_are_reported_as_such(repository: JobRepository) -> None:
    for operation in (
        repository.request_stop,
        repository.abandon,
        repository.recover,
        repository.get_job_status,
    ):
        with pytest.raises(NoSuchJobExecution, match="424242"):
            operation(424242)
