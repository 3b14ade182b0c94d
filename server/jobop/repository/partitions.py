"""JOBOP_PARTITION: the partitions of partition steps, one row per worker step execution.

A partition step's manager adds its worker step executions (Spring's BATCH_STEP_EXECUTION
rows named `<workerStep>:<partitionName>`) together with one row each here, in one
transaction: claimed at once by the node that runs them (NODE_ID, CLAIMED), or waiting for
a node with a free worker (both null), announced then by a `pw JOBEXEC:STEPEXEC ...` NOTIFY
on PostgreSQL. A worker's end sets ENDED, announced by `pe JOBEXEC:STEPEXEC` in the same
transaction: the manager learns of it without polling.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, text, update

from jobop.batch.store import PartitionRecord
from jobop.domain import StepExecution

from .nodes import CHANNEL
from .notify import pack
from .schema import partition

_p = partition

WAITING = "pw"
ENDED = "pe"

_INSERT = insert(_p)
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def entry(step: StepExecution) -> str:
    """`JOBEXEC:STEPEXEC`, one partition in a payload."""
    return f"{step.job_execution_id}:{step.id}"


def payloads(kind: str, steps: Sequence[StepExecution]) -> list[str]:
    """`kind JOBEXEC:STEPEXEC ...` payloads announcing these partitions."""
    return pack([entry(step) for step in steps], kind)


def insert_partitions(
    connection: Connection,
    manager: StepExecution,
    workers: Sequence[StepExecution],
    *,
    node_id: str | None,
    attempt: int,
    now: datetime,
) -> None:
    """One row per (already inserted) worker step execution; claimed by `node_id` at once,
    or waiting (announced on PostgreSQL) when it is None."""
    if not workers:
        return
    connection.execute(
        _INSERT,
        [
            {
                "step_execution_id": worker.id,
                "job_execution_id": worker.job_execution_id,
                "manager_step_execution_id": manager.id,
                "step_name": worker.step_name,
                "attempt": attempt,
                "created": now,
                "node_id": node_id,
                "claimed": now if node_id is not None else None,
                "ended": None,
            }
            for worker in workers
        ],
    )
    if node_id is None and connection.dialect.name == "postgresql":
        notify(connection, payloads(WAITING, workers))


def end_partition(connection: Connection, worker: StepExecution, now: datetime) -> bool:
    """ENDED = now for the worker's row (announced on PostgreSQL); False if it has none."""
    ended = connection.execute(
        update(_p)
        .where(_p.c.step_execution_id == worker.id, _p.c.ended.is_(None))
        .values(ended=now)
    ).rowcount
    if ended and connection.dialect.name == "postgresql":
        notify(connection, payloads(ENDED, [worker]))
    return bool(ended)


def notify(connection: Connection, announced: Sequence[str]) -> None:
    for payload in announced:
        connection.execute(_NOTIFY, {"channel": CHANNEL, "payload": payload})


def get_partitions(connection: Connection, job_execution_id: int) -> list[PartitionRecord]:
    found = connection.execute(
        select(_p).where(_p.c.job_execution_id == job_execution_id).order_by(_p.c.step_execution_id)
    ).all()
    return [
        PartitionRecord(
            step_execution_id=row.step_execution_id,
            job_execution_id=row.job_execution_id,
            manager_step_execution_id=row.manager_step_execution_id,
            step_name=row.step_name,
            attempt=row.attempt,
            created=row.created,
            node_id=row.node_id,
            claimed=row.claimed,
            ended=row.ended,
        )
        for row in found
    ]
