"""Bulk operations over REST on three real `jobop serve` replicas on PostgreSQL (with a
tokens file): a dry run changes nothing, each action needs its role, malformed bodies are
400 naming what is wrong, and a bulk stop whose node is SIGKILLed mid-way is carried on by
a survivor to DONE with every execution stopped exactly once (one audit row each).

Queued executions (their job paused) are what is stopped: a queued start is stopped at
once, by whichever node acts, so every outcome is the operation's own. `--bulk-rate 10`
keeps the operation running long enough to be killed mid-way.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from bearer_tokens import ROLE_TOKENS, write_tokens_file
from e2e_support import ServerFactory, ServerProcess, run_jobctl
from jobop.repository import create_engine
from rest_support import error_of, request
from sqlalchemy import Engine, text

pytestmark = pytest.mark.slow

JOB = "demoTaskletJob"
COUNT = 40
RATE = 10
REPLICA = ("--lease", "3", "--heartbeat-interval", "0.5", "--bulk-rate", str(RATE))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def call(
    server: ServerProcess, method: str, path: str, role: str, body: object = None, **kw: Any
) -> Any:
    headers = {"Authorization": f"Bearer {ROLE_TOKENS[role]}", **kw.pop("headers", {})}
    return request(server.http_url, method, path, body, headers=headers, **kw)


def wait_until(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
    return found


def statuses(engine: Engine, ids: list[int]) -> dict[int, str]:
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT JOB_EXECUTION_ID, STATUS FROM BATCH_JOB_EXECUTION")
        ).all()
    return {row[0]: row[1] for row in rows if row[0] in ids}


def audit_rows(engine: Engine, action: str) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT job_execution_id, arguments, succeeded FROM jobop_audit "
                "WHERE action = :action"
            ),
            {"action": action},
        ).all()
    return [{"execution": r[0], "arguments": json.loads(r[1]), "ok": r[2]} for r in rows]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_bulk_stop_survives_its_node_and_stops_each_execution_once(
    start_server: ServerFactory, engine: Engine, tmp_path: Path
) -> None:
    tokens = str(write_tokens_file(tmp_path / "tokens.toml"))
    a, b, c = (start_server(*REPLICA, "--tokens-file", tokens) for _ in range(3))
    assert call(a, "POST", f"/api/jobs/{JOB}/pause", "operator").status == 200
    ids = []
    for run in range(COUNT):
        body = {"parameters": {"run.id": run + 1, "durationMs": 10}}
        reply = call((a, b, c)[run % 3], "POST", f"/api/jobs/{JOB}/start", "operator", body)
        assert reply.status == 201, reply
        ids.append(reply.body["id"])
    selection = {"filter": {"job": [JOB], "status": "STARTING"}}

    # A dry run: the count and the first ids, newest first; nothing changes or is stored.
    dry = call(a, "POST", "/api/executions/stop", "operator", {**selection, "dryRun": True})
    assert dry.status == 200, dry
    assert (dry.body["dryRun"], dry.body["id"], dry.body["matched"]) == (True, 0, COUNT)
    assert dry.body["ids"] == sorted(ids, reverse=True)[: len(dry.body["ids"])]
    assert dry.body["ids"]
    assert set(statuses(engine, ids).values()) == {"STARTING"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM jobop_bulk_operation")).scalar() == 0
    shown = run_jobctl(
        b.address, "--token", ROLE_TOKENS["viewer"], "--json", "bulk", "stop", JOB,
        "--status", "STARTING", "--dry-run",
    )  # fmt: skip
    assert shown.returncode == 7, shown.stderr  # a dry run needs the action's role too
    shown = run_jobctl(
        b.address, "--token", ROLE_TOKENS["operator"], "--json", "bulk", "stop", JOB,
        "--status", "STARTING", "--dry-run",
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    same = {"created": None, "nodeId": None}  # each dry run's own time and node
    assert {**json.loads(shown.stdout), **same} == {**dry.body, **same}

    # Roles: a viewer reads, cannot stop; abandoning needs admin.
    refused = call(a, "POST", "/api/executions/stop", "viewer", selection)
    assert error_of(refused)[:3] == (403, "PERMISSION_DENIED", "PERMISSION_DENIED")
    refused = call(a, "POST", "/api/executions/abandon", "operator", selection)
    assert error_of(refused)[:3] == (403, "PERMISSION_DENIED", "PERMISSION_DENIED")

    # Malformed bodies: 400 naming the field, nothing started.
    for body, field in [
        ({"filter": {"job": [JOB], "colour": "red"}}, "filter.colour"),
        ({"filter": ["STARTING"]}, "filter"),
        ({"filter": {"status": ["DONE"]}}, "filter.status"),
        ({"filter": {"status": [7]}}, "filter.status"),
        ({"filter": {"since": "2026-03-01T00:00:00"}}, "filter.since"),
        ({"filter": {"param": {"tenant": 1.5}}}, "filter.param.tenant"),
        ({"filter": {"overdue": "yes"}}, "filter.overdue"),
        ({"ids": [0]}, "ids"),
        ({"ids": "1,2"}, "ids"),
        ({"ids": [ids[0]], "force": True}, "force"),
        ({"ids": [ids[0]], "dryRun": "no"}, "dryRun"),
    ]:
        reply = call(b, "POST", "/api/executions/stop", "operator", body)
        status, code, reason, metadata = error_of(reply)
        assert (status, code, reason) == (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), body
        assert metadata["field"] == field, (body, metadata)
    nothing = error_of(call(b, "POST", "/api/executions/stop", "operator", {}))
    assert nothing[:3] == (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")
    not_json = call(b, "POST", "/api/executions/stop", "operator", raw=b"ids=1",
                    headers={"Content-Type": "text/plain"})  # fmt: skip
    assert error_of(not_json)[:3] == (415, "INVALID_ARGUMENT", "UNSUPPORTED_MEDIA_TYPE")
    missing = call(b, "GET", "/api/operations/999999", "viewer")
    assert error_of(missing)[:3] == (404, "NOT_FOUND", "NO_SUCH_OPERATION")
    assert set(statuses(engine, ids).values()) == {"STARTING"}

    # The real one, accepted by A; A is killed once it is part-way.
    accepted = call(a, "POST", "/api/executions/stop", "operator", selection)
    assert accepted.status == 202, accepted
    operation = accepted.body
    assert accepted.headers["Location"] == f"/api/operations/{operation['id']}"
    assert (operation["state"], operation["matched"], operation["action"]) == (
        "RUNNING",
        COUNT,
        "STOP",
    )
    assert operation["principal"] == "operator-user"
    nodes = call(b, "GET", "/api/nodes", "viewer").body["nodes"]
    assert {n["nodeId"]: n["pid"] for n in nodes}[operation["nodeId"]] == a.process.pid
    path = f"/api/operations/{operation['id']}"
    wait_until(lambda: call(b, "GET", path, "viewer").body["done"] >= 8)
    a.process.send_signal(signal.SIGKILL)
    a.process.wait(10)
    part_way = call(b, "GET", path, "viewer").body
    assert part_way["state"] == "RUNNING" and part_way["done"] < COUNT, part_way

    final = wait_until(
        lambda: (body := call(c, "GET", path, "viewer").body)["state"] != "RUNNING" and body
    )
    assert (final["state"], final["done"], final["failed"], final["errors"]) == (
        "DONE",
        COUNT,
        0,
        [],
    )
    assert final["nodeId"] != operation["nodeId"] and final["ended"]
    assert set(statuses(engine, ids).values()) == {"STOPPED"}
    # Exactly once: one successful Stop audit row per execution, naming the operation.
    stops = [row for row in audit_rows(engine, "Stop") if row["ok"] == "Y"]
    assert sorted(row["arguments"]["executionId"] for row in stops) == sorted(ids)
    assert {row["arguments"]["operationId"] for row in stops} == {operation["id"]}
    accepted_rows = [
        row
        for row in audit_rows(engine, "BulkStop")
        if row["ok"] == "Y" and not row["arguments"].get("dryRun")
    ]
    assert len(accepted_rows) == 1, accepted_rows
    # Cancelling an ended operation answers it as it is.
    cancelled = call(b, "POST", f"{path}/cancel", "operator")
    assert cancelled.status == 200 and cancelled.body == final
