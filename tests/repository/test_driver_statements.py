"""The run path's one-statement writes go straight to psycopg (pg_writes.DriverStatements):
a lost connection must still read as the database being unavailable, and the pool must
not hand the dead connection out again."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy.exc
from jobop.domain import BatchStatus, JobParameters, StepExecution, utcnow
from jobop.repository import JobRepository, StatementCounter, create_engine
from jobop.repository.engine import is_database_unavailable
from sqlalchemy import text


@pytest.fixture
def pg_repository(pg_clones) -> Iterator[JobRepository]:  # type: ignore[no-untyped-def]
    name = pg_clones.take()
    # One pooled connection: the write after the kill must get the same, dead one.
    repository = JobRepository(
        create_engine(pg_clones.cluster.url(name), pool_size=1, max_overflow=0)
    )
    try:
        yield repository
    finally:
        repository.engine.dispose()
        pg_clones.cluster.drop_database(name)


def _started_step(repository: JobRepository) -> StepExecution:
    execution = repository.create_job_execution("driverJob", JobParameters.of(run=1))
    execution.status, execution.start_time = BatchStatus.STARTED, utcnow()
    step = StepExecution("only", execution.id, status=BatchStatus.STARTED, start_time=utcnow())
    assert repository.start_job_and_step(execution, step)
    return step


def _kill_pooled_backends(repository: JobRepository) -> None:
    with create_engine(repository.engine.url).connect() as other:
        other.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


def test_a_lost_connection_is_an_outage_and_leaves_the_pool(pg_repository: JobRepository) -> None:
    step = _started_step(pg_repository)
    _kill_pooled_backends(pg_repository)
    step.commit_count += 1
    with pytest.raises(sqlalchemy.exc.OperationalError) as raised:
        pg_repository.update_step_execution(step)
    assert is_database_unavailable(raised.value)
    # The dead connection was dropped: the same write goes through on a new one, and the
    # connection is back out of autocommit for the transactions that follow.
    assert pg_repository.update_step_execution(step) is BatchStatus.STARTED
    with pg_repository.engine.connect() as connection:
        assert connection.connection.driver_connection.autocommit is False  # type: ignore[union-attr]


def test_a_refused_statement_is_raised_as_sqlalchemy_raises_it(
    pg_repository: JobRepository,
) -> None:
    step = _started_step(pg_repository)
    step.read_count = -1
    with pg_repository.engine.begin() as connection:
        connection.execute(text("ALTER TABLE batch_step_execution ADD CHECK (read_count >= 0)"))
    with pytest.raises(sqlalchemy.exc.IntegrityError) as raised:
        pg_repository.update_step_execution(step)
    assert not is_database_unavailable(raised.value)


def test_counters_hear_each_statement_and_its_commit(pg_repository: JobRepository) -> None:
    step = _started_step(pg_repository)
    step.commit_count += 1
    with StatementCounter(pg_repository.engine) as counter:
        pg_repository.update_step_execution(step)
    assert counter.count == 1 and counter.transactions == 1
    assert "batch_step_execution" in counter.statements[0]
