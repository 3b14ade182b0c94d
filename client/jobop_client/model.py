"""Executions as small Python objects: what ``jobop_client.Client`` returns.

Statuses are ``BatchStatus`` members (Spring Batch's names), times aware UTC datetimes (None
when unset), parameters a read-only mapping of plain values whose typed form stays at
hand, and every object keeps the protobuf message it was read from as ``.proto``.

"version" has two meanings in jobop (docs/api.md, "JSON naming"): a JobExecution's
``change_version`` grows at every persisted change of it or its steps (what a watch resumes
after); ``version`` of a StepExecution or a JobInstance is Spring Batch's VERSION column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from jobop_client import executions
from jobop_client.executions import BatchStatus
from jobop_client.jsonform import setting_values
from jobop_client.parameters import ParameterValue, Value, from_proto_map, to_parameter_value
from jobop_client.proto import job_operator_pb2 as pb

__all__ = [
    "BatchStatus",
    "ExitStatus",
    "JobExecution",
    "JobInstance",
    "JobParameters",
    "JobSettings",
    "JobWorkload",
    "QueuedExecution",
    "SettingsOverride",
    "StepExecution",
    "format_duration",
]


def _status(value: int) -> BatchStatus:
    try:
        return BatchStatus(value)
    except ValueError:  # a status newer than this client
        return BatchStatus.UNKNOWN


def format_duration(value: dt.timedelta | None) -> str:
    """``850ms``, ``12.3s``, ``4m05s``, ``2h07m``; ``-`` for None."""
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class JobParameters(Mapping[str, Value]):
    """Name -> plain value (str, int, float, bool, or an aware UTC datetime for dates).

    ``typed[name]`` is the ParameterValue with its type and identifying flag. Equal to a
    plain dict of the same values.
    """

    def __init__(self, typed: Mapping[str, ParameterValue] | None = None) -> None:
        self._typed: dict[str, ParameterValue] = {
            name: to_parameter_value(value) for name, value in (typed or {}).items()
        }

    @property
    def typed(self) -> Mapping[str, ParameterValue]:
        return dict(self._typed)

    @property
    def identifying(self) -> dict[str, Value]:
        """The parameters that make the job instance (Spring's JOB_KEY)."""
        return {name: value.value for name, value in self._typed.items() if value.identifying}

    def __getitem__(self, name: str) -> Value:
        return self._typed[name].value

    def __iter__(self) -> Iterator[str]:
        return iter(self._typed)

    def __len__(self) -> int:
        return len(self._typed)

    def __repr__(self) -> str:
        return f"JobParameters({dict(self)!r})"


@dataclass(frozen=True)
class ExitStatus:
    exit_code: str
    exit_description: str = ""

    @property
    def reason(self) -> str:
        """The line of the description that says why (the exception), or ''."""
        return executions.exit_reason(self.exit_description)


def _exit_status(message: pb.ExitStatus) -> ExitStatus:
    return ExitStatus(message.exit_code, message.exit_description)


@dataclass(frozen=True)
class StepExecution:
    id: int
    version: int  # Spring Batch's VERSION of the step's row
    job_execution_id: int
    step_name: str
    status: BatchStatus
    exit_status: ExitStatus
    read_count: int
    write_count: int
    filter_count: int
    commit_count: int
    rollback_count: int
    read_skip_count: int
    process_skip_count: int
    write_skip_count: int
    create_time: dt.datetime | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    last_updated: dt.datetime | None
    # The node that ran it (a partition's, else its job execution's); None if unknown.
    node_id: str | None
    proto: pb.StepExecution = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, message: pb.StepExecution) -> StepExecution:
        return cls(
            id=message.id,
            version=message.version,
            job_execution_id=message.job_execution_id,
            step_name=message.step_name,
            status=_status(message.status),
            exit_status=_exit_status(message.exit_status),
            read_count=message.read_count,
            write_count=message.write_count,
            filter_count=message.filter_count,
            commit_count=message.commit_count,
            rollback_count=message.rollback_count,
            read_skip_count=message.read_skip_count,
            process_skip_count=message.process_skip_count,
            write_skip_count=message.write_skip_count,
            create_time=executions.timestamp(message, "create_time"),
            start_time=executions.timestamp(message, "start_time"),
            end_time=executions.timestamp(message, "end_time"),
            last_updated=executions.timestamp(message, "last_updated"),
            node_id=message.node_id or None,
            proto=message,
        )

    @property
    def is_running(self) -> bool:
        return self.status.is_running

    @property
    def skip_count(self) -> int:
        return self.read_skip_count + self.process_skip_count + self.write_skip_count

    @property
    def duration(self) -> dt.timedelta | None:
        """From start to end (while running, to now); None before it starts."""
        return executions.duration(self.proto)

    @property
    def summary(self) -> str:
        line = f"{self.step_name} {self.status.name}: read {self.read_count}"
        line += f", written {self.write_count}"
        if self.filter_count:
            line += f", filtered {self.filter_count}"
        if self.skip_count:
            line += f", skipped {self.skip_count}"
        return line


@dataclass(frozen=True)
class JobExecution:
    id: int
    change_version: int  # grows at every persisted change (see the module's docstring)
    job_instance_id: int
    job_name: str
    parameters: JobParameters
    status: BatchStatus
    exit_status: ExitStatus
    create_time: dt.datetime | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    last_updated: dt.datetime | None
    step_executions: tuple[StepExecution, ...]
    proto: pb.JobExecution = field(repr=False, compare=False)
    priority: int = 0  # its place in the queue: higher runs first
    overdue: bool = False  # it ran longer than its job's maximum duration

    @classmethod
    def from_proto(cls, message: pb.JobExecution) -> JobExecution:
        return cls(
            id=message.id,
            # A server older than the field sends only `version`, the same counter.
            change_version=message.change_version or message.version,
            job_instance_id=message.job_instance_id,
            job_name=message.job_name,
            parameters=JobParameters(from_proto_map(message.parameters)),
            status=_status(message.status),
            exit_status=_exit_status(message.exit_status),
            create_time=executions.timestamp(message, "create_time"),
            start_time=executions.timestamp(message, "start_time"),
            end_time=executions.timestamp(message, "end_time"),
            last_updated=executions.timestamp(message, "last_updated"),
            step_executions=tuple(StepExecution.from_proto(s) for s in message.step_executions),
            proto=message,
            priority=message.priority,
            overdue=message.overdue,
        )

    @property
    def is_running(self) -> bool:
        return self.status.is_running

    @property
    def duration(self) -> dt.timedelta | None:
        """From start to end (while running, to now); None before it starts."""
        return executions.duration(self.proto)

    def step(self, name: str) -> StepExecution:
        """The latest execution of the step called ``name``; KeyError when it has none."""
        for step in reversed(self.step_executions):
            if step.step_name == name:
                return step
        raise KeyError(f"execution {self.id} has no execution of step {name!r}")

    @property
    def summary(self) -> str:
        """One line: ``demoChunkJob execution 7 COMPLETED (exit COMPLETED) in 1.2s;
        demoChunkStep COMPLETED: read 5, written 5``."""
        line = f"{self.job_name} execution {self.id} {self.status.name}"
        if self.overdue:
            line += " overdue"
        line += f" (exit {self.exit_status.exit_code or '-'})"
        if self.duration is not None:
            line += f" in {format_duration(self.duration)}"
        if self.exit_status.reason and self.status is not BatchStatus.COMPLETED:
            line += f": {self.exit_status.reason}"
        steps = "; ".join(step.summary for step in self.step_executions)
        return f"{line}; {steps}" if steps else line

    def __str__(self) -> str:
        return self.summary


@dataclass(frozen=True)
class JobInstance:
    id: int
    version: int  # Spring Batch's VERSION of the instance's row
    job_name: str
    job_key: str  # Spring's MD5 of the identifying parameters
    proto: pb.JobInstance = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, message: pb.JobInstance) -> JobInstance:
        return cls(message.id, message.version, message.job_name, message.job_key, message)


# -- workload control ----------------------------------------------------------------------


@dataclass(frozen=True)
class JobSettings:
    """A job's settings in force (or those it declares). None: no limit, no key, never
    overdue."""

    max_concurrent: int | None
    concurrency_key: str | None
    paused: bool
    max_duration_seconds: float | None
    stop_when_overdue: bool

    @classmethod
    def from_proto(cls, message: pb.JobSettings) -> JobSettings:
        return cls(**setting_values(message))


@dataclass(frozen=True)
class SettingsOverride:
    """The run-time values set over what a job declares: None is "not set here"."""

    max_concurrent: int | None
    concurrency_key: str | None
    paused: bool | None
    max_duration_seconds: float | None
    stop_when_overdue: bool | None
    updated: dt.datetime | None  # the last change, and who made it
    updated_by: str | None

    @classmethod
    def from_proto(cls, message: pb.JobSettingsOverride) -> SettingsOverride:
        return cls(
            **setting_values(message),
            updated=executions.timestamp(message, "updated"),
            updated_by=message.updated_by or None,
        )


@dataclass(frozen=True)
class JobWorkload:
    """A job's settings (in force, declared, set at run time) and how many of its
    executions hold a slot (``running``) or wait (``queued``) right now."""

    job_name: str
    settings: JobSettings
    declared: JobSettings
    override: SettingsOverride
    running: int
    queued: int
    proto: pb.JobWorkload = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, message: pb.JobWorkload) -> JobWorkload:
        return cls(
            job_name=message.job_name,
            settings=JobSettings.from_proto(message.settings),
            declared=JobSettings.from_proto(message.declared),
            override=SettingsOverride.from_proto(message.override),
            running=message.running,
            queued=message.queued,
            proto=message,
        )


@dataclass(frozen=True)
class QueuedExecution:
    """A start waiting for a claim; ``position`` 1 runs first, ``waiting_for`` says why
    it waits ("demoTaskletJob is paused")."""

    execution_id: int
    job_name: str
    priority: int
    position: int
    queued_seconds: float
    waiting_for: str
    proto: pb.QueuedExecution = field(repr=False, compare=False)

    @classmethod
    def from_proto(cls, message: pb.QueuedExecution) -> QueuedExecution:
        return cls(
            execution_id=message.execution_id,
            job_name=message.job_name,
            priority=message.priority,
            position=message.position,
            queued_seconds=message.queued_seconds,
            waiting_for=message.waiting_for,
            proto=message,
        )
