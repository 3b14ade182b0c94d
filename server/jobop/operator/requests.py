"""Request-id idempotency for the launching operations (Start, StartNextInstance, Restart).

A retried request answers with the execution its first attempt created. The first attempt
reserves the id with an INSERT into JOBOP_REQUEST (committed at once, so that other
processes see it), creates the execution, then records its id. A concurrent attempt that
loses the INSERT waits for the id to be recorded. Within one process, attempts on one id
also queue on a lock, so that the common case (a client retrying against the same server)
never polls. A first attempt that fails releases its reservation, so that the retry tries
again (and usually meets the same error); a process that dies holding a reservation leaves
a row without an execution, which is taken over once it is older than `stale_after`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from jobop.domain import ConcurrentModification, JobExecution, JobopError, utcnow
from jobop.repository.schema import REQUEST_ID_LENGTH, request


class RequestIdReused(JobopError):
    """A request id already used for a different request."""

    reason = "REQUEST_ID_REUSED"


class RequestLedger:
    """Runs a launching operation at most once per request id; thread-safe."""

    def __init__(
        self,
        engine: Engine,
        *,
        wait_timeout: float = 30.0,
        stale_after: float = 120.0,
        poll_interval: float = 0.05,
    ) -> None:
        self._engine = engine
        self._wait_timeout = wait_timeout
        self._stale_after = timedelta(seconds=stale_after)
        self._poll_interval = poll_interval
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._locks_guard = threading.Lock()

    def run_once(
        self,
        request_id: str,
        operation: str,
        create: Callable[[], JobExecution],
        load: Callable[[int], JobExecution],
    ) -> JobExecution:
        """`create()` the first time `request_id` is seen; `load(id)` of its result after."""
        if not request_id or len(request_id) > REQUEST_ID_LENGTH:
            raise ValueError(f"a request id has 1 to {REQUEST_ID_LENGTH} characters")
        operation = operation[:400]
        with self._local_lock(request_id):
            deadline = time.monotonic() + self._wait_timeout
            while True:
                existing = self._reserve(request_id, operation)
                if existing is None:
                    return self._create(request_id, create)
                existing_operation, execution_id, created = existing
                if existing_operation != operation:
                    raise RequestIdReused(
                        f"request id {request_id!r} was used for a different request "
                        f"({existing_operation})"
                    )
                if execution_id is not None:
                    return load(execution_id)
                # Another process holds the reservation and is creating the execution.
                if utcnow() - created > self._stale_after:
                    self._take_over(request_id, created)
                    continue
                if time.monotonic() > deadline:
                    raise ConcurrentModification(
                        f"request {request_id!r} is still being processed; retry later"
                    )
                time.sleep(self._poll_interval)

    def purge(self, older_than: timedelta) -> int:
        """Forget request ids older than `older_than`; returns how many."""
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(request)
                .where(request.c.created < utcnow() - older_than)
                .returning(request.c.request_id)
            )
            return len(result.all())

    def _create(self, request_id: str, create: Callable[[], JobExecution]) -> JobExecution:
        try:
            execution = create()
        except BaseException:
            with self._engine.begin() as conn:
                conn.execute(
                    delete(request).where(
                        and_(
                            request.c.request_id == request_id,
                            request.c.job_execution_id.is_(None),
                        )
                    )
                )
            raise
        with self._engine.begin() as conn:
            conn.execute(
                update(request)
                .where(request.c.request_id == request_id)
                .values(job_execution_id=execution.id)
            )
        return execution

    def _reserve(self, request_id: str, operation: str) -> tuple[str, int | None, datetime] | None:
        """Insert the reservation; None if ours, else the existing row's fields."""
        values = {"request_id": request_id, "operation": operation, "created": utcnow()}
        with self._engine.begin() as conn:
            if self._insert_if_absent(conn, values):
                return None
            row = conn.execute(
                select(request.c.operation, request.c.job_execution_id, request.c.created).where(
                    request.c.request_id == request_id
                )
            ).one_or_none()
        if row is None:
            # Released between our INSERT and SELECT: try again.
            return self._reserve(request_id, operation)
        return (row.operation, row.job_execution_id, row.created)

    def _insert_if_absent(self, conn: Connection, values: dict[str, object]) -> bool:
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

    def _take_over(self, request_id: str, created: datetime) -> None:
        # Only the attempt whose DELETE matches the stale row retakes it; the others then
        # see the new reservation.
        with self._engine.begin() as conn:
            conn.execute(
                delete(request).where(
                    and_(
                        request.c.request_id == request_id,
                        request.c.job_execution_id.is_(None),
                        request.c.created == created,
                    )
                )
            )

    @contextmanager
    def _local_lock(self, request_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock, users = self._locks.get(request_id, (threading.Lock(), 0))
            self._locks[request_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._locks_guard:
                lock, users = self._locks[request_id]
                if users == 1:
                    del self._locks[request_id]
                else:
                    self._locks[request_id] = (lock, users - 1)
