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
from datetime import timedelta

from sqlalchemy import Engine

from jobop.domain import ConcurrentModification, JobExecution, JobopError, utcnow
from jobop.repository.requests import RequestRepository
from jobop.repository.schema import REQUEST_ID_LENGTH


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
        self._ledger = RequestRepository(engine)
        self._wait_timeout = wait_timeout
        self._stale_after = timedelta(seconds=stale_after)
        self._poll_interval = poll_interval
        self._locks = KeyedLocks()

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
        with self._locks.hold(request_id):
            deadline = time.monotonic() + self._wait_timeout
            while True:
                existing = self._ledger.reserve(request_id, operation)
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
                    self._ledger.release(request_id, created)
                    continue
                if time.monotonic() > deadline:
                    raise ConcurrentModification(
                        f"request {request_id!r} is still being processed; retry later"
                    )
                time.sleep(self._poll_interval)

    def purge(self, older_than: timedelta) -> int:
        """Forget request ids older than `older_than`; returns how many."""
        return self._ledger.purge(older_than)

    def _create(self, request_id: str, create: Callable[[], JobExecution]) -> JobExecution:
        try:
            execution = create()
        except BaseException:
            self._ledger.release(request_id)
            raise
        self._ledger.record(request_id, execution.id)
        return execution


class KeyedLocks:
    """One lock per key, made on first use and dropped when its last user leaves (so
    that keys seen once, such as request ids, do not pile up); thread-safe."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[threading.Lock, int]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)
