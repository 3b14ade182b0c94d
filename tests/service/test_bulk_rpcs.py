"""Bulk operations over real gRPC, on SQLite and PostgreSQL: BulkStop, BulkAbandon,
BulkRestart and BulkRecover by filter and by ids, their streams, dry runs that store
nothing, the audit (the operation's row and one row per execution), cancel, malformed
requests, and exactly-once: an item already handled rolls a repeated action back, and a
node that takes over a lost node's operation carries it on without acting twice."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import grpc
import pytest
from jobop.batch import JobRegistry
from jobop.domain import BatchStatus, ExecutionFilter, JobParameters
from jobop.domain.bulk import BulkAction, BulkSelection, BulkState
from jobop.operator import JobOperator
from jobop.operator.bulk import request_id
from jobop.repository import (
    AuditEvent,
    AuditTrail,
    JobRepository,
    create_engine,
    read_connection,
    write_transaction,
)
from jobop.repository.audit import auditing
from jobop.repository.bulk import ItemAlreadyHandled
from jobop.repository.schema import audit, bulk_operation, bulk_operation_item, node
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from service_support import COUNT_JOB, InProcessServer, rpc_error
from sqlalchemy import func, select, update

Stub = pb_grpc.JobOperatorServiceStub
JOB = "countJob"


@pytest.fixture
def stub(inprocess_server: InProcessServer) -> Iterator[Stub]:
    with grpc.insecure_channel(inprocess_server.address) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


def _queued(operator: JobOperator, count: int, first: int = 1) -> list[int]:
    """`count` executions of the paused countJob: STARTING, waiting in the queue."""
    operator.pause_job(JOB)
    return [
        operator.start(JOB, JobParameters.of(run=run)).id for run in range(first, first + count)
    ]


def _statuses(operator: JobOperator, ids: list[int]) -> dict[int, BatchStatus]:
    return {i: operator.get_job_execution(i).status for i in ids}


def _audit_rows(operator: JobOperator) -> list[AuditEvent]:
    return AuditTrail(operator.repository.engine).list_events(limit=10_000)


def _by_ids(ids: list[int]) -> pb.ExecutionSelection:
    return pb.ExecutionSelection(execution_ids=ids)


def _last(stream: Iterator[pb.BulkStopResponse]) -> list[pb.BulkOperation]:
    return [message.operation for message in stream]


def test_bulk_stop_by_filter_stops_each_once_audited(
    inprocess_server: InProcessServer, stub: Stub
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 30)
    selection = pb.ExecutionSelection(
        filter=pb.ExecutionFilter(job_names=[JOB], statuses=[pb.BATCH_STATUS_STARTING])
    )
    messages = _last(stub.BulkStop(pb.BulkStopRequest(selection=selection), timeout=60))
    first, final = messages[0], messages[-1]
    assert first.id > 0 and first.matched == 30 and not first.dry_run
    assert first.action == pb.BULK_ACTION_STOP and first.principal == "anonymous"
    assert final.state == pb.BULK_OPERATION_STATE_DONE
    assert (final.done, final.failed, list(final.errors)) == (30, 0, [])
    assert final.HasField("end_time") and final.node_id == operator.node_id
    assert set(_statuses(operator, ids).values()) == {BatchStatus.STOPPED}

    rows = _audit_rows(operator)
    own = [row for row in rows if row.action == "BulkStop"]
    assert len(own) == 1 and own[0].succeeded
    arguments = json.loads(own[0].arguments)
    assert arguments["matched"] == 30 and arguments["operationId"] == first.id
    assert arguments["selection"]["filter"] == {"job": [JOB], "status": ["STARTING"]}
    stops = [row for row in rows if row.action == "Stop"]
    assert sorted(row.execution_id or 0 for row in stops) == ids
    for row in stops:
        assert json.loads(row.arguments) == {
            "executionId": row.execution_id,
            "operationId": first.id,
        }
        assert row.principal == "anonymous" and row.job_name == JOB and row.succeeded

    got = stub.GetBulkOperation(pb.GetBulkOperationRequest(id=first.id)).operation
    assert got == final
    watched = list(stub.WatchBulkOperation(pb.WatchBulkOperationRequest(id=first.id), timeout=10))
    assert [m.operation for m in watched] == [final]  # ended: one message, then the end


def test_refusals_are_counted_with_the_first_errors_kept(
    inprocess_server: InProcessServer, stub: Stub
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 14)
    for execution_id in ids[:12]:
        operator.stop(execution_id)  # STOPPED already: a second stop is refused
    final = _last(stub.BulkStop(pb.BulkStopRequest(selection=_by_ids(ids)), timeout=60))[-1]
    assert (final.matched, final.done, final.failed) == (14, 2, 12)
    assert len(final.errors) == 10  # the first ten kept
    assert {error.reason for error in final.errors} == {"JOB_EXECUTION_NOT_RUNNING"}
    assert {error.execution_id for error in final.errors} <= set(ids[:12])
    failed_rows = [r for r in _audit_rows(operator) if r.action == "Stop" and not r.succeeded]
    # Each refusal audited once, as a refused single Stop would be.
    assert sorted(r.execution_id or 0 for r in failed_rows) == ids[:12]
    assert {r.reason for r in failed_rows} == {"JOB_EXECUTION_NOT_RUNNING"}


def test_dry_run_counts_and_shows_the_first_ids_storing_nothing(
    inprocess_server: InProcessServer, stub: Stub
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 25)
    selection = pb.ExecutionSelection(filter=pb.ExecutionFilter(job_names=[JOB]))
    messages = _last(stub.BulkStop(pb.BulkStopRequest(selection=selection, dry_run=True)))
    assert len(messages) == 1
    preview = messages[0]
    assert preview.dry_run and preview.id == 0 and preview.matched == 25
    assert list(preview.execution_ids) == sorted(ids, reverse=True)[:20]
    # Ids and a filter: those listed that the filter selects.
    both = pb.ExecutionSelection(
        filter=pb.ExecutionFilter(statuses=[pb.BATCH_STATUS_STARTING]),
        execution_ids=[ids[0], ids[1], 999_999],
    )
    preview = _last(stub.BulkAbandon(pb.BulkAbandonRequest(selection=both, dry_run=True)))[0]
    assert preview.matched == 2 and list(preview.execution_ids) == [ids[1], ids[0]]
    assert set(_statuses(operator, ids).values()) == {BatchStatus.STARTING}
    with read_connection(operator.repository.engine) as connection:
        for table in (bulk_operation, bulk_operation_item):
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() == 0


def test_nothing_matched_is_done_at_once(inprocess_server: InProcessServer, stub: Stub) -> None:
    selection = pb.ExecutionSelection(filter=pb.ExecutionFilter(job_names=["noSuchJobHere"]))
    messages = _last(stub.BulkRestart(pb.BulkRestartRequest(selection=selection), timeout=10))
    assert len(messages) == 1
    assert messages[0].state == pb.BULK_OPERATION_STATE_DONE and messages[0].matched == 0
    assert messages[0].id > 0 and messages[0].HasField("end_time")


def test_malformed_requests_are_refused_naming_the_field(
    inprocess_server: InProcessServer, stub: Stub
) -> None:
    def refused(call: object) -> tuple[grpc.StatusCode, str, str]:
        code, reason, _, message = rpc_error(call)  # type: ignore[arg-type]
        return code, reason, message

    code, reason, message = refused(lambda: list(stub.BulkStop(pb.BulkStopRequest())))
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
    assert "selection" in message
    code, _, message = refused(
        lambda: list(stub.BulkAbandon(pb.BulkAbandonRequest(selection=_by_ids([5, -1]))))
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "selection.execution_ids" in message
    bad_status = pb.ExecutionSelection(filter=pb.ExecutionFilter(statuses=[42]))
    code, _, message = refused(
        lambda: list(stub.BulkRecover(pb.BulkRecoverRequest(selection=bad_status)))
    )
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "42" in message
    too_many = _by_ids(list(range(1, 10_002)))
    code, _, message = refused(lambda: list(stub.BulkStop(pb.BulkStopRequest(selection=too_many))))
    assert code is grpc.StatusCode.INVALID_ARGUMENT and "10000" in message
    code, reason, _ = refused(lambda: stub.GetBulkOperation(pb.GetBulkOperationRequest(id=12345)))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_OPERATION")
    for call in (
        lambda: stub.GetBulkOperation(pb.GetBulkOperationRequest(id=0)),
        lambda: list(stub.WatchBulkOperation(pb.WatchBulkOperationRequest(id=-3))),
        lambda: stub.CancelBulkOperation(pb.CancelBulkOperationRequest(id=0)),
    ):
        assert refused(call)[0] is grpc.StatusCode.INVALID_ARGUMENT
    code, reason, _ = refused(
        lambda: list(stub.WatchBulkOperation(pb.WatchBulkOperationRequest(id=777)))
    )
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_OPERATION")
    # Refused requests are audited as refused.
    rows = _audit_rows(inprocess_server.operator)
    assert {r.action for r in rows if not r.succeeded} >= {"BulkStop", "BulkAbandon"}


def test_cancel_ends_it_cancelled_between_executions(
    inprocess_server: InProcessServer, stub: Stub
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 40)
    operator.bulk.throttle.rate = 20.0  # two seconds for the lot
    stream = stub.BulkStop(pb.BulkStopRequest(selection=_by_ids(ids)), timeout=60)
    accepted = next(stream).operation
    cancelled = stub.CancelBulkOperation(pb.CancelBulkOperationRequest(id=accepted.id)).operation
    assert cancelled.state == pb.BULK_OPERATION_STATE_CANCELLED
    assert cancelled.HasField("end_time") and cancelled.done < 40
    rest = [message.operation for message in stream]
    assert rest[-1].state == pb.BULK_OPERATION_STATE_CANCELLED
    statuses = _statuses(operator, ids)
    stopped = [i for i in ids if statuses[i] is BatchStatus.STOPPED]
    assert len(stopped) == cancelled.done  # what it did stays done, nothing more
    assert {statuses[i] for i in ids if i not in stopped} == {BatchStatus.STARTING}
    # Cancelling an ended operation answers it as it is.
    again = stub.CancelBulkOperation(pb.CancelBulkOperationRequest(id=accepted.id)).operation
    assert again == cancelled
    assert [r.action for r in _audit_rows(operator)].count("CancelBulkOperation") == 2


def test_bulk_restart_abandon_and_recover(inprocess_server: InProcessServer, stub: Stub) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 6)
    for execution_id in ids:
        operator.stop(execution_id)
    restarted = _last(
        stub.BulkRestart(pb.BulkRestartRequest(selection=_by_ids(ids[:3])), timeout=60)
    )[-1]
    assert (restarted.done, restarted.failed) == (3, 0)
    items = operator.bulk.repository.item_outcomes(restarted.id)
    new_ids = {}
    for execution_id in ids[:3]:
        outcome, new_id = items[execution_id]
        assert outcome == "DONE" and new_id is not None
        new_ids[execution_id] = new_id
        # The request ledger answers a retry with the execution the restart started.
        again = operator.restart(execution_id, request_id(restarted.id, execution_id))
        assert again.id == new_id
    restart_rows = [r for r in _audit_rows(operator) if r.action == "Restart"]
    assert sorted(r.execution_id or 0 for r in restart_rows) == sorted(new_ids.values())
    # Abandon: STOPPED ones, and an ABANDONED one again (nothing to change: done, once).
    operator.abandon(ids[5])
    abandoned = _last(
        stub.BulkAbandon(pb.BulkAbandonRequest(selection=_by_ids(ids[3:])), timeout=60)
    )[-1]
    assert (abandoned.done, abandoned.failed) == (3, 0)
    assert set(_statuses(operator, ids[3:]).values()) == {BatchStatus.ABANDONED}
    bulk_abandons = [
        r
        for r in _audit_rows(operator)
        if r.action == "Abandon" and "operationId" in json.loads(r.arguments)
    ]
    assert sorted(r.execution_id or 0 for r in bulk_abandons) == ids[3:]
    # Recover: the restarts wait (paused job) and are owned by no dead node: refused.
    recovered = _last(
        stub.BulkRecover(
            pb.BulkRecoverRequest(selection=_by_ids(sorted(new_ids.values()))), timeout=60
        )
    )[-1]
    assert (recovered.done, recovered.failed) == (0, 3)


def test_an_item_handled_already_rolls_a_repeated_action_back(
    inprocess_server: InProcessServer,
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 2)
    repository = operator.bulk.repository
    operator.bulk.close()  # no carrier: this test acts on the items itself
    operation = operator.start_bulk(
        BulkAction.STOP, BulkSelection(execution_ids=tuple(ids)), principal="tester"
    )
    assert operation.id is not None
    event = AuditEvent(principal="tester", role=None, action="Stop", arguments="{}")
    marker = repository.item_marker(operation.id, ids[0], restart=False)
    with auditing(event, also=marker):
        operator.stop(ids[0])  # stopped and marked in one transaction
    assert operator.get_job_execution(ids[0]).status is BatchStatus.STOPPED
    # A carrier that would act on the handled item again (after a takeover, say).
    marker = repository.item_marker(operation.id, ids[0], restart=False)
    with pytest.raises(ItemAlreadyHandled), auditing(event, also=marker):
        operator.abandon(ids[0])
    assert operator.get_job_execution(ids[0]).status is BatchStatus.STOPPED  # rolled back
    with read_connection(operator.repository.engine) as connection:
        abandons = connection.execute(
            select(func.count()).select_from(audit).where(audit.c.action == "Abandon")
        ).scalar_one()
    assert abandons == 0
    assert repository.item_outcomes(operation.id)[ids[1]] == (None, None)


@contextmanager
def _another_node(db_url: str) -> Iterator[JobOperator]:
    """A second server node on the same database (no limit on its bulk rate)."""
    engine = create_engine(db_url)
    other = JobOperator(JobRepository(engine), JobRegistry([COUNT_JOB]), bulk_rate=0)
    try:
        yield other
    finally:
        other.shutdown(5.0)
        engine.dispose()


def _bulk_stop(operator: JobOperator, ids: list[int], rate: float) -> int:
    """A BulkStop of `ids` accepted by `operator`, its node acting `rate` per second."""
    operator.bulk.throttle.rate = rate
    operation = operator.start_bulk(
        BulkAction.STOP, BulkSelection(execution_ids=tuple(ids)), principal="tester"
    )
    assert operation.id is not None
    return operation.id


def test_a_survivor_carries_a_lost_nodes_operation_on_exactly_once(
    inprocess_server: InProcessServer, db_url: str
) -> None:
    first = inprocess_server.operator
    ids = _queued(first, 24)
    operation_id = _bulk_stop(first, ids, 40.0)
    # Let it act on some, then its node dies: its thread stops (counts maybe unflushed).
    outcomes = first.bulk.repository.item_outcomes
    for _ in range(100):
        if sum(outcome is not None for outcome, _ in outcomes(operation_id).values()) >= 5:
            break
        time.sleep(0.05)
    first.bulk.close()
    handled = sum(outcome is not None for outcome, _ in outcomes(operation_id).values())
    assert 5 <= handled < 24  # the survivor has some left to do
    with _another_node(db_url) as second:
        # The first node's lease runs out: the second's survey recovers it, and so takes
        # its operation over (the heartbeat's path).
        with write_transaction(second.repository.engine) as connection:
            connection.execute(
                update(node)
                .where(node.c.node_id == first.node_id)
                .values(last_heartbeat=datetime(2000, 1, 1, tzinfo=UTC))
            )
        recovered = second.node.survey()
        assert [result.node.node_id for result in recovered] == [first.node_id]
        assert second.get_bulk_operation(operation_id).node_id == second.node_id
        final = list(second.watch_bulk_operation(operation_id, interval=0.05))[-1]
        assert final.state is BulkState.DONE and final.node_id == second.node_id
        assert (final.matched, final.done, final.failed) == (24, 24, 0)
        assert set(_statuses(second, ids).values()) == {BatchStatus.STOPPED}
        stops = [r for r in _audit_rows(second) if r.action == "Stop"]
        assert sorted(r.execution_id or 0 for r in stops) == ids  # each exactly once


def test_a_restarted_lone_node_takes_its_own_operations_back(
    inprocess_server: InProcessServer, db_url: str
) -> None:
    first = inprocess_server.operator
    ids = _queued(first, 6)
    operation_id = _bulk_stop(first, ids, 0.5)
    first.bulk.close()
    first.node.stop()  # a clean exit: LEFT, its operation still RUNNING
    with _another_node(db_url) as second:  # takes it over as it starts
        final = list(second.watch_bulk_operation(operation_id, interval=0.05))[-1]
        assert final.state is BulkState.DONE and final.done == 6
        assert final.node_id == second.node_id


def test_bulk_rate_flag_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobop.app.serve import build_parser

    parser = build_parser()
    assert parser.parse_args([]).bulk_rate == 200.0
    assert parser.parse_args(["--bulk-rate", "0"]).bulk_rate == 0.0
    monkeypatch.setenv("JOBOP_BULK_RATE", "35.5")
    assert build_parser().parse_args([]).bulk_rate == 35.5
    for bad in ("-1", "nan", "inf", "fast"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--bulk-rate", bad])
    monkeypatch.setenv("JOBOP_BULK_RATE", "-3")
    with pytest.raises(SystemExit):
        build_parser().parse_args([])


def test_roles_of_the_bulk_rpcs_and_the_audited_principal(roles_server: InProcessServer) -> None:
    from bearer_tokens import ROLE_TOKENS

    operator = roles_server.operator
    ids = _queued(operator, 3)

    def as_role(role: str) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {ROLE_TOKENS[role]}")]

    with grpc.insecure_channel(roles_server.address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        selection = _by_ids(ids)
        code, reason, _, _ = rpc_error(
            lambda: list(
                stub.BulkStop(pb.BulkStopRequest(selection=selection), metadata=as_role("viewer"))
            )
        )
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
        code, _, _, _ = rpc_error(
            lambda: list(
                stub.BulkAbandon(
                    pb.BulkAbandonRequest(selection=selection), metadata=as_role("operator")
                )
            )
        )
        assert code is grpc.StatusCode.PERMISSION_DENIED  # Abandon is an admin's
        final = _last(
            stub.BulkStop(
                pb.BulkStopRequest(selection=selection), metadata=as_role("operator"), timeout=60
            )
        )[-1]
        assert final.principal == "operator-user" and final.done == 3
        seen = stub.GetBulkOperation(
            pb.GetBulkOperationRequest(id=final.id), metadata=as_role("viewer")
        ).operation
        assert seen == final
        code, _, _, _ = rpc_error(
            lambda: stub.CancelBulkOperation(
                pb.CancelBulkOperationRequest(id=final.id), metadata=as_role("viewer")
            )
        )
        assert code is grpc.StatusCode.PERMISSION_DENIED
    rows = _audit_rows(operator)
    own = [r for r in rows if r.action == "BulkStop" and r.succeeded]
    assert [(r.principal, r.role) for r in own] == [("operator-user", "operator")]
    stops = [r for r in rows if r.action == "Stop"]
    assert {(r.principal, r.role) for r in stops} == {("operator-user", "operator")}
    refused = {(r.action, r.principal) for r in rows if not r.succeeded}
    assert {("BulkStop", "viewer-user"), ("BulkAbandon", "operator-user")} <= refused


def test_a_restart_of_a_handled_item_is_rolled_back_with_its_new_execution(
    inprocess_server: InProcessServer,
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 1)
    operator.stop(ids[0])
    operator.bulk.close()  # no carrier: this test acts on the item itself
    operation = operator.start_bulk(
        BulkAction.RESTART, BulkSelection(execution_ids=tuple(ids)), principal="tester"
    )
    assert operation.id is not None
    repository = operator.bulk.repository
    event = AuditEvent(principal="tester", role=None, action="Restart", arguments="{}")
    with auditing(event, also=repository.item_marker(operation.id, ids[0], restart=True)):
        restarted = operator.restart(ids[0], request_id(operation.id, ids[0]))
    assert repository.item_outcomes(operation.id)[ids[0]] == ("DONE", restarted.id)
    operator.stop(restarted.id)
    instance = operator.get_job_execution(ids[0]).job_instance_id
    before = operator.count_job_executions(_instance(instance), job_name=None)
    # A second carrier restarting it again, without the ledger's id: refused, rolled back.
    with (
        pytest.raises(ItemAlreadyHandled),
        auditing(event, also=repository.item_marker(operation.id, ids[0], restart=True)),
    ):
        operator.restart(ids[0])
    assert operator.count_job_executions(_instance(instance), job_name=None) == before
    assert [r.action for r in _audit_rows(operator)].count("Restart") == 1


def _instance(instance_id: int) -> ExecutionFilter:
    return ExecutionFilter(job_instance_id=instance_id)


def test_a_client_going_away_does_not_cancel_the_operation(
    inprocess_server: InProcessServer, stub: Stub
) -> None:
    operator = inprocess_server.operator
    ids = _queued(operator, 12)
    operator.bulk.throttle.rate = 20.0
    stream = stub.BulkStop(pb.BulkStopRequest(selection=_by_ids(ids)), timeout=60)
    accepted = next(stream).operation
    stream.cancel()  # the client goes away
    final = list(operator.watch_bulk_operation(accepted.id, interval=0.05))[-1]
    assert final.state is BulkState.DONE and final.done == 12
    assert set(_statuses(operator, ids).values()) == {BatchStatus.STOPPED}
