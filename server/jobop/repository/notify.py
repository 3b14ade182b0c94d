"""LISTEN/NOTIFY on the jobop channel of a PostgreSQL database: one connection per node.

`Listener` keeps one session connection LISTENing (reconnecting with a backoff when it
drops) and hands each payload to a callback on its own thread; `connected` says whether
notifications flow right now, so that callers fall back to polling while they do not.
`Announcer` sends payloads on a second connection of its own, never inside another
transaction: what it announces was committed before. Payloads carry ids and versions only,
at most `MAX_PAYLOAD` bytes each (PostgreSQL's limit is 8000).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from .nodes import CHANNEL

log = logging.getLogger(__name__)

MAX_PAYLOAD = 7900

_RECONNECT_PAUSES = (0.1, 0.25, 0.5, 1.0, 2.0)


def _session_connection(engine: Engine) -> Any:
    """A psycopg connection of the engine's database, outside its pool, autocommitting."""
    pooled = engine.raw_connection()
    pooled.detach()  # ours for good: LISTEN state must not go back to the pool
    connection = pooled.dbapi_connection
    assert connection is not None
    connection.autocommit = True
    return connection


def pack(entries: Sequence[str], prefix: str) -> list[str]:
    """`prefix e1 e2 …` payloads of at most MAX_PAYLOAD bytes holding all the entries."""
    payloads: list[str] = []
    current = prefix
    for entry in entries:
        if len(current) + 1 + len(entry) > MAX_PAYLOAD and current != prefix:
            payloads.append(current)
            current = prefix
        current += " " + entry
    if current != prefix:
        payloads.append(current)
    return payloads


class Listener:
    """LISTEN on the jobop channel; `on_payload(payload, sender_pid)` on the listener thread.

    `on_connect` runs after each (re)connection, `on_disconnect` after each loss: what was
    announced meanwhile is lost, so callers re-read what they follow when it comes back.
    """

    def __init__(
        self,
        engine: Engine,
        on_payload: Callable[[str, int], None],
        *,
        on_connect: Callable[[], None] | None = None,
        on_disconnect: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._on_payload = on_payload
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._connection: Any = None
        self._thread = threading.Thread(target=self._run, name="jobop-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                connection = _session_connection(self._engine)
            except Exception as error:
                pause = _RECONNECT_PAUSES[min(failures, len(_RECONNECT_PAUSES) - 1)]
                if failures == 0:
                    log.warning("cannot LISTEN for changes of other nodes: %s", error)
                failures += 1
                self._stop.wait(pause)
                continue
            try:
                connection.execute(f"LISTEN {CHANNEL}")
                self._connected.set()
                if failures:
                    log.info("listening for changes of other nodes again")
                failures = 0
                if self._on_connect is not None:
                    self._on_connect()
                while not self._stop.is_set():
                    for notify in connection.notifies(timeout=0.5):
                        self._dispatch(notify.payload, notify.pid)
            except Exception as error:
                if not self._stop.is_set():
                    log.warning("lost the LISTEN connection: %s", error)
                    failures += 1
            finally:
                was_connected = self._connected.is_set()
                self._connected.clear()
                with contextlib.suppress(Exception):
                    connection.close()
                if was_connected and self._on_disconnect is not None and not self._stop.is_set():
                    self._on_disconnect()
            self._stop.wait(_RECONNECT_PAUSES[min(failures, len(_RECONNECT_PAUSES) - 1)])

    def _dispatch(self, payload: str, pid: int) -> None:
        try:
            self._on_payload(payload, pid)
        except Exception:
            log.exception("a notification could not be handled: %r", payload[:200])


class Announcer:
    """Sends NOTIFY payloads on a connection of its own; thread-safe, reconnects lazily."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._connection: Any = None
        self.sent = 0  # messages sent, for the bench and tests
        self.backend_pid = 0  # of the current connection: its NOTIFYs are our own

    def send(self, payloads: Sequence[str]) -> bool:
        """NOTIFY each payload (one round trip for all); False if the database is away
        (nothing is queued: followers re-read on reconnect or poll)."""
        if not payloads:
            return True
        with self._lock:
            try:
                if self._connection is None or self._connection.closed:
                    self._connection = _session_connection(self._engine)
                    self.backend_pid = int(self._connection.info.backend_pid)
                self._connection.execute(
                    "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) AS p",
                    (CHANNEL, list(payloads)),
                )
                self.sent += len(payloads)
                return True
            except Exception as error:
                log.debug("could not NOTIFY: %s", error)
                if self._connection is not None:
                    with contextlib.suppress(Exception):
                        self._connection.close()
                self._connection = None
                return False

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(Exception):
                    self._connection.close()
                self._connection = None
