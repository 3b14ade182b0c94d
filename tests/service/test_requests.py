"""RequestLedger: one execution per request id, however many concurrent retries, on SQLite
and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from jobop.domain import (
    ConcurrentModification,
    JobExecution,
    JobInstanceAlreadyExists,
    JobParameter,
    JobParameters,
    utcnow,
)
from jobop.operator import RequestIdReused, RequestLedger
from jobop.repository import JobRepository, create_engine
from jobop.repository.schema import request
from sqlalchemy import Engine, insert, select


@pytest.fixture
def repository(db_url: str) -> Iterator[JobRepository]:
    engine = create_engine(db_url, pool_size=60)
    yield JobRepository(engine)
    engine.dispose()


def _load(repository: JobRepository) -> Callable[[int], JobExecution]:
    def load(execution_id: int) -> JobExecution:
        execution = repository.explorer.get_job_execution(execution_id)
        assert execution is not None
        return execution

    return load


def test_fifty_concurrent_attempts_create_once(repository: JobRepository) -> None:
    creations = []
    lock = threading.Lock()

    def create() -> JobExecution:
        execution = repository.create_job_execution(
            "someJob", JobParameters({"n": JobParameter(1, "LONG")}), new_instance_only=True
        )
        with lock:
            creations.append(execution.id)
        return execution

    # Two ledgers: two servers sharing the database.
    ledgers = [RequestLedger(repository.engine), RequestLedger(repository.engine)]

    def attempt(index: int) -> int:
        ledger = ledgers[index % 2]
        return ledger.run_once("r-1", "start someJob", create, _load(repository)).id

    with ThreadPoolExecutor(50) as pool:
        ids = set(pool.map(attempt, range(50)))
    assert len(creations) == 1
    assert ids == set(creations)


def test_a_failed_first_attempt_lets_the_retry_try_again(repository: JobRepository) -> None:
    ledger = RequestLedger(repository.engine)
    calls = []

    def failing() -> JobExecution:
        calls.append(1)
        raise JobInstanceAlreadyExists("exists")

    for _ in range(2):
        with pytest.raises(JobInstanceAlreadyExists):
            ledger.run_once("r-2", "start x", failing, _load(repository))
    assert len(calls) == 2
    with repository.engine.connect() as connection:
        assert connection.execute(select(request)).all() == []


def test_reuse_for_another_request_is_refused(repository: JobRepository) -> None:
    ledger = RequestLedger(repository.engine)
    create = lambda: repository.create_job_execution("someJob", JobParameters())  # noqa: E731
    ledger.run_once("r-3", "start someJob k1", create, _load(repository))
    with pytest.raises(RequestIdReused):
        ledger.run_once("r-3", "start someJob k2", create, _load(repository))


def _reserve(engine: Engine, request_id: str, age: timedelta) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(request).values(
                request_id=request_id, operation="start x", created=utcnow() - age
            )
        )


def test_a_reservation_in_progress_elsewhere_times_out_then_goes_stale(
    repository: JobRepository,
) -> None:
    engine = repository.engine
    create = lambda: repository.create_job_execution("someJob", JobParameters())  # noqa: E731
    _reserve(engine, "r-4", timedelta(0))
    with pytest.raises(ConcurrentModification):
        RequestLedger(engine, wait_timeout=0.3).run_once(
            "r-4", "start x", create, _load(repository)
        )
    # Its owner died long ago: the retry takes the reservation over.
    _reserve(engine, "r-5", timedelta(minutes=10))
    execution = RequestLedger(engine, stale_after=60).run_once(
        "r-5",
        "start x",
        create,
        _load(repository),
    )
    assert execution.id > 0


def test_purge_forgets_old_request_ids(repository: JobRepository) -> None:
    _reserve(repository.engine, "old", timedelta(days=8))
    _reserve(repository.engine, "new", timedelta(0))
    assert RequestLedger(repository.engine).purge(timedelta(days=7)) == 1
