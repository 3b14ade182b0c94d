"""Declared parameters over REST against a real `jobop serve` (SQLite and PostgreSQL): a start
that does not fit answers 400 with the offenders in the error's metadata and writes
nothing; text is stored typed as the job declares it."""

from __future__ import annotations

from e2e_support import ServerProcess
from jobop.repository import create_engine
from rest_support import error_of, request, wait_terminal
from sqlalchemy import func, select, text

TABLES = ("batch_job_instance", "batch_job_execution", "batch_job_execution_params")


def rows(db_url: str) -> tuple[int, ...]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return tuple(
                connection.execute(select(func.count()).select_from(text(table))).scalar_one()
                for table in TABLES
            )
    finally:
        engine.dispose()


def test_a_start_that_does_not_fit_answers_400_with_the_names(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    before = rows(jobop_server.db_url)
    body = {"parameters": {"itemz": 7, "items": "many", "chunkSize": {"double": 2.5}}}
    reply = request(base, "POST", "/api/jobs/demoChunkJob/start", body)
    status, code, reason, metadata = error_of(reply)
    assert (status, code, reason) == (400, "INVALID_ARGUMENT", "INVALID_JOB_PARAMETERS")
    assert metadata == {"unknown": "itemz", "invalid": "chunkSize,items"}
    assert reply.body is not None
    message = reply.body["error"]["message"]
    assert "unknown itemz (declared: items, chunkSize, itemDelayMs, failAtItem)" in message
    assert rows(jobop_server.db_url) == before

    # A typed value of another type than the declared one.
    rest = request(base, "POST", "/api/jobs/demoExitCodeJob/start", {"parameters": {"fail": 1}})
    assert error_of(rest)[2:] == ("INVALID_JOB_PARAMETERS", {"invalid": "fail"})
    assert rows(jobop_server.db_url) == before


def test_text_values_are_stored_typed_and_the_defaults_are_not(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    body = {"parameters": {"items": "6", "chunkSize": "4", "failAtItem": "0"}}
    started = request(base, "POST", "/api/jobs/demoChunkJob/start", body)
    assert started.status == 201, started
    final = wait_terminal(base, started.body["id"])
    assert final["status"] == "COMPLETED"
    assert final["stepExecutions"][0]["readCount"] == 6
    assert final["parameters"] == {
        "items": {"long": 6, "identifying": True},
        "chunkSize": {"long": 4, "identifying": False},
        "failAtItem": {"long": 0, "identifying": False},
    }
