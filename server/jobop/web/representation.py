"""The REST API's JSON: the proto messages with camelCase names, numbers as numbers.

Field names are the proto3 JSON names (what Envoy's gRPC-JSON transcoder writes), but
64-bit ids and counters are JSON numbers rather than strings, statuses are spelled as
Spring Batch and the tables spell them (`COMPLETED`), and times are ISO-8601 UTC strings
or null. A parameter is written in the typed form that requests accept
(`{"long": 6, "identifying": true}`), so that a response's parameters can be sent back.
The messages' form lives in `jobop_client.jsonform`, which `jobctl --json` and the audit's
arguments share (docs/api.md, "JSON naming").
"""

from __future__ import annotations

from typing import Any

from jobop_client import catalogue
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.jsonform import audit_event_json as audit_event_json
from jobop_client.jsonform import bulk_operation_json as bulk_operation_json
from jobop_client.jsonform import execution_json as execution_json
from jobop_client.jsonform import exit_status_json as exit_status_json
from jobop_client.jsonform import instance_json as instance_json
from jobop_client.jsonform import parameter_json as parameter_json
from jobop_client.jsonform import parameter_value_from_json, utc_text
from jobop_client.jsonform import parameters_json as parameters_json
from jobop_client.jsonform import queued_json as queued_json
from jobop_client.jsonform import step_json as step_json
from jobop_client.jsonform import workload_json as workload_json

from jobop.domain import (
    DEFAULT_PRIORITY,
    InvalidJobParameters,
    InvalidSettings,
    SettingsOverride,
    check_priority,
)
from jobop.domain.workload import SETTING_FIELDS as SETTING_NAMES
from jobop.domain.workload import apply_change
from jobop.repository.nodes import NodeState
from jobop.service.errors import InvalidArgument


def node_json(node: NodeState) -> dict[str, Any]:
    """A node of the cluster with its lease state (no RPC returns nodes)."""
    return {
        "nodeId": node.node_id,
        "host": node.host,
        "pid": node.pid,
        "role": node.role,
        "version": node.version,
        "state": node.state,
        "started": utc_text(node.started),
        "lastHeartbeat": utc_text(node.last_heartbeat),
        "leaseSeconds": node.lease_seconds,
        "lost": utc_text(node.lost),
        "lostBy": node.lost_by,
        "left": utc_text(node.left),
        "runningExecutions": node.running_executions or 0,
        "heartbeatAgeSeconds": node.heartbeat_age or 0.0,
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
            result[name] = client_parameters.to_proto(parameter_value_from_json(item))
        except (TypeError, ValueError, OverflowError) as error:
            raise InvalidJobParameters(f"job parameter {name!r}: {error}") from None
    return result


def job_description_json(job: pb.JobDescription) -> dict[str, Any]:
    """A DescribeJobs entry; `name` as GET /api/jobs has always called it."""
    return catalogue.job_description_to_dict(job)


# -- workload control ----------------------------------------------------------------------

# The run-time settings a PUT may change: REST's camelCase name -> the proto's field.
SETTING_FIELDS: dict[str, str] = {
    pb.JobSettingsOverride.DESCRIPTOR.fields_by_name[name].json_name: name for name in SETTING_NAMES
}


def settings_from_json(body: dict[str, Any]) -> tuple[pb.JobSettingsOverride, list[str]]:
    """A PUT's body (REST names, `null` clearing) as UpdateJobSettings takes it: the values
    to set and the mask of every field named. Each value is checked as the operator checks
    it, so that only what the proto can hold is built (InvalidArgument naming the field)."""
    settings = pb.JobSettingsOverride()
    mask = []
    for key, value in body.items():
        name = SETTING_FIELDS[key]
        mask.append(name)
        if value is not None:
            setattr(settings, name, _setting(key, value))
    return settings, mask


# What each setting's JSON value must be, and how a refusal says it.
_SETTING_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "maxConcurrent": (int, "an integer"),
    "concurrencyKey": (str, "a string"),
    "paused": (bool, "true or false"),
    "maxDurationSeconds": ((int, float), "a number"),
    "stopWhenOverdue": (bool, "true or false"),
}


def _setting(key: str, value: object) -> object:
    kind, said = _SETTING_TYPES[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InvalidArgument(f"{key} must be {said} or null, not {value!r}", field=key)
    if key == "maxDurationSeconds":
        try:
            value = float(value)  # type: ignore[arg-type]
        except OverflowError:
            raise InvalidArgument(f"{key} is out of range", field=key) from None
    try:
        # The operator's own checks of one value (a key alone is valid over a declared
        # limit: the operator judges the merge).
        apply_change(SettingsOverride(), {SETTING_FIELDS[key]: value})
    except InvalidSettings as error:
        raise InvalidArgument(str(error), field=error.field or key) from None
    return value


def priority_from_json(body: dict[str, Any]) -> int:
    """A launch body's `priority` (null or absent: the default)."""
    value = body.get("priority")
    if value is None:
        return DEFAULT_PRIORITY
    try:
        return check_priority(value)
    except InvalidSettings as error:
        raise InvalidArgument(str(error), field="priority") from None
