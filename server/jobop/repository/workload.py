"""JOBOP_JOB_SETTINGS, slots and the queue: the SQL of workload control (docs/workload.md).

A job's run-time settings are one row (a NULL column: not set, the declared value holds),
changed under a row lock with their audit row and a NOTIFY in one transaction. A slot is
a launch request claimed by a node whose execution is STARTING, STARTED or STOPPING; a
waiting start is an unclaimed one whose execution is still STARTING. Both are counted
from the running executions' partial index and the waiting requests' partial index, so
they never grow with history.

`admission` is the claim's rule for a governed job (nodes.claim_launch_requests runs it
under the job's lock): the waiting starts that fit under the job's limit, per value of its
concurrency key (the parameter's value in BATCH_JOB_EXECUTION_PARAMS, the empty value
when missing), in run order: priority DESC, then job_execution_id.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    exists,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Select

from jobop.domain import BatchStatus
from jobop.domain.workload import JobSettings, SettingsOverride, apply_change

from . import audit
from .engine import is_postgresql, read_connection, write_transaction
from .schema import (
    RUNNING_STATUSES,
    job_execution,
    job_execution_params,
    job_settings,
    launch_request,
)

_l, _e, _p, _js = launch_request, job_execution, job_execution_params, job_settings

# The first key of the advisory lock a claim holds on a governed job ("wl"; the launches'
# next-instance lock is 0x6A6F62), the second the CRC-32 of the job's name.
ADMISSION_LOCK_CLASS = 0x776C

# Who changed a setting when no caller was announced (`jobop` commands, tests).
LOCAL_PRINCIPAL = "local"


def db_now(bind: Engine | Connection) -> Any:
    """The database's clock as naive UTC, as the timestamp columns hold it."""
    if is_postgresql(bind):
        return func.timezone("UTC", func.now())
    # SQLite runs on this host: its clock is ours; the same text form SQLAlchemy writes.
    return func.strftime("%Y-%m-%d %H:%M:%f", "now")


def _flag(value: bool | None) -> str | None:
    return None if value is None else ("Y" if value else "N")


def _override(row: Any) -> SettingsOverride:
    return SettingsOverride(
        max_concurrent=row.max_concurrent,
        concurrency_key=row.concurrency_key,
        paused=None if row.paused is None else row.paused == "Y",
        max_duration_seconds=row.max_duration_seconds,
        stop_when_overdue=None if row.stop_when_overdue is None else row.stop_when_overdue == "Y",
        updated=row.updated,
        updated_by=row.updated_by,
    )


def read_overrides(
    connection: Connection, job_names: Sequence[str] | None = None
) -> dict[str, SettingsOverride]:
    """The run-time settings of these jobs (None: of every job with a row), by name."""
    query = select(_js)
    if job_names is not None:
        if not job_names:
            return {}
        query = query.where(_js.c.job_name.in_(list(job_names)))
    return {row.job_name: _override(row) for row in connection.execute(query)}


def settings_in_force(
    connection: Connection, job_names: Sequence[str], declared: Mapping[str, JobSettings]
) -> dict[str, JobSettings]:
    """What each of these jobs declares, overridden by its run-time settings."""
    overrides = read_overrides(connection, job_names)
    plain = JobSettings()
    return {
        name: overrides[name].over(declared.get(name, plain))
        if name in overrides
        else declared.get(name, plain)
        for name in job_names
    }


def governing_override(job_name: Any) -> Any:
    """Whether a JOBOP_JOB_SETTINGS row `_js` governs the job `job_name` (an expression) by
    a run-time limit or pause; a declared limit is known to the caller."""
    return and_(
        _js.c.job_name == job_name,
        (_js.c.max_concurrent.is_not(None)) | (_js.c.paused == "Y"),
    )


def lock_key(job_name: str) -> int:
    """The second key of a job's advisory locks: its name's CRC-32 as PostgreSQL's signed
    int4 (two names that share one only wait for each other)."""
    crc = zlib.crc32(job_name.encode("utf-8", "surrogatepass"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def lock_jobs(connection: Connection, job_names: Sequence[str]) -> None:
    """Hold the admission lock of these jobs until the transaction ends (PostgreSQL; on
    SQLite the write transaction already serializes claims). Taken in one order by every
    claim, so two claims never wait for each other in a circle."""
    if is_postgresql(connection) and job_names:
        connection.exec_driver_sql(LOCK_JOBS, lock_arguments(job_names))


# Takes the admission locks of the keys given, in the array's order (a function scan of
# `unnest` returns them in order); psycopg's parameter style, for the driver's connection.
LOCK_JOBS = "SELECT pg_advisory_xact_lock(%(lock_class)s, key) FROM unnest(%(keys)s::int4[]) AS key"


def lock_arguments(job_names: Sequence[str]) -> dict[str, Any]:
    """LOCK_JOBS's arguments for these jobs: their keys in one order, so that two claims
    never wait for each other in a circle."""
    return {
        "lock_class": ADMISSION_LOCK_CLASS,
        "keys": sorted({lock_key(name) for name in job_names}),
    }


def _key_value(key: str | None) -> Any:
    """A launch request's value of the concurrency key (the empty value when missing)."""
    if key is None:
        return literal("")
    return func.coalesce(_p.c.parameter_value, "")


def _with_key(joined: Any, key: str | None) -> Any:
    if key is None:
        return joined
    return joined.outerjoin(
        _p,
        and_(_p.c.job_execution_id == _l.c.job_execution_id, _p.c.parameter_name == key),
    )


def slots_query(job_name: str, key: str | None) -> Select[Any]:
    """(key value, slots held) of a job: its claimed requests whose execution runs."""
    value = _key_value(key).label("k")
    held = (
        select(value, func.count().label("n"))
        .select_from(_with_key(_requests(), key))
        .where(_holds_slot(), _l.c.job_name == job_name)
    )
    return held if key is None else held.group_by(value)


def admission(job_name: str, settings: JobSettings, limit: int | None) -> Select[Any]:
    """(job_execution_id, priority) of the job's waiting starts that may take a slot now,
    at most `limit` (None: all), in run order: per key value, the first `max_concurrent -
    held`."""
    assert settings.max_concurrent is not None and not settings.paused
    key = settings.concurrency_key
    value = _key_value(key)
    waiting = (
        select(
            _l.c.job_execution_id,
            _l.c.priority,
            value.label("k"),
            func.row_number()
            .over(partition_by=value, order_by=(_l.c.priority.desc(), _l.c.job_execution_id))
            .label("rn"),
        )
        .select_from(_with_key(_requests(), key))
        # `settings` were read before this statement (on PostgreSQL in an earlier
        # transaction): a pause committed since then admits nothing. A pause with
        # stopRunning commits before its stops free the slots this statement counts.
        .where(
            _waits(),
            _l.c.job_name == job_name,
            ~exists().where(_js.c.job_name == job_name, _js.c.paused == "Y"),
        )
        .subquery("waiting")
    )
    held = slots_query(job_name, key).subquery("held")
    return (
        select(waiting.c.job_execution_id, waiting.c.priority)
        .select_from(waiting.outerjoin(held, held.c.k == waiting.c.k))
        .where(waiting.c.rn + func.coalesce(held.c.n, 0) <= settings.max_concurrent)
        .order_by(waiting.c.priority.desc(), waiting.c.job_execution_id)
        .limit(limit)
    )


def _requests() -> Any:
    """Launch requests joined with their executions."""
    return _l.join(_e, _e.c.job_execution_id == _l.c.job_execution_id)


def _holds_slot() -> Any:
    """Whether a launch request holds a slot: claimed, its execution running (read from
    the running executions' partial index)."""
    return and_(_e.c.status.in_(RUNNING_STATUSES), _l.c.node_id.is_not(None))


def _waits() -> Any:
    """Whether a launch request waits for a claim: unclaimed, its execution STARTING."""
    return and_(_l.c.node_id.is_(None), _e.c.status == BatchStatus.STARTING.value)


def _count_by_job(connection: Connection, where: Any, names: list[str]) -> dict[str, int]:
    counted = connection.execute(
        select(_l.c.job_name, func.count())
        .select_from(_requests())
        .where(where, _l.c.job_name.in_(names))
        .group_by(_l.c.job_name)
    )
    return {name: int(count) for name, count in counted}


def waiting_count(job_name: str) -> Select[Any]:
    """The count of the job's starts that wait for a claim."""
    return select(func.count()).select_from(_requests()).where(_waits(), _l.c.job_name == job_name)


def count_waiting(connection: Connection, job_name: str) -> int:
    """How many starts of the job wait for a claim."""
    return int(connection.execute(waiting_count(job_name)).scalar_one())


def announce_waiting(connection: Connection) -> None:
    """Tell every node that starts may be admitted now (a slot freed, a job resumed, a
    limit raised): an `l` NOTIFY naming no request, delivered at commit (PostgreSQL)."""
    if is_postgresql(connection):
        connection.execute(text("SELECT pg_notify('jobop', 'l ')"))


@dataclass(frozen=True, slots=True)
class WaitingStart:
    """An unclaimed start still STARTING, in run order; `key_value`: its value of the
    job's concurrency key (None when the job has none)."""

    execution_id: int
    job_name: str
    priority: int
    created: datetime
    key_value: str | None = None


class WorkloadRepository:
    """The run-time settings of jobs, their slots and their queue; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get_overrides(self, job_names: Sequence[str] | None = None) -> dict[str, SettingsOverride]:
        with read_connection(self.engine) as connection:
            return read_overrides(connection, job_names)

    def change(
        self, job_name: str, change: dict[str, object], declared: JobSettings
    ) -> SettingsOverride:
        """Apply `change` (field -> value or CLEAR) to the job's run-time settings and
        return them; InvalidSettings (nothing written) when the result, over what the job
        declares, is not valid. Audited and announced in the same transaction."""
        with write_transaction(self.engine) as connection:
            now = db_now(connection)
            by = (audit.current_principal() or LOCAL_PRINCIPAL)[:200]
            # The row exists from here on (a first change of two at once: one inserts, the
            # other waits for it), then is locked for the read and the write.
            dialect = postgresql if is_postgresql(connection) else sqlite
            connection.execute(
                dialect.insert(_js)
                .values(job_name=job_name, updated=now, updated_by=by)
                .on_conflict_do_nothing()
            )
            query = select(_js).where(_js.c.job_name == job_name)
            if is_postgresql(connection):
                query = query.with_for_update()
            changed = apply_change(_override(connection.execute(query).one()), change)
            changed.over(declared)  # checks the settings in force
            connection.execute(
                update(_js)
                .where(_js.c.job_name == job_name)
                .values(
                    max_concurrent=changed.max_concurrent,
                    concurrency_key=changed.concurrency_key,
                    paused=_flag(changed.paused),
                    max_duration_seconds=changed.max_duration_seconds,
                    stop_when_overdue=_flag(changed.stop_when_overdue),
                    updated=now,
                    updated_by=by,
                )
            )
            audit.record_job_in(connection, job_name)
            announce_waiting(connection)
            saved = connection.execute(select(_js).where(_js.c.job_name == job_name)).one()
        return _override(saved)

    def announce_waiting(self) -> None:
        """`announce_waiting` in a transaction of its own (PostgreSQL; nothing on SQLite,
        where the one process wakes its own claimer)."""
        if is_postgresql(self.engine):
            with write_transaction(self.engine) as connection:
                announce_waiting(connection)

    def slot_holders(self, job_name: str) -> list[int]:
        """The executions of the job that hold a slot, ascending."""
        with read_connection(self.engine) as connection:
            return list(
                connection.execute(
                    select(_l.c.job_execution_id)
                    .select_from(_requests())
                    .where(_holds_slot(), _l.c.job_name == job_name)
                    .order_by(_l.c.job_execution_id)
                ).scalars()
            )

    def counts(self, job_names: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(slots held, starts waiting) of each of these jobs."""
        if not job_names:
            return {}
        names = list(job_names)
        with read_connection(self.engine) as connection:
            running = _count_by_job(connection, _holds_slot(), names)
            queued = _count_by_job(connection, _waits(), names)
        return {name: (int(running.get(name, 0)), int(queued.get(name, 0))) for name in names}

    def queue(
        self, job_name: str | None, limit: int, keys: Mapping[str, str | None]
    ) -> tuple[list[WaitingStart], int, dict[tuple[str, str], int]]:
        """The head of the queue (of one job, or of all) in run order, at most `limit`;
        how many wait in all; and the slots held per (job, key value) of the jobs in
        that head. `keys`: each job's concurrency key in force (absent: none)."""
        waiting = _requests()
        where = [_waits()]
        if job_name is not None:
            where.append(_l.c.job_name == job_name)
        with read_connection(self.engine) as connection:
            rows = connection.execute(
                select(_l.c.job_execution_id, _l.c.job_name, _l.c.priority, _l.c.created)
                .select_from(waiting)
                .where(*where)
                .order_by(_l.c.priority.desc(), _l.c.job_execution_id)
                .limit(limit)
            ).all()
            total = int(
                connection.execute(
                    select(func.count()).select_from(waiting).where(*where)
                ).scalar_one()
            )
            jobs = sorted({row.job_name for row in rows})
            values: dict[int, str] = {}
            held: dict[tuple[str, str], int] = {}
            for job in jobs:
                key = keys.get(job)
                if key is not None:
                    ids = [row.job_execution_id for row in rows if row.job_name == job]
                    values.update(
                        connection.execute(
                            select(_p.c.job_execution_id, _p.c.parameter_value).where(
                                _p.c.job_execution_id.in_(ids), _p.c.parameter_name == key
                            )
                        ).all()
                    )
                for value, count in connection.execute(slots_query(job, key)):
                    held[(job, value)] = int(count)
        starts = [
            WaitingStart(
                row.job_execution_id,
                row.job_name,
                int(row.priority),
                row.created,
                None if keys.get(row.job_name) is None else values.get(row.job_execution_id) or "",
            )
            for row in rows
        ]
        return starts, total, held
