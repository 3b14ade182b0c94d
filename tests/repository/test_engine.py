"""Engine set-up: the drivers, isolation and SQLite modes the repository relies on."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobop.repository import create_engine, read_connection, write_transaction
from jobop.repository.engine import normalize_url
from sqlalchemy import text
from sqlalchemy.exc import OperationalError


def test_urls_select_our_drivers() -> None:
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgresql+psycopg://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///jobop.db").drivername == "sqlite+pysqlite"


def test_unsupported_databases_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unsupported database URL 'mysql://u:\\*\\*\\*@h/db'"):
        create_engine("mysql://u:secret@h/db")
    with pytest.raises(ValueError, match="in-memory SQLite"):
        create_engine("sqlite://")
    with pytest.raises(ValueError, match="in-memory SQLite"):
        create_engine("sqlite:///:memory:")


def test_transaction_settings(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        if engine.dialect.name == "postgresql":
            with write_transaction(engine) as connection:
                isolation = connection.execute(text("show transaction_isolation")).scalar()
            assert isolation == "read committed"
            return
        with read_connection(engine) as connection:
            pragmas = {
                name: connection.execute(text(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
        assert pragmas == {"journal_mode": "wal", "busy_timeout": 30_000, "foreign_keys": 1}
    finally:
        engine.dispose()


def test_sqlite_writes_take_the_write_lock_up_front(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.db'}", sqlite_busy_timeout_ms=100)
    try:
        with write_transaction(engine) as writer:
            writer.execute(text("select 1"))  # no write yet, but the lock is held
            with (
                pytest.raises(OperationalError, match="database is locked"),
                write_transaction(engine) as second,
            ):
                second.execute(text("select 1"))
            # Readers are not held up.
            with read_connection(engine) as reader:
                assert reader.execute(text("select 2")).scalar() == 2
    finally:
        engine.dispose()
