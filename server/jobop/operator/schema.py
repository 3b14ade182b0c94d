"""The operator's own tables (JOBOP_ prefix), created next to the repository's schema.

Lower-case names for the same reason as `jobop.repository.schema`: unquoted SQL finds them
on PostgreSQL and SQLite alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Engine, Index, MetaData, String, Table
from sqlalchemy.exc import DBAPIError

from jobop.repository.schema import NAME_LENGTH, UtcDateTime

# A request id is client-chosen: long enough for a UUID with a prefix, short enough to index.
REQUEST_ID_LENGTH = 200

metadata = MetaData()

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

# Executions started by an `api`-role server, waiting for a `worker` (or `all`) server to
# claim them. Claiming is a DELETE of the row: exactly one claimant sees a row count of 1.
# Executions launched by a server that runs them itself, or by `jobop run`, never appear
# here, so a worker never takes an execution someone else is about to run.
launch_request = Table(
    "jobop_launch_request",
    metadata,
    Column("job_execution_id", BigInteger, primary_key=True, autoincrement=False),
    Column("job_name", String(NAME_LENGTH), nullable=False),
    Column("created", UtcDateTime, nullable=False),
)

indexes = (Index("jobop_request_created_ix", request.c.created),)


def create_operator_tables(engine: Engine) -> None:
    """Create the operator's tables if absent; safe when several servers start at once."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except DBAPIError:
        # Another process created them between our check and our CREATE: fine if they
        # are there now, otherwise the error was real.
        metadata.create_all(engine, checkfirst=True)
