"""Creating and migrating the repository schema, versioned in JOBOP_SCHEMA_VERSION.

Every migration runs in one transaction that first takes a database-wide lock (an advisory
lock on PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite), so processes that start
at the same moment apply each migration exactly once; DDL is transactional on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, func, inspect, select, text
from sqlalchemy.schema import CreateIndex

from jobop.domain import utcnow

from . import sequences
from .contexts import ContextFormat
from .engine import is_postgresql, write_transaction
from .listing import listing_indexes
from .schema import (
    BATCH_TABLES,
    OPERATOR_TABLES,
    SCHEMA_VERSION,
    audit,
    audit_indexes,
    bulk_operation,
    bulk_operation_indexes,
    bulk_operation_item,
    indexes,
    job_settings,
    launch_request,
    metadata,
    node,
    node_indexes,
    operator_indexes,
    partition,
    partition_indexes,
    schedule,
    schedule_fire,
    schedule_indexes,
    schema_version,
    setting,
    workload_indexes,
)
from .settings import (
    RepositoryConfigurationError,
    RepositorySettings,
    read_settings,
    write_settings,
)

# pg_advisory_xact_lock key for schema changes ("jobop" in ASCII).
_SCHEMA_LOCK_KEY = 0x6A6F626F70


class SchemaVersionMismatch(RuntimeError):
    """The database's schema is older or newer than this version of jobop expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    # Applied with the settings the repository is created (or upgraded) with.
    apply: Callable[[Connection, RepositorySettings], None]


def _create_spring_batch_schema(connection: Connection, settings: RepositorySettings) -> None:
    # checkfirst: a database that Spring Batch's own DDL created is adopted, not rebuilt.
    metadata.create_all(connection, tables=[*BATCH_TABLES, schema_version], checkfirst=True)
    for index in indexes:
        index.create(connection, checkfirst=True)


def _create_operator_tables(connection: Connection, settings: RepositorySettings) -> None:
    metadata.create_all(connection, tables=list(OPERATOR_TABLES), checkfirst=True)
    for index in operator_indexes:
        index.create(connection, checkfirst=True)


def _record_settings(connection: Connection, settings: RepositorySettings) -> None:
    metadata.create_all(connection, tables=[setting], checkfirst=True)
    write_settings(connection, settings)
    sequences.install(connection, settings.spring_schema)


def _create_node_tables(connection: Connection, settings: RepositorySettings) -> None:
    # Migration 2 creates the table as it is declared now, columns included; an older one
    # gets them added, nullable: the rows already there are unclaimed requests.
    present = {c["name"] for c in inspect(connection).get_columns(launch_request.name)}
    for column in (launch_request.c.node_id, launch_request.c.claimed):
        if column.name not in present:
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(
                text(f"ALTER TABLE {launch_request.name} ADD COLUMN {column.name} {kind}")
            )
    metadata.create_all(connection, tables=[node], checkfirst=True)
    for index in node_indexes:
        index.create(connection, checkfirst=True)


def _create_audit_table(connection: Connection, settings: RepositorySettings) -> None:
    metadata.create_all(connection, tables=[audit], checkfirst=True)
    for index in audit_indexes:
        index.create(connection, checkfirst=True)


def _create_workload_tables(connection: Connection, settings: RepositorySettings) -> None:
    present = {c["name"] for c in inspect(connection).get_columns(launch_request.name)}
    for column in (launch_request.c.priority, launch_request.c.overdue):
        if column.name not in present:
            kind = column.type.compile(dialect=connection.dialect)
            if not column.nullable:  # the rows there already get the column's default
                kind += " NOT NULL DEFAULT 0"
            connection.execute(
                text(f"ALTER TABLE {launch_request.name} ADD COLUMN {column.name} {kind}")
            )
    metadata.create_all(connection, tables=[job_settings], checkfirst=True)
    for index in workload_indexes:
        index.create(connection, checkfirst=True)


def _create_schedule_tables(connection: Connection, settings: RepositorySettings) -> None:
    metadata.create_all(connection, tables=[schedule, schedule_fire], checkfirst=True)
    for index in schedule_indexes:
        index.create(connection, checkfirst=True)


def _create_listing_indexes(connection: Connection, settings: RepositorySettings) -> None:
    for index in listing_indexes:
        connection.execute(CreateIndex(index, if_not_exists=True))


def _create_partition_table(connection: Connection, settings: RepositorySettings) -> None:
    metadata.create_all(connection, tables=[partition], checkfirst=True)
    for index in partition_indexes:
        index.create(connection, checkfirst=True)


def _create_bulk_operation_tables(connection: Connection, settings: RepositorySettings) -> None:
    metadata.create_all(connection, tables=[bulk_operation, bulk_operation_item], checkfirst=True)
    for index in bulk_operation_indexes:
        index.create(connection, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "Spring Batch tables and jobop indexes", _create_spring_batch_schema),
    Migration(2, "JOBOP_REQUEST and JOBOP_LAUNCH_REQUEST of the operator", _create_operator_tables),
    Migration(
        3,
        "JOBOP_SETTING (context format, Spring schema) and the ids Spring's version draws",
        _record_settings,
    ),
    Migration(4, "JOBOP_NODE, and the claiming node of each launch request", _create_node_tables),
    Migration(5, "JOBOP_AUDIT, the trail of control actions", _create_audit_table),
    Migration(
        6,
        "JOBOP_JOB_SETTINGS, and the priority and overdue mark of each launch request",
        _create_workload_tables,
    ),
    Migration(7, "JOBOP_SCHEDULE and JOBOP_SCHEDULE_FIRE, the schedules", _create_schedule_tables),
    Migration(
        8,
        "indexes of the filtered listing of executions (status, create time, parameter values)",
        _create_listing_indexes,
    ),
    Migration(9, "JOBOP_PARTITION, the partitions of partition steps", _create_partition_table),
    Migration(
        10,
        "JOBOP_BULK_OPERATION and its items, the bulk operations on executions",
        _create_bulk_operation_tables,
    ),
)
assert MIGRATIONS[-1].version == SCHEMA_VERSION


def lock_schema(connection: Connection) -> None:
    if is_postgresql(connection):
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
    # SQLite: the transaction began with BEGIN IMMEDIATE and already holds the write lock.


def current_version(connection: Connection) -> int:
    """The schema version recorded in the database, 0 if none was ever recorded."""
    if not inspect(connection).has_table(schema_version.name):
        return 0
    version = connection.execute(select(func.max(schema_version.c.version))).scalar()
    return int(version or 0)


def _apply(connection: Connection, pending: list[Migration], settings: RepositorySettings) -> None:
    for migration in pending:
        migration.apply(connection, settings)
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


def _new_settings(
    connection: Connection,
    context_format: ContextFormat | None,
    spring_schema: int | None,
    time_zone: str | None = None,
) -> RepositorySettings:
    """Settings for a repository that records none yet: as asked, else the defaults, with
    the Spring schema that Spring's own scripts may already have created."""
    recorded = read_settings(connection)  # the defaults, unless recorded
    wanted = recorded.spring_schema if spring_schema is None else spring_schema
    return RepositorySettings(
        context_format=context_format or recorded.context_format,
        spring_schema=sequences.check_spring_schema(
            connection, wanted, explicit=spring_schema is not None
        ),
        time_zone=time_zone or recorded.time_zone,
    )


def init_schema(
    engine: Engine,
    *,
    context_format: ContextFormat | None = None,
    spring_schema: int | None = None,
    time_zone: str | None = None,
) -> RepositorySettings:
    """Create the schema if the database has none; idempotent and safe to race. Returns
    the repository's settings.

    `context_format`, `spring_schema` and `time_zone` (None: the default, or what Spring's
    scripts created) are recorded in a new repository; an existing one that records others is
    refused, since every node must write what the others read. An existing schema of an
    older version is left alone and reported: migrating is `jobop db upgrade`'s job, so
    that replicas of mixed versions never migrate by surprise.
    """
    with write_transaction(engine) as connection:
        lock_schema(connection)
        version = current_version(connection)
        _check_not_newer(version)
        if version == 0:
            settings = _new_settings(connection, context_format, spring_schema, time_zone)
            _apply(connection, list(MIGRATIONS), settings)
            return settings
        if version < SCHEMA_VERSION:
            raise SchemaVersionMismatch(
                f"the database schema is at version {version}, this jobop needs "
                f"{SCHEMA_VERSION}: run `jobop db upgrade`"
            )
        settings = read_settings(connection)
    _check_recorded(settings, context_format, spring_schema, time_zone)
    return settings


def _check_recorded(
    settings: RepositorySettings,
    context_format: ContextFormat | None,
    spring_schema: int | None,
    time_zone: str | None,
) -> None:
    if time_zone is not None and time_zone != settings.time_zone:
        raise RepositoryConfigurationError(
            f"the repository writes times in {settings.time_zone}, not {time_zone}: every "
            "node must use the recorded zone"
        )
    if context_format is not None and context_format is not settings.context_format:
        raise RepositoryConfigurationError(
            f"the repository writes execution contexts as {settings.context_format.value}, "
            f"not {context_format.value}: every node must use the recorded format"
        )
    if spring_schema is not None and spring_schema != settings.spring_schema:
        raise RepositoryConfigurationError(
            f"the repository has Spring Batch {settings.spring_schema}'s schema, not "
            f"{spring_schema}'s"
            + (
                ": migrate it with `jobop db upgrade --spring-schema 6`"
                if spring_schema == 6
                else ""
            )
        )


def upgrade_schema(engine: Engine, *, spring_schema: int | None = None) -> int:
    """Apply the migrations the database lacks (all of them on an empty one) and, with
    `spring_schema=6`, migrate a Spring Batch 5 schema to 6 as Spring's
    migration-6.0 script does; returns the version reached."""
    with write_transaction(engine) as connection:
        lock_schema(connection)
        version = current_version(connection)
        _check_not_newer(version)
        pending = [m for m in MIGRATIONS if m.version > version]
        if pending:
            settings = _new_settings(connection, None, None)
            _apply(connection, pending, settings)
        settings = read_settings(connection)
        if spring_schema is not None and spring_schema != settings.spring_schema:
            if (settings.spring_schema, spring_schema) != (5, 6):
                raise RepositoryConfigurationError(
                    f"cannot migrate a Spring Batch {settings.spring_schema} schema to "
                    f"{spring_schema}: only 5 to 6 is a migration Spring Batch has"
                )
            sequences.migrate_5_to_6(connection)
            write_settings(connection, replace(settings, spring_schema=6))
    return SCHEMA_VERSION
