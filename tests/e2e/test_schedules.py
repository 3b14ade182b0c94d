"""Schedules on real `jobop serve` processes: three PostgreSQL replicas firing a two-second
schedule for 30 s (exactly once, no gap, each on time, one replica SIGKILLed half-way),
skip with long executions, catch-up after every node was stopped, pause and trigger, and
one server on SQLite. Schedules are made over REST, as operators make them.

The lateness of every fire of the 30 s run (nominal fire time to its execution's start)
is printed as a histogram.
"""

from __future__ import annotations

import datetime as dt
import itertools
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
from e2e_support import ServerFactory, ServerProcess
from jobop.repository import create_engine
from jobop.repository.schedules import ScheduleRepository
from rest_support import request

pytestmark = pytest.mark.slow

REPLICA = ("--lease", "3", "--heartbeat-interval", "0.5")
EVERY_TWO_SECONDS = "*/2 * * * * *"
postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def create(server: ServerProcess, name: str, cron: str, **fields: Any) -> dict[str, Any]:
    body = {"name": name, "jobName": "demoTaskletJob", "cron": cron, **fields}
    body.setdefault("parameters", {"durationMs": 10})
    reply = request(server.http_url, "POST", "/api/schedules", body)
    assert reply.status == 201, reply
    return dict(reply.body)


def fires(server: ServerProcess, name: str) -> list[dict[str, Any]]:
    """Every fire of the schedule, oldest first."""
    found: list[dict[str, Any]] = []
    token = ""
    while True:
        query = f"?pageSize=100&pageToken={token}" if token else "?pageSize=100"
        reply = request(server.http_url, "GET", f"/api/schedules/{name}/fires{query}")
        assert reply.status == 200, reply
        found += reply.body["fires"]
        token = reply.body["nextPageToken"]
        if not token:
            return sorted(found, key=lambda fire: fire["fireTime"])


def execution(server: ServerProcess, execution_id: int) -> dict[str, Any]:
    reply = request(server.http_url, "GET", f"/api/executions/{execution_id}")
    assert reply.status == 200, reply
    return dict(reply.body)


def moment(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def sleep_until(instant: dt.datetime) -> None:
    time.sleep(max(0.0, (instant - dt.datetime.now(dt.UTC)).total_seconds()))


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ended(server: ServerProcess, execution_id: int) -> dict[str, Any] | None:
    found = execution(server, execution_id)
    return found if found.get("endTime") else None


def histogram(latenesses: list[float]) -> str:
    edges = [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]
    lines = [f"lateness of {len(latenesses)} fires (nominal fire time to execution start):"]
    low = 0.0
    for edge in [*edges, float("inf")]:
        count = sum(1 for value in latenesses if low <= value < edge)
        label = f"{low:.2f}-{edge:.2f} s" if edge != float("inf") else f">= {low:.2f} s"
        lines.append(f"  {label:>14} {count:4d} {'#' * count}")
        low = edge
    ordered = sorted(latenesses)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    lines.append(
        f"  min {ordered[0]:.3f} s, median {p50:.3f} s, p99 {p99:.3f} s, max {ordered[-1]:.3f} s"
    )
    return "\n".join(lines)


@postgresql_only
def test_three_replicas_fire_a_two_second_schedule_exactly_once_on_time(
    start_server: ServerFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    replicas = [start_server(*REPLICA) for _ in range(3)]
    created = create(replicas[0], "every-two", EVERY_TWO_SECONDS)
    first = moment(created["nextFireTimes"][0])
    window = [first + dt.timedelta(seconds=2 * i) for i in range(15)]  # 30 s of fires
    sleep_until(window[7] + dt.timedelta(seconds=0.3))
    victim = replicas[1]
    victim.process.send_signal(signal.SIGKILL)  # half-way
    victim.process.wait(10)
    victim.channel.close()
    live = replicas[0]
    sleep_until(window[-1] + dt.timedelta(seconds=0.5))
    assert request(live.http_url, "POST", "/api/schedules/every-two/pause").status == 200

    def settled() -> list[dict[str, Any]]:
        found = [f for f in fires(live, "every-two") if moment(f["fireTime"]) <= window[-1]]
        return found if all(f["outcome"] != "PENDING" for f in found) else []

    recorded = wait_until(settled, "the fires settled")
    assert [moment(f["fireTime"]) for f in recorded] == window  # no duplicate, no gap
    assert {f["outcome"] for f in recorded} == {"LAUNCHED"}, recorded
    executions = [f["executionId"] for f in recorded]
    assert len(set(executions)) == len(executions)
    nodes = {f["nodeId"] for f in recorded}
    latenesses = []
    for fire in recorded:
        run = wait_until(lambda fire=fire: ended(live, fire["executionId"]), "its end")
        assert run["status"] == "COMPLETED", run
        assert "schedule.fireTime" in run["parameters"]
        latenesses.append((moment(run["startTime"]) - moment(fire["fireTime"])).total_seconds())
    with capsys.disabled():
        print(f"\n{histogram(latenesses)}\n  fires recorded by {len(nodes)} nodes")
    assert max(latenesses) < 1.0, latenesses


@postgresql_only
def test_skip_pause_and_trigger_on_replicas(start_server: ServerFactory) -> None:
    replicas = [start_server(*REPLICA) for _ in range(2)]
    # Each execution runs 2.5 s, a fire comes every second: most fires are skipped.
    created = create(replicas[0], "long", "* * * * * *", parameters={"durationMs": 2500})
    first = moment(created["nextFireTimes"][0])
    sleep_until(first + dt.timedelta(seconds=6.5))
    paused = request(replicas[1].http_url, "POST", "/api/schedules/long/pause")
    assert paused.status == 200 and paused.body["paused"]
    recorded = wait_until(
        lambda: (
            (found := fires(replicas[0], "long"))
            and all(f["outcome"] != "PENDING" for f in found)
            and found
        ),
        "the fires settled",
    )
    outcomes = [f["outcome"] for f in recorded]
    assert outcomes[0] == "LAUNCHED" and "SKIPPED" in outcomes
    assert set(outcomes) <= {"LAUNCHED", "SKIPPED"}
    runs = [
        wait_until(lambda f=f: ended(replicas[0], f["executionId"]), "its end")
        for f in recorded
        if f["outcome"] == "LAUNCHED"
    ]
    for earlier, later in itertools.pairwise(runs):
        assert moment(earlier["endTime"]) <= moment(later["startTime"]), (earlier, later)
    # Paused: no fire comes; a trigger still fires, at once.
    time.sleep(1.5)
    assert len(fires(replicas[0], "long")) == len(recorded)
    triggered = request(replicas[1].http_url, "POST", "/api/schedules/long/trigger")
    assert triggered.status == 200, triggered
    assert (triggered.body["outcome"], triggered.body["triggered"]) == ("LAUNCHED", True)
    again = request(replicas[0].http_url, "POST", "/api/schedules/long/trigger").body
    assert again["outcome"] == "SKIPPED", again  # the triggered run still runs
    audit = request(replicas[0].http_url, "GET", "/api/audit?pageSize=200")
    assert audit.status == 200, audit
    starts = [e for e in audit.body["events"] if e["action"] == "Start"]
    assert len(starts) == len(runs) + 1
    assert {e["principal"] for e in starts} == {"schedule:long"}


@postgresql_only
def test_catch_up_after_every_node_was_stopped(start_server: ServerFactory, db_url: str) -> None:
    replicas = [start_server(*REPLICA) for _ in range(2)]
    policies = ("none", "latest", "all")
    # overlap allow: a start the shutdown left waiting must not make the catch-up skip.
    for policy in policies:
        create(replicas[0], f"catch-{policy}", EVERY_TWO_SECONDS, catchUp=policy, overlap="allow")
    wait_until(
        lambda: all(
            any(f["outcome"] == "LAUNCHED" for f in fires(replicas[0], f"catch-{p}"))
            for p in policies
        ),
        "a fire of each schedule",
    )
    for replica in replicas:
        assert replica.terminate() == 0
    engine = create_engine(db_url)
    try:
        store = ScheduleRepository(engine)
        cursors = {store.get(f"catch-{p}").next_fire_time for p in policies}  # type: ignore[union-attr]
    finally:
        engine.dispose()
    assert len(cursors) == 1  # every schedule waits for the same fire
    (cursor,) = cursors
    missed = [cursor + dt.timedelta(seconds=2 * i) for i in range(3)]
    # Three periods with no node, and past the last one's misfire threshold (1 s).
    sleep_until(missed[-1] + dt.timedelta(seconds=1.2))
    server = start_server(*REPLICA)
    for policy in policies:

        def caught(policy: str = policy) -> list[dict[str, Any]]:
            # The fires the new node's first claim recorded (one claim, one time).
            found = [f for f in fires(server, f"catch-{policy}") if moment(f["fireTime"]) >= cursor]
            first = [f for f in found if f["recorded"] == found[0]["recorded"]] if found else []
            return first if all(f["outcome"] != "PENDING" for f in first) else []

        recorded = wait_until(caught, f"the first claim of catch-{policy}")
        claimed_at = moment(recorded[0]["recorded"])
        # Missed: found later than the threshold, however long the node took to start.
        late = [f for f in recorded if claimed_at - moment(f["fireTime"]) > dt.timedelta(seconds=1)]
        assert [moment(f["fireTime"]) for f in late[:3]] == missed, (policy, recorded)
        outcomes = [f["outcome"] for f in late]
        expected = {
            "none": ["MISSED"] * len(late),
            "latest": ["MISSED"] * (len(late) - 1) + ["LAUNCHED"],
            "all": ["LAUNCHED"] * len(late),
        }
        assert outcomes == expected[policy], (policy, recorded)
        on_time = [f["outcome"] for f in recorded if f not in late]
        assert set(on_time) <= {"LAUNCHED"}, (policy, recorded)
        launched = [f["executionId"] for f in recorded if f["outcome"] == "LAUNCHED"]
        assert launched == sorted(launched)  # in order


@sqlite_only
def test_one_server_on_sqlite(start_server: ServerFactory) -> None:
    server = start_server()
    created = create(server, "lone", EVERY_TWO_SECONDS)
    first = moment(created["nextFireTimes"][0])
    window = [first + dt.timedelta(seconds=2 * i) for i in range(3)]
    sleep_until(window[-1] + dt.timedelta(seconds=0.5))
    assert request(server.http_url, "POST", "/api/schedules/lone/pause").status == 200
    recorded = wait_until(
        lambda: (
            (found := [f for f in fires(server, "lone") if moment(f["fireTime"]) in window])
            and len(found) == 3
            and all(f["outcome"] == "LAUNCHED" for f in found)
            and found
        ),
        "three fires",
    )
    for fire in recorded:
        run = wait_until(lambda fire=fire: ended(server, fire["executionId"]), "its end")
        assert run["status"] == "COMPLETED"
        assert (moment(run["startTime"]) - moment(fire["fireTime"])).total_seconds() < 1.0
    fire = request(server.http_url, "POST", "/api/schedules/lone/trigger").body
    assert fire["outcome"] == "LAUNCHED" and fire["triggered"]
