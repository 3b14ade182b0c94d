"""Changes shared between nodes: this node's announcements out by NOTIFY, the others' in.

Out: every change published on this node's `ExecutionEvents` (after its commit) becomes an
`e ID:VERSION` entry on the jobop channel. Status transitions are due at once; progress
(chunk commits, status None) at most every `progress_interval` per execution (counted from
the last transition too), the latest version sent when the interval is up, so traffic
stays bounded however fast chunks commit. Entries due together share one NOTIFY, and a
node sends at most one NOTIFY per `send_gap` (10 ms; the first after a quiet spell goes at
once): what falls due sooner waits for the gap's end, so a burst of short jobs costs a
NOTIFY per gap rather than two per job. A start that this node runs itself is not
announced as STARTING (its STARTED follows at once); one left for another node is
announced by the `l` NOTIFY of its launch statement.

In: one LISTEN connection per node. An `e` entry from another node is published locally
without a snapshot (watchers read the state from the database); an `l` entry wakes the
claimer (a launch request waits); a `pw` entry (partitions wait for a claim) wakes it too,
and a `pe` entry (a partition ended) wakes the manager waiting for it. While LISTEN is
down, `ExecutionEvents.cross_process` is false and watchers poll the database instead;
they re-read once it is back, and `on_listening_changed` tells the claimer, which looks
for what waited meanwhile (and the partitions' managers, which read their rows again).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine

from jobop.repository.notify import Announcer, Listener, pack
from jobop.repository.partition_claims import parse_entries

from .events import ExecutionChange, ExecutionEvents

log = logging.getLogger(__name__)

DEFAULT_PROGRESS_INTERVAL = 0.1
# At most one NOTIFY per gap from a node (the first of a quiet spell goes at once).
DEFAULT_SEND_GAP = 0.01


class ChangeRelay:
    def __init__(
        self,
        engine: Engine,
        events: ExecutionEvents,
        *,
        progress_interval: float = DEFAULT_PROGRESS_INTERVAL,
        send_gap: float = DEFAULT_SEND_GAP,
        on_launch_waiting: Callable[[list[int]], None] | None = None,
        on_node_joined: Callable[[], None] | None = None,
        on_listening_changed: Callable[[], None] | None = None,
        audience: Callable[[], bool] | None = None,
    ) -> None:
        self._events = events
        self._on_listening_changed = on_listening_changed
        self._progress_interval = progress_interval
        self._send_gap = send_gap
        self._on_launch_waiting = on_launch_waiting
        self._on_node_joined = on_node_joined
        # `s NAME`: a schedule changed (the scheduler sets this to wake its loop).
        self.on_schedule_changed: Callable[[], None] | None = None
        # `pw J:S ...` partitions wait for a claim; `pe J:S ...` partitions ended (the
        # operator's partition workers and managers set these; step execution ids).
        self.on_partitions_waiting: Callable[[list[int]], None] | None = None
        self.on_partitions_ended: Callable[[list[int]], None] | None = None
        # Whether anyone else listens (other nodes live): a lone node announces nothing.
        self._audience = audience
        self._announcer = Announcer(engine)
        self._listener = Listener(
            engine,
            self._received,
            on_connect=lambda: self._listening(True),
            on_disconnect=lambda: self._listening(False),
        )
        self._cond = threading.Condition()
        self._due_now: dict[int, int] = {}  # execution id -> version, to send at once
        self._progress: dict[int, int] = {}  # coalesced progress, sent when its time comes
        self._last_progress: dict[int, float] = {}  # when progress was last sent, per id
        self._closed = False
        self._thread = threading.Thread(target=self._send_loop, name="jobop-notify", daemon=True)
        events.add_observer(self._observe)

    @property
    def messages_sent(self) -> int:
        return self._announcer.sent

    @property
    def listening(self) -> bool:
        return self._listener.connected

    def start(self, connect_timeout: float = 5.0) -> None:
        self._thread.start()
        self._listener.start()
        if not self._listener.wait_connected(connect_timeout):
            log.warning("not listening for other nodes' changes yet: watchers poll meanwhile")

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._listener.close()
        self._announcer.close()

    def _listening(self, connected: bool) -> None:
        self._events.set_cross_process(connected)
        if self._on_listening_changed is not None:
            self._on_listening_changed()

    # -- out ------------------------------------------------------------------------------

    def announce_node(self, node_id: str) -> None:
        """`n ID`: a node joined, so that lone nodes start announcing their changes."""
        self._announcer.send([f"n {node_id}"])

    def _observe(self, change: ExecutionChange) -> None:
        if self._audience is not None and not self._audience():
            return
        with self._cond:
            # Entries already due: the sender was woken for them and takes this one along.
            wake = not self._due_now
            if change.status is not None:
                self._due_now[change.execution_id] = change.version
                self._progress.pop(change.execution_id, None)
                if change.status.is_running:
                    # Progress right after a transition waits its interval: a job that
                    # ends within it costs no progress message at all.
                    self._last_progress[change.execution_id] = time.monotonic()
                else:
                    self._last_progress.pop(change.execution_id, None)
            else:
                self._progress[change.execution_id] = change.version
            if wake:
                self._cond.notify()

    def _send_loop(self) -> None:
        sent_at = float("-inf")
        while True:
            with self._cond:
                entries = self._next_entries(sent_at)
            if entries is None:
                return
            self._announcer.send(pack(entries, "e"))
            sent_at = time.monotonic()

    def _next_entries(self, sent_at: float) -> list[str] | None:
        """Wait for entries to send (the condition held), `send_gap` after the last NOTIFY
        at the earliest; None once closed with none left."""
        while True:
            now = time.monotonic()
            gap_left = sent_at + self._send_gap - now
            if gap_left <= 0 or self._closed:
                entries, wait = self._take_due(now)
                if entries:
                    return entries
                if self._closed:
                    return None
            else:
                wait = gap_left if self._due_now or self._progress else None
            self._cond.wait(wait)

    def _take_due(self, now: float) -> tuple[list[str], float | None]:
        """Entries to send now, and how long until the next coalesced one is due."""
        due = dict(self._due_now)
        self._due_now.clear()
        wait: float | None = None
        for execution_id, version in list(self._progress.items()):
            ready_at = self._last_progress.get(execution_id, 0.0) + self._progress_interval
            if ready_at <= now:
                due[execution_id] = max(version, due.get(execution_id, version))
                del self._progress[execution_id]
                self._last_progress[execution_id] = now
            else:
                wait = ready_at - now if wait is None else min(wait, ready_at - now)
        if len(self._last_progress) > 10_000:
            self._last_progress.clear()  # executions long gone; the worst case is one early send
        return [f"{execution_id}:{version}" for execution_id, version in due.items()], wait

    # -- in -------------------------------------------------------------------------------

    def _received(self, payload: str, sender_pid: int) -> None:
        kind, _, rest = payload.partition(" ")
        if kind == "e":
            if sender_pid == self._announcer.backend_pid:
                return  # our own announcement, already published here
            for entry in rest.split():
                execution_id, _, version = entry.partition(":")
                try:
                    self._events.publish(int(execution_id), None, int(version), local=True)
                except ValueError:
                    log.warning("malformed change announcement %r", entry)
        elif kind == "s":
            if self.on_schedule_changed is not None:
                self.on_schedule_changed()
        elif kind == "n":
            if sender_pid != self._announcer.backend_pid and self._on_node_joined is not None:
                self._on_node_joined()
        elif kind in ("pw", "pe"):
            try:
                steps = [step for _, step in parse_entries(rest)]
            except ValueError:
                log.warning("malformed partition announcement %r", payload[:200])
                return
            callback = self.on_partitions_waiting if kind == "pw" else self.on_partitions_ended
            if callback is not None:
                callback(steps)
        elif kind == "l":
            try:
                ids = [int(i) for i in rest.split()]
            except ValueError:
                log.warning("malformed launch announcement %r", payload[:200])
                return
            for waiting in ids:  # a new STARTING execution, for the watchers
                self._events.publish(waiting, None, 0, local=True)
            if self._on_launch_waiting is not None:
                self._on_launch_waiting(ids)
