"""Engines for the two supported databases and the transaction modes the repository uses.

SQLite: the standard sqlite3 module in WAL mode (a reader never waits for a writer), a busy
timeout (a writer waits for another instead of failing), foreign keys on, and write
transactions that start with BEGIN IMMEDIATE: they take the write lock up front, so two
writers never deadlock upgrading a read lock (which SQLite reports as an immediate
"database is locked", without waiting).

PostgreSQL: psycopg 3, READ COMMITTED; row locks, not isolation, make launches race-free.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

# The batch layer defines how its readers read without a transaction; these engines
# honour it (and the repository reads the same way).
from jobop.batch.store import READ_ONLY
from jobop.batch.store import read_connection as read_connection  # re-exported

log = logging.getLogger(__name__)

DEFAULT_SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str | URL) -> URL:
    """Pick our drivers: psycopg 3 for PostgreSQL, sqlite3 for SQLite."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+pysqlite")
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r}: "
        "use sqlite:///PATH or postgresql://USER@HOST/DB"
    )


def create_engine(
    url: str | URL,
    *,
    pool_size: int = 10,
    max_overflow: int = 20,
    sqlite_busy_timeout_ms: int = DEFAULT_SQLITE_BUSY_TIMEOUT_MS,
    echo: bool = False,
) -> Engine:
    """An engine set up for the job repository (see the module docstring)."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, pool_size, max_overflow, sqlite_busy_timeout_ms, echo)
    return sqlalchemy.create_engine(
        parsed,
        isolation_level="READ COMMITTED",
        pool_size=pool_size,
        max_overflow=max_overflow,
        # The most recently used connection first: its backend is warm and has the hot
        # statements prepared (psycopg prepares per connection, after 5 executions).
        pool_use_lifo=True,
        # A database that does not answer is unavailable after 5 s, not after TCP's minutes.
        connect_args={"connect_timeout": 5},
        echo=echo,
    )


def _sqlite_engine(
    url: URL, pool_size: int, max_overflow: int, busy_timeout_ms: int, echo: bool
) -> Engine:
    if url.database in (None, "", ":memory:"):
        raise ValueError(
            "an in-memory SQLite database cannot be shared by the server's threads: "
            "use a file, e.g. sqlite:///jobop.db"
        )
    engine = sqlalchemy.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        echo=echo,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # We emit BEGIN ourselves (below); sqlite3's legacy mode would BEGIN too late.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        _enable_wal(dbapi_connection, busy_timeout_ms / 1000)
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            return
        # Straight to the driver: a transaction boundary, not a statement to count.
        try:
            connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        except sqlite3.OperationalError as error:
            # Raised as SQLAlchemy raises every other driver error ("database is locked"
            # once the busy timeout has run out).
            raise OperationalError("BEGIN IMMEDIATE", None, error) from error

    _SQLITE_WRITE_LOCKS[engine] = (threading.RLock(), busy_timeout_ms / 1000)
    return engine


def _enable_wal(dbapi_connection: sqlite3.Connection, timeout: float) -> None:
    """Switch the database file to WAL (a lasting property of the file; a no-op once set).

    The switch needs an exclusive lock, and when other connections are opening the same new
    file SQLite can report "database is locked" at once instead of calling the busy
    handler: retry until the busy timeout runs out.
    """
    deadline = time.monotonic() + timeout
    pause = 0.002
    while True:
        try:
            (mode,) = dbapi_connection.execute("PRAGMA journal_mode = WAL").fetchone()
            break
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
    if str(mode).lower() != "wal":
        # E.g. a file system without shared memory: still correct, but readers wait.
        log.warning("SQLite database stays in journal_mode=%s: WAL is not available", mode)


def is_postgresql(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def is_database_unavailable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached (down, restarting, network),
    rather than that a statement was wrong: a retry later may succeed."""
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        # SQLite reports a busy database as OperationalError too: that is not an outage.
        return not isinstance(error.orig, sqlite3.Error)
    return isinstance(error, sqlalchemy.exc.TimeoutError)  # no pooled connection came


# SQLite engines -> the lock their write transactions take in this process first: a writer
# waiting for another thread of ours wakes as soon as it is free, instead of sleeping in
# SQLite's busy handler. Other processes are still waited for with the busy timeout.
_SQLITE_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def write_lock(engine: Engine) -> Iterator[None]:
    """Hold the engine's in-process write lock (SQLite; a no-op on PostgreSQL) for a write
    transaction begun inside the block."""
    entry = _SQLITE_WRITE_LOCKS.get(engine)
    if entry is None:
        yield
        return
    lock, timeout = entry
    # After the busy timeout, go on: BEGIN IMMEDIATE then fails as it would have.
    acquired = lock.acquire(timeout=timeout)
    try:
        yield
    finally:
        if acquired:
            lock.release()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that will write: BEGIN IMMEDIATE on SQLite, READ COMMITTED on PostgreSQL."""
    with write_lock(engine), engine.begin() as connection:
        yield connection
