"""The dashboard (tests/browser/partitions.mjs, headless Chromium) shows a partitioned
execution's partitions as bars under their manager with the node that ran each, live, on a
cluster of two real `jobop serve` on PostgreSQL (started from the page); the bars agree
with REST's steps. No console error, no CSP violation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_support import ServerFactory
from rest_support import request
from test_dashboard import BROWSER_DIR, _drive
from test_partitions_serve import partition_steps, writes


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_dashboard_shows_each_partition_with_its_node(
    start_server: ServerFactory, db_url: str, tmp_path: Path
) -> None:
    api = start_server("--max-concurrent-executions", "2")
    start_server("--role", "worker", "--max-concurrent-executions", "2")
    base = api.http_url
    nodes = {n["nodeId"] for n in request(base, "GET", "/api/nodes").body["nodes"]}
    assert len(nodes) == 2
    # Slow enough for the page to see the partitions run, quick enough for the suite.
    seen = _drive(
        BROWSER_DIR / "partitions.mjs",
        api,
        PARAMETERS=json.dumps({"items": 160, "chunkSize": 5, "itemDelayMs": 40}),
        PARTITIONS="4",
        SCREENSHOT_DIR=str(tmp_path),
    )
    execution_id = seen["execution"]
    assert seen["runningSeen"], seen
    partitions = partition_steps(base, execution_id)
    shown = {bar["stepName"]: bar for bar in seen["partitions"]}
    assert set(shown) == {p["stepName"] for p in partitions}
    for partition in partitions:
        bar = shown[partition["stepName"]]
        assert bar["nodeId"] == partition["nodeId"] and bar["nodeId"] in nodes
        assert bar["read"] == f"{partition['readCount']} / 40 read"
        assert bar["write"] == f"{partition['writeCount']} written"
    # Both nodes ran partitions, and the page says so.
    assert {p["nodeId"] for p in partitions} == nodes
    assert seen["partitions"][0]["summary"] == "4 partitions, 4 completed, on 2 nodes"
    assert writes(db_url, execution_id) == (160, 160)
