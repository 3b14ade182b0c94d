"""Schedules: the operator's API over them, and the firing loop of a node that runs jobs.

Every node of role all/worker runs the loop; there is no leader. The loop sleeps until the
earliest cursor of the schedules whose job this node has registered (woken sooner by an
`s` NOTIFY when a schedule changes, or by a change made here), then claims what is due: a
compare-and-set on the schedule's cursor, in the transaction that records the fires
(repository.schedules). Only the node whose compare-and-set succeeds records them; the
others find the cursor moved. A claimed fire is PENDING until its Start has created the
execution: the claimer starts it at once, and should it die in between, any node starts
it after `takeover` seconds. A fire's instance is identified by `schedule.name` and
`schedule.fireTime`, so two nodes starting one fire make one instance: the second finds
it existing and records the first's execution.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from jobop.domain import JobInstanceAlreadyExists, JobopError, utcnow
from jobop.domain.cron import CronExpression, InvalidSchedule, Zone, time_zone
from jobop.domain.parameters import JobParameters
from jobop.domain.schedules import (
    DEFAULT_MAX_CATCH_UP,
    FIELD_NAMES,
    FIRE_RETENTION,
    LAUNCHED,
    PENDING,
    PRINCIPAL_PREFIX,
    REFUSED,
    SPEC_FIELDS,
    Busy,
    NoSuchSchedule,
    PlannedFire,
    Schedule,
    ScheduleFire,
    ScheduleSpec,
    ScheduleView,
    check_spec,
    fire_parameters,
    plan_fires,
    plan_overlap,
)
from jobop.repository import AuditEvent, AuditTrail, is_database_unavailable
from jobop.repository.audit import auditing
from jobop.repository.schedules import ScheduleRepository

if TYPE_CHECKING:
    from .job_operator import JobOperator

log = logging.getLogger(__name__)

# A pending fire another node claimed is started here once it is this old (its claimer
# presumably died between the claim and the Start).
DEFAULT_TAKEOVER = 5.0
# While fires wait for a running execution (overlap queue, catch-up in turn), the loop
# looks again this often: the end of an execution run by another node is not announced.
WAITING_RECHECK = 1.0
NEXT_FIRE_COUNT = 5
# A trigger looks this many seconds ahead for one the cron expression does not fire at.
_TRIGGER_LOOKAHEAD = 3
# A claim records at most this many missed fires (the newest), however long the downtime.
MAX_RECORDED = 1000
_PURGE_INTERVAL = 3600.0


class ScheduleObserver:
    """Told of every fire outcome this node records (each fire is recorded by one node):
    `lateness` is the nominal fire time to the creation of its execution, in seconds,
    for a LAUNCHED fire; None otherwise. Called on the loop's (or Trigger's) thread."""

    def recorded(self, fire: ScheduleFire, lateness: float | None) -> None:
        """A fire's final outcome (LAUNCHED, SKIPPED, MISSED or REFUSED)."""


@lru_cache(maxsize=1024)
def _cron(text: str) -> CronExpression:
    return CronExpression.parse(text)


def _upcoming(cron: CronExpression, after: datetime, zone: Zone, count: int) -> list[datetime]:
    """Up to `count` fire times after `after`: fewer when the expression stops firing."""
    times: list[datetime] = []
    while len(times) < count:
        try:
            after = cron.next_after(after, zone)
        except InvalidSchedule:
            break
        times.append(after)
    return times


def _due_times(
    cron: CronExpression, zone: Zone, cursor: datetime | None, now: datetime, keep: int
) -> tuple[list[datetime], datetime | None]:
    """The newest `keep` fire times from `cursor` to `now` (oldest first), and the one
    after them. Far behind (a long downtime), the walk starts near `now`, not at the
    cursor: each fire time costs a search, and only the newest are recorded."""
    if cursor is None:
        return [], None
    start = cursor
    step = _upcoming(cron, cursor, zone, 1)
    reach = (step[0] - cursor) * keep * 2 if step else timedelta(0)
    while True:
        if reach and now - reach > cursor:
            start = next(iter(_upcoming(cron, now - reach, zone, 1)), now + reach)
        else:
            start = cursor
        due: deque[datetime] = deque(maxlen=keep)
        following: datetime | None = start
        while following is not None and following <= now:
            due.append(following)
            following = next(iter(_upcoming(cron, following, zone, 1)), None)
        if start == cursor or len(due) == keep:
            return list(due), following
        reach *= 2  # fewer fires than a period suggested (weekdays only, say)


def _free_second(spec: ScheduleSpec, now: datetime, taken: set[datetime]) -> datetime:
    """The first whole second from `now` on that no recorded fire has, and the cron
    expression neither when one of the next few seconds is free of it too; else the
    trigger's fire stands for the cron expression's at that second (recorded once)."""
    cron, zone = _cron(spec.cron), time_zone(spec.time_zone)
    second = now.replace(microsecond=0)
    free = [second + timedelta(seconds=i) for i in range(_TRIGGER_LOOKAHEAD)]
    free = [s for s in free if s not in taken]
    for candidate in free:
        if _upcoming(cron, candidate - timedelta(seconds=1), zone, 1) != [candidate]:
            return candidate
    if free:
        return free[0]
    while second in taken:
        second += timedelta(seconds=1)
    return second


class Scheduler:
    def __init__(self, operator: JobOperator, *, takeover: float = DEFAULT_TAKEOVER) -> None:
        self._operator = operator
        self.store = ScheduleRepository(operator.repository.engine)
        self._trail = AuditTrail(operator.repository.engine)
        self._takeover = timedelta(seconds=takeover)
        self._observers: list[ScheduleObserver] = []
        self._wakeup = threading.Event()
        self._stop = threading.Event()
        self._waiting = False
        self._thread: threading.Thread | None = None
        if operator.relay is not None:
            operator.relay.on_schedule_changed = self.wake
        operator.events.add_observer(self._execution_changed)

    def add_observer(self, observer: ScheduleObserver) -> None:
        self._observers.append(observer)

    # -- the operator's API ------------------------------------------------------------

    def create(self, spec: ScheduleSpec) -> ScheduleView:
        """ScheduleExists on a taken name; InvalidSchedule naming the field at fault."""
        spec = self._checked(spec)
        now = utcnow()
        stored = self.store.insert(spec, self._next_fire(spec, now), now)
        self.wake()
        return self._view(stored)

    def get(self, name: str) -> ScheduleView:
        schedule = self.store.get(name)
        if schedule is None:
            raise NoSuchSchedule(f"no schedule named {name!r}")
        return self._view(schedule)

    def list_views(self) -> list[ScheduleView]:
        schedules = self.store.list_schedules()
        last = self.store.last_fires([s.spec.name for s in schedules])
        return [self._view(s, last.get(s.spec.name)) for s in schedules]

    def update(self, name: str, change: dict[str, object]) -> ScheduleView:
        """`change`: ScheduleSpec field -> value. A new cron, zone, or a resume moves the
        cursor to the next fire from now (fires of a pause are neither run nor recorded)."""
        unknown = sorted(set(change) - set(SPEC_FIELDS))
        if unknown:
            raise InvalidSchedule(f"unknown schedule fields: {', '.join(unknown)}")
        if "name" in change and change["name"] != name:
            raise InvalidSchedule("a schedule cannot be renamed", field="name")

        def apply(current: Schedule) -> tuple[ScheduleSpec, datetime | None]:
            spec = self._checked(replace(current.spec, **change))  # type: ignore[arg-type]
            old = current.spec
            moved = (spec.cron, spec.time_zone) != (old.cron, old.time_zone)
            if moved or (old.paused and not spec.paused):
                return spec, self._next_fire(spec, utcnow())
            return spec, current.next_fire_time

        updated = self.store.update(name, apply, utcnow())
        self.wake()
        return self.get(updated.spec.name)

    def delete(self, name: str) -> None:
        self.store.delete(name)
        self.wake()

    def trigger(self, name: str) -> ScheduleFire:
        """An extra fire at the current time, subject to the overlap policy; started here
        at once when it may run now. Its time is the current second, or the next one that
        is no other fire's: an instance is told apart by its fire time to the second (as
        JOB_KEY spells a date), so two fires of a schedule never share a second."""
        now = utcnow()

        def plan(current: Schedule, busy: Busy, taken: set[datetime]) -> PlannedFire:
            self._registered(current.spec)
            fire_time = _free_second(current.spec, now, taken)
            (fire,) = plan_overlap(current.spec.overlap, [fire_time], busy, triggered=True)
            return fire

        schedule, fire = self.store.add_fire(name, plan, self._operator.node_id, now)
        if fire.outcome == PENDING:
            self._launch_pending([schedule.spec.job_name], only=name)
        else:
            self._tell(fire, None)
        self.wake()
        return self.store.get_fire(name, fire.fire_time) or fire

    def fires(self, name: str, limit: int, before: datetime | None = None) -> list[ScheduleFire]:
        """Newest first; NoSuchSchedule for an unknown name."""
        if limit < 1:
            raise InvalidSchedule("limit must be positive", field="limit")
        found = self.store.list_fires(name, limit, before)
        if not found and self.store.get(name) is None:
            raise NoSuchSchedule(f"no schedule named {name!r}")
        return found

    def _checked(self, spec: ScheduleSpec) -> ScheduleSpec:
        """The spec, validated: its parameters must fit the job (as each fire adds its own)."""
        check_spec(spec)
        cron = _cron(spec.cron)
        zone = time_zone(spec.time_zone)
        job = self._registered(spec)
        sample = cron.next_after(utcnow(), zone)
        try:
            checked = job.check_parameters(fire_parameters(spec, sample))
            checked.check_storable()
        except JobopError as error:
            raise InvalidSchedule(
                str(error), field=FIELD_NAMES["parameters"], metadata=error.metadata
            ) from None
        # Kept as given: each fire's Start stores them as the job declares them.
        return spec

    def _registered(self, spec: ScheduleSpec):  # type: ignore[no-untyped-def]
        return self._operator._registered_job(spec.job_name)

    @staticmethod
    def _next_fire(spec: ScheduleSpec, now: datetime) -> datetime | None:
        return _cron(spec.cron).next_after(now, time_zone(spec.time_zone))

    def _view(self, schedule: Schedule, last: ScheduleFire | None = None) -> ScheduleView:
        """The schedule with its next fires from its cursor (the first may be due now)."""
        if last is None:
            last = self.store.last_fires([schedule.spec.name]).get(schedule.spec.name)
        spec = schedule.spec
        cron, zone = _cron(spec.cron), time_zone(spec.time_zone)
        cursor = schedule.next_fire_time
        upcoming: list[datetime] = []  # none while paused
        if not spec.paused and cursor is not None:
            upcoming = [cursor, *_upcoming(cron, cursor, zone, NEXT_FIRE_COUNT - 1)]
        return ScheduleView(schedule, upcoming, last)

    # -- the firing loop ---------------------------------------------------------------

    def start(self) -> None:
        """Run the loop (nodes of role all/worker)."""
        self._thread = threading.Thread(target=self._loop, name="jobop-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wakeup.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def wake(self) -> None:
        self._wakeup.set()

    def _execution_changed(self, change: object) -> None:
        status = getattr(change, "status", None)
        if self._waiting and (status is None or not status.is_running):
            self._wakeup.set()

    def _loop(self) -> None:
        last_purge = float("-inf")
        failed = False
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception as error:
                if not failed:
                    log.warning(
                        "schedules: could not claim or start fires: %s",
                        error,
                        exc_info=not is_database_unavailable(error),
                    )
                failed = True
                wait = self._operator._claim_interval
            else:
                if failed:
                    log.info("schedules: claiming fires again")
                failed = False
            if time.monotonic() - last_purge > _PURGE_INTERVAL:
                last_purge = time.monotonic()
                self._purge()
            self._wakeup.wait(wait)
            self._wakeup.clear()

    def run_once(self) -> float:
        """Claim what is due and start what may start; returns how long to sleep."""
        names = self._operator.registry.names()
        now = utcnow()
        for schedule in self.store.due(names, now):
            if self._stop.is_set():
                return 0.0
            self._claim(schedule, now)
        self._launch_pending(names)
        return self._sleep(names)

    def _sleep(self, names: Sequence[str]) -> float:
        now = utcnow()
        waits = [self._operator._claim_poll_interval()]
        due = self.store.next_due(names)
        if due is not None:
            waits.append((due - now).total_seconds())
        takeover = self.store.next_takeover(names, self._operator.node_id)
        if takeover is not None:
            waits.append((takeover + self._takeover - now).total_seconds())
        self._waiting = self.store.has_waiting(names)
        if self._waiting:
            waits.append(WAITING_RECHECK)
        return max(0.001, min(waits))

    def _claim(self, schedule: Schedule, now: datetime) -> None:
        spec = schedule.spec
        cursor = schedule.next_fire_time
        try:
            cron, zone = _cron(spec.cron), time_zone(spec.time_zone)
        except InvalidSchedule as error:  # stored by a newer jobop that reads more forms
            log.warning("schedule %s: cannot read %s: %s", spec.name, error.field, error)
            return
        due, following = _due_times(cron, zone, cursor, now, max(spec.max_catch_up, MAX_RECORDED))

        def plan(busy: Busy) -> list[PlannedFire]:
            return plan_fires(spec, due, following, now, busy)

        claimed = self.store.claim(spec.name, cursor, following, plan, self._operator.node_id, now)
        for fire in claimed or ():
            if fire.outcome != PENDING:
                self._tell(fire, None)

    def _launch_pending(self, names: Sequence[str], *, only: str | None = None) -> None:
        taken_over_before = utcnow() - self._takeover
        for schedule, fire in self.store.launchable(
            names, self._operator.node_id, taken_over_before
        ):
            if only is None or schedule.spec.name == only:
                self._launch(schedule, fire)

    def _launch(self, schedule: Schedule, fire: ScheduleFire) -> None:
        """Start one pending fire's execution and record it (or why it was refused)."""
        spec = schedule.spec
        operator = self._operator
        parameters = fire_parameters(spec, fire.fire_time)
        event = AuditEvent(
            principal=PRINCIPAL_PREFIX + spec.name,
            role=None,
            action="Start",
            arguments=json.dumps(
                {
                    "jobName": spec.job_name,
                    "parameters": parameters.with_secrets_masked().to_text(),
                    "schedule": spec.name,
                },
                ensure_ascii=False,
            ),
            node=operator.node_id,
            job_name=spec.job_name,
        )
        try:
            with auditing(event):
                execution = operator.start(spec.job_name, parameters)
        except JobInstanceAlreadyExists:
            # Started already (by a node that died before recording it, or racing us).
            execution_id = self._existing_execution(spec, parameters)
            if execution_id is not None:
                settled = self.store.settle(
                    spec.name, fire.fire_time, LAUNCHED, operator.node_id, execution_id=execution_id
                )
                if settled is not None:
                    self._tell(settled, None)
            return
        except JobopError as error:
            if not operator._accepting:
                return  # shutting down: another node starts it
            self._trail.record(event.failed(error.reason, str(error)))
            settled = self.store.settle(
                spec.name, fire.fire_time, REFUSED, operator.node_id, reason=str(error)
            )
            if settled is not None:
                self._tell(settled, None)
            log.warning("schedule %s: fire at %s refused: %s", spec.name, fire.fire_time, error)
            return
        settled = self.store.settle(
            spec.name, fire.fire_time, LAUNCHED, operator.node_id, execution_id=execution.id
        )
        if settled is not None:
            lateness = (execution.create_time - fire.fire_time).total_seconds()
            self._tell(settled, lateness)

    def _existing_execution(self, spec: ScheduleSpec, parameters: JobParameters) -> int | None:
        settings = self._operator.repository.settings
        try:
            checked = self._registered(spec).check_parameters(parameters)
        except JobopError:
            return None
        key = checked.job_key(settings.spring_schema, settings.zone)
        return self.store.first_execution_of(spec.job_name, key)

    def _tell(self, fire: ScheduleFire, lateness: float | None) -> None:
        for observer in self._observers:
            try:
                observer.recorded(fire, lateness)
            except Exception:
                log.warning("a schedule observer failed", exc_info=True)

    def _purge(self) -> None:
        try:
            self.store.purge_fires(utcnow() - FIRE_RETENTION)
        except Exception:
            log.warning("could not purge old schedule fires", exc_info=True)


__all__ = ["DEFAULT_MAX_CATCH_UP", "ScheduleObserver", "Scheduler"]
