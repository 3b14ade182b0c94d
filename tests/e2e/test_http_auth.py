"""Authentication, roles, limits and the audit trail on the HTTP surface of a real
`jobop serve` with a tokens file, on SQLite and PostgreSQL: the same policy table, the
same 401/403 reasons and the same audit rows as gRPC."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import test_audit
from e2e_support import ServerFactory, ServerProcess
from rest_support import error_of, open_events, request
from sqlalchemy import Engine, text
from test_auth import TOKENS, tokens_file


def bearer(role: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}


def rest(
    server: ServerProcess, method: str, path: str, role: str | None, body: object = None
) -> Any:
    return request(server.http_url, method, path, body, headers=bearer(role))


# The audit tests' server (a tokens file) and engine.
server = test_audit.server
engine = test_audit.engine


def _wait(server: ServerProcess, execution_id: int, status: str) -> None:
    deadline = time.monotonic() + 60
    while rest(server, "GET", f"/api/executions/{execution_id}", "viewer").body["status"] != status:
        assert time.monotonic() < deadline, f"execution {execution_id} never became {status}"
        time.sleep(0.05)


def _long_run(server: ServerProcess, role: str = "operator") -> int:
    body = {
        "parameters": {
            "durationMs": {"long": 60000},
            "run.id": {"long": time.time_ns() % 2**62},
        }
    }
    reply = rest(server, "POST", "/api/jobs/demoTaskletJob/start", role, body)
    assert reply.status == 201, reply
    _wait(server, reply.body["id"], "STARTED")
    return int(reply.body["id"])


def test_rest_needs_a_token_and_the_role_of_each_action(
    server: ServerProcess, engine: Engine
) -> None:
    assert server.http_address, "HTTP is served when credentials are configured"
    # No token: 401 with a challenge; an unknown token too. Same body as every error.
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        reply = request(server.http_url, "GET", "/api/jobs", headers=headers)
        assert error_of(reply)[:3] == (401, "UNAUTHENTICATED", "UNAUTHENTICATED"), reply
        assert reply.headers["WWW-Authenticate"].startswith('Bearer realm="jobop"')
    # REST-only routes are checked too; open ones stay open.
    for path in ("/api/nodes", "/api/executions/1/context", "/api/executions/1/steps"):
        assert rest(server, "GET", path, None).status == 401, path
    assert rest(server, "GET", "/api/nodes", "viewer").status == 200
    for path in ("/", "/static/app.js", "/openapi.json", "/metrics"):
        with urllib.request.urlopen(server.http_url + path, timeout=30) as response:
            assert response.status == 200, path

    execution_id = _long_run(server)
    # A viewer reads and follows, but cannot stop.
    assert rest(server, "GET", f"/api/executions/{execution_id}", "viewer").status == 200
    stream = open_events(
        server.http_url, f"/api/executions/{execution_id}/events", bearer("viewer")
    )
    assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
    stream.close()
    refused_stream = open_events(server.http_url, f"/api/executions/{execution_id}/events")
    assert refused_stream.status == 401
    reply = rest(server, "POST", f"/api/executions/{execution_id}/stop", "viewer")
    status, code, reason, _ = error_of(reply)
    assert (status, code, reason) == (403, "PERMISSION_DENIED", "PERMISSION_DENIED")
    assert "may not call Stop: it needs operator" in reply.body["error"]["message"]
    assert rest(server, "POST", f"/api/executions/{execution_id}/stop", None).status == 401
    # An operator stops and restarts, but cannot abandon; an admin can.
    assert rest(server, "POST", f"/api/executions/{execution_id}/stop", "operator").status == 200
    _wait(server, execution_id, "STOPPED")
    restarted = rest(server, "POST", f"/api/executions/{execution_id}/restart", "operator")
    assert restarted.status == 201, restarted
    restarted_id = restarted.body["id"]
    _wait(server, restarted_id, "STARTED")
    assert rest(server, "POST", f"/api/executions/{restarted_id}/stop", "operator").status == 200
    _wait(server, restarted_id, "STOPPED")
    reply = rest(server, "POST", f"/api/executions/{restarted_id}/abandon", "operator")
    assert error_of(reply)[:3] == (403, "PERMISSION_DENIED", "PERMISSION_DENIED")
    assert rest(server, "POST", f"/api/executions/{restarted_id}/abandon", "admin").status == 200
    following = rest(server, "POST", "/api/jobs/demoTaskletJob/next", "admin")
    assert following.status == 201, following
    _wait(server, following.body["id"], "STARTED")
    assert (
        rest(server, "POST", f"/api/executions/{following.body['id']}/stop", "admin").status == 200
    )
    # A failed action is recorded too, with its reason.
    reply = rest(server, "POST", f"/api/executions/{restarted_id}/recover", "operator")
    assert error_of(reply)[2] == "JOB_EXECUTION_NOT_RUNNING"

    with engine.connect() as connection:
        rows = list(connection.execute(text("SELECT * FROM jobop_audit ORDER BY audit_id")))
    seen = [
        (r.action, r.principal, r.role, r.succeeded, r.job_execution_id, r.reason) for r in rows
    ]
    assert seen == [
        ("Start", "operator-user", "operator", "Y", execution_id, None),
        ("Stop", "viewer-user", "viewer", "N", execution_id, "PERMISSION_DENIED"),
        ("Stop", "operator-user", "operator", "Y", execution_id, None),
        ("Restart", "operator-user", "operator", "Y", restarted_id, None),
        ("Stop", "operator-user", "operator", "Y", restarted_id, None),
        ("Abandon", "operator-user", "operator", "N", restarted_id, "PERMISSION_DENIED"),
        ("Abandon", "admin-user", "admin", "Y", restarted_id, None),
        ("StartNextInstance", "admin-user", "admin", "Y", following.body["id"], None),
        ("Stop", "admin-user", "admin", "Y", following.body["id"], None),
        ("Recover", "operator-user", "operator", "N", restarted_id, "JOB_EXECUTION_NOT_RUNNING"),
    ]
    assert all(r.peer.startswith("ipv4:127.0.0.1:") and r.node for r in rows)
    assert all(r.job_name == "demoTaskletJob" for r in rows)
    assert all(token not in server.log() for token in TOKENS.values())

    # GET /api/audit reads the same trail: newest first, paged, filtered; operator role.
    assert error_of(rest(server, "GET", "/api/audit", "viewer"))[0] == 403
    pages, token = [], ""
    while True:
        page = rest(server, "GET", f"/api/audit?pageSize=4&pageToken={token}", "operator").body
        pages.append(page["events"])
        token = page["nextPageToken"]
        if not token:
            break
    listed = [event for events in pages for event in events]
    assert [event["id"] for event in listed] == [r.audit_id for r in reversed(rows)]
    assert listed[-1]["principal"] == "operator-user" and listed[-1]["action"] == "Start"
    filtered = rest(server, "GET", "/api/audit?job=otherJob&since=2000-01-01T00:00:00Z", "admin")
    assert filtered.status == 200 and filtered.body["events"] == []
    bad = rest(server, "GET", "/api/audit?since=yesterday", "admin")
    assert error_of(bad)[:3] == (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT")


def test_rest_starts_and_streams_share_the_grpc_limits(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    principals = tmp_path / "principals.toml"
    principals.write_text('[principals]\n"spiffe://example.org/ci" = "viewer"\n')
    server = start_server(
        "--tokens-file",
        str(tokens_file(tmp_path)),
        "--trust-forwarded-identity",
        "--tls-principal",
        "san",
        "--principals-file",
        str(principals),
        "--metrics-role",
        "viewer",
        "--start-burst",
        "1",
        "--start-rate",
        "0.001",
        "--max-streams-per-caller",
        "1",
    )
    body = {"parameters": {"run.id": {"long": 1}, "durationMs": {"long": 1}}}
    assert rest(server, "POST", "/api/jobs/demoTaskletJob/start", "operator", body).status == 201
    reply = rest(server, "POST", "/api/jobs/demoTaskletJob/next", "operator")
    status, _, reason, metadata = error_of(reply)
    assert (status, reason, metadata) == (429, "RESOURCE_EXHAUSTED", {"limit": "start_rate"})
    # Another caller has a bucket of its own.
    assert rest(server, "POST", "/api/jobs/demoTaskletJob/next", "admin").status == 201
    first = open_events(server.http_url, "/api/events", bearer("viewer"))
    assert first.status == 200
    second = open_events(server.http_url, "/api/events", bearer("viewer"))
    assert second.status == 429
    assert open_events(server.http_url, "/api/events", bearer("operator")).status == 200
    first.close()

    # --metrics-role viewer protects /metrics.
    assert error_of(rest(server, "GET", "/metrics", None))[0] == 401
    with urllib.request.urlopen(
        urllib.request.Request(server.http_url + "/metrics", headers=bearer("viewer")), timeout=30
    ) as response:
        assert response.status == 200
    # A trusted mesh's x-forwarded-client-cert names the caller over HTTP too.
    forwarded = {
        "x-forwarded-client-cert": "By=spiffe://example.org/jobop;URI=spiffe://example.org/ci"
    }
    reply = request(server.http_url, "GET", "/api/jobs", headers=forwarded)
    assert reply.status == 200, reply
    reply = request(server.http_url, "POST", "/api/executions/1/stop", headers=forwarded)
    assert error_of(reply)[:3] == (403, "PERMISSION_DENIED", "PERMISSION_DENIED")
    assert "'spiffe://example.org/ci' (viewer)" in reply.body["error"]["message"]


def _rest_until(server: ServerProcess, status: int) -> None:
    """GET /api/jobs with the admin token (each call a reason to re-read the tokens file)
    until it answers `status`."""
    deadline = time.monotonic() + 30
    while (reply := rest(server, "GET", "/api/jobs", "admin")).status != status:
        assert time.monotonic() < deadline, f"never {status}: {reply}"
        time.sleep(0.2)


def _rest_refused_to_all(server: ServerProcess, execution_id: int) -> None:
    """No token, the revoked admin token and a made-up one: a start, the audit trail and an
    abandon are all 401 with the usual error body."""
    body = {"parameters": {"run.id": {"long": time.time_ns() % 2**62}}}
    calls = [
        ("POST", "/api/jobs/demoTaskletJob/start", body),
        ("GET", "/api/audit", None),
        ("POST", f"/api/executions/{execution_id}/abandon", None),
    ]
    for headers in ({}, bearer("admin"), {"Authorization": "Bearer made-up"}):
        for method, path, payload in calls:
            reply = request(server.http_url, method, path, payload, headers=headers)
            assert error_of(reply)[:3] == (401, "UNAUTHENTICATED", "UNAUTHENTICATED"), (
                path,
                headers,
                reply,
            )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rest_an_emptied_tokens_file_admits_no_one_until_restored(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    path = tokens_file(tmp_path, {"admin": TOKENS["admin"]})
    server = start_server("--tokens-file", str(path))
    body = {"parameters": {"durationMs": {"long": 1}}}
    started = rest(server, "POST", "/api/jobs/demoTaskletJob/start", "admin", body)
    assert started.status == 201, started
    # Every token revoked: a request with a token re-reads the file, then no one gets in.
    path.write_text("# every token revoked\n")
    _rest_until(server, 401)
    _rest_refused_to_all(server, started.body["id"])
    _rest_refused_to_all(server, started.body["id"])
    assert server.log().count("holds no tokens") == 1  # once, not per request
    # Restored: the admin token works again, without a restart; nothing refused left a row.
    tokens_file(tmp_path, {"admin": TOKENS["admin"]})
    _rest_until(server, 200)
    assert "is valid again: 1 tokens" in server.log()
    listed = rest(server, "GET", "/api/jobs/demoTaskletJob/executions", "admin").body
    assert [e["id"] for e in listed["executions"]] == [started.body["id"]]
    # An empty file at start-up: the server serves, and admits no one.
    empty = tmp_path / "empty.toml"
    empty.write_text("# no tokens yet\n")
    guarded = start_server("--tokens-file", str(empty))
    assert "holds no tokens" in guarded.log()
    _rest_refused_to_all(guarded, started.body["id"])
