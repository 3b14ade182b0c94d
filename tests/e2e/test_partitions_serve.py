"""Partitioned steps from outside real `jobop serve` processes, beside
test_partitions_cluster.py: a lone node (SQLite, and alone on PostgreSQL) runs
demoPartitionedJob's partitions on its own threads at once, each recorded with its node
(REST `nodeId`); on two nodes, a failing partition fails the job once the others have
ended, and a Restart (on the other node) runs only it, resuming after its last commit.
Every item is written exactly once, counted per partition over its step executions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy
from e2e_support import ServerFactory
from jobop.repository import create_engine
from rest_support import TERMINAL as TERMINAL_STATUSES
from rest_support import request, wait_for

JOB = "demoPartitionedJob"


def start_rest(base: str, **parameters: int) -> int:
    reply = request(base, "POST", f"/api/jobs/{JOB}/start", {"parameters": parameters})
    assert reply.status in (200, 201, 202), reply
    return int(reply.body["id"])


def partition_steps(base: str, execution_id: int) -> list[dict[str, Any]]:
    steps = request(base, "GET", f"/api/executions/{execution_id}/steps").body["stepExecutions"]
    return [step for step in steps if ":" in step["stepName"]]


def writes(db_url: str, execution_id: int) -> tuple[int, int]:
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


def all_items(db_url: str) -> list[int]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text("SELECT item FROM demo_items ORDER BY item"))
            return [int(row[0]) for row in rows]
    finally:
        engine.dispose()


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_lone_node_runs_partitions_on_its_own_threads(
    start_server: ServerFactory, db_url: str
) -> None:
    server = start_server("--max-concurrent-executions", "2")
    base = server.http_url
    (node,) = [n["nodeId"] for n in request(base, "GET", "/api/nodes").body["nodes"]]
    execution_id = start_rest(base, items=120, partitions=4, chunkSize=10, itemDelayMs=3)
    execution = wait_for(base, execution_id, lambda e: e["status"] == "COMPLETED")
    partitions = partition_steps(base, execution_id)
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
    assert writes(db_url, execution_id) == (120, 120)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_failed_partition_fails_the_job_after_the_others_and_a_restart_runs_only_it(
    start_server: ServerFactory, db_url: str
) -> None:
    replica = ("--lease", "4", "--heartbeat-interval", "1", "--max-concurrent-executions", "2")
    a, b = start_server(*replica), start_server(*replica)
    # partition2 holds 601..900: 7 chunks of 20 commit (601..740), the 8th fails at 750.
    first = start_rest(
        a.http_url, items=1200, partitions=4, chunkSize=20, itemDelayMs=2, failAtItem=750
    )
    failed = wait_for(a.http_url, first, lambda e: e["status"] in TERMINAL_STATUSES)
    assert failed["status"] == "FAILED", failed
    steps = {s["stepName"]: s for s in failed["stepExecutions"]}
    manager = steps.pop("demoPartitionStep")
    assert manager["status"] == "FAILED"
    assert (
        "Partition handler returned an unsuccessful step"
        in manager["exitStatus"]["exitDescription"]
    )
    assert {name: s["status"] for name, s in steps.items()} == {
        "demoWorkerStep:partition0": "COMPLETED",
        "demoWorkerStep:partition1": "COMPLETED",
        "demoWorkerStep:partition2": "FAILED",
        "demoWorkerStep:partition3": "COMPLETED",
    }
    assert steps["demoWorkerStep:partition2"]["writeCount"] == 140
    # The job failed only once every partition had ended.
    assert all(_time(s["endTime"]) <= _time(failed["endTime"]) for s in steps.values())
    assert writes(db_url, first) == (1040, 1040)

    reply = request(b.http_url, "POST", f"/api/executions/{first}/restart", {})
    assert reply.status in (200, 201, 202), reply
    second = int(reply.body["id"])
    done = wait_for(b.http_url, second, lambda e: e["status"] in TERMINAL_STATUSES)
    assert done["status"] == "COMPLETED", done
    (rerun,) = partition_steps(b.http_url, second)
    # Only the failed partition, from its last commit: 741..900.
    assert rerun["stepName"] == "demoWorkerStep:partition2"
    assert (rerun["status"], rerun["readCount"], rerun["writeCount"]) == ("COMPLETED", 160, 160)
    assert rerun["nodeId"]
    (manager,) = [s for s in done["stepExecutions"] if ":" not in s["stepName"]]
    assert (manager["status"], manager["writeCount"]) == ("COMPLETED", 160)
    # Each item once over both executions: 1040 by the first, 160 by the restart.
    assert writes(db_url, first) == (1040, 1040) and writes(db_url, second) == (160, 160)
    assert all_items(db_url) == list(range(1, 1201))
