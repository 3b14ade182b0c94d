"""Recover as Spring Batch 6 does, for executions no jobop node owns (a Spring application's).

Spring 6.0's `SimpleJobOperator.recover` marks each running step FAILED with an end time
and `batch.recovered=true` in its context, then the job likewise; it leaves the exit codes
as they are. jobop writes the same rows in one transaction, and keeps each context in the
format its row was found in (a Spring application reads its own rows with its own
serializer), or the repository's format for a context that had no row.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from jobop.domain import BatchStatus, UnreadableContext, utcnow

from . import contexts
from .contexts import ContextFormat
from .schema import (
    RUNNING_STATUSES,
    job_execution,
    job_execution_context,
    step_execution,
    step_execution_context,
)

log = logging.getLogger(__name__)

_e, _jc, _s, _sc = job_execution, job_execution_context, step_execution, step_execution_context

# The key Spring 6 puts in both contexts (and by which it skips an execution already
# recovered).
RECOVERED_KEY = "batch.recovered"


def recover_as_spring(
    connection: Connection, execution_id: int, default_format: ContextFormat
) -> bool:
    """The execution (if running) and its running steps -> FAILED with an end time and
    `batch.recovered=true` in their contexts; whether the execution was running. Job row
    first, then step rows: the lock order of every path that updates both."""
    if not _fail_running(connection, _e, _e.c.job_execution_id, execution_id):
        return False
    for step_id in _fail_running(connection, _s, _s.c.step_execution_id, execution_id):
        _mark_recovered(connection, _sc, _sc.c.step_execution_id, step_id, default_format)
    _mark_recovered(connection, _jc, _jc.c.job_execution_id, execution_id, default_format)
    return True


def _fail_running(connection: Connection, table: Table, key: Any, execution_id: int) -> list[int]:
    """The execution's running rows of `table` (the job's, or its steps') -> FAILED with an
    end time, as Spring writes them; their ids."""
    now = utcnow()
    return sorted(
        connection.execute(
            update(table)
            .where(table.c.job_execution_id == execution_id, table.c.status.in_(RUNNING_STATUSES))
            .values(
                status=BatchStatus.FAILED.value,
                end_time=now,
                last_updated=now,
                version=table.c.version + 1,
            )
            .returning(key)
        ).scalars()
    )


def _mark_recovered(
    connection: Connection, table: Table, key: Any, row_id: int, default_format: ContextFormat
) -> None:
    row = connection.execute(
        select(table.c.short_context, table.c.serialized_context).where(key == row_id)
    ).first()
    text = None if row is None else (row.serialized_context or row.short_context)
    try:
        context = contexts.load(text, None, f"{table.name} {row_id}")
    except UnreadableContext as error:
        # Spring reads it (a class of its own, say): leave it as it is rather than lose it.
        log.warning("%s: %s is left without %s", error, table.name, RECOVERED_KEY)
        return
    context[RECOVERED_KEY] = True
    stored = (contexts.format_of(text) or default_format).store(context).values()
    if row is None:
        connection.execute(insert(table).values({key.name: row_id, **stored}))
    else:
        connection.execute(update(table).where(key == row_id).values(stored))
