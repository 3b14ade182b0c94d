"""The conditions of a filtered listing of job executions (ListJobExecutions,
CountJobExecutions), shaped for the indexes of migration 8.

A page is one keyset query on JOB_EXECUTION_ID (newest or oldest first) whose conditions
each have an index to be read through or checked against: the job through the instance's
(JOB_NAME, JOB_KEY) key, statuses through (STATUS, JOB_EXECUTION_ID), the created range
through CREATE_TIME, a parameter through (PARAMETER_NAME, its value's first characters,
JOB_EXECUTION_ID), the owner node through the launch request's NODE_ID. Started and ended
ranges and exit codes are checked on the rows the others select.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Index, exists, func, literal_column

from jobop.domain.listing import ExecutionFilter, TimeRange

from .schema import job_execution, job_execution_params, job_instance, launch_request

_e, _i, _p, _l = job_execution, job_instance, job_execution_params, launch_request

# PARAMETER_VALUE holds up to 2,500 characters, more than a btree entry may hold: the index
# keeps the first 100 and the query compares those, then the whole value. Written as SQL
# literals (not bound values) so that the planners match the query's expression with the
# index's.
VALUE_PREFIX = 100


def _value_prefix(value: Any) -> ColumnElement[Any]:
    return func.substr(value, literal_column("1"), literal_column(str(VALUE_PREFIX)))


# Migration 8 (additive: Spring's DDL untouched). Kept off the tables' metadata so that the
# first migration's create_all does not make them: migration 8 does, IF NOT EXISTS (the
# expression index cannot be reflected, so checkfirst cannot see it).
listing_indexes = (
    Index("jobop_job_exec_status_ix", _e.c.status, _e.c.job_execution_id),
    Index("jobop_job_exec_created_ix", _e.c.create_time),
    Index(
        "jobop_job_exec_params_value_ix",
        _p.c.parameter_name,
        _value_prefix(_p.c.parameter_value),
        _p.c.job_execution_id,
    ),
)
for _index in listing_indexes:
    _index.table.indexes.discard(_index)  # type: ignore[union-attr]


def _in_range(column: Any, window: TimeRange) -> list[ColumnElement[bool]]:
    found = []
    if window.since is not None:
        found.append(column >= window.since)
    if window.until is not None:
        found.append(column < window.until)
    return found


def _has_parameter(name: str, value: str) -> ColumnElement[bool]:
    matches = [_value_prefix(_p.c.parameter_value) == value[:VALUE_PREFIX]]
    # A value within the prefix equals it whole; comparing both for it would make the
    # planners count one condition twice and think a common value twenty times rarer.
    if len(value) > VALUE_PREFIX:
        matches.append(_p.c.parameter_value == value)
    return exists().where(
        _p.c.parameter_name == name, *matches, _p.c.job_execution_id == _e.c.job_execution_id
    )


def needs_launch_request(selection: ExecutionFilter) -> bool:
    """Whether the conditions read JOBOP_LAUNCH_REQUEST (outer-joined: an execution jobop
    did not launch has none, so no owner and never overdue)."""
    return selection.node_id is not None or selection.overdue is not None


def conditions(selection: ExecutionFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions of `selection` over BATCH_JOB_EXECUTION joined with its
    BATCH_JOB_INSTANCE (and JOBOP_LAUNCH_REQUEST when `needs_launch_request`)."""
    found: list[ColumnElement[bool]] = []
    if selection.job_names:
        found.append(_i.c.job_name.in_(sorted(set(selection.job_names))))
    if selection.job_instance_id is not None:
        found.append(_e.c.job_instance_id == selection.job_instance_id)
    if selection.statuses:
        found.append(_e.c.status.in_(sorted({status.value for status in selection.statuses})))
    if selection.exit_codes:
        found.append(_e.c.exit_code.in_(sorted(set(selection.exit_codes))))
    found += _in_range(_e.c.create_time, selection.created)
    found += _in_range(_e.c.start_time, selection.started)
    found += _in_range(_e.c.end_time, selection.ended)
    found += [_has_parameter(name, value) for name, value in sorted(set(selection.parameters))]
    if selection.node_id is not None:
        found.append(_l.c.node_id == selection.node_id)
    if selection.overdue is True:
        found.append(_l.c.overdue.is_not(None))
    elif selection.overdue is False:
        found.append(_l.c.overdue.is_(None))
    return found


def keyset(*, after: int | None, oldest_first: bool) -> list[ColumnElement[bool]]:
    """The page after execution `after` in the listing's order (None: the first page)."""
    if after is None:
        return []
    return [_e.c.job_execution_id > after if oldest_first else _e.c.job_execution_id < after]


@contextmanager
def planned_for_values(connection: Connection) -> Iterator[None]:
    """Statements sent unprepared on this (psycopg) connection while the context is open.

    psycopg prepares a statement after five runs, and PostgreSQL then may keep one plan
    for any values; but a listing's best plan depends on them (a day's range is read
    through CREATE_TIME, all of history by id; a rare parameter value through its index):
    a generic plan made a tenant's page take seconds. Unprepared, each is planned with its
    values, which costs a millisecond of planning."""
    raw: Any = connection.connection.driver_connection
    if not hasattr(raw, "prepare_threshold"):  # SQLite plans every statement anew anyway
        yield
        return
    threshold = raw.prepare_threshold
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold
