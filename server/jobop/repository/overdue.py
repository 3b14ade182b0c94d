"""The SQL of overdue executions: the mark, written once per execution (the run-time
settings a node judges its executions by are read by repository.workload).

The mark is `JOBOP_LAUNCH_REQUEST.OVERDUE` (the database's clock), set only while it is
still null and the execution still runs: the row count of that one UPDATE decides who
reports it, so that a mark is reported once, whoever checks and however often.
"""

from __future__ import annotations

from sqlalchemy import Engine, exists, update

from .engine import write_transaction
from .schema import RUNNING_STATUSES, job_execution, launch_request
from .workload import db_now

_e, _l = job_execution, launch_request


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
            .values(overdue=db_now(connection))
        )
        return marked.rowcount == 1
