"""Hostile jobs through a real `jobop serve`, on both databases: whatever a job raises or
stores (messages with lone surrogates or NUL, an exception whose `__str__` raises, context
values no Java type holds), its end is written, none is left running, a FAILED one
restarts and a stopped one ends STOPPED; an end the database refuses for a while is
written FAILED once it takes it."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from e2e_support import (
    ServerFactory,
    ServerProcess,
    execution,
    params,
    start,
    status_name,
    wait_for,
    wait_terminal,
    watch,
)
from jobop.repository import create_engine
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from sqlalchemy import Engine, text

# The job, its status, and what its exit message (job's and hostile step's) says.
HOSTILE = {
    "e2eSurrogateMessageJob": ("FAILED", r"RuntimeError: cannot read caf\udce9.csv"),
    "e2eNulMessageJob": ("FAILED", r"RuntimeError: a\x00b"),
    "e2eUnprintableErrorJob": ("FAILED", "e2e_jobs._StrRaises: <exception str() failed>"),
    "e2eUnstorableStepContextJob": ("FAILED", "UnstorableContext: the execution context of"),
    "e2eAwkwardContextJob": ("COMPLETED", ""),
}


@pytest.fixture
def database(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def running_rows(engine: Engine) -> list[tuple[str, int, str]]:
    """Every job and step execution row still in a running status."""
    with engine.connect() as connection:
        return [
            (row[0], row[1], row[2])
            for row in connection.execute(
                text(
                    "select 'job', JOB_EXECUTION_ID, STATUS from BATCH_JOB_EXECUTION "
                    "where STATUS in ('STARTING', 'STARTED', 'STOPPING') union all "
                    "select 'step', STEP_EXECUTION_ID, STATUS from BATCH_STEP_EXECUTION "
                    "where STATUS in ('STARTING', 'STARTED', 'STOPPING')"
                )
            )
        ]


def test_hostile_jobs_end_restart_and_stop(jobop_server: ServerProcess, database: Engine) -> None:
    stub = jobop_server.stub
    ids = {name: start(stub, name, params(run=1)).id for name in HOSTILE}
    ids["e2eUnstorableJobContextJob"] = start(stub, "e2eUnstorableJobContextJob").id
    stoppable = start(stub, "e2eAwkwardStopJob", params(run=1)).id
    for name, (status, message) in HOSTILE.items():
        ended = wait_terminal(stub, ids[name])
        assert status_name(ended.status) == status, (name, ended.exit_status)
        hostile = ended.step_executions[0]
        assert status_name(hostile.status) == status, (name, hostile.exit_status)
        assert ended.exit_status.exit_description.startswith(message), name
        assert hostile.exit_status.exit_description.startswith(message), name
    job_context = wait_terminal(stub, ids["e2eUnstorableJobContextJob"])
    assert status_name(job_context.status) == "FAILED"
    assert "the execution context of job e2eUnstorableJobContextJob cannot hold: " in (
        job_context.exit_status.exit_description
    )
    assert [status_name(s.status) for s in job_context.step_executions] == ["COMPLETED"] * 2
    # A watch of an ended execution ends too.
    messages = watch(stub, ids["e2eSurrogateMessageJob"], timeout=30)
    assert status_name(messages[-1].execution.status) == "FAILED"

    # A FAILED one restarts (it is not taken for running).
    restarted = stub.Restart(pb.RestartRequest(execution_id=ids["e2eNulMessageJob"])).execution
    assert status_name(wait_terminal(stub, restarted.id).status) == "FAILED"

    # Values no text column takes as they are, held while it runs: it stops.
    wait_for(
        stub, stoppable, lambda e: bool(e.step_executions[:1] and e.step_executions[0].commit_count)
    )
    stub.Stop(pb.StopRequest(execution_id=stoppable))
    stopped = wait_terminal(stub, stoppable)
    assert status_name(stopped.status) == "STOPPED", stopped.exit_status
    assert not running_rows(database)
    assert "Could not save the end" not in jobop_server.log()


# While e2e_refuse holds a row, the database refuses every end of a job execution.
REFUSE_SQLITE = [
    "create table e2e_refuse (x integer)",
    "insert into e2e_refuse values (1)",
    "create trigger e2e_refuse_end before update on BATCH_JOB_EXECUTION "
    "when NEW.STATUS not in ('STARTING', 'STARTED', 'STOPPING') "
    "and exists (select 1 from e2e_refuse) "
    "begin select raise(abort, 'e2e refuses the end'); end",
]
REFUSE_POSTGRESQL = [
    "create table e2e_refuse (x integer)",
    "insert into e2e_refuse values (1)",
    "create function e2e_refuse_end() returns trigger language plpgsql as $$ begin "
    "if NEW.status not in ('STARTING', 'STARTED', 'STOPPING') "
    "and exists (select 1 from e2e_refuse) then raise exception 'e2e refuses the end'; "
    "end if; return NEW; end $$",
    "create trigger e2e_refuse_end before update on batch_job_execution "
    "for each row execute function e2e_refuse_end()",
]


def test_an_end_the_database_refuses_is_retried_until_it_is_written_failed(
    start_server: ServerFactory, database: Engine
) -> None:
    with database.begin() as connection:
        postgresql = database.dialect.name == "postgresql"
        for statement in REFUSE_POSTGRESQL if postgresql else REFUSE_SQLITE:
            connection.exec_driver_sql(statement)
    server = start_server("--heartbeat-interval", "0.5", "--lease", "5")
    stub = server.stub
    refused = start(stub, "e2eRefusedEndJob", params(run=1)).id
    retried = f"could not mark job execution {refused} FAILED; trying again"
    deadline = time.monotonic() + 60
    while server.log().count(retried) < 2:  # refused, then refused again after a beat
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.1)
    # Meanwhile it reads as what the database holds: still running.
    assert status_name(execution(stub, refused).status) == "STARTED"
    with database.begin() as connection:
        connection.execute(text("delete from e2e_refuse"))
    ended = wait_terminal(stub, refused)
    assert status_name(ended.status) == "FAILED"
    assert ended.exit_status.exit_description.startswith("failed: its run ended with an error (")
    assert "e2e refuses the end" in ended.exit_status.exit_description
    assert not running_rows(database)
    restarted = stub.Restart(pb.RestartRequest(execution_id=refused)).execution
    ended = wait_terminal(stub, restarted.id)
    assert status_name(ended.status) == "COMPLETED"
    assert ended.exit_status.exit_code == r"E2E-caf\udce9.csv"
