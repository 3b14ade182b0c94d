"""Optimistic locking on VERSION, and the one conflict that is merged: a stop request."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from jobop.domain import (
    BatchStatus,
    ConcurrentModification,
    ExitStatus,
    JobExecution,
    JobParameters,
    NoSuchJobExecution,
    StepExecution,
)
from jobop.repository import JobRepository
from repository_lifecycle import finish, run_chunk, start_execution, start_step
from sqlalchemy import text


def launch_started(repository: JobRepository) -> JobExecution:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    return execution


def reload(repository: JobRepository, execution_id: int) -> JobExecution:
    execution = repository.explorer.get_job_execution(execution_id)
    assert execution is not None
    return execution


def test_each_update_bumps_the_version(repository: JobRepository) -> None:
    execution = launch_started(repository)
    assert execution.version == 1
    finish(repository, execution, BatchStatus.COMPLETED)
    assert execution.version == 2
    saved = reload(repository, execution.id)
    assert (saved.version, saved.status, saved.exit_status) == (
        2,
        BatchStatus.COMPLETED,
        ExitStatus.COMPLETED,
    )
    assert saved.last_updated == execution.last_updated


def test_a_stale_job_execution_update_is_refused(repository: JobRepository) -> None:
    execution = launch_started(repository)
    stale = reload(repository, execution.id)
    finish(repository, execution, BatchStatus.FAILED)
    stale.exit_status = ExitStatus("CUSTOM")
    with pytest.raises(ConcurrentModification, match=f"job execution {execution.id}"):
        repository.update_job_execution(stale)
    saved = reload(repository, execution.id)
    assert (saved.status, saved.exit_status.exit_code) == (BatchStatus.FAILED, "FAILED")


def test_updating_an_unknown_execution_says_so(repository: JobRepository) -> None:
    execution = launch_started(repository)
    execution.id = 999_999
    with pytest.raises(NoSuchJobExecution, match="999999"):
        repository.update_job_execution(execution)


def test_a_stop_request_is_merged_into_a_running_update(repository: JobRepository) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    repository.request_stop(execution.id)  # moves the row to STOPPING, version 2
    # The runner, unaware, saves progress with its STARTED status and old version.
    execution.execution_context["progress"] = 5
    repository.update_job_execution(execution)
    assert execution.status is BatchStatus.STOPPING
    assert execution.version == 3
    saved = reload(repository, execution.id)
    assert (saved.status, saved.version) == (BatchStatus.STOPPING, 3)
    assert dict(saved.execution_context) == {"progress": 5}


def test_a_stop_after_the_last_step_does_not_leave_the_job_stopping(
    repository: JobRepository,
) -> None:
    execution = launch_started(repository)
    repository.request_stop(execution.id)
    finish(repository, execution, BatchStatus.COMPLETED)
    assert execution.status is BatchStatus.COMPLETED
    assert reload(repository, execution.id).status is BatchStatus.COMPLETED


def test_only_a_stop_is_merged(repository: JobRepository) -> None:
    execution = launch_started(repository)
    repository.request_stop(execution.id)
    other = reload(repository, execution.id)
    finish(repository, other, BatchStatus.STOPPED)  # the row is STOPPED now, not STOPPING
    with pytest.raises(ConcurrentModification, match="STOPPED"):
        repository.update_job_execution(execution)


def test_a_stale_step_update_is_refused(repository: JobRepository) -> None:
    execution = launch_started(repository)
    step = start_step(repository, execution, "step1")
    stale = repository.explorer.get_step_execution(execution.id, step.id)
    assert stale is not None
    run_chunk(repository, step, 3)
    stale.read_count = 100
    with pytest.raises(ConcurrentModification, match=f"step execution {step.id}"):
        repository.update_step_execution(stale)
    saved = repository.explorer.get_step_execution(execution.id, step.id)
    assert saved is not None and saved.read_count == 3


def test_a_stale_chunk_rolls_back_the_writers_rows(repository: JobRepository) -> None:
    with repository.engine.begin() as connection:
        connection.execute(text("create table DEMO_ITEMS (ITEM bigint primary key)"))
    execution = launch_started(repository)
    step = start_step(repository, execution, "step1")
    stale = StepExecution(step.step_name, execution.id, id=step.id, version=step.version)
    repository.update_step_execution(step)
    with pytest.raises(ConcurrentModification), repository.chunk_transaction(stale) as chunk:
        chunk.connection.execute(text("insert into DEMO_ITEMS (ITEM) values (1), (2)"))
        stale.write_count += 2
    with repository.engine.connect() as connection:
        assert connection.execute(text("select count(*) from DEMO_ITEMS")).scalar() == 0
    assert stale.version == step.version - 1  # untouched by the failed commit


def test_a_failing_chunk_rolls_back_and_leaves_the_step_as_saved(
    repository: JobRepository,
) -> None:
    with repository.engine.begin() as connection:
        connection.execute(text("create table DEMO_ITEMS (ITEM bigint primary key)"))
    execution = launch_started(repository)
    step = start_step(repository, execution, "step1")
    version = step.version
    with (
        pytest.raises(RuntimeError, match="writer failed"),
        repository.chunk_transaction(step) as chunk,
    ):
        chunk.connection.execute(text("insert into DEMO_ITEMS (ITEM) values (1)"))
        step.execution_context["position"] = 1
        raise RuntimeError("writer failed")
    assert step.version == version and step.execution_context.dirty
    with repository.engine.connect() as connection:
        assert connection.execute(text("select count(*) from DEMO_ITEMS")).scalar() == 0
    saved = repository.explorer.get_step_execution(execution.id, step.id)
    assert saved is not None and dict(saved.execution_context) == {}
    # The caller counts the rollback and saves it; the context change goes with it.
    step.rollback_count += 1
    repository.update_step_execution(step)
    saved = repository.explorer.get_step_execution(execution.id, step.id)
    assert saved is not None
    assert (saved.rollback_count, dict(saved.execution_context)) == (1, {"position": 1})


def test_a_chunk_commits_writes_counters_and_context_together(repository: JobRepository) -> None:
    with repository.engine.begin() as connection:
        connection.execute(text("create table DEMO_ITEMS (ITEM bigint primary key)"))
    execution = launch_started(repository)
    step = start_step(repository, execution, "step1")
    with repository.chunk_transaction(step) as chunk:
        chunk.connection.execute(text("insert into DEMO_ITEMS (ITEM) values (1), (2), (3)"))
        step.read_count = step.write_count = 3
        step.commit_count = 1
        step.execution_context["position"] = 3
    assert chunk.job_status is BatchStatus.STARTED
    assert not step.execution_context.dirty
    saved = repository.explorer.get_step_execution(execution.id, step.id)
    assert saved is not None
    assert (saved.write_count, saved.commit_count, saved.version) == (3, 1, step.version)
    assert dict(saved.execution_context) == {"position": 3}


def test_the_step_update_reports_a_stop_request(repository: JobRepository) -> None:
    execution = launch_started(repository)
    step = start_step(repository, execution, "step1")
    assert run_chunk(repository, step, 2) is BatchStatus.STARTED
    repository.request_stop(execution.id)
    assert run_chunk(repository, step, 2) is BatchStatus.STOPPING
    step.status = BatchStatus.STOPPED
    assert repository.update_step_execution(step) is BatchStatus.STOPPING


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_last_step_and_job_write_locks_the_job_row_first(repository: JobRepository) -> None:
    """Abandon and recover lock the job row, then its steps; the worker's combined end of
    the last step and the job must take them in the same order, or the two deadlock."""
    execution = launch_started(repository)
    step = start_step(repository, execution, "step1")
    url = repository.engine.url.set(drivername="postgresql")
    conninfo = url.render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as holder, psycopg.connect(conninfo) as probe:
        # As an Abandon would: the job row locked, the step rows next.
        holder.execute(
            "SELECT 1 FROM batch_job_execution WHERE job_execution_id = %s FOR UPDATE",
            (execution.id,),
        )
        finish_step = threading.Thread(
            target=lambda: _finish_step_and_job(repository, step, execution)
        )
        finish_step.start()
        try:
            # The writer waits on the job row; it must not hold the step row meanwhile.
            time.sleep(0.5)
            probe.execute(
                "SELECT 1 FROM batch_step_execution WHERE step_execution_id = %s FOR UPDATE NOWAIT",
                (step.id,),
            )
            probe.rollback()
        finally:
            holder.rollback()
            finish_step.join(10)
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.COMPLETED


def _finish_step_and_job(
    repository: JobRepository, step: StepExecution, execution: JobExecution
) -> None:
    step.status = execution.status = BatchStatus.COMPLETED
    step.exit_status = execution.exit_status = ExitStatus.COMPLETED
    repository.finish_step_and_job(step, execution)
