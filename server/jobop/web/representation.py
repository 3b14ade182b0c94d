"""The REST API's JSON: the proto messages with camelCase names, numbers as numbers.

Field names are the proto3 JSON names (what Envoy's gRPC-JSON transcoder writes), but
64-bit ids and counters are JSON numbers rather than strings, statuses are spelled as
Spring Batch and the tables spell them (`COMPLETED`), and times are ISO-8601 UTC strings
or null. A parameter is written in the typed form that requests accept
(`{"long": 6, "identifying": true}`), so that a response's parameters can be sent back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from google.protobuf.message import Message
from jobop_client import catalogue
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.executions import status_name, timestamp

from jobop.domain import InvalidJobParameters
from jobop.repository.nodes import NodeState

# The typed form's keys.
_TYPE_KEYS: dict[str, client_parameters.ParameterType] = {
    "string": "STRING",
    "long": "LONG",
    "double": "DOUBLE",
    "date": "DATE",
    "boolean": "BOOLEAN",
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _time(message: Message, field: str) -> str | None:
    value = timestamp(message, field)
    return value.isoformat().replace("+00:00", "Z") if value else None


def _utc(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    # The repository keeps UTC; a naive value (SQLite) is UTC as well.
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def audit_event_json(event: Any) -> dict[str, Any]:
    """A ListAuditEvents event in JSON (proto3 JSON names; 0/"" as null)."""
    return {
        "id": event.id,
        "time": _time(event, "time"),
        "principal": event.principal,
        "role": event.role or None,
        "action": event.action,
        "arguments": event.arguments,
        "peer": event.peer,
        "node": event.node,
        "succeeded": event.succeeded,
        "reason": event.reason or None,
        "message": event.message or None,
        "executionId": event.execution_id or None,
        "jobName": event.job_name or None,
    }


def node_json(node: NodeState) -> dict[str, Any]:
    """A node of the cluster with its lease state (no RPC returns nodes)."""
    return {
        "nodeId": node.node_id,
        "host": node.host,
        "pid": node.pid,
        "role": node.role,
        "version": node.version,
        "state": node.state,
        "started": _utc(node.started),
        "lastHeartbeat": _utc(node.last_heartbeat),
        "leaseSeconds": node.lease_seconds,
        "lost": _utc(node.lost),
        "lostBy": node.lost_by,
        "left": _utc(node.left),
        "runningExecutions": node.running_executions or 0,
        "heartbeatAgeSeconds": node.heartbeat_age or 0.0,
    }


def exit_status_json(exit_status: pb.ExitStatus) -> dict[str, str]:
    return {"exitCode": exit_status.exit_code, "exitDescription": exit_status.exit_description}


def parameter_json(message: pb.JobParameter) -> dict[str, Any]:
    return catalogue.typed_parameter(client_parameters.from_proto(message))


def parameters_json(messages: Mapping[str, pb.JobParameter]) -> dict[str, Any]:
    return {name: parameter_json(messages[name]) for name in sorted(messages)}


def step_json(step: pb.StepExecution) -> dict[str, Any]:
    return {
        "id": step.id,
        "version": step.version,
        "jobExecutionId": step.job_execution_id,
        "stepName": step.step_name,
        "status": status_name(step.status),
        "exitStatus": exit_status_json(step.exit_status),
        "readCount": step.read_count,
        "writeCount": step.write_count,
        "filterCount": step.filter_count,
        "commitCount": step.commit_count,
        "rollbackCount": step.rollback_count,
        "readSkipCount": step.read_skip_count,
        "processSkipCount": step.process_skip_count,
        "writeSkipCount": step.write_skip_count,
        "createTime": _time(step, "create_time"),
        "startTime": _time(step, "start_time"),
        "endTime": _time(step, "end_time"),
        "lastUpdated": _time(step, "last_updated"),
    }


def execution_json(execution: pb.JobExecution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "version": execution.version,
        "jobInstanceId": execution.job_instance_id,
        "jobName": execution.job_name,
        "parameters": parameters_json(execution.parameters),
        "status": status_name(execution.status),
        "exitStatus": exit_status_json(execution.exit_status),
        "createTime": _time(execution, "create_time"),
        "startTime": _time(execution, "start_time"),
        "endTime": _time(execution, "end_time"),
        "lastUpdated": _time(execution, "last_updated"),
        "stepExecutions": [step_json(step) for step in execution.step_executions],
    }


def instance_json(instance: pb.JobInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "version": instance.version,
        "jobName": instance.job_name,
        "jobKey": instance.job_key,
    }


# -- requests ----------------------------------------------------------------------------


def parameters_from_json(value: object) -> dict[str, pb.JobParameter]:
    """Request parameters: `{"items": 6, "day": {"date": "2024-03-15"},
    "chunkSize": {"long": 3, "identifying": false}}`.

    A bare JSON value takes its type from JSON (string, integer -> long, other number ->
    double, boolean); an object names the type with one key (`string`, `long`, `double`,
    `date`, `boolean`) and may add `identifying` (default true). Raises
    InvalidJobParameters, as the gRPC API does for a malformed parameter.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidJobParameters("parameters must be a JSON object of name: value")
    result: dict[str, pb.JobParameter] = {}
    for name, item in value.items():
        try:
            result[name] = client_parameters.to_proto(_parameter_value(item))
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidJobParameters(f"job parameter {name!r}: {error}") from None
    return result


def _parameter_value(item: object) -> client_parameters.ParameterValue:
    if isinstance(item, dict):
        kinds = [key for key in item if key != "identifying"]
        if len(kinds) != 1 or kinds[0] not in _TYPE_KEYS:
            raise ValueError(
                "a typed parameter has exactly one of the keys string, long, double, date, "
                "boolean (and optionally identifying)"
            )
        identifying = item.get("identifying", True)
        if not isinstance(identifying, bool):
            raise ValueError("identifying must be true or false")
        kind = _TYPE_KEYS[kinds[0]]
        return client_parameters.ParameterValue(_typed(item[kinds[0]], kind), kind, identifying)
    if isinstance(item, bool):
        return client_parameters.ParameterValue(item, "BOOLEAN")
    if isinstance(item, int):
        return client_parameters.ParameterValue(_long(item), "LONG")
    if isinstance(item, float):
        return client_parameters.ParameterValue(item, "DOUBLE")
    if isinstance(item, str):
        return client_parameters.ParameterValue(item, "STRING")
    raise ValueError("a value must be a string, number, boolean or a typed object")


def _typed(raw: object, kind: client_parameters.ParameterType) -> client_parameters.Value:
    # Strings are taken for every type as the text form parses them, so that 64-bit longs
    # survive JavaScript clients and NaN can be sent at all.
    if isinstance(raw, str) and kind != "STRING":
        if "," in raw or "\\" in raw:
            raise ValueError(f"{raw!r} is not a {kind.lower()} value")
        _, parsed = client_parameters.parse_parameter(f"p={raw},{kind.lower()}")
        return parsed.value
    if kind == "LONG" and isinstance(raw, int) and not isinstance(raw, bool):
        return _long(raw)
    if kind == "DOUBLE" and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if kind in ("STRING", "BOOLEAN") and isinstance(raw, str | bool):
        return raw
    raise ValueError(f"{raw!r} is not a {kind.lower()} value")


def _long(value: int) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(f"{value} is out of the 64-bit range")
    return value


def job_description_json(job: pb.JobDescription) -> dict[str, Any]:
    """A DescribeJobs entry; `name` as GET /api/jobs has always called it."""
    return catalogue.job_description_to_dict(job)
