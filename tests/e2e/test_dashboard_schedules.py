"""The dashboard's Schedules pages in headless Chromium (tests/browser/schedules.mjs) against
a real `jobop serve`: next fires with the zone's offset, pause, resume, trigger, the last
fires linking to their executions; no console error, no CSP violation."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_support import ServerFactory
from rest_support import request
from test_dashboard import BROWSER_DIR, _drive


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_schedules_page_pauses_resumes_and_triggers(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server()
    body = {
        "name": "nightly",
        "jobName": "demoTaskletJob",
        "cron": "0 30 2 * * *",
        "timeZone": "Asia/Kolkata",
        "overlap": "allow",
        "parameters": {"durationMs": 1},
    }
    assert request(server.http_url, "POST", "/api/schedules", body).status == 201
    seen = _drive(
        BROWSER_DIR / "schedules.mjs",
        server,
        SCHEDULE="nightly",
        OFFSET="+05:30",
        SCREENSHOT_DIR=str(tmp_path),
    )
    assert len(seen["nextFires"]) == 5 and seen["fires"] >= 1
    fires = request(server.http_url, "GET", "/api/schedules/nightly/fires").body["fires"]
    assert [fire["executionId"] for fire in fires][-1] == seen["execution"]
    assert len(fires) == 2 and all(fire["triggered"] for fire in fires)
