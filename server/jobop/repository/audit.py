"""JOBOP_AUDIT: the trail of control actions.

A successful action's row is written by the repository method that makes the action's
writes, in the same transaction (`record_in`), so that an action rolled back leaves no
row claiming success. The service announces the action with `auditing(event)`; the
method finds it in a context variable of the thread that serves the call, which keeps the
operator's signatures free of audit plumbing. Refused and failed actions are recorded on
their own (`AuditTrail.record`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, insert, select

from jobop.domain import utcnow

from .engine import read_connection, write_transaction
from .schema import AUDIT_TEXT_LENGTH, NAME_LENGTH, audit, job_execution, job_instance

# JSON of the request; a request is at most 1 MiB, the trail keeps its beginning.
AUDIT_ARGUMENTS_LENGTH = 20_000


@dataclass(frozen=True, slots=True)
class AuditEvent:
    principal: str
    role: str | None
    action: str
    arguments: str  # JSON, secrets masked
    peer: str | None = None
    node: str | None = None
    job_name: str | None = None
    execution_id: int | None = None
    succeeded: bool = True
    reason: str | None = None
    message: str | None = None
    occurred_at: datetime | None = None
    id: int | None = None

    def failed(self, reason: str, message: str) -> AuditEvent:
        return dataclasses.replace(self, succeeded=False, reason=reason, message=message)


@dataclass
class PendingAudit:
    event: AuditEvent
    written: bool = False
    # Written with the row, in the action's transaction, given the connection and the
    # execution the row names (a bulk operation marks its item handled: repository/bulk.py).
    # It may raise to roll the action back.
    also: Callable[[Connection, int], None] | None = None


_pending: ContextVar[PendingAudit | None] = ContextVar("jobop_pending_audit", default=None)


@contextmanager
def auditing(
    event: AuditEvent, *, also: Callable[[Connection, int], None] | None = None
) -> Iterator[PendingAudit]:
    """Announce the control action this thread is about to perform (and what to write
    with its row, `also`)."""
    pending = PendingAudit(event, also=also)
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)


def record_in(connection: Connection, execution_id: int) -> None:
    """Write the announced action's success row in the caller's transaction (a no-op when
    no action was announced: `jobop run`, the workers, the tests of the repository)."""
    current = _pending.get()
    if current is None or current.written:
        return
    values = _values(dataclasses.replace(current.event, execution_id=execution_id))
    values["job_name"] = _job_name_of(execution_id)
    connection.execute(insert(audit).values(**values))
    if current.also is not None:
        current.also(connection, execution_id)
    current.written = True


def record_event_in(connection: Connection, event: AuditEvent) -> None:
    """Write `event` in the caller's transaction, the job named from its execution where
    it names none."""
    values = _values(event)
    if event.execution_id is not None and event.job_name is None:
        values["job_name"] = _job_name_of(event.execution_id)
    connection.execute(insert(audit).values(**values))


def pending_event() -> PendingAudit | None:
    """The action this thread announced, if any (written or not)."""
    return _pending.get()


def record_job_in(connection: Connection, job_name: str) -> None:
    """Write the announced action's success row in the caller's transaction for an action
    on a whole job (its settings, pause, resume): the job's name, no execution id. A no-op
    when no action was announced."""
    current = _pending.get()
    if current is None or current.written:
        return
    event = dataclasses.replace(current.event, job_name=job_name, execution_id=None)
    connection.execute(insert(audit).values(**_values(event)))
    current.written = True


def current_principal() -> str | None:
    """Who performs the action this thread announced (None: no action announced)."""
    current = _pending.get()
    return None if current is None else current.event.principal


def pending_values(prefix: str) -> dict[str, object] | None:
    """The announced action's row as bind parameters named `prefix` + column (the launch
    statement of launch_batch writes it), or None when no action waits for its row;
    `mark_written` after."""
    return announced_values(_pending.get(), prefix)


@contextmanager
def announced(pending: PendingAudit | None) -> Iterator[None]:
    """Make `pending` this thread's announced action for a while (one entry of a batch of
    actions, each with its own row); None announces nothing."""
    token = _pending.set(pending)
    try:
        yield
    finally:
        _pending.reset(token)


def announced_values(pending: PendingAudit | None, prefix: str) -> dict[str, object] | None:
    """`pending_values` of `pending` rather than of the thread's announced action."""
    if pending is None or pending.written:
        return None
    values = _values(pending.event)
    occurred = values["occurred_at"]
    assert isinstance(occurred, datetime)
    values["occurred_at"] = occurred.astimezone(UTC).replace(tzinfo=None)
    if not prefix:  # the launch paths' (one per StartJobs entry): the columns as they are
        return values
    return {prefix + name: value for name, value in values.items()}


def mark_written() -> None:
    current = _pending.get()
    if current is not None:
        current.written = True


def _job_name_of(execution_id: int) -> object:
    # Stop, Abandon and Recover name only the execution: its job, read in the same statement.
    return (
        select(job_instance.c.job_name)
        .join(job_execution, job_execution.c.job_instance_id == job_instance.c.job_instance_id)
        .where(job_execution.c.job_execution_id == execution_id)
        .scalar_subquery()
    )


def _text(value: str | None, limit: int) -> str | None:
    """What a column can hold: a refused request's text may be anything (PostgreSQL's text
    takes no NUL, the columns have lengths), and the trail must still record it."""
    if value is None:
        return None
    return value.replace("\x00", "\\x00")[:limit] or None


def _values(event: AuditEvent) -> dict[str, object]:
    return {
        "occurred_at": event.occurred_at or utcnow(),
        "principal": _text(event.principal, 200) or "?",
        "role": _text(event.role, 20),
        "action": event.action,
        "job_name": _text(event.job_name, NAME_LENGTH),
        "job_execution_id": event.execution_id,
        "arguments": _text(event.arguments, AUDIT_ARGUMENTS_LENGTH) or "{}",
        "peer": _text(event.peer, 200),
        "node": _text(event.node, 200),
        "succeeded": "Y" if event.succeeded else "N",
        "reason": _text(event.reason, 100),
        "message": _text(event.message, AUDIT_TEXT_LENGTH),
    }


class AuditTrail:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, event: AuditEvent) -> str | None:
        """A row of its own (a refused or failed action, or one that wrote nothing); the
        job name it holds (read from the execution where the event named none)."""
        values = _values(event)
        with write_transaction(self.engine) as connection:
            if event.execution_id is not None and event.job_name is None:
                values["job_name"] = _job_name_of(event.execution_id)
            stored = insert(audit).values(**values).returning(audit.c.job_name)
            job_name: str | None = connection.execute(stored).scalar_one()
            return job_name

    def list_events(
        self,
        *,
        job_name: str | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEvent]:
        """Newest first; `before_id` continues after the previous page's last event."""
        query = select(audit).order_by(audit.c.audit_id.desc()).limit(limit)
        if job_name is not None:
            query = query.where(audit.c.job_name == job_name)
        if since is not None:
            query = query.where(audit.c.occurred_at >= since)
        if before_id is not None:
            query = query.where(audit.c.audit_id < before_id)
        with read_connection(self.engine) as connection:
            rows = connection.execute(query).all()
        return [
            AuditEvent(
                id=row.audit_id,
                occurred_at=row.occurred_at,
                principal=row.principal,
                role=row.role,
                action=row.action,
                job_name=row.job_name,
                execution_id=row.job_execution_id,
                arguments=row.arguments,
                peer=row.peer,
                node=row.node,
                succeeded=row.succeeded == "Y",
                reason=row.reason,
                message=row.message,
            )
            for row in rows
        ]
