"""Workload control: how the cluster admits a job's executions (limits, pause, priority,
overdue). Pure values; the claim decides admission with them (repository.workload).

A job's settings come from two places: what its definition declares (`Job(...,
max_concurrent=2, concurrency_key="tenant", max_duration=...)`) and run-time values an
operator sets (JOBOP_JOB_SETTINGS), which win until cleared. `SettingsOverride.over`
merges them into the `JobSettings` in force.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import datetime

from .errors import JobopError

PRIORITY_MIN = -1000
PRIORITY_MAX = 1000
DEFAULT_PRIORITY = 0

# A run-time value set in JOBOP_JOB_SETTINGS: longest concurrency key (a parameter name).
CONCURRENCY_KEY_LENGTH = 100


class InvalidSettings(JobopError):
    """A priority or a job setting out of its range; `field` names it (INVALID_ARGUMENT)."""

    reason = "INVALID_ARGUMENT"


def check_priority(priority: int, *, field: str = "priority") -> int:
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidSettings(f"{field} must be an integer", field=field)
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidSettings(
            f"{field} must be between {PRIORITY_MIN} and {PRIORITY_MAX}, not {priority}",
            field=field,
        )
    return priority


@dataclass(frozen=True, slots=True)
class JobSettings:
    """The settings in force for a job (or, on a `Job`, the ones it declares).

    `max_concurrent`: executions of the job that may hold a slot at once across the
    cluster (claimed, STARTED or STOPPING); None: no limit. `concurrency_key`: the name of
    a job parameter; the limit then holds per distinct value of it (an execution without
    that parameter counts under the empty value). `paused`: new and waiting starts stay
    queued. `max_duration_seconds`: an execution running longer is overdue;
    `stop_when_overdue`: it is then stopped too.
    """

    max_concurrent: int | None = None
    concurrency_key: str | None = None
    paused: bool = False
    max_duration_seconds: float | None = None
    stop_when_overdue: bool = False

    def __post_init__(self) -> None:
        check_settings(self.max_concurrent, self.concurrency_key, self.max_duration_seconds)

    @property
    def governed(self) -> bool:
        """Whether admission must look before running a start (a limit, or paused): a
        start of an ungoverned job runs on the accepting node's free worker at once."""
        return self.max_concurrent is not None or self.paused


@dataclass(frozen=True, slots=True)
class SettingsOverride:
    """Run-time values of one job (a JOBOP_JOB_SETTINGS row): None is "not set here", so
    the declared value holds. `updated`/`updated_by`: the last change and its caller."""

    max_concurrent: int | None = None
    concurrency_key: str | None = None
    paused: bool | None = None
    max_duration_seconds: float | None = None
    stop_when_overdue: bool | None = None
    updated: datetime | None = None
    updated_by: str | None = None

    def __post_init__(self) -> None:
        check_settings(
            self.max_concurrent, self.concurrency_key, self.max_duration_seconds, key_alone=True
        )

    def over(self, declared: JobSettings) -> JobSettings:
        """The settings in force: each value set here, else the declared one."""
        changes = {
            f.name: getattr(self, f.name)
            for f in fields(JobSettings)
            if getattr(self, f.name) is not None
        }
        return replace(declared, **changes)

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(JobSettings))


# The fields of a settings change: a value sets it, CLEAR clears the run-time value,
# absence leaves it as it is.
SETTING_FIELDS = tuple(f.name for f in fields(JobSettings))


class _Clear:
    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = _Clear()


def apply_change(current: SettingsOverride, change: dict[str, object]) -> SettingsOverride:
    """`current` with the change's fields (name -> value or CLEAR) applied; the result is
    checked (InvalidSettings naming the field)."""
    unknown = set(change) - set(SETTING_FIELDS)
    if unknown:
        raise InvalidSettings(f"unknown settings: {', '.join(sorted(unknown))}")
    values = {name: (None if value is CLEAR else value) for name, value in change.items()}
    return replace(current, **values)  # type: ignore[arg-type]


def check_settings(
    max_concurrent: int | None,
    concurrency_key: str | None,
    max_duration_seconds: float | None,
    *,
    key_alone: bool = False,
) -> None:
    """Raise InvalidSettings for a value out of range. `key_alone`: a key may be set
    without a limit (a run-time key over a declared limit)."""
    if max_concurrent is not None:
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int):
            raise InvalidSettings("maxConcurrent must be an integer", field="maxConcurrent")
        if not 1 <= max_concurrent <= 1_000_000:
            raise InvalidSettings(
                f"maxConcurrent must be between 1 and 1000000, not {max_concurrent} (pause "
                "a job to hold all of its starts)",
                field="maxConcurrent",
            )
    if concurrency_key is not None:
        if not concurrency_key or len(concurrency_key) > CONCURRENCY_KEY_LENGTH:
            raise InvalidSettings(
                f"concurrencyKey must be a parameter name of 1 to {CONCURRENCY_KEY_LENGTH} "
                "characters",
                field="concurrencyKey",
            )
        if max_concurrent is None and not key_alone:
            raise InvalidSettings(
                "concurrencyKey needs maxConcurrent (the limit it holds per value)",
                field="concurrencyKey",
            )
    if max_duration_seconds is not None:
        if isinstance(max_duration_seconds, bool) or not isinstance(
            max_duration_seconds, int | float
        ):
            raise InvalidSettings("maxDurationSeconds must be a number", field="maxDurationSeconds")
        if not (math.isfinite(max_duration_seconds) and max_duration_seconds > 0):
            raise InvalidSettings(
                f"maxDurationSeconds must be positive, not {max_duration_seconds}",
                field="maxDurationSeconds",
            )


@dataclass(frozen=True, slots=True)
class JobWorkload:
    """A job's settings as the surfaces show them: what it declares, the run-time values,
    the merge in force, and how many of its executions hold a slot or wait right now."""

    job_name: str
    declared: JobSettings
    override: SettingsOverride
    running: int
    queued: int

    @property
    def settings(self) -> JobSettings:
        return self.override.over(self.declared)


@dataclass(frozen=True, slots=True)
class QueuedExecution:
    """A start waiting for a claim, in run order (`position` 1 runs first). `waiting_for`
    says in words why it has not run (a limit, a pause, no free worker)."""

    execution_id: int
    job_name: str
    priority: int
    position: int
    queued_seconds: float
    waiting_for: str
