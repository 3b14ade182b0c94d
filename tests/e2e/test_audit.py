"""The audit trail on a real `jobop serve`, on SQLite and PostgreSQL: every control action
is a JOBOP_AUDIT row with its principal, arguments (secrets masked), peer, node and
outcome; ListAuditEvents and `jobctl audit` read it; and an action whose transaction is
rolled back leaves no row claiming success."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from e2e_support import ServerFactory, ServerProcess, error_of, params, run_jobctl
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from sqlalchemy import Engine, create_engine, func, select, text
from test_auth import TOKENS, call, tokens_file, wait_until


@pytest.fixture
def server(start_server: ServerFactory, tmp_path: Path) -> ServerProcess:
    return start_server("--tokens-file", str(tokens_file(tmp_path)))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def audit_rows(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT * FROM jobop_audit ORDER BY audit_id")))


def _stopped_execution(server: ServerProcess) -> pb.JobExecution:
    request = pb.StartRequest(
        job_name="demoTaskletJob",
        parameters=params(durationMs=60_000, **{"run.id": time.time_ns()}),
    )
    execution = call(server, "Start", request, "operator").execution
    wait_until(server, execution.id, lambda e: e.status == pb.BATCH_STATUS_STARTED)
    call(server, "Stop", pb.StopRequest(execution_id=execution.id), "operator")
    return wait_until(server, execution.id, lambda e: e.status == pb.BATCH_STATUS_STOPPED)


def test_every_control_action_is_recorded_with_its_principal(
    server: ServerProcess, engine: Engine
) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    started = call(
        server,
        "Start",
        pb.StartRequest(
            job_name="demoTaskletJob",
            parameters=params(durationMs=1, dbPassword="hunter2", **{"run.id": 1}),
        ),
        "operator",
    ).execution
    wait_until(server, started.id, lambda e: e.status == pb.BATCH_STATUS_COMPLETED)
    following = call(
        server, "StartNextInstance", pb.StartNextInstanceRequest(job_name="demoTaskletJob"), "admin"
    ).execution
    stopped = _stopped_execution(server)
    restarted = call(
        server, "Restart", pb.RestartRequest(execution_id=stopped.id), "operator"
    ).execution
    call(server, "Stop", pb.StopRequest(execution_id=restarted.id), "operator")
    wait_until(server, restarted.id, lambda e: e.status == pb.BATCH_STATUS_STOPPED)
    call(server, "Abandon", pb.AbandonRequest(execution_id=restarted.id), "admin")
    # Refused and failed actions are recorded too.
    error_of(lambda: call(server, "Abandon", pb.AbandonRequest(execution_id=stopped.id), "viewer"))
    error_of(
        lambda: call(server, "Recover", pb.RecoverRequest(execution_id=started.id), "operator")
    )
    error_of(lambda: call(server, "Stop", pb.StopRequest(execution_id=999_999), "operator"))

    rows = audit_rows(engine)
    seen = [
        (r.action, r.principal, r.role, r.succeeded, r.job_execution_id, r.reason) for r in rows
    ]
    assert seen == [
        ("Start", "operator-user", "operator", "Y", started.id, None),
        ("StartNextInstance", "admin-user", "admin", "Y", following.id, None),
        ("Start", "operator-user", "operator", "Y", stopped.id, None),
        ("Stop", "operator-user", "operator", "Y", stopped.id, None),
        ("Restart", "operator-user", "operator", "Y", restarted.id, None),
        ("Stop", "operator-user", "operator", "Y", restarted.id, None),
        ("Abandon", "admin-user", "admin", "Y", restarted.id, None),
        ("Abandon", "viewer-user", "viewer", "N", stopped.id, "PERMISSION_DENIED"),
        ("Recover", "operator-user", "operator", "N", started.id, "JOB_EXECUTION_NOT_RUNNING"),
        ("Stop", "operator-user", "operator", "N", 999_999, "NO_SUCH_JOB_EXECUTION"),
    ]
    assert all(r.job_name == "demoTaskletJob" for r in rows[:-1])
    assert rows[-1].job_name is None
    assert all(r.peer.startswith("ipv4:127.0.0.1:") and r.node for r in rows)
    first = json.loads(rows[0].arguments)
    assert first["parameters"]["dbPassword"] == {"string": "***", "identifying": True}
    assert first["parameters"]["durationMs"] == {"long": 1, "identifying": True}
    assert first["jobName"] == "demoTaskletJob"
    audit_lines = [line for line in server.log().splitlines() if "AUDIT-" in line]
    assert audit_lines and not [line for line in audit_lines if "hunter2" in line]
    assert server.log().count("AUDIT-OK") == 7
    assert all(TOKENS[role] not in server.log() for role in TOKENS)

    # ListAuditEvents: newest first, paged, filtered by job and time.
    pages, token = [], ""
    while True:
        page = call(
            server,
            "ListAuditEvents",
            pb.ListAuditEventsRequest(page_size=3, page_token=token),
            "operator",
        )
        pages.append(page)
        token = page.next_page_token
        if not token:
            break
    listed = [event for page in pages for event in page.events]
    assert [e.id for e in listed] == [r.audit_id for r in reversed(rows)]
    assert listed[-1].principal == "operator-user" and listed[-1].succeeded
    assert listed[0].reason == "NO_SUCH_JOB_EXECUTION"
    by_job = call(
        server, "ListAuditEvents", pb.ListAuditEventsRequest(job_name="demoTaskletJob"), "operator"
    )
    assert len(by_job.events) == len(rows) - 1
    later = pb.ListAuditEventsRequest()
    later.since.FromDatetime(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    assert not call(server, "ListAuditEvents", later, "operator").events
    early = pb.ListAuditEventsRequest()
    early.since.FromDatetime(before)
    assert len(call(server, "ListAuditEvents", early, "operator").events) == len(rows)

    shown = run_jobctl(
        server.address, "audit", "--job", "demoTaskletJob", "--since", "1h", **_token("operator")
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "PRINCIPAL", "ROLE"]
    assert len(lines) == 1 + len(rows) - 1
    assert "PERMISSION_DENIED" in shown.stdout and "admin-user" in shown.stdout
    as_json = run_jobctl(server.address, "--json", "audit", "--limit", "2", **_token("operator"))
    assert [e["action"] for e in json.loads(as_json.stdout)] == ["Stop", "Recover"]
    refused = run_jobctl(server.address, "audit", **_token("viewer"))
    assert refused.returncode == 7


def _token(role: str) -> dict[str, str]:
    return {"JOBOP_TOKEN": TOKENS[role]}


def _refuse_success_rows(engine: Engine) -> None:
    """A trigger that fails every insert of a success row, as a full disk or a dropped
    connection might fail the action's commit after its audit row was written."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(
                text(
                    "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
                    "RAISE EXCEPTION 'audit refused'; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON jobop_audit FOR EACH ROW "
                    "WHEN (NEW.succeeded = 'Y') EXECUTE FUNCTION refuse_audit()"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON jobop_audit "
                    "WHEN NEW.succeeded = 'Y' BEGIN SELECT RAISE(ABORT, 'audit refused'); END"
                )
            )


def _executions(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).select_from(text("batch_job_execution"))
            ).scalar_one()
        )


def test_an_action_rolled_back_leaves_no_row_claiming_success(
    server: ServerProcess, engine: Engine
) -> None:
    stopped = _stopped_execution(server)
    running = call(
        server,
        "Start",
        pb.StartRequest(
            job_name="demoTaskletJob",
            parameters=params(durationMs=60_000, **{"run.id": time.time_ns()}),
        ),
        "operator",
    ).execution
    wait_until(server, running.id, lambda e: e.status == pb.BATCH_STATUS_STARTED)
    _refuse_success_rows(engine)
    executions = _executions(engine)

    for role, method, request in (
        ("operator", "Start", pb.StartRequest(job_name="demoTaskletJob", parameters=params(x=1))),
        ("operator", "StartNextInstance", pb.StartNextInstanceRequest(job_name="demoTaskletJob")),
        ("operator", "Restart", pb.RestartRequest(execution_id=stopped.id)),
        ("admin", "Abandon", pb.AbandonRequest(execution_id=stopped.id)),
        ("operator", "Stop", pb.StopRequest(execution_id=running.id)),
    ):
        code, reason, _ = error_of(lambda m=method, r=request, role=role: call(server, m, r, role))
        assert (code, reason) == (grpc.StatusCode.INTERNAL, "INTERNAL"), method
    # Each action was rolled back together with its audit row.
    assert _executions(engine) == executions
    # The abandon was rolled back, and so was the stop: the job running in this process
    # was not signalled (the operator writes before it signals).
    current = call(
        server, "GetJobExecution", pb.GetJobExecutionRequest(execution_id=stopped.id), "viewer"
    ).execution
    assert current.status == pb.BATCH_STATUS_STOPPED
    time.sleep(1.0)
    still = call(
        server, "GetJobExecution", pb.GetJobExecutionRequest(execution_id=running.id), "viewer"
    ).execution
    assert still.status == pb.BATCH_STATUS_STARTED

    rows = audit_rows(engine)
    assert [(r.action, r.succeeded, r.reason) for r in rows] == [
        ("Start", "Y", None),  # before the trigger
        ("Stop", "Y", None),
        ("Start", "Y", None),
        ("Start", "N", "INTERNAL"),
        ("StartNextInstance", "N", "INTERNAL"),
        ("Restart", "N", "INTERNAL"),
        ("Abandon", "N", "INTERNAL"),
        ("Stop", "N", "INTERNAL"),
    ]
    with engine.begin() as connection:
        connection.execute(
            text(
                "DROP TRIGGER refuse_audit"
                + (" ON jobop_audit" if engine.dialect.name == "postgresql" else "")
            )
        )
    call(server, "Stop", pb.StopRequest(execution_id=running.id), "operator")
    wait_until(server, running.id, lambda e: e.status == pb.BATCH_STATUS_STOPPED)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_client_libraries_page_through_the_audit_trail(server: ServerProcess) -> None:
    import asyncio

    from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient
    from jobop_client.credentials import token_metadata

    metadata = token_metadata(TOKENS["operator"])
    with JobOperatorClient(server.address, metadata=metadata) as client:
        for run in (1, 2, 3):
            client.start("demoTaskletJob", {"durationMs": 1, "run.id": run})
        first = client.list_audit_events("demoTaskletJob", page_size=2)
        rest = client.list_audit_events(
            "demoTaskletJob", page_token=first.next_page_token, page_size=2
        )
        assert [e.action for e in first.items + rest.items] == ["Start"] * 3
        assert not rest.next_page_token
        hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        assert len(client.list_audit_events(since=hour_ago).items) == 3

    async def read() -> list[int]:
        async with AsyncJobOperatorClient(server.address, metadata=metadata) as client:
            page = await client.list_audit_events("demoTaskletJob")
            return [event.execution_id for event in page.items]

    assert asyncio.run(read()) == [e.execution_id for e in first.items + rest.items]


def test_requests_refused_by_either_surface_itself_are_one_row_each(
    server: ServerProcess, engine: Engine
) -> None:
    """A malformed body, path id or parameter refused by the REST layer, and a request the
    gRPC layer cannot decode, are audited as the servicer audits what it refuses."""
    from rest_support import error_of as rest_error
    from rest_support import request

    def rest(path: str, role: str, raw: bytes = b"", content_type: str = "application/json") -> Any:
        headers = {"Authorization": f"Bearer {TOKENS[role]}", "Content-Type": content_type}
        return rest_error(request(server.http_url, "POST", path, raw=raw, headers=headers))

    job = "/api/jobs/demoTaskletJob"
    assert rest(f"{job}/start", "operator", b"{not json")[2] == "INVALID_ARGUMENT"
    bad_parameter = b'{"parameters": {"n": {"long": 1.5}}}'
    assert rest(f"{job}/start", "operator", bad_parameter)[2] == "INVALID_JOB_PARAMETERS"
    assert rest(f"{job}/next", "operator", b'{"requestId": 5}')[2] == "INVALID_ARGUMENT"
    assert rest("/api/executions/abc/stop", "operator")[2] == "INVALID_ARGUMENT"
    assert rest("/api/executions/7/restart", "operator", b'{"nope": 1}')[2] == "INVALID_ARGUMENT"
    assert rest("/api/executions/8/abandon", "admin", b"{}", "text/plain")[:3] == (
        415,
        "INVALID_ARGUMENT",
        "UNSUPPORTED_MEDIA_TYPE",
    )
    # The same refusals over gRPC: a field the servicer refuses, bytes no message decodes.
    error_of(lambda: call(server, "Stop", pb.StopRequest(execution_id=0), "operator"))
    undecodable = server.channel.unary_unary("/jobop.v1.JobOperatorService/Recover")
    with pytest.raises(grpc.RpcError) as refused:
        undecodable(b"\xff\xff\xff", metadata=[("authorization", f"Bearer {TOKENS['operator']}")])
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    rows = audit_rows(engine)
    assert [
        (r.action, r.principal, r.succeeded, r.reason, r.job_name, r.job_execution_id) for r in rows
    ] == [
        ("Start", "operator-user", "N", "INVALID_ARGUMENT", "demoTaskletJob", None),
        ("Start", "operator-user", "N", "INVALID_JOB_PARAMETERS", "demoTaskletJob", None),
        ("StartNextInstance", "operator-user", "N", "INVALID_ARGUMENT", "demoTaskletJob", None),
        ("Stop", "operator-user", "N", "INVALID_ARGUMENT", None, None),
        ("Restart", "operator-user", "N", "INVALID_ARGUMENT", None, 7),
        ("Abandon", "admin-user", "N", "UNSUPPORTED_MEDIA_TYPE", None, 8),
        ("Stop", "operator-user", "N", "INVALID_ARGUMENT", None, None),
        ("Recover", "operator-user", "N", "INVALID_ARGUMENT", None, None),
    ]
    assert "body" in rows[0].message and "requestId" in rows[2].message
    assert all(r.peer.startswith("ipv4:127.0.0.1:") for r in rows)
    # Logged as the servicer logs the malformed requests it refuses itself.
    assert server.log().count("AUDIT-FAILED") == 8 and "AUDIT-REFUSED" not in server.log()
