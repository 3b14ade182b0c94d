"""The SQL of overdue executions: the run-time settings a node needs to judge its running
executions, and the mark, written once per execution.

The mark is `JOBOP_LAUNCH_REQUEST.OVERDUE` (the database's clock), set only while it is
still null and the execution still runs: the row count of that one UPDATE decides who
reports it, so that a mark is reported once, whoever checks and however often.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Engine, exists, select, update

from jobop.domain import SettingsOverride

from .engine import read_connection, write_transaction
from .nodes import _db_now
from .schema import RUNNING_STATUSES, job_execution, job_settings, launch_request

_e, _l, _js = job_execution, launch_request, job_settings


def override_of(row: Any) -> SettingsOverride:
    """A JOBOP_JOB_SETTINGS row as the run-time values it sets (a null column: not set)."""

    def flag(value: str | None) -> bool | None:
        return None if value is None else value == "Y"

    return SettingsOverride(
        max_concurrent=row.max_concurrent,
        concurrency_key=row.concurrency_key,
        paused=flag(row.paused),
        max_duration_seconds=row.max_duration_seconds,
        stop_when_overdue=flag(row.stop_when_overdue),
        updated=row.updated,
        updated_by=row.updated_by,
    )


def read_overrides(engine: Engine, job_names: Collection[str]) -> dict[str, SettingsOverride]:
    """The run-time settings of these jobs, by name (a job without a row is absent): one
    read by primary key, however many jobs."""
    if not job_names:
        return {}
    with read_connection(engine) as connection:
        rows = connection.execute(select(_js).where(_js.c.job_name.in_(sorted(job_names))))
        return {row.job_name: override_of(row) for row in rows}


def mark_overdue(engine: Engine, execution_id: int) -> bool:
    """Mark the execution overdue, now; True only for the call that marked it (False: it
    was marked before, or it no longer runs, or jobop did not launch it)."""
    still_running = exists().where(
        _e.c.job_execution_id == execution_id, _e.c.status.in_(RUNNING_STATUSES)
    )
    with write_transaction(engine) as connection:
        marked = connection.execute(
            update(_l)
            .where(_l.c.job_execution_id == execution_id, _l.c.overdue.is_(None), still_running)
            .values(overdue=_db_now(connection))
        )
        return marked.rowcount == 1
