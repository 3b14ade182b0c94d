"""Bulk operations' runner: each running operation carried by this node has a thread that
applies its action to its items, one execution at a time, through the single action's
path of the JobOperator (stop, abandon, restart, recover), throttled per node.

Exactly once per execution: the item is marked handled in the transaction of the action
itself (its audit row carries the mark, repository/bulk.py), so a crash leaves either
both or neither; a carrier that takes an unfinished operation over finds the item handled
and moves on, or acts and marks it. A restart is also sent with the request id
`bulk-<operation>-<execution>`, so a retry answers the execution it started. An action
that writes nothing (abandoning an ABANDONED execution) or is refused is marked with its
audit row in one transaction of its own, only if the item is still unhandled.

The counters are flushed every `FLUSH_INTERVAL` seconds (one UPDATE, which also tells
whether a cancel was asked or another node took the operation over); a cancel asked on
this node is seen before the next item.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING

from jobop.domain import JobopError, NoSuchBulkOperation, utcnow
from jobop.domain.bulk import (
    DRY_RUN_IDS,
    MAX_ERRORS,
    BulkAction,
    BulkError,
    BulkOperation,
    BulkSelection,
    BulkState,
)
from jobop.repository import AuditEvent, is_database_unavailable
from jobop.repository.audit import auditing, pending_event
from jobop.repository.bulk import FAILED, BulkRepository, ItemAlreadyHandled

if TYPE_CHECKING:
    from .job_operator import JobOperator

log = logging.getLogger(__name__)

# Executions per second per node, all operations together (serve --bulk-rate).
DEFAULT_BULK_RATE = 200.0
# The counters are written at most this often while an operation runs.
FLUSH_INTERVAL = 0.1
# Executions in hand at once per operation: an action is mostly waiting for the database,
# so a few at a time keep it busy (and the throttle still bounds the rate).
WORKERS = 4
# Items read per query.
_BATCH = 500
# After a database error: try the item again after this long.
_RETRY_PAUSE = 1.0


class Throttle:
    """At most `rate` passes per second over all callers (0: no limit); a pass waits
    for its slot, or until `stop` is set."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def wait(self, stop: threading.Event) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            # No saving up: an idle node does not burst later.
            slot = max(self._next, now)
            self._next = slot + 1.0 / self.rate
        if slot > now:
            stop.wait(slot - now)


def request_id(operation_id: int, execution_id: int) -> str:
    """The request id of a bulk restart's execution (the request ledger answers a retry
    with the execution it started)."""
    return f"bulk-{operation_id}-{execution_id}"


class BulkRunner:
    def __init__(self, operator: JobOperator, *, rate: float = DEFAULT_BULK_RATE) -> None:
        self._operator = operator
        self.repository = BulkRepository(operator.repository.engine)
        self.throttle = Throttle(rate)
        self._lock = threading.Lock()
        self._threads: dict[int, threading.Thread] = {}
        self._cancelled: set[int] = set()
        self._stop = threading.Event()
        # Woken when an operation of this node ends (cancel waits for it).
        self._ended = threading.Condition(self._lock)

    @property
    def node_id(self) -> str:
        return self._operator.node_id

    # -- the API -------------------------------------------------------------------------

    def start(
        self,
        action: BulkAction,
        selection: BulkSelection,
        *,
        principal: str,
        dry_run: bool = False,
    ) -> BulkOperation:
        selection.check()
        if dry_run:
            matched, ids = self.repository.preview(selection, DRY_RUN_IDS)
            return BulkOperation(
                id=None,
                action=action,
                state=BulkState.DONE,
                selection=selection,
                principal=principal,
                matched=matched,
                dry_run=True,
                execution_ids=tuple(ids),
                node_id=self.node_id,
                created=utcnow(),
            )
        pending = pending_event()
        if pending is not None:
            event = pending.event
        else:
            event = AuditEvent(principal=principal, role=None, action=action.rpc, arguments="{}")
        operation = self.repository.create(
            action,
            selection,
            principal=principal,
            node_id=self.node_id,
            audit=event,
            role=event.role,
        )
        if pending is not None:
            pending.written = True  # the operation's row was written with it
        log.info(
            "bulk operation %s (%s) accepted by %s: %d executions",
            operation.id,
            action.value,
            principal,
            operation.matched,
        )
        if operation.running:
            self._carry(operation)
        return operation

    def get(self, operation_id: int) -> BulkOperation:
        operation = self.repository.get(operation_id)
        if operation is None:
            raise NoSuchBulkOperation(f"no bulk operation with id {operation_id}")
        return operation

    def cancel(self, operation_id: int, *, principal: str, wait: float = 2.0) -> BulkOperation:
        operation = self.repository.request_cancel(operation_id)
        if operation is None:
            raise NoSuchBulkOperation(f"no bulk operation with id {operation_id}")
        if not operation.running:
            return operation
        log.info("bulk operation %s: cancel asked by %s", operation_id, principal)
        with self._lock:
            self._cancelled.add(operation_id)
        # Its carrier (here, or on another node at its next flush) ends it before its
        # next execution: wait a little for that, to answer it CANCELLED.
        deadline = time.monotonic() + wait
        while operation.running and time.monotonic() < deadline:
            with self._lock:
                self._ended.wait(0.1)  # an operation carried here ended, or a moment
            operation = self.get(operation_id)
        return operation

    def watch(self, operation_id: int, *, interval: float = 0.2) -> Iterator[BulkOperation]:
        operation = self.get(operation_id)
        yield operation
        last = operation.progress()
        while operation.running and not self._stop.is_set():
            time.sleep(interval)
            operation = self.get(operation_id)
            if operation.progress() != last:
                last = operation.progress()
                yield operation

    # -- carrying operations on ---------------------------------------------------------

    def take_over(self, lost_node_id: str | None = None) -> list[int]:
        """Carry on the running operations of a node this node recovered (None: of every
        node that is gone); the ids taken."""
        if self._stop.is_set():
            return []
        if lost_node_id is None and not self.repository.orphaned():
            return []  # a read, not a write, every heartbeat
        taken = self.repository.take_over(self.node_id, lost_node_id=lost_node_id)
        for operation_id in taken:
            log.warning(
                "bulk operation %s: its node %s is gone; carried on by node %s",
                operation_id,
                lost_node_id or "(gone)",
                self.node_id,
            )
            operation = self.repository.get(operation_id)
            if operation is not None:
                self._carry(operation)
        return taken

    def close(self, timeout: float = 5.0) -> None:
        """Stop carrying (shutdown): each thread ends after its item, its counts flushed;
        the operations stay RUNNING for another node (or this one's next start)."""
        self._stop.set()
        with self._lock:
            threads = list(self._threads.values())
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def carried(self) -> list[int]:
        with self._lock:
            return sorted(self._threads)

    def _carry(self, operation: BulkOperation) -> None:
        assert operation.id is not None
        with self._lock:
            if operation.id in self._threads or self._stop.is_set():
                return
            thread = threading.Thread(
                target=self._run,
                args=(operation,),
                name=f"jobop-bulk-{operation.id}",
                daemon=True,
            )
            self._threads[operation.id] = thread
        thread.start()

    def _run(self, operation: BulkOperation) -> None:
        assert operation.id is not None
        try:
            _Carrier(self, operation).run()
        except Exception:
            log.exception("bulk operation %s: its runner failed", operation.id)
        finally:
            with self._lock:
                self._threads.pop(operation.id, None)
                self._cancelled.discard(operation.id)
                self._ended.notify_all()

    def cancelled_here(self, operation_id: int) -> bool:
        with self._lock:
            return operation_id in self._cancelled


class _Carrier:
    """One operation's run on this node."""

    def __init__(self, runner: BulkRunner, operation: BulkOperation) -> None:
        assert operation.id is not None
        self.runner = runner
        self.operator = runner._operator
        self.repository = runner.repository
        self.operation = operation
        self.id = operation.id
        self.errors: list[BulkError] = list(operation.errors)
        self.errors_changed = False
        self.counts = threading.Lock()  # the counters, updated by the workers
        self.done = 0
        self.failed = 0
        self.flushed_at = time.monotonic()
        self.role = self.repository.role_of(self.id)

    def run(self) -> None:
        stop = self.runner._stop
        cancel = self.operation.cancel_requested
        after: int | None = None
        with ThreadPoolExecutor(WORKERS, thread_name_prefix=f"jobop-bulk-{self.id}") as pool:
            in_flight: set[Future[bool]] = set()
            while not cancel and not stop.is_set():
                items = self.repository.pending_items(self.id, after=after, limit=_BATCH)
                if not items:
                    if in_flight:
                        in_flight = self._settle(in_flight, 0)
                        continue  # those in hand may have left items unhandled
                    if after is None:
                        break  # every item handled
                    after = None  # items left after an error: once more from the start
                    continue
                for execution_id in items:
                    if stop.is_set() or self.runner.cancelled_here(self.id):
                        cancel = cancel or self.runner.cancelled_here(self.id)
                        break
                    self.runner.throttle.wait(stop)
                    if stop.is_set():
                        break
                    in_flight = self._settle(in_flight, WORKERS - 1)
                    in_flight.add(pool.submit(self._handle, execution_id))
                    after = execution_id
                    if time.monotonic() - self.flushed_at >= FLUSH_INTERVAL:
                        mine, asked = self._flush()
                        if not mine:
                            self._settle(in_flight, 0)
                            return  # another node carries it now
                        cancel = cancel or asked
                        if cancel:
                            break
            self._settle(in_flight, 0)
        mine, asked = self._flush()
        if not mine or stop.is_set():
            return
        state = BulkState.CANCELLED if (cancel or asked) else BulkState.DONE
        if state is BulkState.DONE and self.repository.pending_items(self.id, after=None, limit=1):
            return  # unreachable but for a bug: never end an operation half done
        ended = self.repository.finish(self.id, self.runner.node_id, state)
        if ended is not None:
            log.info(
                "bulk operation %s %s: %d done, %d failed of %d",
                self.id,
                ended.state.value,
                ended.done,
                ended.failed,
                ended.matched,
            )

    def _settle(self, in_flight: set[Future[bool]], at_most: int) -> set[Future[bool]]:
        """Wait until at most `at_most` items are in hand; after one that found the
        database away, pause a moment."""
        while len(in_flight) > at_most:
            finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
            if not all(future.result() for future in finished):
                self.runner._stop.wait(_RETRY_PAUSE)
        return in_flight

    def _flush(self) -> tuple[bool, bool]:
        with self.counts:
            done, failed = self.done, self.failed
            errors = list(self.errors) if self.errors_changed else None
            self.done = self.failed = 0
            self.errors_changed = False
        self.flushed_at = time.monotonic()
        try:
            return self.repository.flush(
                self.id, self.runner.node_id, done=done, failed=failed, errors=errors
            )
        except Exception as error:
            with self.counts:  # counted again at the next flush
                self.done += done
                self.failed += failed
                self.errors_changed = self.errors_changed or errors is not None
            if not is_database_unavailable(error):
                raise
            return True, False

    def _event(self, execution_id: int) -> AuditEvent:
        return AuditEvent(
            principal=self.operation.principal,
            role=self.role,
            action=self.operation.action.single_action,
            arguments=json.dumps({"executionId": execution_id, "operationId": self.id}),
            node=self.runner.node_id,
            execution_id=execution_id,
        )

    def _handle(self, execution_id: int) -> bool:
        """Act on one execution; False when the database went away (the item stays
        unhandled, for later)."""
        action = self.operation.action
        restart = action is BulkAction.RESTART
        event = self._event(execution_id)
        marker = self.repository.item_marker(self.id, execution_id, restart=restart)
        new_id: int | None = None
        try:
            with auditing(event, also=marker) as pending:
                new_id = self._act(action, execution_id)
        except ItemAlreadyHandled:
            return True  # its earlier carrier did it: counted by the takeover's recount
        except JobopError as error:
            if error.reason == "SHUTTING_DOWN":
                return False  # left for the node that carries it on
            message = str(error) or error.reason
            self._refused(execution_id, event, error.reason, message)
            return True
        except Exception as error:
            if is_database_unavailable(error):
                log.warning(
                    "bulk operation %s: the database went away at execution %s; trying again",
                    self.id,
                    execution_id,
                )
                return False
            log.exception("bulk operation %s: execution %s failed", self.id, execution_id)
            self._refused(execution_id, event, "INTERNAL", f"{type(error).__name__}: {error}")
            return True
        if pending.written or self.repository.mark_item(
            # Nothing written (an ABANDONED execution abandoned again): marked on its own.
            self.id,
            execution_id,
            "DONE",
            event,
            new_execution_id=new_id if restart else None,
        ):
            with self.counts:
                self.done += 1
        return True

    def _act(self, action: BulkAction, execution_id: int) -> int | None:
        operator = self.operator
        if action is BulkAction.STOP:
            operator.stop(execution_id)
        elif action is BulkAction.ABANDON:
            operator.abandon(execution_id)
        elif action is BulkAction.RECOVER:
            operator.recover(execution_id, force=self.operation.selection.force)
        else:
            return operator.restart(execution_id, request_id(self.id, execution_id)).id
        return None

    def _refused(self, execution_id: int, event: AuditEvent, reason: str, message: str) -> None:
        failed = event.failed(reason, message)
        if self.repository.mark_item(
            self.id, execution_id, FAILED, failed, reason=reason, message=message
        ):
            with self.counts:
                self.failed += 1
                if len(self.errors) < MAX_ERRORS:
                    self.errors.append(BulkError(execution_id, reason, message))
                    self.errors_changed = True
