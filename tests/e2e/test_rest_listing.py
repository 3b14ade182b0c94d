"""GET /api/executions and /api/executions/count against a real `jobop serve` (SQLite and
PostgreSQL): the query's filters, both orders, page tokens bound to their filter, and
malformed filters refused with 400 naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from e2e_support import ServerProcess
from jobop.domain import BatchStatus, ExitStatus, JobParameter, JobParameters
from jobop.repository import JobRepository, create_engine, write_transaction
from jobop.repository.schema import job_execution
from rest_support import error_of, request

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def history(db_url: str) -> dict[int, int]:
    """Six executions of two jobs written as an application would: run r created at T0 + r
    hours, tenant r % 2, FAILED when r is odd. {run: execution id}."""
    repository = JobRepository(create_engine(db_url))
    found = {}
    try:
        for run in range(1, 7):
            job = "importJob" if run <= 3 else "exportJob"
            tenant = JobParameter(run % 2, "LONG", identifying=False)
            execution = repository.create_job_execution(
                job, JobParameters.of(run=run, tenant=tenant)
            )
            execution.status = BatchStatus.FAILED if run % 2 else BatchStatus.COMPLETED
            execution.exit_status = ExitStatus(execution.status.value)
            execution.start_time = execution.end_time = T0 + timedelta(hours=run)
            repository.update_job_execution(execution)
            with write_transaction(repository.engine) as connection:
                connection.execute(
                    job_execution.update()
                    .where(job_execution.c.job_execution_id == execution.id)
                    .values(create_time=T0 + timedelta(hours=run))
                )
            found[run] = execution.id
    finally:
        repository.engine.dispose()
    return found


def _get(server: ServerProcess, path: str, query: list[tuple[str, str]]) -> dict:
    reply = request(server.http_url, "GET", f"{path}?{urlencode(query)}")
    assert reply.status == 200, reply
    assert isinstance(reply.body, dict)
    return reply.body


def _runs(body: dict) -> list[int]:
    return [e["parameters"]["run"]["long"] for e in body["executions"]]


def test_filters_pages_orders_and_the_count(
    jobop_server: ServerProcess, history: dict[int, int]
) -> None:
    since = (T0 + timedelta(hours=2)).isoformat()
    query = [("job", "importJob"), ("job", "exportJob"), ("status", "FAILED")]
    query += [("status", "STOPPED"), ("since", since), ("param.tenant", "1")]
    # Runs 3 and 5: FAILED (odd), tenant 1, created from T0 + 2 h.
    first = _get(jobop_server, "/api/executions", [*query, ("pageSize", "1")])
    assert _runs(first) == [5]
    token = first["nextPageToken"]
    second = _get(jobop_server, "/api/executions", [*query, ("pageToken", token)])
    assert (_runs(second), second["nextPageToken"]) == ([3], "")
    oldest = _get(jobop_server, "/api/executions", [*query, ("order", "oldest")])
    assert _runs(oldest) == [3, 5]
    assert _get(jobop_server, "/api/executions/count", query) == {"count": 2}
    # Every job's, the other filters one at a time.
    assert _get(jobop_server, "/api/executions/count", []) == {"count": 6}
    assert _runs(_get(jobop_server, "/api/executions", [("until", since)])) == [1]
    ended = [("endedSince", (T0 + timedelta(hours=6)).isoformat())]
    assert _runs(_get(jobop_server, "/api/executions", ended)) == [6]
    assert _runs(_get(jobop_server, "/api/executions", [("exitCode", "COMPLETED")])) == [6, 4, 2]
    assert _get(jobop_server, "/api/executions/count", [("node", "nobody")]) == {"count": 0}
    assert _get(jobop_server, "/api/executions/count", [("overdue", "true")]) == {"count": 0}
    assert _get(jobop_server, "/api/executions/count", [("overdue", "false")]) == {"count": 6}
    # A job's own listing takes the filters too.
    failed = _get(jobop_server, "/api/jobs/importJob/executions", [("status", "FAILED")])
    assert _runs(failed) == [3, 1]

    # The token belongs to its filter.
    other = [("status", "FAILED"), ("pageToken", token)]
    reply = request(jobop_server.http_url, "GET", f"/api/executions?{urlencode(other)}")
    status, code, reason, metadata = error_of(reply)
    assert (status, code, reason, metadata.get("field")) == (
        400,
        "INVALID_ARGUMENT",
        "INVALID_ARGUMENT",
        "page_token",
    )


MALFORMED = [
    ([("status", "DONE")], "status"),
    ([("since", "yesterday")], "since"),
    ([("until", "2026-03-01T00:00:00")], "until"),  # no offset
    (
        [("startedSince", "2026-03-02T00:00:00Z"), ("startedUntil", "2026-03-01T00:00Z")],
        "filter.started",
    ),
    ([("overdue", "maybe")], "overdue"),
    ([("param.", "7")], "filter.parameters.name"),
    ([("exitCode", "")], "filter.exit_codes"),
    ([("order", "sideways")], "order"),
]


def test_malformed_filters_answer_400_naming_the_field(jobop_server: ServerProcess) -> None:
    for query, field in MALFORMED:
        paths = ["/api/executions"] + (["/api/executions/count"] if field != "order" else [])
        for path in paths:
            reply = request(jobop_server.http_url, "GET", f"{path}?{urlencode(query)}")
            status, code, _, metadata = error_of(reply)
            assert (status, code, metadata.get("field")) == (400, "INVALID_ARGUMENT", field), (
                path,
                query,
            )
