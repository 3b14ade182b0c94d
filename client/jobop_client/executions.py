"""Reading JobExecution, StepExecution and JobInstance messages: statuses, times, JSON."""

from __future__ import annotations

import datetime as dt
import enum
import math
from typing import Any

from google.protobuf.message import Message

from jobop_client import parameters
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


def _iso(message: Message, field: str) -> str | None:
    value = timestamp(message, field)
    return value.isoformat().replace("+00:00", "Z") if value else None


def parameter_to_dict(value: parameters.ParameterValue) -> dict[str, Any]:
    plain = value.value
    if isinstance(plain, dt.datetime):
        plain = plain.isoformat().replace("+00:00", "Z")
    elif isinstance(plain, float) and not math.isfinite(plain):
        # JSON has no NaN or Infinity: proto3's JSON mapping spells them as strings.
        plain = "NaN" if math.isnan(plain) else ("Infinity" if plain > 0 else "-Infinity")
    # The type as the text form spells it (`items=6,long`), so output reads like input.
    return {"value": plain, "type": value.type.lower(), "identifying": value.identifying}


def step_to_dict(step: pb.StepExecution) -> dict[str, Any]:
    """A JSON-ready dict with the proto's field names and statuses as Spring spells them."""
    return {
        "id": step.id,
        "version": step.version,
        "job_execution_id": step.job_execution_id,
        "step_name": step.step_name,
        "status": status_name(step.status),
        "exit_status": {
            "exit_code": step.exit_status.exit_code,
            "exit_description": step.exit_status.exit_description,
        },
        "read_count": step.read_count,
        "write_count": step.write_count,
        "filter_count": step.filter_count,
        "commit_count": step.commit_count,
        "rollback_count": step.rollback_count,
        "read_skip_count": step.read_skip_count,
        "process_skip_count": step.process_skip_count,
        "write_skip_count": step.write_skip_count,
        "create_time": _iso(step, "create_time"),
        "start_time": _iso(step, "start_time"),
        "end_time": _iso(step, "end_time"),
        "last_updated": _iso(step, "last_updated"),
    }


def execution_to_dict(execution: pb.JobExecution) -> dict[str, Any]:
    """A JSON-ready dict of a job execution and its steps (see ``step_to_dict``)."""
    return {
        "id": execution.id,
        "version": execution.version,
        "job_instance_id": execution.job_instance_id,
        "job_name": execution.job_name,
        "parameters": {
            name: parameter_to_dict(value)
            for name, value in parameters.from_proto_map(execution.parameters).items()
        },
        "status": status_name(execution.status),
        "exit_status": {
            "exit_code": execution.exit_status.exit_code,
            "exit_description": execution.exit_status.exit_description,
        },
        "create_time": _iso(execution, "create_time"),
        "start_time": _iso(execution, "start_time"),
        "end_time": _iso(execution, "end_time"),
        "last_updated": _iso(execution, "last_updated"),
        "step_executions": [step_to_dict(step) for step in execution.step_executions],
    }


def instance_to_dict(instance: pb.JobInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "version": instance.version,
        "job_name": instance.job_name,
        "job_key": instance.job_key,
    }
