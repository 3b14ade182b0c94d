"""Workload control over REST on a real `jobop serve` (SQLite and PostgreSQL): job settings
read, set and cleared (`null`), pause and resume, the queue in run order with why each
start waits, `priority` in launch bodies and `priority`/`overdue` on executions, the
queue's gauges on /metrics; bad bodies, roles and the cross-site rules refused as for the
other writes."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ServerFactory, ServerProcess
from jobop.repository import create_engine
from rest_support import Reply, error_of, request, wait_for, wait_terminal
from sqlalchemy import text
from test_auth import TOKENS, tokens_file
from test_metrics import scrape, scrape_until, value

JOB = "demoTaskletJob"
SETTINGS = f"/api/jobs/{JOB}/settings"
NOTHING_SET = {
    "maxConcurrent": None,
    "concurrencyKey": None,
    "paused": None,
    "maxDurationSeconds": None,
    "stopWhenOverdue": None,
}


def _start(base: str, priority: object = None, duration_ms: int = 60_000, **extra: Any) -> Reply:
    body: dict[str, Any] = {
        "parameters": {"durationMs": duration_ms, "run.id": time.time_ns() % 2**62, **extra}
    }
    if priority is not None:
        body["priority"] = priority
    return request(base, "POST", f"/api/jobs/{JOB}/start", body)


def _queue(base: str, query: str = "") -> dict[str, Any]:
    reply = request(base, "GET", f"/api/queue{query}")
    assert reply.status == 200, reply
    return dict(reply.body)


def _wait_queue(base: str, ids: list[int], timeout: float = 60) -> dict[str, Any]:
    """The queue once it lists exactly `ids` (in any order)."""
    deadline = time.monotonic() + timeout
    while True:
        queue = _queue(base)
        if sorted(entry["id"] for entry in queue["executions"]) == sorted(ids):
            return queue
        assert time.monotonic() < deadline, queue
        time.sleep(0.05)


def test_settings_are_read_set_and_cleared(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    shown = request(base, "GET", SETTINGS)
    assert shown.status == 200, shown
    assert shown.body == {
        "jobName": JOB,
        "maxConcurrent": None,
        "concurrencyKey": None,
        "paused": False,
        "maxDurationSeconds": None,
        "stopWhenOverdue": False,
        "declared": {**NOTHING_SET, "paused": False, "stopWhenOverdue": False},
        "override": {**NOTHING_SET, "updated": None, "updatedBy": None},
        "running": 0,
        "queued": 0,
    }
    changed = request(
        base,
        "PUT",
        SETTINGS,
        {"maxConcurrent": 2, "concurrencyKey": "tenant", "maxDurationSeconds": 600},
    )
    assert changed.status == 200, changed
    assert (changed.body["maxConcurrent"], changed.body["concurrencyKey"]) == (2, "tenant")
    assert changed.body["maxDurationSeconds"] == 600.0 and changed.body["paused"] is False
    override = changed.body["override"]
    assert (override["maxConcurrent"], override["concurrencyKey"]) == (2, "tenant")
    assert override["paused"] is None and override["updated"].endswith("Z")
    assert changed.body["declared"]["maxConcurrent"] is None
    assert request(base, "GET", SETTINGS).body == changed.body
    # Only the fields named change; `null` clears a run-time value.
    cleared = request(base, "PUT", SETTINGS, {"concurrencyKey": None, "stopWhenOverdue": True})
    assert cleared.status == 200, cleared
    assert cleared.body["concurrencyKey"] is None and cleared.body["maxConcurrent"] == 2
    assert cleared.body["stopWhenOverdue"] is True
    cleared = request(
        base,
        "PUT",
        SETTINGS,
        {"maxConcurrent": None, "maxDurationSeconds": None, "stopWhenOverdue": None},
    )
    assert {k: cleared.body["override"][k] for k in NOTHING_SET} == NOTHING_SET
    assert cleared.body["maxConcurrent"] is None and cleared.body["stopWhenOverdue"] is False
    # Every job's settings at once (the dashboard's poll), and one job by name.
    every = request(base, "GET", "/api/settings").body["jobs"]
    assert JOB in {job["jobName"] for job in every} and "demoChunkJob" in {
        job["jobName"] for job in every
    }
    (named,) = request(base, "GET", f"/api/settings?job={JOB}").body["jobs"]
    assert named == request(base, "GET", SETTINGS).body
    # Each change is audited with its body's fields.
    events = request(base, "GET", f"/api/audit?job={JOB}").body["events"]
    updates = [e for e in events if e["action"] == "UpdateJobSettings"]
    assert len(updates) == 3 and all(e["succeeded"] for e in updates)


def test_bad_settings_bodies_are_refused_naming_the_field(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    for body, field in (
        ({"maxConcurrent": "2"}, "maxConcurrent"),
        ({"maxConcurrent": True}, "maxConcurrent"),
        ({"maxConcurrent": 1.5}, "maxConcurrent"),
        ({"maxConcurrent": 0}, "maxConcurrent"),
        ({"maxConcurrent": 2**40}, "maxConcurrent"),
        ({"concurrencyKey": 7}, "concurrencyKey"),
        ({"concurrencyKey": ""}, "concurrencyKey"),
        ({"concurrencyKey": "k" * 101}, "concurrencyKey"),
        ({"concurrencyKey": "tenant"}, "concurrencyKey"),  # a key with no limit to hold
        ({"paused": "yes"}, "paused"),
        ({"paused": 1}, "paused"),
        ({"maxDurationSeconds": -5}, "maxDurationSeconds"),
        ({"maxDurationSeconds": "600"}, "maxDurationSeconds"),
        ({"maxDurationSeconds": 10**400}, "maxDurationSeconds"),
        ({"stopWhenOverdue": "true"}, "stopWhenOverdue"),
        ({"maxConcurrent": 2, "limit": 3}, "limit"),
        ({}, "body"),
    ):
        reply = request(base, "PUT", SETTINGS, body)
        status, code, reason, metadata = error_of(reply)
        assert (status, code, reason) == (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), body
        assert metadata.get("field") == field, (body, reply.body)
    for raw in (b"[1]", b"{", b'"x"'):
        reply = request(
            base, "PUT", SETTINGS, raw=raw, headers={"Content-Type": "application/json"}
        )
        assert error_of(reply)[:3] == (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), raw
    reply = request(base, "PUT", SETTINGS, raw=b"{}", headers={"Content-Type": "text/plain"})
    assert error_of(reply)[0] == 415
    for method, path, body in (
        ("GET", "/api/jobs/noSuchJob/settings", None),
        ("PUT", "/api/jobs/noSuchJob/settings", {"maxConcurrent": 1}),
        ("POST", "/api/jobs/noSuchJob/pause", None),
        ("POST", "/api/jobs/noSuchJob/resume", None),
    ):
        assert error_of(request(base, method, path, body))[:3] == (
            404,
            "NOT_FOUND",
            "NO_SUCH_JOB",
        ), path
    for body, field in (
        ({"stopRunning": "yes"}, "stopRunning"),
        ({"stopRunning": True, "now": 1}, "now"),
    ):
        reply = request(base, "POST", f"/api/jobs/{JOB}/pause", body)
        assert error_of(reply)[3].get("field") == field, reply
    reply = request(base, "POST", f"/api/jobs/{JOB}/resume", {"force": True})
    assert error_of(reply)[3].get("field") == "force"
    assert error_of(request(base, "GET", "/api/queue?pageSize=x"))[0] == 400
    # Nothing was changed by any of them.
    shown = request(base, "GET", SETTINGS).body
    assert shown["override"]["updated"] is None and shown["paused"] is False


def test_priority_is_taken_checked_and_shown(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    for priority in (1001, -1001, "5", True, 2.5):
        reply = _start(base, priority)
        status, code, _, metadata = error_of(reply)
        assert (status, code, metadata.get("field")) == (400, "INVALID_ARGUMENT", "priority"), (
            priority,
            reply.body,
        )
    for path in (f"/api/jobs/{JOB}/next", "/api/executions/1/restart"):
        reply = request(base, "POST", path, {"priority": 1001})
        assert error_of(reply)[3].get("field") == "priority", (path, reply.body)
    assert request(base, "GET", f"/api/jobs/{JOB}/executions").body["executions"] == []
    started = _start(base, 7, duration_ms=10)
    assert started.status == 201, started
    assert started.body["priority"] == 7 and started.body["overdue"] is False
    done = wait_terminal(base, started.body["id"])
    assert done["priority"] == 7 and done["overdue"] is False
    nxt = request(base, "POST", f"/api/jobs/{JOB}/next", {"priority": -3})
    assert nxt.status == 201 and nxt.body["priority"] == -3, nxt
    wait_terminal(base, nxt.body["id"])


def test_pause_holds_starts_in_the_queue_and_resume_runs_them(
    jobop_server: ServerProcess,
) -> None:
    base = jobop_server.http_url
    paused = request(base, "POST", f"/api/jobs/{JOB}/pause")
    assert paused.status == 200, paused
    assert paused.body["paused"] is True and paused.body["stoppedExecutionIds"] == []
    low = _start(base, duration_ms=10).body
    high = _start(base, 5, duration_ms=10).body
    other = request(base, "POST", "/api/jobs/demoChunkJob/start", {"parameters": {"items": 3}})
    assert other.status == 201 and wait_terminal(base, other.body["id"])["status"] == "COMPLETED"
    assert (low["status"], high["status"]) == ("STARTING", "STARTING")
    queue = _wait_queue(base, [low["id"], high["id"]])
    assert queue["total"] == 2
    first, second = queue["executions"]
    assert (first["id"], first["priority"], first["position"]) == (high["id"], 5, 1)
    assert (second["id"], second["priority"], second["position"]) == (low["id"], 0, 2)
    for entry in queue["executions"]:
        assert entry["jobName"] == JOB and entry["waitingFor"] == f"{JOB} is paused"
        assert entry["queuedSeconds"] >= 0
    head = _queue(base, f"?job={JOB}&pageSize=1")
    assert [entry["id"] for entry in head["executions"]] == [high["id"]]
    assert head["total"] == 2
    assert _queue(base, "?job=demoChunkJob") == {"executions": [], "total": 0}
    shown = request(base, "GET", SETTINGS).body
    assert shown["paused"] is True and shown["queued"] == 2
    # Still held a while later: nothing claims a paused job's starts.
    time.sleep(0.5)
    assert request(base, "GET", f"/api/executions/{low['id']}").body["status"] == "STARTING"

    resumed = request(base, "POST", f"/api/jobs/{JOB}/resume")
    assert resumed.status == 200 and resumed.body["paused"] is False, resumed
    for execution in (high, low):
        assert wait_terminal(base, execution["id"])["status"] == "COMPLETED"
    assert _wait_queue(base, []) == {"executions": [], "total": 0}
    actions = [
        e["action"]
        for e in request(base, "GET", f"/api/audit?job={JOB}").body["events"]
        if e["action"] in ("PauseJob", "ResumeJob")
    ]
    assert actions == ["ResumeJob", "PauseJob"]


def test_a_limit_holds_starts_and_pause_may_stop_the_running(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    assert request(base, "PUT", SETTINGS, {"maxConcurrent": 1}).status == 200
    running = _start(base).body
    wait_for(base, running["id"], lambda e: e["status"] == "STARTED")
    waiting = _start(base, duration_ms=10).body
    (entry,) = _wait_queue(base, [waiting["id"]])["executions"]
    assert entry["waitingFor"] == f"limit 1 of {JOB} reached (1 running)"
    shown = request(base, "GET", SETTINGS).body
    assert (shown["running"], shown["queued"]) == (1, 1)
    # Pause with stopRunning: the running one is stopped, the waiting one stays queued.
    paused = request(base, "POST", f"/api/jobs/{JOB}/pause", {"stopRunning": True})
    assert paused.status == 200, paused
    assert paused.body["stoppedExecutionIds"] == [running["id"]]
    assert wait_terminal(base, running["id"])["status"] == "STOPPED"
    (entry,) = _wait_queue(base, [waiting["id"]])["executions"]
    assert entry["waitingFor"] == f"{JOB} is paused"
    assert request(base, "POST", f"/api/jobs/{JOB}/resume").status == 200
    assert wait_terminal(base, waiting["id"])["status"] == "COMPLETED"


def test_the_queue_gauges_count_waiting_starts(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    before = scrape(jobop_server)
    assert value(before, "jobop_queue_depth", job_name=JOB) == 0
    assert value(before, "jobop_queue_oldest_seconds", job_name=JOB) == 0
    assert request(base, "POST", f"/api/jobs/{JOB}/pause").status == 200
    ids = [_start(base, duration_ms=10).body["id"] for _ in range(3)]
    _wait_queue(base, ids)
    # The oldest waits on: its age grows from one scrape to the next.
    first = scrape_until(
        jobop_server, lambda s: value(s, "jobop_queue_oldest_seconds", job_name=JOB) > 0.2
    )
    assert value(first, "jobop_queue_depth", job_name=JOB) == 3
    assert value(first, "jobop_queue_depth", job_name="demoChunkJob") == 0
    later = scrape_until(
        jobop_server,
        lambda s: (
            value(s, "jobop_queue_oldest_seconds", job_name=JOB)
            > value(first, "jobop_queue_oldest_seconds", job_name=JOB)
        ),
    )
    assert value(later, "jobop_queue_depth", job_name=JOB) == 3
    # A stopped waiting start leaves the queue, and so the count.
    assert request(base, "POST", f"/api/executions/{ids[0]}/stop").status == 200
    assert value(scrape(jobop_server), "jobop_queue_depth", job_name=JOB) == 2
    assert request(base, "POST", f"/api/jobs/{JOB}/resume").status == 200
    for execution_id in ids[1:]:
        wait_terminal(base, execution_id)
    after = scrape(jobop_server)
    assert value(after, "jobop_queue_depth", job_name=JOB) == 0
    assert value(after, "jobop_queue_oldest_seconds", job_name=JOB) == 0


def test_an_overdue_execution_says_so(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    started = _start(base, duration_ms=10).body
    assert started["overdue"] is False
    wait_terminal(base, started["id"])
    engine = create_engine(jobop_server.db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE jobop_launch_request SET overdue = :now WHERE job_execution_id = :id"),
                {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None), "id": started["id"]},
            )
    finally:
        engine.dispose()
    assert request(base, "GET", f"/api/executions/{started['id']}").body["overdue"] is True
    page = request(base, "GET", f"/api/jobs/{JOB}/executions").body["executions"]
    assert [e["overdue"] for e in page if e["id"] == started["id"]] == [True]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_roles_and_cross_site_rules_hold_for_the_workload_routes(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server("--tokens-file", str(tokens_file(tmp_path)))
    base = server.http_url

    def call(role: str | None, method: str, path: str, body: object = None, **kw: Any) -> Reply:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
        return request(base, method, path, body, headers={**headers, **kw.get("headers", {})})

    pause, resume = f"/api/jobs/{JOB}/pause", f"/api/jobs/{JOB}/resume"
    for path in (SETTINGS, "/api/settings", "/api/queue"):
        assert call(None, "GET", path).status == 401, path
        assert call("viewer", "GET", path).status == 200, path
    # Pause and resume need the operator role; settings the admin role.
    for role, method, path, body, allowed in (
        ("viewer", "POST", pause, None, False),
        ("viewer", "POST", resume, None, False),
        ("operator", "POST", pause, None, True),
        ("operator", "POST", resume, None, True),
        ("viewer", "PUT", SETTINGS, {"maxConcurrent": 3}, False),
        ("operator", "PUT", SETTINGS, {"maxConcurrent": 3}, False),
        ("admin", "PUT", SETTINGS, {"maxConcurrent": 3}, True),
        ("admin", "POST", pause, None, True),
        ("admin", "POST", resume, None, True),
    ):
        reply = call(role, method, path, body)
        if allowed:
            assert reply.status == 200, (role, path, reply)
        else:
            assert error_of(reply)[:3] == (403, "PERMISSION_DENIED", "PERMISSION_DENIED"), (
                role,
                path,
            )
    assert call("viewer", "GET", SETTINGS).body["maxConcurrent"] == 3
    events = call("admin", "GET", f"/api/audit?job={JOB}").body["events"]
    refused = {(e["action"], e["principal"]) for e in events if not e["succeeded"]}
    assert refused == {
        ("PauseJob", "viewer-user"),
        ("ResumeJob", "viewer-user"),
        ("UpdateJobSettings", "viewer-user"),
        ("UpdateJobSettings", "operator-user"),
    }
    # A page of another origin may change nothing; a body that is no JSON is refused.
    evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
    for method, path in (("PUT", SETTINGS), ("POST", pause), ("POST", resume)):
        reply = request(
            base,
            method,
            path,
            raw=json.dumps({"paused": True} if method == "PUT" else {}).encode(),
            headers={"Authorization": f"Bearer {TOKENS['admin']}", **evil},
        )
        assert error_of(reply)[2] == "FORBIDDEN_ORIGIN", (path, reply.body)
        reply = request(
            base,
            method,
            path,
            raw=b"{}",
            headers={"Authorization": f"Bearer {TOKENS['admin']}", "Content-Type": "text/plain"},
        )
        assert error_of(reply)[0] == 415, (path, reply.body)
    shown = call("viewer", "GET", SETTINGS).body
    assert shown["paused"] is False and shown["maxConcurrent"] == 3
