"""Claims of waiting partitions on PostgreSQL (racing claimants each take a partition once,
only of their jobs and of STARTED executions), and a lost node's partitions failed and
ended by its recovery, announced by NOTIFY."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from jobop.domain import BatchStatus, JobExecution, JobParameters, StepExecution, utcnow
from jobop.repository import JobRepository, create_engine
from jobop.repository.nodes import NodeInfo, NodeRepository
from jobop.repository.notify import pack
from jobop.repository.partition_claims import PartitionClaims, parse_entries
from jobop.repository.schema import partition
from pgcluster import Cluster
from repository_lifecycle import start_execution, start_step
from sqlalchemy import insert, select, update


@pytest.fixture
def pg_repository(pg_clones: Any) -> Iterator[JobRepository]:
    """A repository on a fresh PostgreSQL database (claims race on PostgreSQL only)."""
    name = pg_clones.take()
    cluster: Cluster = pg_clones.cluster
    engine = create_engine(cluster.url(name))
    try:
        yield JobRepository(engine)
    finally:
        engine.dispose()
        cluster.drop_database(name)


def running_job(repository: JobRepository, job_name: str, n: int, owner: str) -> JobExecution:
    execution = repository.create_job_execution(
        job_name, JobParameters.of(n=n), request_launch=True, claimed_by=owner
    )
    start_execution(repository, execution)
    return execution


def add_partitions(
    repository: JobRepository,
    execution: JobExecution,
    count: int,
    *,
    node_id: str | None = None,
    status: BatchStatus = BatchStatus.STARTING,
) -> list[StepExecution]:
    manager = start_step(repository, execution, "managerStep")
    workers = []
    for index in range(count):
        worker = StepExecution(f"workerStep:partition{index}", execution.id, status=status)
        worker.execution_context["minValue"] = index * 10
        repository.add_step_execution(worker)
        workers.append(worker)
    with repository.engine.begin() as connection:
        connection.execute(
            insert(partition),
            [
                {
                    "step_execution_id": w.id,
                    "job_execution_id": execution.id,
                    "manager_step_execution_id": manager.id,
                    "step_name": w.step_name,
                    "attempt": 1,
                    "created": utcnow(),
                    "node_id": node_id,
                    "claimed": utcnow() if node_id else None,
                }
                for w in workers
            ],
        )
    return workers


def partition_rows(repository: JobRepository) -> dict[int, tuple[str | None, bool]]:
    with repository.engine.connect() as connection:
        return {
            row.step_execution_id: (row.node_id, row.ended is not None)
            for row in connection.execute(select(partition))
        }


def test_racing_claimants_take_each_partition_once(pg_repository: JobRepository) -> None:
    execution = running_job(pg_repository, "partitionedJob", 1, "n0")
    workers = add_partitions(pg_repository, execution, 40)
    claims = PartitionClaims(pg_repository.engine)
    barrier = threading.Barrier(4)

    def claimant(node: str) -> list[int]:
        barrier.wait()
        taken: list[int] = []
        while True:
            claimed = claims.claim_partitions(node, ["partitionedJob"], 3)
            if not claimed:
                return taken
            for found in claimed:
                assert found.job_execution.id == execution.id
                assert found.worker.execution_context["minValue"] is not None
                assert found.worker.status is BatchStatus.STARTING
                assert found.attempt == 1
            taken += [found.worker.id for found in claimed]

    with ThreadPoolExecutor(4) as pool:
        results = dict(zip("abcd", pool.map(claimant, "abcd"), strict=True))
    everything = [step for taken in results.values() for step in taken]
    assert Counter(everything) == Counter(w.id for w in workers)  # each once, none missed
    rows = partition_rows(pg_repository)
    for node, taken in results.items():
        assert all(rows[step][0] == node for step in taken)
    assert not claims.has_waiting(["partitionedJob"])


def test_claims_take_only_registered_jobs_of_started_executions(
    pg_repository: JobRepository,
) -> None:
    mine = running_job(pg_repository, "partitionedJob", 1, "n0")
    other = running_job(pg_repository, "otherJob", 1, "n0")
    stopping = running_job(pg_repository, "partitionedJob", 2, "n0")
    add_partitions(pg_repository, other, 2)
    add_partitions(pg_repository, stopping, 2)
    pg_repository.request_stop(stopping.id)
    expected = add_partitions(pg_repository, mine, 2)
    claims = PartitionClaims(pg_repository.engine)
    assert claims.claim_partitions("n1", ["partitionedJob"], 0) == []
    (own,) = claims.claim_partitions("n0", ["partitionedJob"], 1, job_execution_id=mine.id)
    assert own.worker.id == expected[0].id  # one execution's only: a manager takes its own
    expected = expected[1:]
    claimed = claims.claim_partitions("n1", ["partitionedJob"], 10)
    assert [c.worker.id for c in claimed] == [w.id for w in expected]
    assert all(c.worker.node_id == "n1" for c in claimed)
    assert claims.claim_partitions("n1", ["partitionedJob"], 10) == []
    assert claims.has_waiting(["otherJob"])


def test_unclaimed_partitions_end_stopped_and_claimed_ones_are_left(
    pg_repository: JobRepository,
) -> None:
    execution = running_job(pg_repository, "partitionedJob", 1, "n0")
    workers = add_partitions(pg_repository, execution, 3)
    claims = PartitionClaims(pg_repository.engine)
    (first,) = claims.claim_partitions("n1", ["partitionedJob"], 1)
    ended = claims.end_unclaimed([w.id for w in workers], BatchStatus.STOPPED)
    assert ended == [w.id for w in workers if w.id != first.worker.id]
    ends = {end.step_execution_id: end for end in claims.read_partition_ends(ended)}
    assert {end.status for end in ends.values()} == {BatchStatus.STOPPED}
    assert all(end.ended is not None and end.ended_ago is not None for end in ends.values())
    (running,) = claims.read_partition_ends([first.worker.id])
    assert (running.ended, running.ended_ago, running.node_id) == (None, None, "n1")


def test_a_lost_nodes_partitions_fail_end_and_are_announced(
    pg_repository: JobRepository, pg_cluster: Cluster
) -> None:
    engine = pg_repository.engine
    nodes = NodeRepository(engine)
    nodes.register(NodeInfo("manager", "host-a", 1, 1, "all", "test", 60.0))
    nodes.register(NodeInfo("dead", "host-b", 2, 2, "worker", "test", 0.3))
    # A job managed by a live node whose partitions the dead node claimed.
    managed = running_job(pg_repository, "partitionedJob", 1, "manager")
    workers = add_partitions(pg_repository, managed, 3)
    claims = PartitionClaims(engine)
    taken = claims.claim_partitions("dead", ["partitionedJob"], 2)
    started = taken[0].worker
    started.status = BatchStatus.STARTED
    started.start_time = utcnow()
    pg_repository.update_step_execution(started)
    # A job the dead node managed: its waiting partitions end with it.
    owned = running_job(pg_repository, "partitionedJob", 2, "dead")
    owned_workers = add_partitions(pg_repository, owned, 2)
    with engine.begin() as connection:  # the manager holds the claims of its own job
        connection.execute(
            update(partition)
            .where(partition.c.step_execution_id == workers[2].id)
            .values(node_id="manager")
        )
    database = engine.url.database
    assert database is not None
    listen = psycopg.connect(pg_cluster.conninfo(database), autocommit=True)
    listen.execute("LISTEN jobop")
    time.sleep(0.5)
    result = nodes.recover_node("dead", "manager")
    assert result is not None and result.failed == [owned.id]
    lost = {w.worker.id for w in taken}
    assert set(result.partitions) == lost | {w.id for w in owned_workers}
    rows = partition_rows(pg_repository)
    assert all(rows[step][1] for step in result.partitions)
    assert rows[workers[2].id] == ("manager", False)  # a live node's claim is untouched
    ends = {e.step_execution_id: e for e in claims.read_partition_ends(sorted(lost))}
    assert {e.status for e in ends.values()} == {BatchStatus.FAILED}
    assert all(e.exit_message.startswith("owner lost: node dead") for e in ends.values())
    announced: set[tuple[int, int]] = set()
    for notify in listen.notifies(timeout=2, stop_after=1):
        kind, _, rest = notify.payload.partition(" ")
        if kind == "pe":
            announced |= set(parse_entries(rest))
    listen.close()
    assert {step for _, step in announced} == set(result.partitions)


def test_payloads_are_split_and_parsed_back() -> None:
    entries = [(i, 100_000 + i) for i in range(2000)]
    packed = pack([f"{j}:{s}" for j, s in entries], "pe")
    assert len(packed) > 1 and all(len(p) <= 7900 for p in packed)
    assert [e for p in packed for e in parse_entries(p.partition(" ")[2])] == entries
    with pytest.raises(ValueError):
        parse_entries("12")


def test_a_node_that_left_holding_a_partition_is_recovered(pg_repository: JobRepository) -> None:
    nodes = NodeRepository(pg_repository.engine)
    nodes.register(NodeInfo("manager", "host-a", 1, 1, "all", "test", 60.0))
    nodes.register(NodeInfo("left", "host-b", 2, 2, "worker", "test", 60.0))
    execution = running_job(pg_repository, "partitionedJob", 1, "manager")
    add_partitions(pg_repository, execution, 1)
    (held,) = PartitionClaims(pg_repository.engine).claim_partitions("left", ["partitionedJob"], 1)
    nodes.deregister("left")  # its shutdown could not stop the partition
    assert "left" in {n.node_id for n in nodes.find_nodes_to_recover()}
    result = nodes.recover_node("left", "manager")
    assert result is not None and result.partitions == [held.worker.id]
    assert partition_rows(pg_repository)[held.worker.id] == ("left", True)
    nodes.register(NodeInfo("gone", "host-c", 3, 3, "worker", "test", 60.0))
    nodes.deregister("gone")  # nothing held: nothing to recover
    assert "gone" not in {n.node_id for n in nodes.find_nodes_to_recover()}
