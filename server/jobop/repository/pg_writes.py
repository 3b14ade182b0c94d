"""PostgreSQL: the runner's frequent writes as single statements, one round trip each
(the merged ones are the unit of work's: see unit_of_work).

Each write of a job's life that involves several rows (the execution turning STARTED with
its first step, a step's counters with its context, the last step's end with the job's)
is one data-modifying CTE sent in autocommit: no BEGIN, no COMMIT, and the statement is
atomic on its own. Later parts read earlier parts' RETURNING rows, so when an optimistic
lock fails nothing downstream is written and the final row is missing; the caller then
raises as the transactional path would. SQLite has no DML in CTEs and keeps that path.

Parameters are cast where PostgreSQL cannot infer a type (a NULL in an INSERT ... SELECT).

They are sent by `DriverStatements`, on the psycopg connection under a pooled SQLAlchemy
one: these are the writes every execution makes, and SQLAlchemy's machinery around one
statement (the isolation level switched there and back, the result wrapped) costs more
CPU than psycopg's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, tzinfo
from typing import Any

import psycopg
import sqlalchemy.exc
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection

from jobop.domain import (
    BatchStatus,
    ExecutionContext,
    JobExecution,
    StepExecution,
    storable_exit_status,
)

from . import rows
from .contexts import ContextFormat
from .schema import time_zone_of, to_column

# The columns of rows.step_values, with the types to cast their parameters to.
_STEP_COLUMNS = (
    ("start_time", "timestamp"),
    ("end_time", "timestamp"),
    ("status", "varchar"),
    ("commit_count", "bigint"),
    ("read_count", "bigint"),
    ("filter_count", "bigint"),
    ("write_count", "bigint"),
    ("read_skip_count", "bigint"),
    ("write_skip_count", "bigint"),
    ("process_skip_count", "bigint"),
    ("rollback_count", "bigint"),
    ("exit_code", "varchar"),
    ("exit_message", "varchar"),
    ("last_updated", "timestamp"),
)
_STEP_SET = ", ".join(f"{name} = %(s_{name})s::{kind}" for name, kind in _STEP_COLUMNS)

# The job execution's optimistic-lock update, merging a concurrent stop request exactly as
# job_repository._UPDATE_JOB_EXECUTION does.
_JOB_UPDATE = """\
j AS (
    UPDATE batch_job_execution SET version = version + 1,
        status = CASE WHEN version = %(j_version)s THEN %(j_status)s::varchar
                      ELSE %(j_merged_status)s::varchar END,
        start_time = %(j_start_time)s::timestamp, end_time = %(j_end_time)s::timestamp,
        exit_code = %(j_exit_code)s::varchar, exit_message = %(j_exit_message)s::varchar,
        create_time = %(j_create_time)s::timestamp, last_updated = %(j_last_updated)s::timestamp
    WHERE job_execution_id = %(j_id)s AND (version = %(j_version)s OR status = 'STOPPING'){guard}
    RETURNING version, status
)"""

_STEP_UPDATE = f"""\
s AS (
    UPDATE batch_step_execution SET version = version + 1, {_STEP_SET}
    WHERE step_execution_id = %(s_id)s AND version = %(s_version)s
    RETURNING version
)"""


def _context_upsert(name: str, table: str, key: str, source: str, prefix: str) -> str:
    """A CTE writing a context row for each row of `source` (so: only if it was updated).
    An upsert, because a database written by Spring's tooling may lack the row."""
    return f"""\
{name} AS (
    INSERT INTO {table} ({key}, short_context, serialized_context)
    SELECT {prefix}id, %({prefix}short_context)s::varchar, %({prefix}serialized_context)s::text
    FROM (SELECT %({prefix}id)s::bigint AS {prefix}id FROM {source}) AS target
    ON CONFLICT ({key}) DO UPDATE SET short_context = excluded.short_context,
        serialized_context = excluded.serialized_context
)"""


_JOB_CONTEXT = _context_upsert("jc", "batch_job_execution_context", "job_execution_id", "j", "j_")
_STEP_CONTEXT = _context_upsert(
    "sc", "batch_step_execution_context", "step_execution_id", "s", "s_"
)


def _with(*parts: str) -> str:
    return "WITH " + ",\n".join(parts) + "\n"


def _variants(build: Any) -> dict[tuple[bool, bool], str]:
    """The statement for each (job context dirty, step context dirty)."""
    return {(job, step): build(job, step) for job in (False, True) for step in (False, True)}


# The step's counters (and context), returning its job's status as of the statement.
_UPDATE_STEP = {
    dirty: _with(_STEP_UPDATE, *([_STEP_CONTEXT] if dirty else []))
    + "SELECT s.version, (SELECT status FROM batch_job_execution"
    " WHERE job_execution_id = %(j_id)s) AS job_status FROM s"
    for dirty in (False, True)
}

# STARTING -> STARTED (or whatever the runner writes) and, unless that merged a stop
# request, the first step and its context.
_INSERT_STEP = f"""\
s AS (
    INSERT INTO batch_step_execution (version, step_name, job_execution_id,
        create_time, {", ".join(name for name, _ in _STEP_COLUMNS)})
    SELECT 0, %(s_step_name)s::varchar, %(j_id)s,
        %(s_create_time)s::timestamp,
        {", ".join(f"%(s_{name})s::{kind}" for name, kind in _STEP_COLUMNS)}
    FROM j WHERE j.status = %(j_status)s::varchar
    RETURNING step_execution_id
), sc AS (
    INSERT INTO batch_step_execution_context (step_execution_id, short_context,
        serialized_context)
    SELECT step_execution_id, %(s_short_context)s::varchar, %(s_serialized_context)s::text
    FROM s
)"""
_START_JOB_AND_STEP = {
    dirty: _with(_JOB_UPDATE.format(guard=""), *([_JOB_CONTEXT] if dirty else []), _INSERT_STEP)
    + "SELECT j.version, j.status, s.step_execution_id FROM j LEFT JOIN s ON true"
    for dirty in (False, True)
}

# Every write of an execution and its steps locks the job row before the step rows (as
# abandon and recover do): the step's UPDATE below waits for this lock first, since its
# WHERE reads it, so two such writes queue instead of deadlocking.
_LOCK_JOB = """\
lk AS (
    SELECT 1 FROM batch_job_execution WHERE job_execution_id = %(j_id)s FOR NO KEY UPDATE
)"""

# The last step's end and the job's, the job's only if the step's went through.
_FINISH_STEP_AND_JOB = _variants(
    lambda job, step: (
        _with(
            _LOCK_JOB,
            _STEP_UPDATE.replace(
                "AND version = %(s_version)s",
                "AND version = %(s_version)s AND EXISTS (SELECT 1 FROM lk)",
            ),
            *([_STEP_CONTEXT] if step else []),
            _JOB_UPDATE.format(guard=" AND EXISTS (SELECT 1 FROM s)"),
            *([_JOB_CONTEXT] if job else []),
        )
        + "SELECT s.version AS step_version, j.version, j.status FROM s LEFT JOIN j ON true"
    )
)


class DriverStatements:
    """Single statements of this module on the psycopg connection of `connection`, in its
    transaction (or, inside `autocommit`, each committing itself). Errors are raised as
    SQLAlchemy raises them (a lost connection invalidated, `OperationalError`), and the
    engine's listeners (statement counters) hear each statement and, in autocommit, its
    commit."""

    __slots__ = ("_driver", "connection", "zone")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.zone = time_zone_of(connection.dialect)
        self._driver: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]

    @contextmanager
    def autocommit(self) -> Iterator[DriverStatements]:
        """While open, each statement commits itself (no BEGIN, no COMMIT): the connection
        must be idle (no statement sent on it yet)."""
        driver = self._driver
        driver.autocommit = True
        try:
            yield self
        finally:
            if not self.connection.invalidated:
                try:
                    driver.autocommit = False
                except psycopg.Error as error:
                    self.connection.invalidate(error)

    def first(self, sql: str, values: dict[str, Any]) -> Any:
        """The statement's first row (a named tuple), or None."""
        connection = self.connection
        try:
            with self._driver.cursor(row_factory=namedtuple_row) as cursor:
                for listener in connection.dispatch.before_cursor_execute:
                    listener(connection, cursor, sql, values, None, False)
                cursor.execute(sql, values)
                row = cursor.fetchone()
        except psycopg.Error as error:
            raise self._raised(error, sql, values) from error
        if self._driver.autocommit:
            for listener in connection.dispatch.commit:
                listener(connection)
        return row

    def _raised(self, error: psycopg.Error, sql: str, values: dict[str, Any]) -> Exception:
        connection = self.connection
        lost = connection.dialect.is_disconnect(error, self._driver, None)  # type: ignore[arg-type]
        if lost:
            connection.invalidate(error)
        return sqlalchemy.exc.DBAPIError.instance(
            sql,
            values,
            error,
            psycopg.Error,
            connection_invalidated=lost,
            dialect=connection.dialect,
        )


def _context(
    fmt: ContextFormat, prefix: str, entity_id: int | None, context: ExecutionContext
) -> dict[str, Any]:
    stored = fmt.store(context)
    return {
        f"{prefix}id": entity_id,
        f"{prefix}short_context": stored.short_context,
        f"{prefix}serialized_context": stored.serialized_context,
    }


def job_parameters(
    fmt: ContextFormat, execution: JobExecution, now: datetime, zone: tzinfo, dirty: bool
) -> dict[str, Any]:
    status = execution.status.value
    in_flight = execution.status in (BatchStatus.STARTING, BatchStatus.STARTED)
    exit_status = storable_exit_status(execution.exit_status)
    values = {
        "j_id": execution.id,
        "j_version": execution.version,
        "j_status": status,
        "j_merged_status": BatchStatus.STOPPING.value if in_flight else status,
        "j_start_time": to_column(execution.start_time, zone),
        "j_end_time": to_column(execution.end_time, zone),
        "j_exit_code": exit_status.exit_code,
        "j_exit_message": exit_status.exit_description,
        "j_create_time": to_column(execution.create_time, zone),
        "j_last_updated": to_column(now, zone),
    }
    if dirty:
        values.update(_context(fmt, "j_", execution.id, execution.execution_context))
    return values


def step_parameters(step: StepExecution, now: datetime, zone: tzinfo) -> dict[str, Any]:
    values: dict[str, Any] = {"j_id": step.job_execution_id, "s_id": step.id}
    values["s_version"] = step.version
    for name, value in rows.step_values(step, now).items():
        values[f"s_{name}"] = to_column(value, zone) if isinstance(value, datetime) else value
    return values


def update_step(
    statements: DriverStatements, fmt: ContextFormat, step: StepExecution, now: datetime
) -> Any:
    """(version, job_status) of the updated step, or None if its version moved on."""
    dirty = step.execution_context.dirty
    values = step_parameters(step, now, statements.zone)
    if dirty:
        values.update(_context(fmt, "s_", step.id, step.execution_context))
    return statements.first(_UPDATE_STEP[dirty], values)


def start_job_and_step(
    statements: DriverStatements,
    fmt: ContextFormat,
    execution: JobExecution,
    step: StepExecution,
    now: datetime,
) -> Any:
    """(version, status, step_execution_id) of the job execution; step_execution_id is
    None when the step was not added (a stop request was merged). None: the job
    execution's version moved on (or it does not exist)."""
    zone = statements.zone
    job_dirty = execution.execution_context.dirty
    values = job_parameters(fmt, execution, now, zone, job_dirty)
    values.update(step_parameters(step, now, zone))
    values.update(_context(fmt, "s_", None, step.execution_context))
    values["s_step_name"] = step.step_name
    values["s_create_time"] = to_column(step.create_time, zone)
    return statements.first(_START_JOB_AND_STEP[job_dirty], values)


def finish_step_and_job(
    statements: DriverStatements,
    fmt: ContextFormat,
    step: StepExecution,
    execution: JobExecution,
    now: datetime,
) -> Any:
    """(step_version, version, status), or None when the step's optimistic lock failed
    (nothing written); version is None when only the job's did (the step was written)."""
    zone = statements.zone
    job_dirty = execution.execution_context.dirty
    values = job_parameters(fmt, execution, now, zone, job_dirty)
    values.update(step_parameters(step, now, zone))
    step_dirty = step.execution_context.dirty
    if step_dirty:
        values.update(_context(fmt, "s_", step.id, step.execution_context))
    return statements.first(_FINISH_STEP_AND_JOB[(job_dirty, step_dirty)], values)
