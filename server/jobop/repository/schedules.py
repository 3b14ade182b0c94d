"""JOBOP_SCHEDULE and JOBOP_SCHEDULE_FIRE: the schedules, their claim cursor and their fires.

A fire is claimed by a compare-and-set on the schedule's NEXT_FIRE in the transaction that
inserts its fire rows (primary key: schedule and nominal fire time): of the nodes that see
a fire due, exactly one moves the cursor on, and the others find it moved. A change to a
schedule is announced by an `s NAME` NOTIFY in its own transaction, so that every node's
firing loop looks again at once. Actions of operators are audited in the transaction of
their write (the `record_in` pattern of audit.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from jobop.domain import JobParameters
from jobop.domain.schedules import (
    LAUNCHED,
    PENDING,
    Busy,
    NoSuchSchedule,
    PlannedFire,
    Schedule,
    ScheduleExists,
    ScheduleFire,
    ScheduleSpec,
)

from . import audit as audit_trail
from .engine import is_postgresql, read_connection, write_transaction
from .nodes import CHANNEL
from .schema import (
    AUDIT_TEXT_LENGTH,
    RUNNING_STATUSES,
    audit,
    job_execution,
    job_instance,
    schedule_fire,
)
from .schema import schedule as schedule_table

_s, _f, _e, _i = schedule_table, schedule_fire, job_execution, job_instance

# The caller recorded as a schedule's last editor when no action was announced (in-process).
IN_PROCESS = "jobop"


def schedule_payload(name: str) -> str:
    """`s NAME`: a schedule was created, changed or deleted."""
    return f"s {name}"


class ScheduleRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- the schedules -------------------------------------------------------------------

    def insert(self, spec: ScheduleSpec, next_fire: datetime | None, now: datetime) -> Schedule:
        """ScheduleExists when the name is taken."""
        try:
            with write_transaction(self.engine) as connection:
                by = _announced_principal()
                connection.execute(
                    insert(_s).values(
                        **_spec_values(spec),
                        next_fire=next_fire,
                        created=now,
                        updated=now,
                        updated_by=by,
                    )
                )
                _changed(connection, spec.name, spec.job_name)
        except IntegrityError:
            raise ScheduleExists(f"a schedule named {spec.name!r} exists") from None
        return Schedule(spec, now, now, by, next_fire)

    def get(self, name: str) -> Schedule | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(select(_s).where(_s.c.name == name)).first()
        return None if row is None else _schedule(row)

    def list_schedules(self) -> list[Schedule]:
        with read_connection(self.engine) as connection:
            rows = connection.execute(select(_s).order_by(_s.c.name)).all()
        return [_schedule(row) for row in rows]

    def update(
        self,
        name: str,
        change: Callable[[Schedule], tuple[ScheduleSpec, datetime | None]],
        now: datetime,
    ) -> Schedule:
        """`change(current) -> (spec, next fire)` applied under the row's lock, audited;
        NoSuchSchedule when there is none."""
        with write_transaction(self.engine) as connection:
            row = connection.execute(select(_s).where(_s.c.name == name).with_for_update()).first()
            if row is None:
                raise NoSuchSchedule(f"no schedule named {name!r}")
            current = _schedule(row)
            spec, next_fire = change(current)
            by = _announced_principal()
            connection.execute(
                update(_s)
                .where(_s.c.name == name)
                .values(**_spec_values(spec), next_fire=next_fire, updated=now, updated_by=by)
            )
            _changed(connection, name, spec.job_name)
        return Schedule(spec, current.created, now, by, next_fire)

    def delete(self, name: str) -> None:
        """The schedule and its fire records (its executions stay); NoSuchSchedule."""
        with write_transaction(self.engine) as connection:
            job_name = connection.execute(
                delete(_s).where(_s.c.name == name).returning(_s.c.job_name)
            ).scalar()
            if job_name is None:
                raise NoSuchSchedule(f"no schedule named {name!r}")
            connection.execute(delete(_f).where(_f.c.schedule_name == name))
            _changed(connection, name, job_name)

    # -- the firing loop ---------------------------------------------------------------

    def next_due(self, job_names: Sequence[str]) -> datetime | None:
        """The earliest cursor of the unpaused schedules of these jobs."""
        if not job_names:
            return None
        query = select(func.min(_s.c.next_fire)).where(
            _s.c.paused == "N", _s.c.job_name.in_(job_names)
        )
        with read_connection(self.engine) as connection:
            found: datetime | None = connection.execute(query).scalar()
        return found

    def due(self, job_names: Sequence[str], now: datetime) -> list[Schedule]:
        """Unpaused schedules of these jobs whose cursor is at or before `now`."""
        if not job_names:
            return []
        query = (
            select(_s)
            .where(_s.c.paused == "N", _s.c.job_name.in_(job_names), _s.c.next_fire <= now)
            .order_by(_s.c.next_fire)
        )
        with read_connection(self.engine) as connection:
            return [_schedule(row) for row in connection.execute(query)]

    def claim(
        self,
        name: str,
        cursor: datetime | None,
        next_fire: datetime | None,
        plan: Callable[[Busy], list[PlannedFire]],
        node_id: str,
        now: datetime,
    ) -> list[ScheduleFire] | None:
        """Move the cursor from `cursor` to `next_fire` and record the fires `plan` makes of
        what the schedule runs; None (nothing written) when another node moved it first,
        or the schedule was paused, changed or deleted meanwhile."""
        with write_transaction(self.engine) as connection:
            moved = connection.execute(
                update(_s)
                .where(_s.c.name == name, _s.c.next_fire == cursor, _s.c.paused == "N")
                .values(next_fire=next_fire)
            ).rowcount
            if moved != 1:
                return None
            return self._record(connection, name, plan(_busy(connection, name)), node_id, now)

    def add_fire(
        self,
        name: str,
        plan: Callable[[Schedule, Busy, set[datetime]], PlannedFire],
        node_id: str,
        now: datetime,
    ) -> tuple[Schedule, ScheduleFire]:
        """An extra fire (Trigger) recorded as `plan` says, audited; NoSuchSchedule. `plan`
        is also told the fire times the schedule has recorded from `now`'s second on."""
        with write_transaction(self.engine) as connection:
            row = connection.execute(select(_s).where(_s.c.name == name).with_for_update()).first()
            if row is None:
                raise NoSuchSchedule(f"no schedule named {name!r}")
            current = _schedule(row)
            taken = _fire_times(connection, name, now.replace(microsecond=0))
            fire = plan(current, _busy(connection, name), taken)
            (recorded,) = self._record(connection, name, [fire], node_id, now)
            _audit_in(connection, current.spec.job_name)
            _notify(connection, name)
        return current, recorded

    def _record(
        self,
        connection: Connection,
        name: str,
        rows: list[PlannedFire],
        node_id: str,
        now: datetime,
    ) -> list[ScheduleFire]:
        # A time a trigger took already (the cron changed since) is not recorded twice.
        if rows:
            taken = _fire_times(connection, name, min(row.fire_time for row in rows))
            rows = [row for row in rows if row.fire_time not in taken]
        fires = [
            ScheduleFire(
                schedule_name=name,
                fire_time=row.fire_time,
                outcome=row.outcome,
                execution_id=None,
                reason=row.reason[:AUDIT_TEXT_LENGTH],
                recorded=now,
                node_id=node_id,
                triggered=row.triggered,
            )
            for row in rows
        ]
        if fires:
            connection.execute(insert(_f), [_fire_values(fire) for fire in fires])
        return fires

    def launchable(
        self, job_names: Sequence[str], node_id: str, taken_over_before: datetime
    ) -> list[tuple[Schedule, ScheduleFire]]:
        """Pending fires this node may start now, oldest first: under `allow` every one,
        else a schedule's oldest, once none of its executions runs. A node starts those
        it claimed; the others' once recorded before `taken_over_before` (their claimer
        is presumably gone). Two nodes starting one fire make one instance only."""
        if not job_names:
            return []
        query = (
            select(_s, _f)
            .join(_f, _f.c.schedule_name == _s.c.name)
            .where(_f.c.outcome == PENDING, _s.c.job_name.in_(job_names))
            .order_by(_s.c.name, _f.c.fire_time)
        )
        with read_connection(self.engine) as connection:
            rows = connection.execute(query).all()
            found: list[tuple[Schedule, ScheduleFire]] = []
            seen: set[str] = set()
            for row in rows:
                current, fire = _schedule(row), _fire(row)
                first = current.spec.name not in seen
                seen.add(current.spec.name)
                if fire.node_id != node_id and fire.recorded >= taken_over_before:
                    continue
                # Under skip and queue a schedule's fires take turns, oldest first.
                takes_turns = current.spec.overlap != "allow"
                if takes_turns and (not first or _busy(connection, current.spec.name).running):
                    continue
                found.append((current, fire))
        return found

    def next_takeover(self, job_names: Sequence[str], node_id: str) -> datetime | None:
        """When the oldest pending fire another node claimed was recorded (None: none)."""
        if not job_names:
            return None
        query = (
            select(func.min(_f.c.recorded))
            .join(_s, _f.c.schedule_name == _s.c.name)
            .where(_f.c.outcome == PENDING, _s.c.job_name.in_(job_names), _f.c.node_id != node_id)
        )
        with read_connection(self.engine) as connection:
            found: datetime | None = connection.execute(query).scalar()
        return found

    def has_waiting(self, job_names: Sequence[str]) -> bool:
        if not job_names:
            return False
        query = (
            select(_f.c.schedule_name)
            .join(_s, _f.c.schedule_name == _s.c.name)
            .where(_f.c.outcome == PENDING, _s.c.job_name.in_(job_names))
            .limit(1)
        )
        with read_connection(self.engine) as connection:
            return connection.execute(query).first() is not None

    def settle(
        self,
        name: str,
        fire_time: datetime,
        outcome: str,
        node_id: str,
        *,
        execution_id: int | None = None,
        reason: str = "",
    ) -> ScheduleFire | None:
        """A pending fire's outcome (LAUNCHED with its execution, or REFUSED); None when it
        was settled already (by another node) or is gone."""
        with write_transaction(self.engine) as connection:
            row = connection.execute(
                update(_f)
                .where(
                    _f.c.schedule_name == name,
                    _f.c.fire_time == fire_time,
                    _f.c.outcome == PENDING,
                )
                .values(
                    outcome=outcome,
                    job_execution_id=execution_id,
                    reason=reason[:AUDIT_TEXT_LENGTH],
                    node_id=node_id,
                )
                .returning(*_f.c)
            ).first()
        return None if row is None else _fire(row)

    def first_execution_of(self, job_name: str, job_key: str) -> int | None:
        """The first execution of the instance with this key (a fire's, started already)."""
        query = (
            select(func.min(_e.c.job_execution_id))
            .join(_i, _i.c.job_instance_id == _e.c.job_instance_id)
            .where(_i.c.job_name == job_name, _i.c.job_key == job_key)
        )
        with read_connection(self.engine) as connection:
            found: int | None = connection.execute(query).scalar()
        return found

    # -- fire records ------------------------------------------------------------------

    def last_fires(self, names: Sequence[str]) -> dict[str, ScheduleFire]:
        """The latest fire of each schedule named (by nominal time)."""
        if not names:
            return {}
        latest = (
            select(_f.c.schedule_name, func.max(_f.c.fire_time).label("fire_time"))
            .where(_f.c.schedule_name.in_(names))
            .group_by(_f.c.schedule_name)
            .subquery()
        )
        query = select(_f).join(
            latest,
            and_(
                _f.c.schedule_name == latest.c.schedule_name,
                _f.c.fire_time == latest.c.fire_time,
            ),
        )
        with read_connection(self.engine) as connection:
            return {row.schedule_name: _fire(row) for row in connection.execute(query)}

    def get_fire(self, name: str, fire_time: datetime) -> ScheduleFire | None:
        query = select(_f).where(_f.c.schedule_name == name, _f.c.fire_time == fire_time)
        with read_connection(self.engine) as connection:
            row = connection.execute(query).first()
        return None if row is None else _fire(row)

    def list_fires(self, name: str, limit: int, before: datetime | None) -> list[ScheduleFire]:
        """Newest first (by nominal time), older than `before`."""
        query = (
            select(_f)
            .where(_f.c.schedule_name == name)
            .order_by(_f.c.fire_time.desc())
            .limit(limit)
        )
        if before is not None:
            query = query.where(_f.c.fire_time < before)
        with read_connection(self.engine) as connection:
            return [_fire(row) for row in connection.execute(query)]

    def purge_fires(self, recorded_before: datetime) -> int:
        """Final fire records older than the retention; pending ones stay."""
        with write_transaction(self.engine) as connection:
            purged: int = connection.execute(
                delete(_f).where(_f.c.recorded < recorded_before, _f.c.outcome != PENDING)
            ).rowcount
        return purged


def _fire_times(connection: Connection, name: str, since: datetime) -> set[datetime]:
    query = select(_f.c.fire_time).where(_f.c.schedule_name == name, _f.c.fire_time >= since)
    return set(connection.execute(query).scalars())


def _busy(connection: Connection, name: str) -> Busy:
    fired = _e.alias("fired")
    running = (
        select(func.count())
        .select_from(_f)
        .join(fired, fired.c.job_execution_id == _f.c.job_execution_id)
        .join(_e, _e.c.job_instance_id == fired.c.job_instance_id)
        .where(
            _f.c.schedule_name == name,
            _f.c.outcome == LAUNCHED,
            _e.c.status.in_(RUNNING_STATUSES),
        )
        .scalar_subquery()
    )
    pending = (
        select(func.count())
        .select_from(_f)
        .where(_f.c.schedule_name == name, _f.c.outcome == PENDING)
        .scalar_subquery()
    )
    row = connection.execute(select(running, pending)).one()
    return Busy(int(row[0]), int(row[1]))


def _announced_principal() -> str:
    values = audit_trail.pending_values("")
    principal = None if values is None else values.get("principal")
    return str(principal) if principal else IN_PROCESS


def _audit_in(connection: Connection, job_name: str) -> None:
    """The announced action's success row, in this transaction (see audit.record_in)."""
    values = audit_trail.pending_values("")
    if values is None:
        return
    occurred = values["occurred_at"]
    assert isinstance(occurred, datetime)
    values["occurred_at"] = occurred.replace(tzinfo=UTC)  # pending_values gives naive UTC
    values["job_name"] = values.get("job_name") or job_name
    connection.execute(insert(audit).values(**values))
    audit_trail.mark_written()


def _notify(connection: Connection, name: str) -> None:
    if is_postgresql(connection):
        connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": schedule_payload(name)},
        )


def _changed(connection: Connection, name: str, job_name: str) -> None:
    _audit_in(connection, job_name)
    _notify(connection, name)


def _spec_values(spec: ScheduleSpec) -> dict[str, object]:
    return {
        "name": spec.name,
        "job_name": spec.job_name,
        "cron": spec.cron,
        "time_zone": spec.time_zone,
        "parameters": json.dumps(spec.parameters.to_text(), ensure_ascii=False),
        "overlap": spec.overlap,
        "catch_up": spec.catch_up,
        "max_catch_up": spec.max_catch_up,
        "paused": "Y" if spec.paused else "N",
        "description": spec.description,
    }


def _schedule(row: object) -> Schedule:
    r = row._mapping  # type: ignore[attr-defined]
    spec = ScheduleSpec(
        name=r[_s.c.name],
        job_name=r[_s.c.job_name],
        cron=r[_s.c.cron],
        time_zone=r[_s.c.time_zone],
        parameters=JobParameters.parse(json.loads(r[_s.c.parameters])),
        overlap=r[_s.c.overlap],
        catch_up=r[_s.c.catch_up],
        max_catch_up=r[_s.c.max_catch_up],
        paused=r[_s.c.paused] == "Y",
        description=r[_s.c.description],
    )
    return Schedule(spec, r[_s.c.created], r[_s.c.updated], r[_s.c.updated_by], r[_s.c.next_fire])


def _fire(row: object) -> ScheduleFire:
    r = row._mapping  # type: ignore[attr-defined]
    return ScheduleFire(
        schedule_name=r[_f.c.schedule_name],
        fire_time=r[_f.c.fire_time],
        outcome=r[_f.c.outcome],
        execution_id=r[_f.c.job_execution_id],
        reason=r[_f.c.reason],
        recorded=r[_f.c.recorded],
        node_id=r[_f.c.node_id],
        triggered=r[_f.c.triggered] == "Y",
    )


def _fire_values(fire: ScheduleFire) -> dict[str, object]:
    return {
        "schedule_name": fire.schedule_name,
        "fire_time": fire.fire_time,
        "outcome": fire.outcome,
        "job_execution_id": fire.execution_id,
        "reason": fire.reason,
        "recorded": fire.recorded,
        "node_id": fire.node_id,
        "triggered": "Y" if fire.triggered else "N",
    }
