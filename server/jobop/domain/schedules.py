"""Schedules: a job started by a cron expression, each fire its own job instance.

Pure values and the rules every layer shares; the firing loop (operator.scheduler) claims
fires in the database (repository.schedules). A fire starts the job with the schedule's
parameters plus the identifying `schedule.name` and `schedule.fireTime` (the nominal fire
time), so a fire can only ever make one instance, whichever node launches it.

InvalidSchedule (cron.py) names the field at fault in camelCase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .cron import InvalidSchedule
from .errors import JobopError
from .parameters import JobParameter, JobParameters

OVERLAPS = ("skip", "queue", "allow")
CATCH_UPS = ("none", "latest", "all")

DEFAULT_MAX_CATCH_UP = 100
MAX_CATCH_UP_LIMIT = 10_000

# The identifying parameters each fire adds (a schedule may not set them itself).
NAME_PARAMETER = "schedule.name"
FIRE_TIME_PARAMETER = "schedule.fireTime"
FIRE_PARAMETERS = (NAME_PARAMETER, FIRE_TIME_PARAMETER)

NAME_LENGTH = 100
DESCRIPTION_LENGTH = 1000
CRON_LENGTH = 200
TIME_ZONE_LENGTH = 64

# The principal a fire's Start is audited as.
PRINCIPAL_PREFIX = "schedule:"

# A fire's outcome. PENDING is not final: claimed, its execution not yet created (it waits
# for the schedule's running execution under `queue`, or for its turn among catch-up
# fires, or its claimer is starting it right now).
PENDING = "PENDING"
LAUNCHED = "LAUNCHED"
SKIPPED = "SKIPPED"
MISSED = "MISSED"
REFUSED = "REFUSED"
OUTCOMES = (PENDING, LAUNCHED, SKIPPED, MISSED, REFUSED)

# A fire found due later than this is missed (the catch-up policy decides): a minute, or
# half the schedule's period when that is shorter, but at least a second.
MISFIRE_THRESHOLD = timedelta(minutes=1)
MIN_MISFIRE_THRESHOLD = timedelta(seconds=1)

# Fire records are kept this long, then purged.
FIRE_RETENTION = timedelta(days=30)

# GET /api/schedules/preview is a route of its own.
RESERVED_NAME = "preview"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


class NoSuchSchedule(JobopError):
    reason = "NO_SUCH_SCHEDULE"


class ScheduleExists(JobopError):
    reason = "SCHEDULE_EXISTS"


@dataclass(frozen=True)
class ScheduleSpec:
    """What an operator sets. `parameters`: the schedule's own (typed as on Start)."""

    name: str
    job_name: str
    cron: str
    time_zone: str = "UTC"
    parameters: JobParameters = field(default_factory=JobParameters)
    overlap: str = "skip"
    catch_up: str = "latest"
    max_catch_up: int = DEFAULT_MAX_CATCH_UP
    paused: bool = False
    description: str = ""


SPEC_FIELDS = (
    "name",
    "job_name",
    "cron",
    "time_zone",
    "parameters",
    "overlap",
    "catch_up",
    "max_catch_up",
    "paused",
    "description",
)

# The camelCase name of each field, as errors name it (the REST names).
FIELD_NAMES = {
    "name": "name",
    "job_name": "jobName",
    "cron": "cron",
    "time_zone": "timeZone",
    "parameters": "parameters",
    "overlap": "overlap",
    "catch_up": "catchUp",
    "max_catch_up": "maxCatchUp",
    "paused": "paused",
    "description": "description",
}


@dataclass(frozen=True)
class Schedule:
    spec: ScheduleSpec
    created: datetime
    updated: datetime
    updated_by: str
    # The next nominal fire not yet claimed (UTC); the claim cursor.
    next_fire_time: datetime | None


@dataclass(frozen=True)
class ScheduleFire:
    schedule_name: str
    fire_time: datetime  # nominal, UTC
    outcome: str  # PENDING, LAUNCHED, SKIPPED, MISSED or REFUSED
    execution_id: int | None
    reason: str
    recorded: datetime
    node_id: str | None
    triggered: bool  # an extra fire asked for by Trigger


@dataclass(frozen=True)
class ScheduleView:
    schedule: Schedule
    next_fire_times: list[datetime]  # the next five (UTC; surfaces show the zone's offset)
    last_fire: ScheduleFire | None


def check_spec(spec: ScheduleSpec) -> None:
    """InvalidSchedule naming the first field that does not fit (cron, zone and the job's
    parameters are checked by the operator, which knows them)."""
    _check_text("name", spec.name, NAME_LENGTH)
    if not _NAME.match(spec.name):
        raise InvalidSchedule(
            f"name {spec.name!r}: use letters, digits and . _ : - (a letter or digit first)",
            field="name",
        )
    if spec.name == RESERVED_NAME:
        raise InvalidSchedule(f"{RESERVED_NAME!r} names the preview route", field="name")
    _check_text("jobName", spec.job_name, NAME_LENGTH)
    _check_text("cron", spec.cron, CRON_LENGTH)
    _check_text("timeZone", spec.time_zone, TIME_ZONE_LENGTH)
    if spec.overlap not in OVERLAPS:
        raise InvalidSchedule(
            f"overlap must be one of {', '.join(OVERLAPS)}, not {spec.overlap!r}",
            field="overlap",
        )
    if spec.catch_up not in CATCH_UPS:
        raise InvalidSchedule(
            f"catchUp must be one of {', '.join(CATCH_UPS)}, not {spec.catch_up!r}",
            field="catchUp",
        )
    limit = spec.max_catch_up
    if (
        isinstance(limit, bool)
        or not isinstance(limit, int)
        or not 1 <= limit <= MAX_CATCH_UP_LIMIT
    ):
        raise InvalidSchedule(
            f"maxCatchUp must be an integer from 1 to {MAX_CATCH_UP_LIMIT}, not {limit!r}",
            field="maxCatchUp",
        )
    if not isinstance(spec.paused, bool):
        raise InvalidSchedule("paused must be true or false", field="paused")
    if not isinstance(spec.description, str) or len(spec.description) > DESCRIPTION_LENGTH:
        raise InvalidSchedule(
            f"description must be text of at most {DESCRIPTION_LENGTH} characters",
            field="description",
        )
    if not isinstance(spec.parameters, JobParameters):
        raise InvalidSchedule("parameters must be job parameters", field="parameters")
    taken = [name for name in FIRE_PARAMETERS if name in spec.parameters]
    if taken:
        raise InvalidSchedule(
            f"parameters: {', '.join(taken)} is set by each fire, not by the schedule",
            field="parameters",
        )


def _check_text(field_name: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\x00" in value:
        raise InvalidSchedule(
            f"{field_name} must be text of 1 to {limit} characters", field=field_name
        )


def fire_parameters(spec: ScheduleSpec, fire_time: datetime) -> JobParameters:
    """The parameters of one fire's Start: the schedule's, plus the two that name it."""
    return spec.parameters.merged(
        {
            NAME_PARAMETER: JobParameter(spec.name, "STRING"),
            FIRE_TIME_PARAMETER: JobParameter.of(fire_time),
        }
    )


def scheduled_fire(parameters: JobParameters) -> tuple[str, datetime] | None:
    """The schedule and nominal fire time an execution was launched for (its two fire
    parameters), or None for an execution no schedule fired."""
    name = parameters.value(NAME_PARAMETER)
    fire_time = parameters.value(FIRE_TIME_PARAMETER)
    if isinstance(name, str) and isinstance(fire_time, datetime):
        return name, fire_time
    return None


def misfire_threshold(fire_time: datetime, following: datetime | None) -> timedelta:
    """How late a fire may be found and still run as on time: MISFIRE_THRESHOLD, or half
    the period up to the following fire when shorter, but at least a second."""
    if following is None:
        return MISFIRE_THRESHOLD
    half_period = (following - fire_time) / 2
    return max(MIN_MISFIRE_THRESHOLD, min(MISFIRE_THRESHOLD, half_period))


def catch_up_plan(
    missed: list[datetime], catch_up: str, max_catch_up: int
) -> tuple[list[datetime], list[datetime]]:
    """Of the fires found missed (oldest first): (those to run anyway, those recorded
    missed), as the catch-up policy says."""
    if not missed or catch_up == "none":
        return [], list(missed)
    keep = 1 if catch_up == "latest" else max_catch_up
    return missed[-keep:], missed[:-keep]


@dataclass(frozen=True, slots=True)
class Busy:
    """What of a schedule runs or waits, read in the transaction that claims a fire."""

    running: int  # executions of its fires' instances STARTING, STARTED or STOPPING
    pending: int  # fires claimed whose execution is not created yet


@dataclass(frozen=True, slots=True)
class PlannedFire:
    fire_time: datetime
    outcome: str
    reason: str = ""
    triggered: bool = False


def plan_fires(
    spec: ScheduleSpec,
    due: list[datetime],
    following: datetime | None,
    now: datetime,
    busy: Busy,
) -> list[PlannedFire]:
    """The records of the fires `due` (oldest first, all at or before `now`; `following`
    is the fire after the last): each found later than its misfire threshold is missed
    and the catch-up policy decides whether it runs; those that run are subject to the
    overlap policy. PENDING fires of a schedule start oldest first."""
    missed: list[datetime] = []
    on_time: list[datetime] = []
    for index, fire_time in enumerate(due):
        after = due[index + 1] if index + 1 < len(due) else following
        late = now - fire_time
        (missed if late > misfire_threshold(fire_time, after) else on_time).append(fire_time)
    run, dropped = catch_up_plan(missed, spec.catch_up, spec.max_catch_up)
    reason = _MISSED_REASONS[spec.catch_up].format(max_catch_up=spec.max_catch_up)
    planned = [PlannedFire(fire_time, MISSED, reason) for fire_time in dropped]
    planned += plan_overlap(spec.overlap, sorted(run + on_time), busy)
    return sorted(planned, key=lambda fire: fire.fire_time)


_MISSED_REASONS = {
    "none": "missed: found due past the misfire threshold (catch-up none)",
    "latest": "missed: a later missed fire runs instead (catch-up latest)",
    "all": "missed: more fires were missed than maxCatchUp ({max_catch_up}) lets run",
}
WAITS_REASON = "waits for the schedule's running execution (overlap queue)"


def plan_overlap(
    overlap: str, times: list[datetime], busy: Busy, *, triggered: bool = False
) -> list[PlannedFire]:
    """Fires to run (oldest first) as the overlap policy decides, given what runs: all
    pending when nothing runs or waits (or under `allow`); under `queue` the first waits
    unless a fire already does; the others are skipped."""
    if overlap == "allow" or not (busy.running or busy.pending):
        return [PlannedFire(t, PENDING, "", triggered) for t in times]
    planned: list[PlannedFire] = []
    for fire_time in times:
        if overlap == "queue" and not busy.pending and not planned:
            planned.append(PlannedFire(fire_time, PENDING, WAITS_REASON, triggered))
        elif overlap == "queue":
            reason = "skipped: a fire already waits for the running execution (overlap queue)"
            planned.append(PlannedFire(fire_time, SKIPPED, reason, triggered))
        else:
            reason = "skipped: an execution of the schedule is running or waiting (overlap skip)"
            planned.append(PlannedFire(fire_time, SKIPPED, reason, triggered))
    return planned
