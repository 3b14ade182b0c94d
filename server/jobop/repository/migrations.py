"""Creating and migrating the repository schema, versioned in JOBOP_SCHEMA_VERSION.

Every migration runs in one transaction that first takes a database-wide lock (an advisory
lock on PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite), so processes that start
at the same moment apply each migration exactly once; DDL is transactional on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, inspect, select, text

from jobop.domain import utcnow

from .engine import is_postgresql, write_transaction
from .schema import (
    BATCH_TABLES,
    OPERATOR_TABLES,
    SCHEMA_VERSION,
    audit,
    audit_indexes,
    indexes,
    job_execution,
    job_execution_seq,
    job_instance,
    job_instance_seq,
    legacy_job_seq,
    metadata,
    operator_indexes,
    schema_version,
    step_execution,
    step_execution_seq,
)

# pg_advisory_xact_lock key for schema changes ("jobop" in ASCII).
_SCHEMA_LOCK_KEY = 0x6A6F626F70


class SchemaVersionMismatch(RuntimeError):
    """The database's schema is older or newer than this version of jobop expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _create_spring_batch_schema(connection: Connection) -> None:
    # checkfirst: a database that Spring Batch's own DDL created is adopted, not rebuilt.
    metadata.create_all(connection, tables=[*BATCH_TABLES, schema_version], checkfirst=True)
    for index in indexes:
        index.create(connection, checkfirst=True)
    if not is_postgresql(connection):
        return
    # Sequences of tables that already existed were skipped by create_all.
    for sequence in (job_instance_seq, job_execution_seq, step_execution_seq, legacy_job_seq):
        sequence.create(connection, checkfirst=True)
    for sequence, table, column in (
        (job_instance_seq, job_instance, "job_instance_id"),
        (job_execution_seq, job_execution, "job_execution_id"),
        (step_execution_seq, step_execution, "step_execution_id"),
    ):
        # A column default lets plain SQL insert rows without naming the sequence.
        connection.execute(
            text(
                f"ALTER TABLE {table.name} ALTER COLUMN {column} "
                f"SET DEFAULT nextval('{sequence.name}')"
            )
        )
        # Adopted tables may already hold ids: start the sequence past them.
        highest = connection.execute(select(func.max(table.c[column]))).scalar()
        if highest is not None:
            connection.execute(
                text(
                    f"SELECT setval('{sequence.name}', greatest(:highest, last_value)) "
                    f"FROM {sequence.name}"
                ),
                {"highest": highest},
            )


def _create_operator_tables(connection: Connection) -> None:
    metadata.create_all(connection, tables=list(OPERATOR_TABLES), checkfirst=True)
    for index in operator_indexes:
        index.create(connection, checkfirst=True)


def _create_audit_table(connection: Connection) -> None:
    metadata.create_all(connection, tables=[audit], checkfirst=True)
    for index in audit_indexes:
        index.create(connection, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "Spring Batch 5 tables, sequences and jobop indexes", _create_spring_batch_schema),
    Migration(2, "JOBOP_REQUEST and JOBOP_LAUNCH_REQUEST of the operator", _create_operator_tables),
    Migration(3, "JOBOP_AUDIT, the trail of control actions", _create_audit_table),
)
assert MIGRATIONS[-1].version == SCHEMA_VERSION


def _lock(connection: Connection) -> None:
    if is_postgresql(connection):
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
    # SQLite: the transaction began with BEGIN IMMEDIATE and already holds the write lock.


def current_version(connection: Connection) -> int:
    """The schema version recorded in the database, 0 if none was ever recorded."""
    if not inspect(connection).has_table(schema_version.name):
        return 0
    version = connection.execute(select(func.max(schema_version.c.version))).scalar()
    return int(version or 0)


def _apply(connection: Connection, pending: list[Migration]) -> None:
    for migration in pending:
        migration.apply(connection)
        connection.execute(
            schema_version.insert().values(
                version=migration.version,
                description=migration.description,
                applied_at=utcnow(),
            )
        )


def _check_not_newer(version: int) -> None:
    if version > SCHEMA_VERSION:
        raise SchemaVersionMismatch(
            f"the database schema is at version {version}, newer than this jobop "
            f"understands ({SCHEMA_VERSION}): upgrade jobop"
        )


def init_schema(engine: Engine) -> None:
    """Create the schema if the database has none; idempotent and safe to race.

    An existing schema of an older version is left alone and reported: migrating is
    `jobop db upgrade`'s job, so that replicas of mixed versions never migrate by surprise.
    """
    with write_transaction(engine) as connection:
        _lock(connection)
        version = current_version(connection)
        _check_not_newer(version)
        if version == 0:
            _apply(connection, list(MIGRATIONS))
        elif version < SCHEMA_VERSION:
            raise SchemaVersionMismatch(
                f"the database schema is at version {version}, this jobop needs "
                f"{SCHEMA_VERSION}: run `jobop db upgrade`"
            )


def upgrade_schema(engine: Engine) -> int:
    """Apply the migrations the database lacks (all of them on an empty one); returns the
    version reached."""
    with write_transaction(engine) as connection:
        _lock(connection)
        version = current_version(connection)
        _check_not_newer(version)
        _apply(connection, [m for m in MIGRATIONS if m.version > version])
    return SCHEMA_VERSION
