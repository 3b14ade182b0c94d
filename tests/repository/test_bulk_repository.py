"""The bulk operations' SQL on SQLite and PostgreSQL: accepting a selection costs the same
statements whatever it matches (the items are written by INSERT ... SELECT, never read into
Python), items are marked once, and of two nodes taking a gone node's operation over at
once exactly one gets it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from jobop.domain import BatchStatus, ExecutionFilter, JobParameters
from jobop.domain.bulk import BulkAction, BulkSelection, BulkState
from jobop.repository import AuditEvent, JobRepository, StatementCounter, write_transaction
from jobop.repository.bulk import BulkRepository
from jobop.repository.nodes import NodeInfo, NodeRepository
from jobop.repository.schema import node

EVENT = AuditEvent(principal="tester", role="operator", action="BulkStop", arguments="{}")


def _executions(repository: JobRepository, job: str, count: int) -> list[int]:
    return [
        repository.create_job_execution(job, JobParameters.of(run=run)).id for run in range(count)
    ]


def _accept(bulk: BulkRepository, job: str, node_id: str = "node-a") -> tuple[int, int]:
    """(statements, matched) of accepting a BulkStop of `job`'s STARTING executions."""
    selection = BulkSelection(
        filter=ExecutionFilter(job_names=(job,), statuses=(BatchStatus.STARTING,))
    )
    with StatementCounter(bulk.engine) as counter:
        operation = bulk.create(
            BulkAction.STOP, selection, principal="tester", node_id=node_id, audit=EVENT
        )
    return counter.count, operation.matched


def test_accepting_costs_the_same_statements_whatever_it_matches(
    repository: JobRepository,
) -> None:
    _executions(repository, "fewJob", 2)
    _executions(repository, "manyJob", 120)
    bulk = BulkRepository(repository.engine)
    few = _accept(bulk, "fewJob")
    many = _accept(bulk, "manyJob")
    assert (few[1], many[1]) == (2, 120)
    assert few[0] == many[0] <= 6
    preview = bulk.preview(BulkSelection(filter=ExecutionFilter(job_names=("manyJob",))), 20)
    assert preview[0] == 120 and len(preview[1]) == 20
    assert preview[1] == sorted(preview[1], reverse=True)


def test_an_item_is_marked_once_and_counts_are_taken_again_from_the_items(
    repository: JobRepository,
) -> None:
    ids = _executions(repository, "markJob", 3)
    bulk = BulkRepository(repository.engine)
    created = bulk.create(
        BulkAction.STOP,
        BulkSelection(execution_ids=tuple(ids)),
        principal="tester",
        node_id="gone-node",
        audit=EVENT,
    )
    assert created.id is not None
    failed = AuditEvent(principal="tester", role=None, action="Stop", arguments="{}")
    assert bulk.mark_item(created.id, ids[0], "DONE", failed)
    assert not bulk.mark_item(created.id, ids[0], "FAILED", failed)  # handled already
    assert bulk.mark_item(
        created.id, ids[1], "FAILED", failed.failed("X", "no"), reason="X", message="no"
    )
    assert bulk.pending_items(created.id, after=None, limit=10) == [ids[2]]
    # No node named gone-node lives: any node takes the operation over, counting again.
    assert bulk.take_over("node-b") == [created.id]
    taken = bulk.get(created.id)
    assert taken is not None and taken.node_id == "node-b"
    assert (taken.done, taken.failed) == (1, 1)
    assert [(e.execution_id, e.reason, e.message) for e in taken.errors] == [(ids[1], "X", "no")]
    ended = bulk.finish(created.id, "node-b", BulkState.DONE)
    assert ended is not None and ended.state is BulkState.DONE and ended.ended is not None
    assert bulk.take_over("node-c") == []  # ended: nothing to carry on


def test_of_two_nodes_taking_over_at_once_one_gets_each_operation(
    repository: JobRepository,
) -> None:
    nodes = NodeRepository(repository.engine)
    for name in ("lost-node", "node-b", "node-c"):
        nodes.register(NodeInfo(name, "host", 1, None, "all", "test", 15.0))
    with write_transaction(repository.engine) as connection:
        connection.execute(
            node.update()
            .where(node.c.node_id == "lost-node")
            .values(lost=datetime.now(UTC), lost_by="node-b")
        )
    ids = _executions(repository, "raceJob", 2)
    bulk = BulkRepository(repository.engine)
    operations = [
        bulk.create(
            BulkAction.STOP,
            BulkSelection(execution_ids=(execution_id,)),
            principal="tester",
            node_id="lost-node",
            audit=EVENT,
        ).id
        for execution_id in ids
    ]
    taken: dict[str, list[int]] = {}
    barrier = threading.Barrier(2)

    def take(name: str) -> None:
        barrier.wait()
        taken[name] = bulk.take_over(name)

    threads = [threading.Thread(target=take, args=(name,)) for name in ("node-b", "node-c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(taken["node-b"] + taken["node-c"]) == sorted(operations)
    for name, ids_taken in taken.items():
        for operation_id in ids_taken:
            carried = bulk.get(operation_id)
            assert carried is not None and carried.node_id == name
