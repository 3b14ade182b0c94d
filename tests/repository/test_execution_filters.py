"""The filtered listing of executions (repository/listing.py): each filter on SQLite and
PostgreSQL, both orders with keyset pages, the count, and the statements a page costs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from jobop.domain import (
    BatchStatus,
    ExecutionFilter,
    ExitStatus,
    JobParameter,
    JobParameters,
    TimeRange,
)
from jobop.repository import JobRepository, StatementCounter, write_transaction
from jobop.repository.schema import job_execution, launch_request
from repository_lifecycle import run_execution
from sqlalchemy import text

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LONG_VALUE = "x" * 150


@dataclass
class History:
    ids: dict[str, int]


def _record(
    repository: JobRepository,
    name: str,
    job: str,
    parameters: JobParameters,
    status: BatchStatus,
    hours: int,
    exit_code: str | None = None,
) -> int:
    execution = run_execution(repository, job, parameters, status=status)
    created = T0 + timedelta(hours=hours)
    with write_transaction(repository.engine) as connection:
        connection.execute(
            job_execution.update()
            .where(job_execution.c.job_execution_id == execution.id)
            .values(
                create_time=created,
                start_time=created + timedelta(minutes=1),
                end_time=created + timedelta(minutes=30),
                exit_code=exit_code or status.value,
            )
        )
    return execution.id


def _launched(repository: JobRepository, execution_id: int, job: str, node: str, overdue: bool):
    with write_transaction(repository.engine) as connection:
        connection.execute(
            launch_request.insert().values(
                job_execution_id=execution_id,
                job_name=job,
                created=T0,
                node_id=node,
                claimed=T0,
                priority=0,
                overdue=T0 if overdue else None,
            )
        )


@pytest.fixture
def history(repository: JobRepository) -> History:
    tenant = JobParameter(7, "LONG")
    ids = {
        "a1": _record(
            repository,
            "a1",
            "importJob",
            JobParameters.of(run=1, tenant=tenant),
            BatchStatus.COMPLETED,
            0,
        ),
        "a2": _record(
            repository,
            "a2",
            "importJob",
            JobParameters.of(run=2, tenant=8),
            BatchStatus.FAILED,
            1,
        ),
        "b1": _record(
            repository,
            "b1",
            "exportJob",
            JobParameters.of(run=1, tenant=JobParameter("7", "STRING", identifying=False)),
            BatchStatus.STOPPED,
            2,
        ),
        "b2": _record(
            repository,
            "b2",
            "exportJob",
            JobParameters.of(run=2, region="eu"),
            BatchStatus.FAILED,
            3,
            exit_code="CUSTOM FAILED",
        ),
        "c1": _record(
            repository,
            "c1",
            "reportJob",
            JobParameters.of(run=1, note=LONG_VALUE),
            BatchStatus.COMPLETED,
            4,
        ),
        "c2": _record(
            repository,
            "c2",
            "reportJob",
            JobParameters.of(run=2, note=LONG_VALUE[:-1] + "y"),
            BatchStatus.ABANDONED,
            5,
        ),
    }
    _launched(repository, ids["a1"], "importJob", "node-1", overdue=False)
    _launched(repository, ids["a2"], "importJob", "node-2", overdue=True)
    _launched(repository, ids["b1"], "exportJob", "node-1", overdue=True)
    return History(ids)


def _names(repository: JobRepository, history: History, selection: ExecutionFilter) -> list[str]:
    by_id = {value: key for key, value in history.ids.items()}
    found = repository.explorer.find_job_executions(selection, limit=100)
    assert repository.explorer.count_job_executions(selection) == len(found)
    return [by_id[execution.id] for execution in found]


def test_every_execution_newest_first_or_oldest_first_in_keyset_pages(
    repository: JobRepository, history: History
) -> None:
    explorer = repository.explorer
    every = ExecutionFilter()
    newest = [e.id for e in explorer.find_job_executions(every, limit=100)]
    assert newest == sorted(history.ids.values(), reverse=True)
    pages, after = [], None
    while True:
        page = explorer.find_job_executions(every, after_id=after, oldest_first=True, limit=4)
        if not page:
            break
        pages.append([e.id for e in page])
        after = page[-1].id
    assert pages == [sorted(history.ids.values())[:4], sorted(history.ids.values())[4:]]
    second = explorer.find_job_executions(every, after_id=newest[1], limit=100)
    assert [e.id for e in second] == newest[2:]
    # Loaded whole: parameters and steps.
    first = explorer.find_job_executions(every, limit=1)[0]
    assert first.job_parameters.value("note") == LONG_VALUE[:-1] + "y"
    assert [step.step_name for step in first.step_executions] == ["step1"]


def test_job_names(repository: JobRepository, history: History) -> None:
    assert _names(repository, history, ExecutionFilter(job_names=("importJob",))) == ["a2", "a1"]
    both = ExecutionFilter(job_names=("reportJob", "importJob"))
    assert _names(repository, history, both) == ["c2", "c1", "a2", "a1"]
    assert _names(repository, history, ExecutionFilter(job_names=("noSuchJob",))) == []


def test_statuses_and_exit_codes(repository: JobRepository, history: History) -> None:
    failed = ExecutionFilter(statuses=(BatchStatus.FAILED, BatchStatus.STOPPED))
    assert _names(repository, history, failed) == ["b2", "b1", "a2"]
    custom = ExecutionFilter(exit_codes=("CUSTOM FAILED",))
    assert _names(repository, history, custom) == ["b2"]
    codes = ExecutionFilter(exit_codes=("CUSTOM FAILED", "COMPLETED"))
    assert _names(repository, history, codes) == ["c1", "b2", "a1"]


def test_created_started_and_ended_ranges(repository: JobRepository, history: History) -> None:
    # since inclusive, until exclusive.
    created = ExecutionFilter(created=TimeRange(T0 + timedelta(hours=1), T0 + timedelta(hours=3)))
    assert _names(repository, history, created) == ["b1", "a2"]
    since = ExecutionFilter(created=TimeRange(since=T0 + timedelta(hours=4)))
    assert _names(repository, history, since) == ["c2", "c1"]
    until = ExecutionFilter(created=TimeRange(until=T0 + timedelta(hours=1)))
    assert _names(repository, history, until) == ["a1"]
    started = ExecutionFilter(
        started=TimeRange(T0 + timedelta(hours=2, minutes=1), T0 + timedelta(hours=2, minutes=2))
    )
    assert _names(repository, history, started) == ["b1"]
    ended = ExecutionFilter(ended=TimeRange(until=T0 + timedelta(hours=1, minutes=30)))
    assert _names(repository, history, ended) == ["a1"]


def test_parameter_values_identifying_or_not(repository: JobRepository, history: History) -> None:
    # The text Spring stores: a long 7 and a non-identifying string "7" both read "7".
    tenant = ExecutionFilter(parameters=(("tenant", "7"),))
    assert _names(repository, history, tenant) == ["b1", "a1"]
    assert _names(repository, history, ExecutionFilter(parameters=(("region", "eu"),))) == ["b2"]
    both = ExecutionFilter(parameters=(("tenant", "7"), ("run", "2")))
    assert _names(repository, history, both) == []
    # Values past the indexed prefix are compared whole.
    note = ExecutionFilter(parameters=(("note", LONG_VALUE),))
    assert _names(repository, history, note) == ["c1"]
    assert _names(repository, history, ExecutionFilter(parameters=(("tenant", "70"),))) == []


def test_owner_node_and_overdue(repository: JobRepository, history: History) -> None:
    assert _names(repository, history, ExecutionFilter(node_id="node-1")) == ["b1", "a1"]
    assert _names(repository, history, ExecutionFilter(overdue=True)) == ["b1", "a2"]
    # Executions without a launch request (not launched by jobop) are never overdue.
    assert _names(repository, history, ExecutionFilter(overdue=False)) == ["c2", "c1", "b2", "a1"]


# Every kind of condition at once.
COMBINED = ExecutionFilter(
    job_names=("importJob", "exportJob"),
    statuses=(BatchStatus.FAILED, BatchStatus.STOPPED, BatchStatus.COMPLETED),
    created=TimeRange(since=T0),
    parameters=(("tenant", "7"),),
    node_id="node-1",
)


def test_filters_combine(repository: JobRepository, history: History) -> None:
    assert _names(repository, history, COMBINED) == ["b1", "a1"]
    assert _names(repository, history, replace(COMBINED, overdue=True)) == ["b1"]


def test_a_filtered_page_costs_three_statements_whatever_it_holds(
    repository: JobRepository, history: History
) -> None:
    for extra in (ExecutionFilter(), COMBINED):
        with StatementCounter(repository.engine) as counter:
            found = repository.explorer.find_job_executions(extra, limit=100, contexts=False)
        assert found
        assert counter.count == 3, counter.statements
        with StatementCounter(repository.engine) as counter:
            repository.explorer.count_job_executions(extra)
        assert counter.count == 1


def test_exit_status_of_listed_executions_is_the_stored_one(
    repository: JobRepository, history: History
) -> None:
    found = repository.explorer.find_job_executions(
        ExecutionFilter(exit_codes=("CUSTOM FAILED",)), limit=5
    )
    assert [e.exit_status for e in found] == [ExitStatus("CUSTOM FAILED", "")]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_listing_statements_are_planned_for_their_values_not_prepared(
    repository: JobRepository, history: History
) -> None:
    # A prepared statement may get one generic plan for any values: a rare parameter's
    # page then read all of history (seconds on a million executions).
    for _ in range(8):
        repository.explorer.find_job_executions(COMBINED, limit=5, contexts=False)
        repository.explorer.count_job_executions(COMBINED)
    with repository.engine.connect() as connection:  # the pool's last used connection
        prepared = connection.execute(text("select statement from pg_prepared_statements"))
        listing = [row[0] for row in prepared if "parameter_value, 1, 100" in row[0]]
    assert listing == []
    # The launch path's statements are still prepared on the same connections.
    for _ in range(8):
        repository.explorer.get_job_execution(history.ids["a1"])
    with repository.engine.connect() as connection:
        assert connection.execute(text("select count(*) from pg_prepared_statements")).scalar()
