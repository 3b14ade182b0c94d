"""The dashboard's Executions page in headless Chromium (tests/browser/executions.mjs) against
a real `jobop serve` that needs tokens: the filter in the URL (a reload shows the same view,
the form writes the URL), the count, paging by tokens, checkboxes by keyboard, a bulk stop
refused to a viewer (the message names the role it needs) and run by an operator, by ids
and by "all matching the filter" (the confirm dialog, the request sent, the progress line
to DONE), and demoChunkJob's run-history chart with a mark per execution, items/s in each
mark's title, a click opening the execution. A missing chromium, node or npm is a failure,
not a skip."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from e2e_support import ServerFactory
from rest_support import TERMINAL, request
from test_auth import TOKENS, tokens_file
from test_dashboard import BROWSER_DIR, _drive

ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}


def _wait(base: str, execution_id: int, statuses: set[str]) -> str:
    """The execution's status once it is one of `statuses` (the admin reads it)."""
    deadline = time.monotonic() + 60
    while True:
        reply = request(base, "GET", f"/api/executions/{execution_id}", headers=ADMIN)
        assert reply.status == 200, reply
        if reply.body["status"] in statuses:
            return str(reply.body["status"])
        assert time.monotonic() < deadline, f"execution {execution_id}: {reply.body}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_executions_page_filters_selects_bulk_stops_and_charts(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server("--tokens-file", str(tokens_file(tmp_path)))
    base = server.http_url

    def start(job: str, parameters: dict[str, object]) -> int:
        reply = request(
            base, "POST", f"/api/jobs/{job}/start", {"parameters": parameters}, headers=ADMIN
        )
        assert reply.status == 201, reply
        return int(reply.body["id"])

    # demoChunkJob's history: three COMPLETED and one FAILED, one after the other.
    chunks = [start("demoChunkJob", {"items": n, "itemDelayMs": 2}) for n in (40, 60, 80)]
    for execution_id in chunks:
        assert _wait(base, execution_id, TERMINAL) == "COMPLETED"
    failed = start("demoChunkJob", {"items": 50, "failAtItem": 30})
    assert _wait(base, failed, TERMINAL) == "FAILED"
    chunks.append(failed)
    run = time.time_ns() % 2**62
    running = [start("demoTaskletJob", {"durationMs": 120_000, "run": run + i}) for i in range(3)]
    for execution_id in running:
        _wait(base, execution_id, {"STARTED"})

    shots = Path(os.environ.get("JOBOP_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    seen = _drive(
        BROWSER_DIR / "executions.mjs",
        server,
        SCREENSHOT_DIR=str(shots),
        VIEWER_TOKEN=TOKENS["viewer"],
        OPERATOR_TOKEN=TOKENS["operator"],
        RUNNING=",".join(map(str, running)),
        CHUNKS=",".join(map(str, chunks)),
        FAILED=str(failed),
    )
    # The page sent the checked ids, was refused to the viewer; as operator it stopped the
    # newest by its id, then the two others by the filter.
    assert seen["sent"] == {"ids": sorted(running)}
    assert "needs operator" in seen["refused"]
    assert seen["byIds"]["sent"] == {"ids": [max(running)]}
    assert seen["byFilter"]["sent"] == {
        "filter": {"job": ["demoTaskletJob"], "status": ["STARTED"]}
    }
    for part, count in (("byIds", 1), ("byFilter", 2)):
        operation = seen[part]["operation"]
        assert operation["state"] == "DONE" and operation["done"] == operation["matched"] == count
        assert operation["principal"] == "operator-user" and operation["failed"] == 0
    for execution_id in running:
        assert _wait(base, execution_id, TERMINAL) == "STOPPED"
    assert seen["marks"] == len(chunks) and seen["opened"] == failed
    assert all("items/s" in title for title in seen["titles"])
