"""Launching: JobLauncher.run's rules on instances and their executions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobop.domain import (
    BatchStatus,
    ExitStatus,
    InvalidJobParameters,
    JobExecutionAlreadyRunning,
    JobInstanceAlreadyComplete,
    JobInstanceAlreadyExists,
    JobParameter,
    JobParameters,
    JobRestartNotAllowed,
)
from jobop.repository import JobRepository
from repository_lifecycle import finish, run_execution, start_execution
from sqlalchemy import text


def test_first_launch_creates_instance_and_starting_execution(repository: JobRepository) -> None:
    parameters = JobParameters.of(items=6, chunkSize=JobParameter(3, "LONG", identifying=False))
    execution = repository.create_job_execution("demoChunkJob", parameters)

    assert execution.id > 0 and execution.version == 0
    assert execution.status is BatchStatus.STARTING
    assert execution.exit_status == ExitStatus.UNKNOWN
    assert execution.job_instance.job_key == parameters.job_key()
    assert execution.create_time.tzinfo is UTC
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    assert saved.job_parameters == parameters
    assert (saved.status, saved.version, saved.job_name) == (
        BatchStatus.STARTING,
        0,
        "demoChunkJob",
    )
    assert dict(saved.execution_context) == {}
    with repository.engine.connect() as connection:
        key = connection.execute(
            text("select JOB_KEY from BATCH_JOB_INSTANCE where JOB_INSTANCE_ID = :id"),
            {"id": execution.job_instance_id},
        ).scalar()
        contexts = connection.execute(
            text("select count(*) from BATCH_JOB_EXECUTION_CONTEXT where JOB_EXECUTION_ID = :id"),
            {"id": execution.id},
        ).scalar()
    assert key == parameters.job_key()
    assert contexts == 1


def test_parameters_of_every_type_round_trip(repository: JobRepository) -> None:
    parameters = JobParameters(
        {
            "name": JobParameter("a, b", "STRING"),
            "count": JobParameter(-(2**62), "LONG"),
            "ratio": JobParameter(0.25, "DOUBLE"),
            "day": JobParameter(datetime(2024, 2, 29, 13, 5, 7, 123000, tzinfo=UTC), "DATE"),
            "dryRun": JobParameter(True, "BOOLEAN", identifying=False),
        }
    )
    execution = repository.create_job_execution("typedJob", parameters)
    assert repository.explorer.get_parameters(execution.id) == parameters
    with repository.engine.connect() as connection:
        rows = connection.execute(
            text(
                "select PARAMETER_NAME, PARAMETER_TYPE, IDENTIFYING "
                "from BATCH_JOB_EXECUTION_PARAMS where JOB_EXECUTION_ID = :id "
                "order by PARAMETER_NAME"
            ),
            {"id": execution.id},
        ).all()
    assert [tuple(r) for r in rows] == [
        ("count", "java.lang.Long", "Y"),
        ("day", "java.util.Date", "Y"),
        ("dryRun", "java.lang.Boolean", "N"),
        ("name", "java.lang.String", "Y"),
        ("ratio", "java.lang.Double", "Y"),
    ]


def test_a_job_without_parameters_has_one_instance(repository: JobRepository) -> None:
    first = run_execution(repository, "plainJob", JobParameters())
    with pytest.raises(JobInstanceAlreadyComplete):
        repository.create_job_execution("plainJob", JobParameters())
    assert repository.explorer.get_parameters(first.id) == JobParameters()


def test_new_identifying_parameters_make_a_new_instance(repository: JobRepository) -> None:
    first = run_execution(repository, "demoJob", JobParameters.of(run=1))
    second = repository.create_job_execution("demoJob", JobParameters.of(run=2))
    other_job = repository.create_job_execution("otherJob", JobParameters.of(run=1))
    assert len({first.job_instance_id, second.job_instance_id, other_job.job_instance_id}) == 3


def test_non_identifying_parameters_do_not_change_the_instance(repository: JobRepository) -> None:
    running = repository.create_job_execution(
        "demoJob", JobParameters.of(run=1, chunkSize=JobParameter(10, "LONG", False))
    )
    with pytest.raises(JobExecutionAlreadyRunning, match=f"execution {running.id}"):
        repository.create_job_execution(
            "demoJob", JobParameters.of(run=1, chunkSize=JobParameter(99, "LONG", False))
        )


@pytest.mark.parametrize(
    "status", [BatchStatus.STARTING, BatchStatus.STARTED, BatchStatus.STOPPING]
)
def test_a_running_execution_blocks_a_launch(
    repository: JobRepository, status: BatchStatus
) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    if status is not BatchStatus.STARTING:
        start_execution(repository, execution)
    if status is BatchStatus.STOPPING:
        repository.request_stop(execution.id)
    with pytest.raises(JobExecutionAlreadyRunning, match="already running"):
        repository.create_job_execution("demoJob", JobParameters.of(run=1))


@pytest.mark.parametrize("status", [BatchStatus.FAILED, BatchStatus.STOPPED])
def test_failed_and_stopped_instances_restart_with_their_context(
    repository: JobRepository, status: BatchStatus
) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    execution.execution_context["checkpoint"] = 41
    finish(repository, execution, status)

    restart = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    assert restart.job_instance_id == execution.job_instance_id
    assert restart.id > execution.id and restart.status is BatchStatus.STARTING
    # Spring carries the job execution context over to the restart.
    assert dict(restart.execution_context) == {"checkpoint": 41}
    assert not restart.execution_context.dirty
    saved = repository.explorer.get_job_execution(restart.id)
    assert saved is not None and dict(saved.execution_context) == {"checkpoint": 41}
    assert [e.id for e in repository.explorer.get_job_executions(execution.job_instance)] == [
        restart.id,
        execution.id,
    ]


@pytest.mark.parametrize("status", [BatchStatus.COMPLETED, BatchStatus.ABANDONED])
def test_complete_instances_refuse_a_launch(repository: JobRepository, status: BatchStatus) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    if status is BatchStatus.ABANDONED:
        finish(repository, execution, BatchStatus.FAILED)
        repository.abandon(execution.id)
    else:
        finish(repository, execution, status)
    with pytest.raises(JobInstanceAlreadyComplete, match=status.value):
        repository.create_job_execution("demoJob", JobParameters.of(run=1))


def test_an_unknown_outcome_refuses_a_restart(repository: JobRepository) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    finish(repository, execution, BatchStatus.UNKNOWN)
    with pytest.raises(JobRestartNotAllowed, match="UNKNOWN"):
        repository.create_job_execution("demoJob", JobParameters.of(run=1))


def test_a_job_that_is_not_restartable_runs_once_per_instance(repository: JobRepository) -> None:
    run_execution(repository, "onceJob", JobParameters.of(run=1), status=BatchStatus.FAILED)
    with pytest.raises(JobRestartNotAllowed, match="not restartable"):
        repository.create_job_execution("onceJob", JobParameters.of(run=1), restartable=False)
    # A new instance of it runs fine.
    repository.create_job_execution("onceJob", JobParameters.of(run=2), restartable=False)


def test_new_instance_only_refuses_any_existing_instance(repository: JobRepository) -> None:
    run_execution(repository, "demoJob", JobParameters.of(run=1), status=BatchStatus.FAILED)
    with pytest.raises(JobInstanceAlreadyExists, match="demoJob"):
        repository.create_job_execution("demoJob", JobParameters.of(run=1), new_instance_only=True)
    fresh = repository.create_job_execution(
        "demoJob", JobParameters.of(run=2), new_instance_only=True
    )
    assert fresh.status is BatchStatus.STARTING


def test_bad_names_and_values_are_refused_before_any_sql(repository: JobRepository) -> None:
    with pytest.raises(ValueError, match="longer than 100"):
        repository.create_job_execution("j" * 101, JobParameters())
    with pytest.raises(InvalidJobParameters, match="longer than 2500"):
        repository.create_job_execution("demoJob", JobParameters.of(blob="x" * 2501))
    assert repository.explorer.get_job_names() == []
