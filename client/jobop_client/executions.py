"""Reading JobExecution, StepExecution and JobInstance messages: statuses, times, JSON."""

from __future__ import annotations

import datetime as dt
import enum

from google.protobuf.message import Message

from jobop_client.proto import job_operator_pb2 as pb

_PREFIX = "BATCH_STATUS_"
#: Statuses of an execution that has not finished (Spring Batch's BatchStatus.isRunning).
RUNNING_STATUSES = frozenset(
    {pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING}
)


class BatchStatus(enum.IntEnum):
    """The ``status`` of a JobExecution or StepExecution message, by Spring Batch's names:
    ``BatchStatus(execution.status).name == "COMPLETED"``. The values are the proto's."""

    UNSPECIFIED = pb.BATCH_STATUS_UNSPECIFIED
    COMPLETED = pb.BATCH_STATUS_COMPLETED
    STARTING = pb.BATCH_STATUS_STARTING
    STARTED = pb.BATCH_STATUS_STARTED
    STOPPING = pb.BATCH_STATUS_STOPPING
    STOPPED = pb.BATCH_STATUS_STOPPED
    FAILED = pb.BATCH_STATUS_FAILED
    ABANDONED = pb.BATCH_STATUS_ABANDONED
    UNKNOWN = pb.BATCH_STATUS_UNKNOWN

    @property
    def is_running(self) -> bool:
        return int(self) in RUNNING_STATUSES


def status_name(status: int) -> str:
    """``BATCH_STATUS_COMPLETED`` -> ``COMPLETED``, as Spring Batch and the tables spell it."""
    try:
        return pb.BatchStatus.Name(status).removeprefix(_PREFIX)  # type: ignore[arg-type]
    except ValueError:  # a status newer than this client
        return f"STATUS_{status}"


def is_running(execution: pb.JobExecution | pb.StepExecution) -> bool:
    return execution.status in RUNNING_STATUSES


def timestamp(message: Message, field: str) -> dt.datetime | None:
    """A Timestamp field as an aware UTC datetime, or None when it is not set."""
    if not message.HasField(field):
        return None
    value: dt.datetime = getattr(message, field).ToDatetime(dt.UTC)
    return value


def duration(message: pb.JobExecution | pb.StepExecution) -> dt.timedelta | None:
    """From start to end; while running, to now. None before it starts."""
    start = timestamp(message, "start_time")
    end = timestamp(message, "end_time")
    if end is None and is_running(message):
        end = dt.datetime.now(dt.UTC)
    end = end or timestamp(message, "last_updated")
    if start is None or end is None:
        return None
    return max(end - start, dt.timedelta(0))


def exit_reason(description: str) -> str:
    """The line of an exit description that says why: the first (Spring's stack traces
    and jobop's start with the exception), or the last of a bare Python traceback."""
    lines = [line for line in description.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if lines[0].startswith("Traceback (most recent call last)"):
        for line in reversed(lines):
            if not line.startswith((" ", "\t")) and line != "…":
                return line
    return lines[0]
