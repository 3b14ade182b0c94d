"""What a listing of job executions selects: the filter ListJobExecutions and
CountJobExecutions take, a pure value every layer passes down."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .status import BatchStatus


@dataclass(frozen=True, slots=True)
class TimeRange:
    """From `since` (inclusive) until `until` (exclusive); None leaves that side open."""

    since: datetime | None = None
    until: datetime | None = None

    @property
    def bounded(self) -> bool:
        return self.since is not None or self.until is not None


OPEN_RANGE = TimeRange()


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """Executions of these jobs (none: of every job) with any of these statuses and exit
    codes (none: any), created / started / ended in these ranges, holding every one of
    these parameters (name and the text Spring stores for the value; identifying or
    not), owned by this node's launch request, and (None: either way) overdue or not.
    Every given condition must hold."""

    job_names: tuple[str, ...] = ()
    job_instance_id: int | None = None
    statuses: tuple[BatchStatus, ...] = ()
    exit_codes: tuple[str, ...] = ()
    created: TimeRange = OPEN_RANGE
    started: TimeRange = OPEN_RANGE
    ended: TimeRange = OPEN_RANGE
    parameters: tuple[tuple[str, str], ...] = ()
    node_id: str | None = None
    overdue: bool | None = None

    def describe(self) -> str:
        """A canonical text of the filter (the same for the same selection whatever the
        order of its lists), which page tokens are bound to."""

        def when(value: datetime | None) -> str:
            return value.isoformat() if value is not None else ""

        ranges = [
            f"{when(r.since)}/{when(r.until)}" for r in (self.created, self.started, self.ended)
        ]
        parts = [
            sorted(set(self.job_names)),
            self.job_instance_id,
            sorted({status.value for status in self.statuses}),
            sorted(set(self.exit_codes)),
            ranges,
            sorted(set(self.parameters)),
            self.node_id,
            self.overdue,
        ]
        return repr(parts)
