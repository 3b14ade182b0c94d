"""Partitions spread over the nodes of a cluster: claims, ends read by the manager, and the
partitions of a lost node.

A manager step adds its waiting partitions (JOBOP_PARTITION rows with NODE_ID and ENDED
null, see partitions.py); any node that runs jobs claims some for its free workers
(`claim_partitions`: FOR UPDATE SKIP LOCKED, so that racing claimants never take one
twice), only of jobs it has registered and only while their job execution is STARTED. The
node that ends one stamps ENDED and announces it (`pe JOBEXEC:STEPEXEC`); the manager reads
the ended rows (`read_partition_ends`), with how long ago each ended. When a node is lost,
the recovery of its executions (nodes.recover_node) fails the partitions it was running
(`fail_lost_partitions`) and ends the waiting partitions of the job executions it failed
(`end_waiting_partitions`), in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from jobop.domain import BatchStatus, ExitStatus, JobExecution, StepExecution, utcnow

from .engine import is_postgresql, read_connection, write_transaction
from .explorer import execution_query, load_job_executions
from .notify import pack
from .partitions import ENDED, WAITING, notify
from .schema import RUNNING_STATUSES, job_execution, job_instance, partition, step_execution
from .workload import db_now

_p, _e, _i, _s = partition, job_execution, job_instance, step_execution


@dataclass(frozen=True)
class ClaimedPartition:
    """A partition claimed for this node: its worker step execution (with its context)
    and its job execution (parameters, context, steps), what `execute_partition` runs."""

    job_execution: JobExecution
    worker: StepExecution
    attempt: int


@dataclass(frozen=True)
class PartitionEnd:
    """A partition row as its manager reads it once it ended (or to see whether it did)."""

    step_execution_id: int
    step_name: str
    attempt: int
    node_id: str | None
    ended: datetime | None
    status: BatchStatus
    exit_message: str
    # Seconds from ENDED (the ending node's clock) to this read (this node's clock); None
    # while not ended.
    ended_ago: float | None


def parse_entries(rest: str) -> list[tuple[int, int]]:
    """The `JOBEXEC:STEPEXEC` entries of a payload (after its kind); ValueError if malformed."""
    entries = []
    for entry in rest.split():
        job_id, sep, step_id = entry.partition(":")
        if not sep:
            raise ValueError(entry)
        entries.append((int(job_id), int(step_id)))
    return entries


def announce_ended(connection: Connection, entries: Sequence[tuple[int, int]]) -> None:
    """`pe JOBEXEC:STEPEXEC ...` on PostgreSQL, delivered when (and only if) the
    transaction commits."""
    if entries and is_postgresql(connection):
        notify(connection, pack([f"{job}:{step}" for job, step in entries], ENDED))


def _waiting() -> Any:
    """Partitions waiting for a claim, of STARTED executions of the jobs `names`."""
    return (
        select(_p.c.step_execution_id)
        .join(_e, _e.c.job_execution_id == _p.c.job_execution_id)
        .join(_i, _i.c.job_instance_id == _e.c.job_instance_id)
        .where(
            _p.c.node_id.is_(None),
            _p.c.ended.is_(None),
            _e.c.status == BatchStatus.STARTED.value,
            _i.c.job_name.in_(bindparam("names", expanding=True)),
        )
    )


def _claim_statement(bind: Engine | Connection, *, of_one: bool) -> Any:
    """Claim up to `limit` waiting partitions of the jobs `names` (`of_one`: of the job
    execution `of_execution` only) for `node_id`, oldest first; returns their ids, job
    execution ids and attempts."""
    waiting = _waiting().order_by(_p.c.created, _p.c.step_execution_id).limit(bindparam("limit"))
    if of_one:
        waiting = waiting.where(_p.c.job_execution_id == bindparam("of_execution"))
    if is_postgresql(bind):
        # Claimants never wait for each other: each takes rows nobody has locked.
        waiting = waiting.with_for_update(skip_locked=True, of=_p)
    return (
        update(_p)
        .where(_p.c.step_execution_id.in_(waiting.scalar_subquery()))
        .values(node_id=bindparam("node_id"), claimed=db_now(bind))
        .returning(_p.c.step_execution_id, _p.c.job_execution_id, _p.c.attempt)
    )


class PartitionClaims:
    """Claims of waiting partitions and the reads of their ends; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._claim = {of_one: _claim_statement(engine, of_one=of_one) for of_one in (False, True)}

    def claim_partitions(
        self,
        node_id: str,
        job_names: Sequence[str],
        limit: int,
        *,
        job_execution_id: int | None = None,
    ) -> list[ClaimedPartition]:
        """Claim up to `limit` waiting partitions of these jobs (of one job execution if
        given) for `node_id`, oldest first, loaded for their run: each claimed once however
        many nodes race."""
        if limit <= 0 or not job_names:
            return []
        bound: dict[str, Any] = {"node_id": node_id, "names": list(job_names), "limit": limit}
        if job_execution_id is not None:
            bound["of_execution"] = job_execution_id
        with write_transaction(self.engine) as connection:
            claimed = connection.execute(self._claim[job_execution_id is not None], bound).all()
            if not claimed:
                return []
            job_ids = sorted({row.job_execution_id for row in claimed})
            executions = {
                execution.id: execution
                for execution in load_job_executions(
                    connection,
                    execution_query().where(_e.c.job_execution_id.in_(job_ids)),
                )
            }
        found = []
        for row in sorted(claimed, key=lambda r: r.step_execution_id):
            execution = executions[row.job_execution_id]
            worker = next(s for s in execution.step_executions if s.id == row.step_execution_id)
            worker.node_id = node_id
            found.append(ClaimedPartition(execution, worker, int(row.attempt)))
        return found

    def has_waiting(self, job_names: Sequence[str]) -> bool:
        """Whether a partition of these jobs waits for a claim (one indexed read)."""
        if not job_names:
            return False
        with read_connection(self.engine) as connection:
            found = connection.execute(_waiting().limit(1), {"names": list(job_names)})
            return found.first() is not None

    def read_partition_ends(self, step_execution_ids: Sequence[int]) -> list[PartitionEnd]:
        """The rows of these partitions with their step executions' status, each with
        how long ago it ended by the database's clock."""
        if not step_execution_ids:
            return []
        now = utcnow()
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                select(
                    _p.c.step_execution_id,
                    _p.c.step_name,
                    _p.c.attempt,
                    _p.c.node_id,
                    _p.c.ended,
                    _s.c.status,
                    _s.c.exit_message,
                )
                .join(_s, _s.c.step_execution_id == _p.c.step_execution_id)
                .where(_p.c.step_execution_id.in_(list(step_execution_ids)))
                .order_by(_p.c.step_execution_id)
            ).all()
        return [
            PartitionEnd(
                step_execution_id=row.step_execution_id,
                step_name=row.step_name,
                attempt=int(row.attempt),
                node_id=row.node_id,
                ended=row.ended,
                status=BatchStatus.parse(row.status or "UNKNOWN"),
                exit_message=row.exit_message or "",
                ended_ago=None if row.ended is None else max((now - row.ended).total_seconds(), 0),
            )
            for row in rows
        ]

    def end_unclaimed(self, step_execution_ids: Sequence[int], status: BatchStatus) -> list[int]:
        """End these partitions if still waiting (no node claimed them): their step
        executions get `status` (STOPPED on a stop, FAILED when the manager gives up),
        their rows ENDED. The ids ended; a partition claimed meanwhile is left to its node."""
        if not step_execution_ids:
            return []
        with write_transaction(self.engine) as connection:
            now = db_now(connection)
            ended = sorted(
                connection.execute(
                    update(_p)
                    .where(
                        _p.c.step_execution_id.in_(list(step_execution_ids)),
                        _p.c.node_id.is_(None),
                        _p.c.ended.is_(None),
                    )
                    .values(ended=now)
                    .returning(_p.c.step_execution_id)
                ).scalars()
            )
            if ended:
                exit_code = (
                    ExitStatus.STOPPED if status is BatchStatus.STOPPED else ExitStatus.FAILED
                ).exit_code
                connection.execute(
                    update(_s)
                    .where(_s.c.step_execution_id.in_(ended), _s.c.status.in_(RUNNING_STATUSES))
                    .values(
                        status=status.value,
                        exit_code=exit_code,
                        start_time=func.coalesce(_s.c.start_time, now),
                        end_time=func.coalesce(_s.c.end_time, now),
                        last_updated=now,
                        version=_s.c.version + 1,
                    )
                )
        return ended


def fail_lost_partitions(
    connection: Connection, node_id: str, failed_values: dict[str, Any], now: Any
) -> list[tuple[int, int]]:
    """In the recovery of a lost node: every partition it had claimed and not ended is
    ENDED now, and its step execution, if still running, gets `failed_values` (FAILED,
    "owner lost: …"). The (job execution, step execution) ids ended, for the `pe` NOTIFY."""
    ended = connection.execute(
        update(_p)
        .where(_p.c.node_id == node_id, _p.c.ended.is_(None))
        .values(ended=now)
        .returning(_p.c.job_execution_id, _p.c.step_execution_id)
    ).all()
    if ended:
        connection.execute(
            update(_s)
            .where(
                _s.c.step_execution_id.in_([row.step_execution_id for row in ended]),
                _s.c.status.in_(RUNNING_STATUSES),
            )
            .values(
                **failed_values,
                end_time=func.coalesce(_s.c.end_time, now),
                version=_s.c.version + 1,
            )
        )
    return sorted((row.job_execution_id, row.step_execution_id) for row in ended)


def end_waiting_partitions(
    connection: Connection, job_execution_ids: Sequence[int], now: Any
) -> list[tuple[int, int]]:
    """The partitions still waiting for a claim of job executions that just failed (their
    manager's node was lost): ENDED now, since no node claims them any more (their step
    executions were failed with the job's other running steps)."""
    if not job_execution_ids:
        return []
    ended = connection.execute(
        update(_p)
        .where(
            _p.c.job_execution_id.in_(list(job_execution_ids)),
            _p.c.node_id.is_(None),
            _p.c.ended.is_(None),
        )
        .values(ended=now)
        .returning(_p.c.job_execution_id, _p.c.step_execution_id)
    ).all()
    return sorted((row.job_execution_id, row.step_execution_id) for row in ended)


def release_claims(engine: Engine, step_execution_ids: Sequence[int], node_id: str) -> list[int]:
    """Give partitions claimed by `node_id` and never begun back (a node shutting down):
    waiting again, announced `pw`. The ids released."""
    if not step_execution_ids:
        return []
    with write_transaction(engine) as connection:
        released = connection.execute(
            update(_p)
            .where(
                _p.c.step_execution_id.in_(list(step_execution_ids)),
                _p.c.node_id == node_id,
                _p.c.ended.is_(None),
            )
            .values(node_id=None, claimed=None)
            .returning(_p.c.job_execution_id, _p.c.step_execution_id)
        ).all()
        if released and is_postgresql(connection):
            notify(
                connection,
                pack([f"{r.job_execution_id}:{r.step_execution_id}" for r in released], WAITING),
            )
    return sorted(r.step_execution_id for r in released)
