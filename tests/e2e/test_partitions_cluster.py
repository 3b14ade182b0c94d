"""Partitioned steps spread over `jobop serve` replicas on one real PostgreSQL: partitions
run on both nodes, each item once; a SIGKILLed worker's partition runs again on the other
node with no call; the manager's node SIGKILLed, a Restart runs only the unfinished
partitions; a Stop sent to another replica stops the partitions wherever they run.

Every partition's item count is checked per partition over all its attempts (the writes of
`demoPartitionedJob` are upserts: a row written twice would not show in DEMO_ITEMS).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import test_replicas
from e2e_support import (
    ServerFactory,
    ServerProcess,
    nonid,
    params,
    start,
    status_name,
    wait_for,
    wait_terminal,
)
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from sqlalchemy import Engine, text
from test_replicas import REPLICA, demo_items, kill, wait_until

pytestmark = pytest.mark.slow

engine = test_replicas.engine  # the fixture: an engine on the test's database

postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

JOB = "demoPartitionedJob"
TWO_WORKERS = ("--max-concurrent-executions", "2")


@dataclass(frozen=True)
class Partition:
    step_execution_id: int
    job_execution_id: int
    name: str  # demoWorkerStep:partitionN
    attempt: int
    pid: int | None  # of the node that claimed it
    ended: bool
    status: str
    exit_message: str
    write_count: int
    commit_count: int


def partitions(engine: Engine, *job_execution_ids: int) -> list[Partition]:
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT p.STEP_EXECUTION_ID, p.JOB_EXECUTION_ID, p.STEP_NAME, p.ATTEMPT, "
                "n.PID, p.ENDED, s.STATUS, s.EXIT_MESSAGE, s.WRITE_COUNT, s.COMMIT_COUNT "
                "FROM JOBOP_PARTITION p "
                "JOIN BATCH_STEP_EXECUTION s ON s.STEP_EXECUTION_ID = p.STEP_EXECUTION_ID "
                "LEFT JOIN JOBOP_NODE n ON n.NODE_ID = p.NODE_ID "
                "WHERE p.JOB_EXECUTION_ID = ANY(:ids) ORDER BY p.STEP_EXECUTION_ID"
            ),
            {"ids": list(job_execution_ids)},
        ).all()
    return [
        Partition(r[0], r[1], r[2], r[3], r[4], r[5] is not None, r[6], r[7] or "", r[8], r[9])
        for r in rows
    ]


def partition_params(
    items: int, count: int, *, chunk: int = 10, delay_ms: int = 2
) -> dict[str, pb.JobParameter]:
    return params(
        items=items, partitions=nonid(count), chunkSize=nonid(chunk), itemDelayMs=nonid(delay_ms)
    )


def assert_each_item_once(
    engine: Engine, items: int, count: int, found: list[Partition]
) -> dict[str, int]:
    """Every item is in DEMO_ITEMS, and each partition wrote exactly its range's items
    over all its step executions (no item lost, none written twice); the writes by name."""
    assert sorted(demo_items(engine)) == list(range(1, items + 1))
    written: dict[str, int] = defaultdict(int)
    for partition in found:
        written[partition.name] += partition.write_count
    size = items // count
    expected = {
        f"demoWorkerStep:partition{index}": size if index < count - 1 else items - size * index
        for index in range(count)
    }
    assert dict(written) == expected
    return dict(written)


def server_pids(*servers: ServerProcess) -> set[int]:
    return {server.process.pid for server in servers}


@postgresql_only
def test_partitions_spread_over_two_nodes_and_a_stop_on_either_reaches_them_all(
    start_server: ServerFactory, engine: Engine
) -> None:
    a, b = start_server(*REPLICA, *TWO_WORKERS), start_server(*REPLICA, *TWO_WORKERS)
    launched = start(a.stub, JOB, partition_params(2400, 8, chunk=20))
    done = wait_terminal(a.stub, launched.id)
    assert status_name(done.status) == "COMPLETED"
    found = partitions(engine, launched.id)
    assert len(found) == 8
    assert {(p.attempt, p.ended, p.status) for p in found} == {(1, True, "COMPLETED")}
    assert {p.pid for p in found} == server_pids(a, b)  # both nodes ran some
    assert_each_item_once(engine, 2400, 8, found)
    assert set(demo_items(engine).values()) == {launched.id}
    (manager,) = [s for s in done.step_executions if s.step_name == "demoPartitionStep"]
    assert (manager.write_count, status_name(manager.status)) == (2400, "COMPLETED")
    # The node that ran each partition, as REST and gRPC show it.
    nodes = {s.step_name: s.node_id for s in done.step_executions}
    assert all(nodes[p.name] for p in found)

    # A Stop sent to the node that does not manage the job stops every partition.
    slow = start(a.stub, JOB, partition_params(100_000, 4, delay_ms=5))
    wait_until(
        lambda: {p.pid for p in partitions(engine, slow.id) if p.commit_count} == server_pids(a, b)
    )
    b.stub.Stop(pb.StopRequest(execution_id=slow.id))
    stopped = wait_terminal(a.stub, slow.id, 30)
    assert status_name(stopped.status) == "STOPPED"
    found = partitions(engine, slow.id)
    assert {(p.ended, p.status) for p in found} == {(True, "STOPPED")}
    assert {p.pid for p in found} == server_pids(a, b)


@postgresql_only
def test_partitions_of_a_killed_and_of_a_stopped_worker_complete_elsewhere_without_a_call(
    start_server: ServerFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = start_server(*REPLICA, *TWO_WORKERS)  # the manager: its own partition and one more
    with monkeypatch.context() as patch:  # found dead by its lease only
        patch.setenv("JOBOP_NODE_HOST", "worker-elsewhere")
        b = start_server(*REPLICA, *TWO_WORKERS)
    c = start_server(*REPLICA, *TWO_WORKERS)
    launched = start(a.stub, JOB, partition_params(1200, 6, delay_ms=8))

    def runs_on(server: ServerProcess) -> Callable[[], bool]:
        return lambda: any(
            p.pid == server.process.pid and p.commit_count >= 3
            for p in partitions(engine, launched.id)
        )

    wait_until(lambda: runs_on(b)() and runs_on(c)())
    kill(b)  # its partitions fail with it, and run again elsewhere
    assert c.terminate() == 0  # a clean shutdown: its partitions stop, and go elsewhere
    done = wait_terminal(a.stub, launched.id, 60)
    assert status_name(done.status) == "COMPLETED"
    found = partitions(engine, launched.id)
    lost = [p for p in found if p.pid == b.process.pid and p.status != "COMPLETED"]
    assert lost and all(p.status == "FAILED" and p.ended for p in lost)
    assert all(p.exit_message.startswith("owner lost: node ") for p in lost)
    handed = [p for p in found if p.pid == c.process.pid and p.status != "COMPLETED"]
    assert handed and all(p.status == "STOPPED" and p.ended for p in handed)
    # Each ran again as a new step execution of the same partition (one handed over may
    # have been lost with the killed node too, and ran a third time), the last COMPLETED.
    retried = [p for p in found if p.attempt > 1]
    assert {p.name for p in retried} == {p.name for p in lost + handed}
    last = {p.name: p for p in sorted(found, key=lambda p: p.attempt)}
    assert {p.status for p in last.values()} == {"COMPLETED"}
    assert all(p.pid != c.process.pid for p in retried)
    # Each resumed after its last commit: its items once over all its attempts.
    assert_each_item_once(engine, 1200, 6, found)
    assert all(p.write_count < 200 for p in retried)
    # The manager counts every attempt's commits: each item once.
    (manager,) = [s for s in done.step_executions if s.step_name == "demoPartitionStep"]
    assert (manager.write_count, status_name(manager.status)) == (1200, "COMPLETED")


@postgresql_only
def test_the_managers_node_killed_then_a_restart_runs_only_the_unfinished_partitions(
    start_server: ServerFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:  # the manager, found dead by its lease only
        patch.setenv("JOBOP_NODE_HOST", "manager-elsewhere")
        # One worker: the job's manager, which runs one partition at a time itself.
        a = start_server(*REPLICA, "--max-concurrent-executions", "1")
    b = start_server(*REPLICA, *TWO_WORKERS)
    # Partitions of about 5 s: longer than finding the dead manager takes (its lease).
    launched = start(a.stub, JOB, partition_params(6000, 6, chunk=20, delay_ms=5))

    def some_completed_and_some_running_on_b() -> bool:
        found = partitions(engine, launched.id)
        return any(p.status == "COMPLETED" for p in found) and any(
            p.pid == b.process.pid and not p.ended and p.commit_count for p in found
        )

    wait_until(some_completed_and_some_running_on_b, 60)
    kill(a)
    failed = wait_for(b.stub, launched.id, lambda e: status_name(e.status) == "FAILED", 30)
    assert failed.exit_status.exit_description.startswith("owner lost: node ")
    # Partitions running on the survivor stop at their next chunk: every row ends.
    wait_until(lambda: all(p.ended for p in partitions(engine, launched.id)), 15)
    first = partitions(engine, launched.id)
    completed = {p.name for p in first if p.status == "COMPLETED"}
    assert completed and all(p.status in ("COMPLETED", "FAILED") for p in first)
    assert any(p.pid == b.process.pid and p.status == "FAILED" for p in first)
    restarted = b.stub.Restart(pb.RestartRequest(execution_id=launched.id)).execution
    done = wait_terminal(b.stub, restarted.id, 60)
    assert status_name(done.status) == "COMPLETED"
    second = partitions(engine, restarted.id)
    assert {p.name for p in second} == {p.name for p in first} - completed
    assert_each_item_once(engine, 6000, 6, first + second)
