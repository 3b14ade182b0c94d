"""In-process announcements of execution changes, level-triggered like a Kubernetes watch.

A change is announced only after it is committed, and carries ids and a version, never a
snapshot: a watcher reads the state it needs from the repository. Each subscription keeps
only the latest change per execution, so a slow watcher finds the newest state waiting for
it instead of a backlog. Publishers are worker threads; subscribers are asyncio tasks (or
threads), woken with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jobop.domain import BatchStatus, JobExecution

_MAX_TRACKED_VERSIONS = 10_000


@dataclass(frozen=True, slots=True)
class ExecutionChange:
    """One committed change to a job execution or to one of its step executions."""

    execution_id: int
    # None for a change announced by another node (its NOTIFY carries ids only).
    job_name: str | None
    # The job execution's VERSION as the publisher knew it; step commits keep it unchanged.
    version: int
    status: BatchStatus | None
    # Order of announcement in this process: a read started after `sequence` was issued
    # sees the change (it was committed before it was announced).
    sequence: int
    # The execution exactly as committed, converted by `ExecutionEvents.snapshotter` when
    # the publisher knew the whole execution and someone listened; watchers use it instead
    # of reading the repository again. None: read it.
    snapshot: Any = None


class Subscription:
    """A watcher's mailbox: at most one pending change per execution."""

    def __init__(
        self,
        events: ExecutionEvents,
        execution_id: int | None,
        job_name: str | None,
        loop: asyncio.AbstractEventLoop | None,
    ) -> None:
        self.execution_id = execution_id
        self.job_name = job_name
        self._events = events
        self._pending: dict[int, ExecutionChange] = {}
        self._loop = loop
        self._async_wakeup = asyncio.Event() if loop is not None else None
        self._thread_wakeup = threading.Event()
        # True once a wake-up is scheduled and not yet consumed: one callback per burst.
        self._signalled = False
        self.closed = False

    def matches(self, change: ExecutionChange) -> bool:
        if self.execution_id is not None:
            return change.execution_id == self.execution_id
        # A change from another node names no job: the watcher reads it and filters.
        return self.job_name is None or change.job_name in (None, self.job_name)

    def _offer(self, change: ExecutionChange) -> None:
        # Called with the events lock held.
        self._pending[change.execution_id] = change
        self._wake_locked()

    def interrupt(self) -> None:
        """Wake the waiter without a change (e.g. at shutdown): its `wait` returns early."""
        with self._events.lock:
            self._wake_locked()

    def _wake_locked(self) -> None:
        if self._signalled:
            return
        self._signalled = True
        self._thread_wakeup.set()
        if self._loop is not None and self._async_wakeup is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(self._async_wakeup.set)

    def drain(self) -> list[ExecutionChange]:
        """The pending changes (latest per execution), oldest announcement first."""
        with self._events.lock:
            changes = sorted(self._pending.values(), key=lambda change: change.sequence)
            self._pending.clear()
            self._signalled = False
            self._thread_wakeup.clear()
            if self._async_wakeup is not None:
                self._async_wakeup.clear()
        return changes

    async def wait(self, timeout: float | None) -> list[ExecutionChange]:
        """Wait up to `timeout` seconds for changes; an empty list means none came."""
        if self._async_wakeup is None:
            raise RuntimeError("this subscription was not made inside an event loop")
        changes = self.drain()
        if changes or self.closed:
            return changes
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._async_wakeup.wait(), timeout)
        return self.drain()

    def wait_sync(self, timeout: float | None) -> list[ExecutionChange]:
        """The blocking variant of `wait`, for threads."""
        changes = self.drain()
        if changes or self.closed:
            return changes
        self._thread_wakeup.wait(timeout)
        return self.drain()

    def close(self) -> None:
        self._events.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class ExecutionEvents:
    """Pub/sub of (execution id, version) changes within one process; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Converts a published JobExecution into the snapshot that changes carry (e.g. the
        # service's proto message); None: changes carry no snapshot.
        self.snapshotter: Callable[[JobExecution], Any] | None = None
        self._subscriptions: set[Subscription] = set()
        # The newest job execution version announced per running execution.
        self._versions: dict[int, int] = {}
        self._by_execution: dict[int, set[Subscription]] = {}
        self._sequence = itertools.count(1)
        self._last_sequence = 0
        # Called (outside the lock) with each change published here, not with those
        # relayed from other nodes (or kept local): how a node announces its changes to
        # the others.
        self._observers: list[Callable[[ExecutionChange], None]] = []
        # Whether changes made by other processes arrive as events (LISTEN is up); while
        # they do not, watchers poll the repository. `feed_epoch` grows at each switch.
        self.cross_process = False
        self.feed_epoch = 0

    def add_observer(self, observer: Callable[[ExecutionChange], None]) -> None:
        self._observers.append(observer)

    def set_cross_process(self, live: bool) -> None:
        """Switch watchers between events and polling for other processes' changes, and
        wake them all: they re-read what they follow (something may have been missed)."""
        with self.lock:
            self.cross_process = live
            self.feed_epoch += 1
            subscriptions = set(self._subscriptions)
            for watchers in self._by_execution.values():
                subscriptions |= watchers
            for subscription in subscriptions:
                subscription._wake_locked()

    @property
    def last_sequence(self) -> int:
        """The sequence number of the latest announcement (0 before the first)."""
        return self._last_sequence

    def publish(
        self,
        execution_id: int,
        job_name: str | None,
        version: int,
        status: BatchStatus | None = None,
        *,
        committed: JobExecution | None = None,
        local: bool = False,
    ) -> ExecutionChange:
        """Announce a committed change. `committed`: the whole execution as committed
        (statuses, versions and steps all current), to convert into the change's snapshot
        while the publisher's thread still holds it unchanged. `local`: not for the observers
        (a change another node announced, or one that other nodes need not hear of)."""
        snapshot = None
        snapshotter = self.snapshotter
        if (
            committed is not None
            and snapshotter is not None
            and (self._subscriptions or execution_id in self._by_execution)
        ):
            snapshot = snapshotter(committed)
        with self.lock:
            sequence = next(self._sequence)
            self._last_sequence = sequence
            # A snapshot older than a version already announced (another thread wrote
            # and announced in between) is dropped: watchers read the repository instead.
            newest = self._versions.get(execution_id, -1)
            if version < newest:
                snapshot = None
            elif status is not None and not status.is_running:
                self._versions.pop(execution_id, None)
            else:
                self._versions[execution_id] = version
                if len(self._versions) > _MAX_TRACKED_VERSIONS:
                    # Executions that never end here (run by another server): oldest out.
                    del self._versions[next(iter(self._versions))]
            change = ExecutionChange(execution_id, job_name, version, status, sequence, snapshot)
            for subscription in self._by_execution.get(execution_id, ()):
                subscription._offer(change)
            for subscription in self._subscriptions:
                if subscription.matches(change):
                    subscription._offer(change)
        if not local:
            for observer in self._observers:
                observer(change)
        return change

    def subscribe(
        self, *, execution_id: int | None = None, job_name: str | None = None
    ) -> Subscription:
        """Follow one execution, or every execution of one job, or (neither given) all.

        Made inside a running event loop, the subscription wakes that loop; otherwise use
        `wait_sync`.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        subscription = Subscription(self, execution_id, job_name, loop)
        with self.lock:
            if execution_id is not None:
                self._by_execution.setdefault(execution_id, set()).add(subscription)
            else:
                self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self.lock:
            subscription.closed = True
            self._subscriptions.discard(subscription)
            if subscription.execution_id is not None:
                watchers = self._by_execution.get(subscription.execution_id)
                if watchers is not None:
                    watchers.discard(subscription)
                    if not watchers:
                        del self._by_execution[subscription.execution_id]
            # Wake a waiter blocked on a closed subscription.
            subscription._thread_wakeup.set()

    def followed_executions(self) -> set[int]:
        """The ids of the executions followed one by one (WatchExecution)."""
        with self.lock:
            return set(self._by_execution)

    @property
    def subscriber_count(self) -> int:
        with self.lock:
            return len(self._subscriptions) + sum(len(s) for s in self._by_execution.values())

    @contextlib.contextmanager
    def subscription(
        self, *, execution_id: int | None = None, job_name: str | None = None
    ) -> Iterator[Subscription]:
        subscription = self.subscribe(execution_id=execution_id, job_name=job_name)
        try:
            yield subscription
        finally:
            subscription.close()
