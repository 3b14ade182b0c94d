"""The Spring Batch 5 tables (SQLAlchemy Core), plus jobop's own JOBOP_ tables.

Names are lower case on purpose: Spring's DDL uses unquoted upper-case names, which
PostgreSQL folds to lower case and SQLite matches case-insensitively, so the SQL people
already run (`select STATUS from BATCH_JOB_EXECUTION`) works unquoted on both. SQLAlchemy
would quote upper-case names, which would make them case-sensitive on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    FetchedValue,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

from jobop.domain import EXIT_MESSAGE_LENGTH

# Bumped with every migration in `migrations.py`; recorded in JOBOP_SCHEMA_VERSION.
SCHEMA_VERSION = 10

# SHORT_CONTEXT and PARAMETER_VALUE hold at most this many characters.
SHORT_CONTEXT_LENGTH = 2500
PARAMETER_VALUE_LENGTH = 2500
NAME_LENGTH = 100


# The zone TIMESTAMP columns are written in (a repository setting, see settings.py), kept on
# the engine's dialect because that is what a column type is handed when it converts.
_TIME_ZONE = "jobop_time_zone"


def set_time_zone(dialect: Dialect, zone: tzinfo) -> None:
    setattr(dialect, _TIME_ZONE, zone)


def time_zone_of(dialect: Dialect) -> tzinfo:
    zone: tzinfo = getattr(dialect, _TIME_ZONE, UTC)
    return zone


def to_column(value: datetime | None, zone: tzinfo) -> datetime | None:
    """An aware datetime as the naive wall-clock time in `zone` that the column holds."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(zone).replace(tzinfo=None)


def from_column(value: datetime | None, zone: tzinfo) -> datetime | None:
    """A column's naive time in `zone` as an aware UTC datetime."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


class _SqliteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME text as Spring Batch's JDBC driver for SQLite (xerial) reads it:
    `2024-03-15 10:30:05.123`, milliseconds (it takes any fraction for milliseconds, so
    SQLAlchemy's six digits would read 0.123456 s as 123 s). Also reads the epoch
    milliseconds that driver stores for a java.sql.Timestamp: an instant, so aware."""

    def bind_processor(self, dialect: Dialect) -> Any:
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            return f"{value:%Y-%m-%d %H:%M:%S}.{value.microsecond // 1000:03d}"

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        parse = super().result_processor(dialect, coltype)

        def process(value: Any) -> Any:
            if isinstance(value, int | float):
                return datetime.fromtimestamp(value / 1000, UTC)
            return parse(value) if parse is not None and value is not None else value

        return process


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python; in the database, naive TIMESTAMPs of the wall-clock
    time in the repository's zone (UTC unless set), as a Spring application whose JVM runs
    in that zone writes them."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())  # type: ignore[no-untyped-call]
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return to_column(value, time_zone_of(dialect))

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        assert value is None or isinstance(value, datetime)
        return from_column(value, time_zone_of(dialect))


# BIGINT as Spring declares it; on SQLite only "INTEGER PRIMARY KEY" aliases the rowid
# (64-bit there anyway), which is what makes ids auto-assigned.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()


# Ids come from the database: on PostgreSQL a column default naming the sequence that
# Spring Batch of the repository's version draws from (set by `sequences.py`), on SQLite
# the AUTOINCREMENT rowid, kept in step with Spring's BATCH_*_SEQ tables by triggers.
def _id_column(name: str) -> Column[int]:
    return Column(name, Id, primary_key=True, autoincrement=False, server_default=FetchedValue())


job_instance = Table(
    "batch_job_instance",
    metadata,
    _id_column("job_instance_id"),
    Column("version", BigInteger),
    Column("job_name", String(NAME_LENGTH), nullable=False),
    Column("job_key", String(32), nullable=False),
    UniqueConstraint("job_name", "job_key", name="job_inst_un"),
    sqlite_autoincrement=True,
)

job_execution = Table(
    "batch_job_execution",
    metadata,
    _id_column("job_execution_id"),
    Column("version", BigInteger),
    Column(
        "job_instance_id",
        BigInteger,
        ForeignKey("batch_job_instance.job_instance_id", name="job_inst_exec_fk"),
        nullable=False,
    ),
    Column("create_time", UtcDateTime, nullable=False),
    Column("start_time", UtcDateTime),
    Column("end_time", UtcDateTime),
    Column("status", String(10)),
    Column("exit_code", String(EXIT_MESSAGE_LENGTH)),
    Column("exit_message", String(EXIT_MESSAGE_LENGTH)),
    Column("last_updated", UtcDateTime),
    sqlite_autoincrement=True,
)

job_execution_params = Table(
    "batch_job_execution_params",
    metadata,
    Column(
        "job_execution_id",
        BigInteger,
        ForeignKey("batch_job_execution.job_execution_id", name="job_exec_params_fk"),
        nullable=False,
    ),
    Column("parameter_name", String(NAME_LENGTH), nullable=False),
    Column("parameter_type", String(NAME_LENGTH), nullable=False),
    Column("parameter_value", String(PARAMETER_VALUE_LENGTH)),
    Column("identifying", CHAR(1), nullable=False),
    CheckConstraint("identifying in ('Y', 'N')", name="jobop_exec_params_identifying_ck"),
)

step_execution = Table(
    "batch_step_execution",
    metadata,
    _id_column("step_execution_id"),
    Column("version", BigInteger, nullable=False),
    Column("step_name", String(NAME_LENGTH), nullable=False),
    Column(
        "job_execution_id",
        BigInteger,
        ForeignKey("batch_job_execution.job_execution_id", name="job_exec_step_fk"),
        nullable=False,
    ),
    Column("create_time", UtcDateTime, nullable=False),
    Column("start_time", UtcDateTime),
    Column("end_time", UtcDateTime),
    Column("status", String(10)),
    Column("commit_count", BigInteger),
    Column("read_count", BigInteger),
    Column("filter_count", BigInteger),
    Column("write_count", BigInteger),
    Column("read_skip_count", BigInteger),
    Column("write_skip_count", BigInteger),
    Column("process_skip_count", BigInteger),
    Column("rollback_count", BigInteger),
    Column("exit_code", String(EXIT_MESSAGE_LENGTH)),
    Column("exit_message", String(EXIT_MESSAGE_LENGTH)),
    Column("last_updated", UtcDateTime),
    sqlite_autoincrement=True,
)

job_execution_context = Table(
    "batch_job_execution_context",
    metadata,
    Column(
        "job_execution_id",
        BigInteger,
        ForeignKey("batch_job_execution.job_execution_id", name="job_exec_ctx_fk"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("short_context", String(SHORT_CONTEXT_LENGTH), nullable=False),
    Column("serialized_context", Text),
)

step_execution_context = Table(
    "batch_step_execution_context",
    metadata,
    Column(
        "step_execution_id",
        BigInteger,
        ForeignKey("batch_step_execution.step_execution_id", name="step_exec_ctx_fk"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("short_context", String(SHORT_CONTEXT_LENGTH), nullable=False),
    Column("serialized_context", Text),
)

schema_version = Table(
    "jobop_schema_version",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", String(200), nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

# Indexes beyond Spring's DDL (additive, so Spring's SQL is unaffected): the launch check,
# the step lookups and the running-execution scans must not grow with history.
RUNNING_STATUSES = ("STARTING", "STARTED", "STOPPING")
indexes = (
    Index("jobop_job_exec_instance_ix", job_execution.c.job_instance_id),
    Index("jobop_step_exec_job_exec_ix", step_execution.c.job_execution_id),
    Index("jobop_job_exec_params_exec_ix", job_execution_params.c.job_execution_id),
    Index(
        "jobop_job_exec_running_ix",
        job_execution.c.status,
        postgresql_where=job_execution.c.status.in_(RUNNING_STATUSES),
        sqlite_where=job_execution.c.status.in_(RUNNING_STATUSES),
    ),
)

# -- jobop's operator tables (migration 2) ------------------------------------------------

NODE_ID_LENGTH = 40

# A request id is client-chosen: long enough for a UUID with a prefix, short enough to index.
REQUEST_ID_LENGTH = 200

# One row per client request id of Start, StartNextInstance or Restart. The row is
# inserted (JOB_EXECUTION_ID null) before the execution is created, so that concurrent
# retries of one id collide on the primary key and only one of them launches.
request = Table(
    "jobop_request",
    metadata,
    Column("request_id", String(REQUEST_ID_LENGTH), primary_key=True),
    # What the request asked for ("start demoChunkJob <job key>"): reusing an id for a
    # different request is refused instead of silently answering with another execution.
    Column("operation", String(400), nullable=False),
    Column("job_execution_id", BigInteger),
    Column("created", UtcDateTime, nullable=False),
)

# One row per execution launched by a node (a `jobop serve` replica or `jobop run`): the
# launch request, then the claim on it. NODE_ID null: waiting for a node with a free worker
# to claim it (migration 3: claiming sets NODE_ID under FOR UPDATE SKIP LOCKED); set: the
# node that runs it, its owner, whose lease decides whether the execution still runs.
launch_request = Table(
    "jobop_launch_request",
    metadata,
    Column("job_execution_id", BigInteger, primary_key=True, autoincrement=False),
    Column("job_name", String(NAME_LENGTH), nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("node_id", String(NODE_ID_LENGTH)),
    Column("claimed", UtcDateTime),
    # Migration 6: the start's priority (higher is claimed first, then oldest first), and
    # when the execution was found running past its job's maximum duration (null: never).
    Column("priority", Integer, nullable=False, server_default="0"),
    Column("overdue", UtcDateTime),
)

OPERATOR_TABLES = (request, launch_request)
operator_indexes = (Index("jobop_request_created_ix", request.c.created),)

# -- nodes and leases (migration 4) -------------------------------------------------------

# Every process that runs or serves jobs. LAST_HEARTBEAT is written with the database's
# clock and judged with it (never two hosts' clocks compared); a node is live while it is
# younger than its LEASE_SECONDS. LOST: when a survivor recovered its executions; LEFT:
# when it deregistered on a clean exit.
node = Table(
    "jobop_node",
    metadata,
    Column("node_id", String(NODE_ID_LENGTH), primary_key=True),
    Column("host", String(255), nullable=False),
    Column("pid", BigInteger, nullable=False),
    # The process's start time in clock ticks since boot: tells a reused pid apart.
    Column("process_started", BigInteger),
    Column("started", UtcDateTime, nullable=False),
    Column("role", String(10), nullable=False),
    Column("version", String(40), nullable=False),
    Column("last_heartbeat", UtcDateTime, nullable=False),
    Column("lease_seconds", Float, nullable=False),
    Column("lost", UtcDateTime),
    Column("lost_by", String(NODE_ID_LENGTH)),
    Column("left", UtcDateTime),
)

node_indexes = (
    Index("jobop_launch_request_node_ix", launch_request.c.node_id),
    Index("jobop_node_heartbeat_ix", node.c.last_heartbeat),
)

# -- the audit trail (migration 5) --------------------------------------------------------

AUDIT_TEXT_LENGTH = 2500

# One row per control action (Start, StartNextInstance, Stop, Restart, Abandon, Recover):
# a successful one in the same transaction as its writes, a refused or failed one on its own.
audit = Table(
    "jobop_audit",
    metadata,
    Column("audit_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("principal", String(200), nullable=False),
    Column("role", String(20)),
    Column("action", String(40), nullable=False),
    Column("job_name", String(NAME_LENGTH)),
    Column("job_execution_id", BigInteger),
    Column("arguments", Text, nullable=False),
    Column("peer", String(200)),
    Column("node", String(200)),
    Column("succeeded", CHAR(1), nullable=False),
    Column("reason", String(100)),
    Column("message", String(AUDIT_TEXT_LENGTH)),
    sqlite_autoincrement=True,
)
audit_indexes = (
    Index("jobop_audit_occurred_ix", audit.c.occurred_at),
    Index("jobop_audit_job_ix", audit.c.job_name, audit.c.audit_id),
)

# Tables named by Spring Batch 5, in creation order (children after parents).
BATCH_TABLES = (
    job_instance,
    job_execution,
    job_execution_params,
    step_execution,
    job_execution_context,
    step_execution_context,
)

# -- the repository's settings (migration 3) -----------------------------------------------

# One row per setting (see settings.py): what every node of the repository must agree on.
setting = Table(
    "jobop_setting",
    metadata,
    Column("name", String(NAME_LENGTH), primary_key=True),
    Column("value", String(200), nullable=False),
)

# -- workload control (migration 6) ---------------------------------------------------------

# Run-time settings of a job, set by operators (docs/workload.md): each column null is "not
# set here" and the job's declared value holds. PAUSED is 'Y'/'N' (Spring's CHAR(1) style).
job_settings = Table(
    "jobop_job_settings",
    metadata,
    Column("job_name", String(NAME_LENGTH), primary_key=True),
    Column("max_concurrent", Integer),
    Column("concurrency_key", String(100)),
    Column("paused", CHAR(1)),
    Column("max_duration_seconds", Float),
    Column("stop_when_overdue", CHAR(1)),
    Column("updated", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# The queue: the launch requests waiting for a claim, in run order (a partial index: a
# claim, the queue and its counts read the waiting ones, never the claimed history).
workload_indexes = (
    Index(
        "jobop_launch_request_waiting_ix",
        launch_request.c.priority.desc(),
        launch_request.c.job_execution_id,
        postgresql_where=launch_request.c.node_id.is_(None),
        sqlite_where=launch_request.c.node_id.is_(None),
    ),
)

# -- schedules (migration 7) ----------------------------------------------------------------

# One row per schedule (docs/schedules.md). NEXT_FIRE is the claim cursor: the next nominal
# fire time not yet claimed, moved on by compare-and-set in the transaction that records
# the fires it passes. PARAMETERS: a JSON list of the parameters' text form. PAUSED 'Y'/'N'.
schedule = Table(
    "jobop_schedule",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("job_name", String(NAME_LENGTH), nullable=False),
    Column("cron", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False),
    Column("parameters", Text, nullable=False),
    Column("overlap", String(10), nullable=False),
    Column("catch_up", String(10), nullable=False),
    Column("max_catch_up", Integer, nullable=False),
    Column("paused", CHAR(1), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("next_fire", UtcDateTime),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("updated_by", String(200), nullable=False),
)

# One row per fire: its primary key is what makes a fire run once, whichever node claims it.
# OUTCOME: PENDING (claimed, no execution yet), LAUNCHED, SKIPPED, MISSED or REFUSED.
schedule_fire = Table(
    "jobop_schedule_fire",
    metadata,
    Column("schedule_name", String(100), primary_key=True),
    Column("fire_time", UtcDateTime, primary_key=True),
    Column("outcome", String(10), nullable=False),
    Column("job_execution_id", BigInteger),
    Column("reason", String(AUDIT_TEXT_LENGTH), nullable=False),
    Column("recorded", UtcDateTime, nullable=False),
    Column("node_id", String(NODE_ID_LENGTH)),
    Column("triggered", CHAR(1), nullable=False),
)
schedule_indexes = (
    Index("jobop_schedule_fire_recorded_ix", schedule_fire.c.recorded),
    Index(
        "jobop_schedule_fire_pending_ix",
        schedule_fire.c.schedule_name,
        postgresql_where=schedule_fire.c.outcome == "PENDING",
        sqlite_where=schedule_fire.c.outcome == "PENDING",
    ),
)

# -- partitions (migration 9) -------------------------------------------------------------

# One row per worker step execution of a partition step (its `<workerStep>:<partition>`
# BATCH_STEP_EXECUTION row), whether run on the manager's node or claimed by another.
# NODE_ID null and ENDED null: waiting for a node with a free worker (claimed FOR UPDATE
# SKIP LOCKED); NODE_ID set: the node that runs (or ran) it. ATTEMPT counts the step
# executions of this partition within the job execution (1 first; a dead node's partition
# is retried as a new step execution with ATTEMPT + 1, up to the step's partitionRetries).
partition = Table(
    "jobop_partition",
    metadata,
    Column("step_execution_id", BigInteger, primary_key=True, autoincrement=False),
    Column("job_execution_id", BigInteger, nullable=False),
    Column("manager_step_execution_id", BigInteger, nullable=False),
    Column("step_name", String(NAME_LENGTH), nullable=False),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("created", UtcDateTime, nullable=False),
    Column("node_id", String(NODE_ID_LENGTH)),
    Column("claimed", UtcDateTime),
    Column("ended", UtcDateTime),
)
partition_indexes = (
    Index("jobop_partition_job_execution_ix", partition.c.job_execution_id),
    Index("jobop_partition_node_ix", partition.c.node_id),
    Index(
        "jobop_partition_waiting_ix",
        partition.c.created,
        postgresql_where=(partition.c.node_id.is_(None) & partition.c.ended.is_(None)),
        sqlite_where=(partition.c.node_id.is_(None) & partition.c.ended.is_(None)),
    ),
)

# -- bulk operations (migration 10) -------------------------------------------------------

# One row per bulk operation (Stop, Abandon, Restart or Recover applied to a selection).
# ACTION: STOP|ABANDON|RESTART|RECOVER; STATE: RUNNING|DONE|CANCELLED. SELECTION: the request
# as JSON (filter, ids, force), kept for the audit and the answer. NODE_ID: the node carrying
# it on (another takes over an unfinished operation whose node is lost). ERRORS: JSON list
# of the first few refusals. CANCEL_REQUESTED: set by a cancel, read between executions.
bulk_operation = Table(
    "jobop_bulk_operation",
    metadata,
    Column("operation_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("action", String(10), nullable=False),
    Column("state", String(10), nullable=False),
    Column("selection", Text, nullable=False),
    Column("principal", String(200), nullable=False),
    Column("matched", BigInteger, nullable=False),
    Column("done", BigInteger, nullable=False, server_default="0"),
    Column("failed", BigInteger, nullable=False, server_default="0"),
    Column("errors", Text, nullable=False),
    Column("node_id", String(NODE_ID_LENGTH)),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("ended", UtcDateTime),
    Column("cancel_requested", UtcDateTime),
)

# The executions a bulk operation selected when it was accepted (its set never changes).
# OUTCOME null: not yet handled; DONE or FAILED (REASON says why) once handled, written in
# the transaction of the action where the action allows, so no execution is acted on twice.
# NEW_JOB_EXECUTION_ID: the execution a restart started.
bulk_operation_item = Table(
    "jobop_bulk_operation_item",
    metadata,
    Column("operation_id", BigInteger, primary_key=True, autoincrement=False),
    Column("job_execution_id", BigInteger, primary_key=True, autoincrement=False),
    Column("outcome", String(10)),
    Column("reason", String(AUDIT_TEXT_LENGTH)),
    Column("new_job_execution_id", BigInteger),
    Column("handled", UtcDateTime),
)
bulk_operation_indexes = (
    Index(
        "jobop_bulk_operation_running_ix",
        bulk_operation.c.node_id,
        postgresql_where=bulk_operation.c.state == "RUNNING",
        sqlite_where=bulk_operation.c.state == "RUNNING",
    ),
    Index(
        "jobop_bulk_operation_item_pending_ix",
        bulk_operation_item.c.operation_id,
        bulk_operation_item.c.job_execution_id,
        postgresql_where=bulk_operation_item.c.outcome.is_(None),
        sqlite_where=bulk_operation_item.c.outcome.is_(None),
    ),
)
