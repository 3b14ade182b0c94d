"""Partitioned steps seen from outside a real `jobop serve`: a lone node (SQLite, and alone
on PostgreSQL) runs demoPartitionedJob's partitions on its own threads, each recorded with
its node (REST `nodeId`), every item written exactly once; the dashboard
(tests/browser/partitions.mjs, headless Chromium) shows a partitioned execution's
partitions as bars under their manager with the node that ran each, live, on a cluster of
two nodes on PostgreSQL (started from the page). No console error, no CSP violation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from e2e_support import ServerFactory
from jobop.repository import create_engine
from rest_support import request, wait_for
from test_dashboard import BROWSER_DIR, _drive

JOB = "demoPartitionedJob"


def _start(base: str, **parameters: int) -> int:
    reply = request(base, "POST", f"/api/jobs/{JOB}/start", {"parameters": parameters})
    assert reply.status in (200, 201, 202), reply
    return int(reply.body["id"])


def _partitions(base: str, execution_id: int) -> list[dict[str, Any]]:
    steps = request(base, "GET", f"/api/executions/{execution_id}/steps").body["stepExecutions"]
    return [step for step in steps if ":" in step["stepName"]]


def _writes(db_url: str, execution_id: int) -> tuple[int, int]:
    """DEMO_ITEMS rows written by the execution, and distinct items among them."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sqlalchemy.text(
                    "SELECT count(*), count(DISTINCT item) FROM demo_items "
                    "WHERE job_execution_id = :id"
                ),
                {"id": execution_id},
            ).one()
    finally:
        engine.dispose()
    return int(row[0]), int(row[1])


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_lone_node_runs_partitions_on_its_own_threads(
    start_server: ServerFactory, db_url: str
) -> None:
    server = start_server("--max-concurrent-executions", "2")
    base = server.http_url
    (node,) = [n["nodeId"] for n in request(base, "GET", "/api/nodes").body["nodes"]]
    execution_id = _start(base, items=120, partitions=4, chunkSize=10, itemDelayMs=3)
    execution = wait_for(base, execution_id, lambda e: e["status"] == "COMPLETED")
    partitions = _partitions(base, execution_id)
    assert sorted(p["stepName"].split(":")[1] for p in partitions) == [
        f"partition{n}" for n in range(4)
    ]
    # Every partition ran here, and at the same time as the others: threads, not a queue
    # behind the node's two workers (one of which runs the manager).
    assert {p["nodeId"] for p in partitions} == {node}
    assert all(p["status"] == "COMPLETED" and p["readCount"] == 30 for p in partitions)
    last_start = max(_time(p["startTime"]) for p in partitions)
    assert all(_time(p["endTime"]) > last_start for p in partitions)
    (manager,) = [s for s in execution["stepExecutions"] if ":" not in s["stepName"]]
    assert manager["readCount"] == manager["writeCount"] == 120
    assert _writes(db_url, execution_id) == (120, 120)


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
    partitions = _partitions(base, execution_id)
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
    assert _writes(db_url, execution_id) == (160, 160)
