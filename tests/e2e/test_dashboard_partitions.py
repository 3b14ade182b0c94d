"""The dashboard (tests/browser/partitions.mjs, headless Chromium) shows a partitioned
execution's partitions as bars under their manager with the node that ran each, live, on a
cluster of two real `jobop serve` on PostgreSQL (started from the page); the bars agree
with REST's steps; after the worker node is SIGKILLed, its partitions' bars show the
attempt that completed them on the other node and, in a tooltip, the one that was lost.
No console error, no CSP violation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from e2e_support import ServerFactory
from rest_support import TERMINAL, request, wait_for
from test_dashboard import BROWSER_DIR, _drive
from test_partitions_serve import partition_steps, start_rest, writes
from test_replicas import kill


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_dashboard_shows_each_partition_with_its_node(
    start_server: ServerFactory, db_url: str, tmp_path: Path
) -> None:
    options = ("--max-concurrent-executions", "2", "--lease", "3", "--heartbeat-interval", "1")
    api = start_server(*options)
    worker = start_server("--role", "worker", *options)
    base = api.http_url
    roles = {n["role"]: n["nodeId"] for n in request(base, "GET", "/api/nodes").body["nodes"]}
    nodes = set(roles.values())
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

    # The worker SIGKILLed in the middle of its partitions: they run again on the node
    # left, and their bars say so (the last attempt, the earlier one in its tooltip).
    execution_id = start_rest(base, items=400, partitions=4, chunkSize=5, itemDelayMs=20)

    def worker_mid_partition(execution: dict[str, Any]) -> bool:
        steps = partition_steps(base, execution_id)
        return any(s["nodeId"] == roles["worker"] and s["commitCount"] >= 2 for s in steps)

    wait_for(base, execution_id, worker_mid_partition)
    kill(worker)
    wait_for(base, execution_id, lambda e: e["status"] in TERMINAL, timeout=60)
    retried = {
        p["stepName"] for p in partition_steps(base, execution_id) if p["nodeId"] == roles["worker"]
    }
    assert retried
    seen = _drive(
        BROWSER_DIR / "partitions.mjs",
        api,
        EXECUTION=str(execution_id),
        PARTITIONS="4",
        SCREENSHOT_DIR=str(tmp_path),
    )
    for bar in seen["partitions"]:
        assert bar["nodeId"] == roles["all"], bar
        # Counted over its attempts: each of its items once.
        assert (bar["read"], bar["write"]) == ("100 / 100 read", "100 written"), bar
        if bar["stepName"] in retried:
            assert bar["attempts"] == "attempt 2", bar
            assert f"FAILED on {roles['worker']}: owner lost" in bar["earlier"], bar
        else:
            assert bar["attempts"] is None, bar
    assert seen["partitions"][0]["summary"] == "4 partitions, 4 completed, on 1 node"
