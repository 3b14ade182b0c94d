"""JOBOP_REQUEST: the ledger of client request ids of the launching operations.

A first attempt reserves its id (an INSERT, committed at once so that other processes see
it), then records the execution it created; see `jobop.operator.requests.RequestLedger`
for the rules built on these statements.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jobop.domain import utcnow

from .engine import write_transaction
from .schema import request


class RequestRepository:
    """The statements of the request ledger; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def reserve(self, request_id: str, operation: str) -> tuple[str, int | None, datetime] | None:
        """Insert the reservation; None if ours, else the existing row's operation,
        execution id (None while its first attempt runs) and creation time."""
        values = {"request_id": request_id, "operation": operation, "created": utcnow()}
        with write_transaction(self.engine) as conn:
            if self._insert_if_absent(conn, values):
                return None
            row = conn.execute(
                select(request.c.operation, request.c.job_execution_id, request.c.created).where(
                    request.c.request_id == request_id
                )
            ).one_or_none()
        if row is None:
            # Released between our INSERT and SELECT: try again.
            return self.reserve(request_id, operation)
        return (row.operation, row.job_execution_id, row.created)

    @staticmethod
    def _insert_if_absent(conn: Connection, values: dict[str, object]) -> bool:
        # ON CONFLICT DO NOTHING on both databases: on PostgreSQL it waits for a concurrent
        # uncommitted insert of the same key, then does nothing; never an aborted transaction.
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(request)
            .values(values)
            .on_conflict_do_nothing()
            .returning(request.c.request_id)
        )
        # RETURNING, not rowcount: the driver may not report a row count (psycopg: -1).
        return conn.execute(statement).first() is not None

    def record(self, request_id: str, execution_id: int) -> None:
        """The reservation's first attempt created this execution."""
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(request)
                .where(request.c.request_id == request_id)
                .values(job_execution_id=execution_id)
            )

    def release(self, request_id: str, created: datetime | None = None) -> None:
        """Drop a reservation whose first attempt failed (so that a retry tries again), or,
        given its `created`, a stale one whose process died holding it: only the attempt
        whose DELETE matches the stale row retakes it; the others then see the new one."""
        unrecorded = and_(request.c.request_id == request_id, request.c.job_execution_id.is_(None))
        if created is not None:
            unrecorded = and_(unrecorded, request.c.created == created)
        with write_transaction(self.engine) as conn:
            conn.execute(delete(request).where(unrecorded))

    def purge(self, older_than: timedelta) -> int:
        """Forget request ids older than `older_than`; returns how many."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                delete(request)
                .where(request.c.created < utcnow() - older_than)
                .returning(request.c.request_id)
            )
            return len(result.all())
