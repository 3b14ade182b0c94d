"""The dashboard's workload parts in headless Chromium (tests/browser/workload.mjs) against
a real `jobop serve`: demoTaskletJob's limit, running and queued counts, the queue panel
with a waiting start's priority and reason, Pause and Resume by their buttons, the panel
emptying live when a stop frees the slot, and the overdue badge. A missing chromium, node
or npm is a failure, not a skip."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from e2e_support import ServerFactory, ServerProcess
from jobop.repository import create_engine
from rest_support import request, wait_for, wait_terminal
from sqlalchemy import text
from test_dashboard import BROWSER_DIR, _drive

JOB = "demoTaskletJob"


def _mark_overdue(server: ServerProcess, execution_id: int) -> None:
    """As the owner's overdue check marks a launch request (wl-overdue's part)."""
    engine = create_engine(server.db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE jobop_launch_request SET overdue = :now WHERE job_execution_id = :id"),
                {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None), "id": execution_id},
            )
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_shows_limits_and_the_queue_and_pauses_and_resumes_a_job(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server()
    base = server.http_url
    late = request(base, "POST", "/api/jobs/demoChunkJob/start", {"parameters": {"items": 3}})
    assert late.status == 201, late
    wait_terminal(base, late.body["id"])
    _mark_overdue(server, late.body["id"])
    assert request(base, "PUT", f"/api/jobs/{JOB}/settings", {"maxConcurrent": 1}).status == 200
    run = time.time_ns() % 2**62
    running = request(
        base, "POST", f"/api/jobs/{JOB}/start", {"parameters": {"durationMs": 120_000, "run": run}}
    ).body["id"]
    wait_for(base, running, lambda e: e["status"] == "STARTED")
    waiting = request(
        base,
        "POST",
        f"/api/jobs/{JOB}/start",
        {"parameters": {"durationMs": 10, "run": run + 1}, "priority": 3},
    ).body["id"]
    shots = Path(os.environ.get("JOBOP_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    seen = _drive(
        BROWSER_DIR / "workload.mjs",
        server,
        SCREENSHOT_DIR=str(shots),
        RUNNING=str(running),
        WAITING=str(waiting),
        OVERDUE=str(late.body["id"]),
        OVERDUE_JOB="demoChunkJob",
    )
    assert seen["pausedReason"] == f"{JOB} is paused" and seen["resumed"] is True
    assert "overdue" in seen["overdueTitle"] and seen["noReload"] == "still here"
    assert request(base, "GET", f"/api/executions/{running}").body["status"] == "STOPPED"
    assert wait_terminal(base, waiting)["status"] == "COMPLETED"
    # Pause and resume went through the API as the operator's actions, and were audited.
    events = request(base, "GET", f"/api/audit?job={JOB}").body["events"]
    actions = [e["action"] for e in events if e["action"] in ("PauseJob", "ResumeJob")]
    assert actions == ["ResumeJob", "PauseJob"]
    for name in ("dashboard-queue.png", "dashboard-paused.png", "dashboard-overdue.png"):
        assert (shots / name).stat().st_size > 10_000, name
