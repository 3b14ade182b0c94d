"""What the watch streams share: snapshot reads, and one poll for other processes' changes.

However many streams follow an execution, each change costs one repository read and one
proto conversion: a watcher woken by announcement N reuses any read that started after N
was announced (such a read sees the change, which was committed before it was announced),
joins one in flight that qualifies, or starts a new one. Reads run on the service's thread
pool; the event loop only hands out finished messages.

Changes made by other processes on the same database arrive as events while LISTEN is up
(PostgreSQL); otherwise (SQLite, or LISTEN down) `ChangePoll` reads the running
executions once per interval for every stream of the process and announces what changed,
so that an idle stream costs nothing but its heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass

from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from jobop.domain import JobExecution
from jobop.operator.events import ExecutionEvents

from .handlers import RateLimitedLog

log = logging.getLogger(__name__)
_poll_failures = RateLimitedLog(log, burst=1, window=60.0)

# What a snapshot's identity is for change detection: the job execution's version and
# each step execution's id and version (chunk commits bump only the step's).
Fingerprint = tuple[int, int, tuple[tuple[int, int], ...]]

TERMINAL_STATUSES = frozenset(
    {
        pb.BATCH_STATUS_COMPLETED,
        pb.BATCH_STATUS_STOPPED,
        pb.BATCH_STATUS_FAILED,
        pb.BATCH_STATUS_ABANDONED,
        pb.BATCH_STATUS_UNKNOWN,
    }
)


def fingerprint(execution: pb.JobExecution) -> Fingerprint:
    return (
        execution.version,
        execution.status,
        tuple((step.id, step.version) for step in execution.step_executions),
    )


def is_terminal(execution: pb.JobExecution) -> bool:
    return execution.status in TERMINAL_STATUSES


@dataclass
class _Read:
    sequence: int  # the latest announcement made before the read started
    started: float  # time.monotonic() when it started
    future: asyncio.Future[pb.JobExecution]


@dataclass
class _Entry:
    users: int = 0
    done: _Read | None = None
    inflight: _Read | None = None


class SnapshotReader:
    """Reads of one execution's snapshot, shared between its watchers (event-loop only)."""

    def __init__(
        self,
        load: Callable[[int], pb.JobExecution],
        events: ExecutionEvents,
        executor: Executor,
    ) -> None:
        self._load = load
        self._events = events
        self._executor = executor
        self._entries: dict[int, _Entry] = {}
        self.reads = 0  # repository reads made, for tests and metrics

    @contextmanager
    def interest(self, execution_id: int) -> Iterator[None]:
        """Keep the execution's latest read cached while a watcher follows it."""
        entry = self._entries.setdefault(execution_id, _Entry())
        entry.users += 1
        try:
            yield
        finally:
            entry.users -= 1
            if entry.users == 0 and self._entries.get(execution_id) is entry:
                del self._entries[execution_id]

    @property
    def cached_executions(self) -> int:
        return len(self._entries)

    async def read(
        self,
        execution_id: int,
        after_sequence: int,
        not_before: float = 0.0,
        *,
        published: pb.JobExecution | None = None,
    ) -> pb.JobExecution:
        """A snapshot read that started after announcement `after_sequence` was made and
        no earlier than `not_before` (time.monotonic()); raises what the load raises.

        `published`: the snapshot announcement `after_sequence` carried (the state it
        committed): used instead of a repository read unless a read as new is cached."""
        entry = self._entries.get(execution_id)
        if entry is None:
            # A reader outside `interest` (a one-off read): nothing to share.
            entry = _Entry()
        if published is not None and not_before <= 0.0:
            done = entry.done
            if done is not None and done.sequence > after_sequence:
                return await asyncio.shield(done.future)
            future: asyncio.Future[pb.JobExecution] = asyncio.get_running_loop().create_future()
            future.set_result(published)
            entry.done = _Read(sequence=after_sequence, started=time.monotonic(), future=future)
            return published
        for candidate in (entry.done, entry.inflight):
            if (
                candidate is not None
                and candidate.sequence >= after_sequence
                and candidate.started >= not_before
            ):
                # shield: a cancelled watcher must not cancel a read others wait for.
                return await asyncio.shield(candidate.future)
        loop = asyncio.get_running_loop()
        read = _Read(
            sequence=self._events.last_sequence,
            started=time.monotonic(),
            future=loop.run_in_executor(self._executor, self._load, execution_id),
        )
        self.reads += 1
        entry.inflight = read

        def finished(future: asyncio.Future[pb.JobExecution]) -> None:
            if entry.inflight is read:
                entry.inflight = None
            if future.cancelled() or future.exception() is not None:
                return
            if entry.done is None or entry.done.sequence <= read.sequence:
                entry.done = read

        read.future.add_done_callback(finished)
        return await asyncio.shield(read.future)


def _state(execution: JobExecution) -> tuple[int, str, tuple[tuple[int, int], ...]]:
    # What `fingerprint` compares, of a domain execution (the overdue mark is counted in
    # the version it compares).
    steps = tuple((step.id or 0, step.version) for step in execution.step_executions)
    return execution.version + execution.overdue, execution.status.value, steps


class ChangePoll:
    """One periodic read, for all of this process's watch streams, of the executions they
    may follow: the running ones, those that were running at the last poll, and those
    followed by id. What changed since the last poll is announced as a local change, and
    the streams read it as they read any change (event-loop only).

    It runs while streams are open (`following`), every `interval()` seconds, and at once
    after `wake` (LISTEN came back or went down: what it missed is read now).
    """

    def __init__(
        self,
        load: Callable[[list[int]], list[JobExecution]],
        events: ExecutionEvents,
        executor: Executor,
        interval: Callable[[], float],
    ) -> None:
        self._load = load
        self._events = events
        self._executor = executor
        self._interval = interval
        self._seen: dict[int, tuple[int, str, tuple[tuple[int, int], ...]]] = {}
        self._users = 0
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self.polls = 0  # repository reads made, for tests

    @contextmanager
    def following(self) -> Iterator[None]:
        """Keep polling while the calling stream is open."""
        self._users += 1
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            yield
        finally:
            self._users -= 1
            if self._users == 0:
                self._wakeup.set()  # the task ends now rather than at its next poll

    def wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    async def _run(self) -> None:
        assert self._wakeup is not None
        try:
            while self._users:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._interval())
                self._wakeup.clear()
                if self._users:
                    await self._poll()
        finally:
            self._seen.clear()  # a later first poll announces everything afresh

    async def _poll(self) -> None:
        followed = sorted(set(self._seen) | self._events.followed_executions())
        try:
            executions = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._load, followed
            )
        except Exception as error:  # the database is away: the next poll tries again
            _poll_failures.warning("watch streams could not poll for changes: %s", error)
            return
        self.polls += 1
        seen = {}
        for execution in executions:
            state = _state(execution)
            if self._seen.get(execution.id) != state:
                self._events.publish(
                    execution.id,
                    execution.job_name,
                    execution.version,
                    execution.status,
                    local=True,
                )
            if execution.status.is_running:
                seen[execution.id] = state
        self._seen = seen
