"""JOBOP_BULK_OPERATION and its items: bulk operations' SQL (operator/bulk.py runs them).

An operation is accepted in one transaction: its row, its items (the executions its
selection selects then, written by one INSERT ... SELECT over the listing's conditions,
never loaded into Python) and its audit row. Each item is marked handled in the very
transaction of its action (the action's audit row carries the mark: `item_marker`), so an
action commits with its mark or not at all; a mark that finds the item already handled
raises `ItemAlreadyHandled`, which rolls the action back. The counters are the carrier's
running totals, flushed every few items (`flush`); a node that takes an operation over
counts them again from the items (`take_over`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from jobop.domain import ExecutionFilter, utcnow
from jobop.domain.bulk import (
    DRY_RUN_IDS,
    MAX_ERRORS,
    BulkAction,
    BulkError,
    BulkOperation,
    BulkSelection,
    BulkState,
    selection_text,
)

from . import audit as audit_trail
from . import listing
from .audit import AuditEvent
from .engine import read_connection, write_transaction
from .schema import (
    AUDIT_TEXT_LENGTH,
    bulk_operation,
    bulk_operation_item,
    job_execution,
    job_instance,
    launch_request,
    node,
)

_o, _t = bulk_operation, bulk_operation_item
_e, _i, _l, _n = job_execution, job_instance, launch_request, node

DONE = "DONE"
FAILED = "FAILED"


class ItemAlreadyHandled(Exception):
    """The item was handled already (by this operation's earlier carrier): the action
    that would repeat it is rolled back."""


def _selected(selection: BulkSelection) -> Any:
    """SELECT job_execution_id of the executions `selection` selects (the listing's
    conditions and joins)."""
    condition = selection.filter or ExecutionFilter()
    executions: Any = _e
    if condition.job_names:
        executions = executions.join(_i, _i.c.job_instance_id == _e.c.job_instance_id)
    if listing.needs_launch_request(condition):
        executions = executions.outerjoin(_l, _l.c.job_execution_id == _e.c.job_execution_id)
    found = listing.conditions(condition)
    if selection.execution_ids:
        found.append(_e.c.job_execution_id.in_(sorted(set(selection.execution_ids))))
    return select(_e.c.job_execution_id).select_from(executions).where(*found)


def _errors_json(errors: Sequence[BulkError]) -> str:
    return json.dumps(
        [
            {"executionId": e.execution_id, "reason": e.reason, "message": e.message}
            for e in errors[:MAX_ERRORS]
        ]
    )


def _errors(text: str) -> tuple[BulkError, ...]:
    try:
        raw = json.loads(text or "[]")
    except ValueError:
        return ()
    return tuple(
        BulkError(int(e["executionId"]), str(e["reason"]), str(e.get("message", "")))
        for e in raw
        if isinstance(e, dict)
    )


def _operation(row: Any) -> BulkOperation:
    try:
        selection = BulkSelection.from_json(json.loads(row.selection))
    except (ValueError, TypeError, KeyError):
        selection = BulkSelection()
    return BulkOperation(
        id=int(row.operation_id),
        action=BulkAction(row.action),
        state=BulkState(row.state),
        selection=selection,
        principal=row.principal,
        matched=int(row.matched),
        done=int(row.done),
        failed=int(row.failed),
        errors=_errors(row.errors),
        node_id=row.node_id,
        created=row.created,
        ended=row.ended,
        cancel_requested=row.cancel_requested is not None,
    )


def _reason_text(reason: str, message: str) -> str:
    return f"{reason}: {message}"[:AUDIT_TEXT_LENGTH]


class BulkRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- accepting -----------------------------------------------------------------------

    def preview(self, selection: BulkSelection, limit: int = DRY_RUN_IDS) -> tuple[int, list[int]]:
        """A dry run: how many executions `selection` selects, and the first `limit` ids
        (newest first). Two statements, nothing written."""
        selected = _selected(selection).subquery()
        with read_connection(self.engine) as connection, listing.planned_for_values(connection):
            matched = int(
                connection.execute(select(func.count()).select_from(selected)).scalar_one()
            )
            ids = list(
                connection.execute(
                    _selected(selection).order_by(_e.c.job_execution_id.desc()).limit(limit)
                ).scalars()
            )
        return matched, ids

    def create(
        self,
        action: BulkAction,
        selection: BulkSelection,
        *,
        principal: str,
        node_id: str,
        audit: AuditEvent,
        role: str | None = None,
    ) -> BulkOperation:
        """Store the operation carried by `node_id`, its items (the executions selected
        now) and its audit row (`audit`, its arguments replaced by the selection, the
        count and the operation's id), in one transaction. Nothing matched: DONE at once."""
        now = utcnow()
        stored = selection.to_json()
        if role is not None:
            stored["role"] = role
        with write_transaction(self.engine) as connection, listing.planned_for_values(connection):
            operation_id = int(
                connection.execute(
                    insert(_o)
                    .values(
                        action=action.value,
                        state=BulkState.RUNNING.value,
                        selection=json.dumps(stored, sort_keys=True, ensure_ascii=False),
                        principal=principal[:200] or "?",
                        matched=0,
                        done=0,
                        failed=0,
                        errors="[]",
                        node_id=node_id,
                        created=now,
                        updated=now,
                    )
                    .returning(_o.c.operation_id)
                ).scalar_one()
            )
            selected = _selected(selection).add_columns(literal(operation_id).label("op"))
            connection.execute(
                insert(_t).from_select(["job_execution_id", "operation_id"], selected)
            )
            # Counted from the items just written (the driver's row count of an INSERT ...
            # SELECT is not reliable on every database), through their primary key.
            matched = int(
                connection.execute(
                    select(func.count()).select_from(_t).where(_t.c.operation_id == operation_id)
                ).scalar_one()
            )
            values: dict[str, Any] = {"matched": matched}
            if matched == 0:
                values.update(state=BulkState.DONE.value, ended=now)
            connection.execute(update(_o).where(_o.c.operation_id == operation_id).values(**values))
            arguments = {
                "operationId": operation_id,
                "selection": json.loads(selection_text(selection)),
                "matched": matched,
            }
            audit_trail.record_event_in(
                connection,
                AuditEvent(
                    principal=audit.principal,
                    role=audit.role,
                    action=audit.action,
                    arguments=json.dumps(arguments, sort_keys=True, ensure_ascii=False),
                    peer=audit.peer,
                    node=audit.node,
                    job_name=(
                        selection.filter.job_names[0]
                        if selection.filter is not None and len(selection.filter.job_names) == 1
                        else None
                    ),
                ),
            )
            row = connection.execute(select(_o).where(_o.c.operation_id == operation_id)).one()
        return _operation(row)

    # -- reading -------------------------------------------------------------------------

    def get(self, operation_id: int) -> BulkOperation | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(select(_o).where(_o.c.operation_id == operation_id)).first()
        return None if row is None else _operation(row)

    def role_of(self, operation_id: int) -> str | None:
        """The role of the principal who asked (kept with the selection), for the audit."""
        with read_connection(self.engine) as connection:
            text = connection.execute(
                select(_o.c.selection).where(_o.c.operation_id == operation_id)
            ).scalar_one_or_none()
        try:
            role = json.loads(text or "{}").get("role")
        except ValueError:
            return None
        return role if isinstance(role, str) else None

    def pending_items(self, operation_id: int, *, after: int | None, limit: int) -> list[int]:
        """The next `limit` items not yet handled, by execution id, after `after`."""
        query = (
            select(_t.c.job_execution_id)
            .where(_t.c.operation_id == operation_id, _t.c.outcome.is_(None))
            .order_by(_t.c.job_execution_id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(_t.c.job_execution_id > after)
        with read_connection(self.engine) as connection:
            return list(connection.execute(query).scalars())

    def item_outcomes(self, operation_id: int) -> dict[int, tuple[str | None, int | None]]:
        """Every item's outcome and new execution (tests, small operations)."""
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                select(_t.c.job_execution_id, _t.c.outcome, _t.c.new_job_execution_id).where(
                    _t.c.operation_id == operation_id
                )
            ).all()
        return {row[0]: (row[1], row[2]) for row in rows}

    # -- handling items ------------------------------------------------------------------

    @staticmethod
    def _mark(
        connection: Connection,
        operation_id: int,
        execution_id: int,
        outcome: str,
        *,
        reason: str | None = None,
        new_execution_id: int | None = None,
    ) -> bool:
        result = connection.execute(
            update(_t)
            .where(
                _t.c.operation_id == operation_id,
                _t.c.job_execution_id == execution_id,
                _t.c.outcome.is_(None),
            )
            .values(
                outcome=outcome,
                reason=reason,
                new_job_execution_id=new_execution_id,
                handled=utcnow(),
            )
        )
        return bool(result.rowcount)

    def item_marker(
        self, operation_id: int, execution_id: int, *, restart: bool
    ) -> Callable[[Connection, int], None]:
        """What the action's audit row writes with it (audit.auditing's `also`): the item
        marked DONE (a restart: with the execution it started), or ItemAlreadyHandled."""

        def mark(connection: Connection, written_id: int) -> None:
            if not self._mark(
                connection,
                operation_id,
                execution_id,
                DONE,
                new_execution_id=written_id if restart else None,
            ):
                raise ItemAlreadyHandled(
                    f"execution {execution_id} of bulk operation {operation_id} was handled already"
                )

        return mark

    def mark_item(
        self,
        operation_id: int,
        execution_id: int,
        outcome: str,
        event: AuditEvent,
        *,
        reason: str | None = None,
        message: str = "",
        new_execution_id: int | None = None,
    ) -> bool:
        """An item handled without a write of the action carrying its mark (refused, or
        nothing to change): marked with its audit row, in one transaction; False (and no
        row) if it was handled already."""
        with write_transaction(self.engine) as connection:
            if not self._mark(
                connection,
                operation_id,
                execution_id,
                outcome,
                reason=_reason_text(reason, message) if reason else None,
                new_execution_id=new_execution_id,
            ):
                return False
            audit_trail.record_event_in(connection, event)
        return True

    def flush(
        self,
        operation_id: int,
        node_id: str,
        *,
        done: int,
        failed: int,
        errors: Sequence[BulkError] | None,
    ) -> tuple[bool, bool]:
        """Add the carrier's counts since the last flush (and its first errors): whether
        the operation is still this node's and running, and whether a cancel was asked."""
        values: dict[str, Any] = {
            "done": _o.c.done + done,
            "failed": _o.c.failed + failed,
            "updated": utcnow(),
        }
        if errors is not None:
            values["errors"] = _errors_json(errors)
        with write_transaction(self.engine) as connection:
            row = connection.execute(
                update(_o)
                .where(
                    _o.c.operation_id == operation_id,
                    _o.c.node_id == node_id,
                    _o.c.state == BulkState.RUNNING.value,
                )
                .values(**values)
                .returning(_o.c.cancel_requested)
            ).first()
        if row is None:
            return False, False
        return True, row[0] is not None

    def finish(self, operation_id: int, node_id: str, state: BulkState) -> BulkOperation | None:
        """End the operation (DONE or CANCELLED) if this node still carries it."""
        now = utcnow()
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(_o)
                .where(
                    _o.c.operation_id == operation_id,
                    _o.c.node_id == node_id,
                    _o.c.state == BulkState.RUNNING.value,
                )
                .values(state=state.value, ended=now, updated=now)
            )
            row = connection.execute(select(_o).where(_o.c.operation_id == operation_id)).first()
        return None if row is None else _operation(row)

    def request_cancel(self, operation_id: int) -> BulkOperation | None:
        """Ask a running operation to end (its carrier reads it between items)."""
        now = utcnow()
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(_o)
                .where(
                    _o.c.operation_id == operation_id,
                    _o.c.state == BulkState.RUNNING.value,
                    _o.c.cancel_requested.is_(None),
                )
                .values(cancel_requested=now, updated=now)
            )
            row = connection.execute(select(_o).where(_o.c.operation_id == operation_id)).first()
        return None if row is None else _operation(row)

    # -- carrying on another node's operations ------------------------------------------

    def running_of(self, node_id: str) -> list[int]:
        with read_connection(self.engine) as connection:
            return list(
                connection.execute(
                    select(_o.c.operation_id).where(
                        _o.c.node_id == node_id, _o.c.state == BulkState.RUNNING.value
                    )
                ).scalars()
            )

    def orphaned(self) -> list[tuple[int, str | None]]:
        """Running operations whose node is gone (lost, left, or unknown), with that
        node: one read through the index of running operations."""
        present = exists().where(
            _n.c.node_id == _o.c.node_id, _n.c.lost.is_(None), _n.c.left.is_(None)
        )
        query = select(_o.c.operation_id, _o.c.node_id).where(
            _o.c.state == BulkState.RUNNING.value,
            or_(_o.c.node_id.is_(None), ~present),
        )
        with read_connection(self.engine) as connection:
            return [(int(row[0]), row[1]) for row in connection.execute(query).all()]

    def take_over(self, node_id: str, *, lost_node_id: str | None = None) -> list[int]:
        """Make this node the carrier of the running operations of `lost_node_id` (a node
        this node just recovered), or else of every running operation whose node is gone;
        their counters counted again from their items (the lost carrier's last counts may
        not have been flushed), and their first errors too. The ids taken.

        Each UPDATE names the carrier it replaces: of two nodes taking the same operation
        over at once, the second finds the row changed (PostgreSQL re-checks the condition
        on the row the first committed) and takes nothing."""
        now = utcnow()
        if lost_node_id is not None:
            candidates: list[tuple[int | None, str | None]] = [(None, lost_node_id)]
        else:
            candidates = list(self.orphaned())
        taken: list[int] = []
        with write_transaction(self.engine) as connection:
            for operation_id, old_node in candidates:
                which = [_o.c.state == BulkState.RUNNING.value]
                if operation_id is not None:
                    which.append(_o.c.operation_id == operation_id)
                which.append(
                    _o.c.node_id.is_(None) if old_node is None else _o.c.node_id == old_node
                )
                taken += connection.execute(
                    update(_o)
                    .where(*which)
                    .values(node_id=node_id, updated=now)
                    .returning(_o.c.operation_id)
                ).scalars()
            for operation_id in taken:
                self._recount(connection, operation_id)
        return sorted(taken)

    @staticmethod
    def _recount(connection: Connection, operation_id: int) -> None:
        counts: dict[str, int] = dict(
            connection.execute(
                select(_t.c.outcome, func.count())
                .where(_t.c.operation_id == operation_id, _t.c.outcome.is_not(None))
                .group_by(_t.c.outcome)
            ).all()
        )
        failures = connection.execute(
            select(_t.c.job_execution_id, _t.c.reason)
            .where(_t.c.operation_id == operation_id, _t.c.outcome == FAILED)
            .order_by(_t.c.handled, _t.c.job_execution_id)
            .limit(MAX_ERRORS)
        ).all()
        errors = []
        for execution_id, text in failures:
            reason, _, message = (text or "INTERNAL").partition(": ")
            errors.append(BulkError(int(execution_id), reason, message))
        connection.execute(
            update(_o)
            .where(_o.c.operation_id == operation_id)
            .values(
                done=int(counts.get(DONE, 0)),
                failed=int(counts.get(FAILED, 0)),
                errors=_errors_json(errors),
            )
        )
