"""The queue's depth per job, for the metrics read at each scrape: one grouped query.

A start waits while its launch request is unclaimed and its execution still STARTING
(docs/workload.md); a Stop or Abandon of a waiting start ends its execution, which takes
it out of the count at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from jobop.domain import BatchStatus

from .engine import read_connection
from .schema import job_execution, launch_request

_e, _l = job_execution, launch_request


@dataclass(frozen=True, slots=True)
class WaitingStarts:
    job_name: str
    depth: int
    oldest: datetime  # when the longest-waiting start's launch request was written


_WAITING = (
    select(_l.c.job_name, func.count(), func.min(_l.c.created))
    .join(_e, _e.c.job_execution_id == _l.c.job_execution_id)
    .where(_l.c.node_id.is_(None), _e.c.status == BatchStatus.STARTING.value)
    .group_by(_l.c.job_name)
)


def waiting_starts(engine: Engine) -> list[WaitingStarts]:
    """Each job with starts waiting for a claim: how many, and since when the oldest."""
    with read_connection(engine) as connection:
        rows = connection.execute(_WAITING).all()
    return [WaitingStarts(name, depth, oldest) for name, depth, oldest in rows]
