"""What a node tells operators about the cluster, on real `jobop serve` processes: the
heartbeat-age gauge and the owner-lost counter at /metrics, and the node log codes
(JOBOP-2101 joined, JOBOP-2102 lost, JOBOP-1009 owner lost) under the registered node id.

Leases are short (`--lease 3 --heartbeat-interval 0.5`) so that a killed node is found
within seconds.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from e2e_support import ServerFactory, ServerProcess, nonid, params, start, status_name, wait_for
from jobop.domain.messages import MessageCode
from test_logs import log_records
from test_metrics import Samples, scrape, value
from test_replicas import REPLICA, committed, kill, remote, wait_until

AGE = "jobop_node_heartbeat_age_seconds"
LOST = "jobop_owner_lost_total"
JOB = "demoChunkJob"
# A renewing node's age stays below this (four heartbeats, slack for a loaded machine);
# a dead one's passes it before its lease (3 s) runs out and it is recovered.
FRESH = 2.0


def nodes(server: ServerProcess) -> dict[str, dict[str, Any]]:
    """GET /api/nodes, by node id."""
    with urllib.request.urlopen(f"{server.http_url}/api/nodes", timeout=10) as response:
        listed: list[dict[str, Any]] = json.load(response)["nodes"]
    return {node["nodeId"]: node for node in listed}


def node_ids(server: ServerProcess) -> dict[int, str]:
    """Node id by pid."""
    return {node["pid"]: node_id for node_id, node in nodes(server).items()}


def ages(samples: Samples) -> dict[str, float]:
    return {dict(labels)["node_id"]: v for (name, labels), v in samples.items() if name == AGE}


def scraped(
    server: ServerProcess, ready: Callable[[Samples], bool], timeout: float = 20
) -> Samples:
    found: list[Samples] = []

    def check() -> bool:
        found[:] = [scrape(server)]
        return ready(found[0])

    wait_until(check, timeout)
    return found[0]


def coded(records: list[dict[str, object]], code: MessageCode) -> list[dict[str, object]]:
    return [record for record in records if record["code"] == code.code]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_survivor_reports_its_peer_s_heartbeat_age_and_the_owner_it_lost(
    start_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = remote(start_server, monkeypatch)  # found dead by its lease only
    b = start_server(*REPLICA, "--log-format", "json")
    ids = node_ids(b)
    a_id, b_id = ids[a.process.pid], ids[b.process.pid]
    # B sees both nodes renew their leases: their ages stay fresh.
    for _ in range(3):
        seen = scraped(b, lambda s: {a_id, b_id} <= set(ages(s)))
        assert all(0 <= age < FRESH for age in ages(seen).values()), ages(seen)
        time.sleep(0.5)
    assert value(seen, LOST, job_name=JOB) == 0
    # A saw B join after its own start.
    wait_until(lambda: bool(coded(log_records(a.log(), "text"), MessageCode.NODE_JOINED)[1:]))
    joined = coded(log_records(a.log(), "text"), MessageCode.NODE_JOINED)
    assert a_id in str(joined[0]["message"]) and b_id in str(joined[1]["message"])

    launched = start(a.stub, JOB, params(items=2000, chunkSize=nonid(50), itemDelayMs=nonid(2)))
    wait_until(committed(b.stub, launched.id, 2))
    owning = nodes(b)
    assert (owning[a_id]["runningExecutions"], owning[b_id]["runningExecutions"]) == (1, 0)
    kill(a)
    # A's age grows on B while B's own stays fresh, until B recovers A.
    grown = scraped(b, lambda s: ages(s).get(a_id, 0) > FRESH)
    assert ages(grown)[b_id] < FRESH
    wait_for(b.stub, launched.id, lambda e: status_name(e.status) == "FAILED", 30)
    after = scraped(b, lambda s: value(s, LOST, job_name=JOB) == 1 and a_id not in ages(s))
    assert set(ages(after)) == {b_id}
    assert (nodes(b)[a_id]["state"], nodes(b)[a_id]["runningExecutions"]) == ("lost", 0)

    records = log_records(b.log(), "json")
    [registered] = coded(records, MessageCode.NODE_JOINED)
    assert b_id in str(registered["message"])
    later = records[records.index(registered) :]
    assert {record["node_id"] for record in later} == {b_id}  # not host:pid any more
    [lost] = coded(records, MessageCode.NODE_LOST)
    assert lost["level"] == "WARNING" and a_id in str(lost["message"])
    [owner_lost] = coded(records, MessageCode.OWNER_LOST)
    assert owner_lost["job_name"] == JOB and owner_lost["job_execution_id"] == launched.id
    assert owner_lost["node_id"] == b_id
    assert f"owner lost: node {a_id} " in str(owner_lost["message"])


@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_a_successor_counts_the_owner_lost_by_its_killed_predecessor(
    start_server: ServerFactory,
) -> None:
    first = start_server(*REPLICA)
    launched = start(first.stub, JOB, params(items=2000, chunkSize=nonid(20), itemDelayMs=nonid(2)))
    wait_until(committed(first.stub, launched.id, 2))
    first_id = node_ids(first)[first.process.pid]
    kill(first)
    second = start_server(*REPLICA)  # its pid is gone: recovered at once, at start-up
    second_id = node_ids(second)[second.process.pid]
    samples = scrape(second)
    assert value(samples, LOST, job_name=JOB) == 1
    assert set(ages(samples)) == {second_id} and 0 <= ages(samples)[second_id] < FRESH

    records = log_records(second.log(), "text")
    [joined] = coded(records, MessageCode.NODE_JOINED)
    assert second_id in str(joined["message"])
    [lost] = coded(records, MessageCode.NODE_LOST)
    assert first_id in str(lost["message"])
    [owner_lost] = coded(records, MessageCode.OWNER_LOST)
    assert (owner_lost["job_name"], owner_lost["job_execution_id"]) == (JOB, launched.id)
    # The text format names the node inside an execution: the registered id, not host:pid.
    assert owner_lost["node_id"] == second_id
    assert owner_lost["level"] == "WARNING"
