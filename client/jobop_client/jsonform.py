"""The one JSON form of jobop's messages, shared by REST, ``jobctl --json`` and the audit.

Field names are the proto3 JSON names (camelCase: ``jobName``, ``exitStatus``), 64-bit ids
and counters are JSON numbers, statuses are spelled as Spring Batch spells them
(``COMPLETED``), times are ISO-8601 UTC strings ending in ``Z`` (null when unset), and a
parameter is written in the typed form that REST requests accept
(``{"long": 6, "identifying": true}``), so that what one surface prints can be sent back.
A JobExecution's ``changeVersion`` (and its older name ``version``) is the change counter
that WatchExecution's ``after_version`` counts; ``version`` of a step execution or a job
instance is Spring Batch's VERSION column.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp

from jobop_client import parameters
from jobop_client.executions import status_name, timestamp
from jobop_client.proto import job_operator_pb2 as pb

#: The typed form's key of each parameter type.
TYPE_KEYS: dict[parameters.ParameterType, str] = {
    "STRING": "string",
    "LONG": "long",
    "DOUBLE": "double",
    "DATE": "date",
    "BOOLEAN": "boolean",
}


def utc_text(value: dt.datetime | None) -> str | None:
    """ISO-8601 in UTC with a ``Z``; a naive value is taken as UTC."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _time(message: Message, field: str) -> str | None:
    return utc_text(timestamp(message, field))


def parameter_value_json(value: parameters.ParameterValue) -> dict[str, Any]:
    """``{"long": 6, "identifying": true}``: the type's key holds the value."""
    plain: Any = value.value
    if isinstance(plain, dt.datetime):
        plain = utc_text(plain)
    elif isinstance(plain, float) and not math.isfinite(plain):
        plain = repr(plain)  # JSON has no NaN or Infinity; "nan", "inf" parse back
    return {TYPE_KEYS[value.type]: plain, "identifying": value.identifying}


# The typed form's keys, back to their types.
_TYPE_OF_KEY: dict[str, parameters.ParameterType] = {key: kind for kind, key in TYPE_KEYS.items()}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def parameter_value_from_json(item: object) -> parameters.ParameterValue:
    """A parameter in the JSON form requests take: a bare JSON value (string, integer ->
    long, other number -> double, boolean) or a typed object `{"long": 6, "identifying":
    false}`; ValueError when it is neither."""
    if isinstance(item, dict):
        kinds = [key for key in item if key != "identifying"]
        if len(kinds) != 1 or kinds[0] not in _TYPE_OF_KEY:
            raise ValueError(
                "a typed parameter has exactly one of the keys string, long, double, date, "
                "boolean (and optionally identifying)"
            )
        identifying = item.get("identifying", True)
        if not isinstance(identifying, bool):
            raise ValueError("identifying must be true or false")
        kind = _TYPE_OF_KEY[kinds[0]]
        return parameters.ParameterValue(_typed(item[kinds[0]], kind), kind, identifying)
    if isinstance(item, bool):
        return parameters.ParameterValue(item, "BOOLEAN")
    if isinstance(item, int):
        return parameters.ParameterValue(_long(item), "LONG")
    if isinstance(item, float):
        return parameters.ParameterValue(item, "DOUBLE")
    if isinstance(item, str):
        return parameters.ParameterValue(item, "STRING")
    raise ValueError("a value must be a string, number, boolean or a typed object")


def _typed(raw: object, kind: parameters.ParameterType) -> parameters.Value:
    # Strings are taken for every type as the text form parses them, so that 64-bit longs
    # survive JavaScript clients and NaN can be sent at all.
    if isinstance(raw, str) and kind != "STRING":
        if "," in raw or "\\" in raw:
            raise ValueError(f"{raw!r} is not a {kind.lower()} value")
        _, parsed = parameters.parse_parameter(f"p={raw},{kind.lower()}")
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


def parameter_json(message: pb.JobParameter) -> dict[str, Any]:
    identifying = message.identifying if message.HasField("identifying") else True
    # What parameter_value_json makes of the message's value, read straight from its field
    # (the audit writes one per parameter of every request); a DATE through the value.
    match message.WhichOneof("value"):
        case "string_value":
            return {"string": message.string_value, "identifying": identifying}
        case "long_value":
            return {"long": message.long_value, "identifying": identifying}
        case "bool_value":
            return {"boolean": message.bool_value, "identifying": identifying}
        case "double_value":
            value = message.double_value
            plain = value if math.isfinite(value) else repr(value)
            return {"double": plain, "identifying": identifying}
    return parameter_value_json(parameters.from_proto(message))


def parameters_json(messages: Mapping[str, pb.JobParameter]) -> dict[str, Any]:
    return {name: parameter_json(messages[name]) for name in sorted(messages)}


def exit_status_json(exit_status: pb.ExitStatus) -> dict[str, str]:
    return {"exitCode": exit_status.exit_code, "exitDescription": exit_status.exit_description}


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
        # The node that ran it (a partition's, else its job execution's); null if unknown.
        "nodeId": step.node_id or None,
    }


def execution_json(execution: pb.JobExecution) -> dict[str, Any]:
    return {
        "id": execution.id,
        "version": execution.version,
        # A server older than the field sends only `version`, the same counter.
        "changeVersion": execution.change_version or execution.version,
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
        # Workload control: the launch's queue priority, and whether it ran past its
        # job's maximum duration.
        "priority": execution.priority,
        "overdue": execution.overdue,
    }


def bulk_operation_json(operation: pb.BulkOperation) -> dict[str, Any]:
    """A bulk operation: its action and state by name (STOP, RUNNING), the counts, the
    first refusals, and for a dry run (``dryRun``, no id) the first selected ``ids``."""
    return {
        "id": operation.id,
        "action": enum_name(pb.BulkAction, operation.action, "BULK_ACTION_"),
        "state": enum_name(pb.BulkOperationState, operation.state, "BULK_OPERATION_STATE_"),
        "matched": operation.matched,
        "done": operation.done,
        "failed": operation.failed,
        "errors": [
            {"executionId": error.execution_id, "reason": error.reason, "message": error.message}
            for error in operation.errors
        ],
        "principal": operation.principal,
        "nodeId": operation.node_id,
        "created": _time(operation, "create_time"),
        "ended": _time(operation, "end_time"),
        "dryRun": operation.dry_run,
        "ids": list(operation.execution_ids),
    }


def enum_name(enum: Any, value: int, prefix: str) -> str:
    """An enum value's name without its prefix; a value newer than this client as a number."""
    try:
        name: str = enum.Name(value)
    except ValueError:
        return f"{prefix.rstrip('_')}_{value}"
    return name.removeprefix(prefix)


def instance_json(instance: pb.JobInstance) -> dict[str, Any]:
    return {
        "id": instance.id,
        "version": instance.version,
        "jobName": instance.job_name,
        "jobKey": instance.job_key,
    }


def audit_event_json(event: pb.AuditEvent) -> dict[str, Any]:
    """An audit event; ``arguments`` is the request's JSON text as recorded (0/"" as null)."""
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


# -- workload control ----------------------------------------------------------------------

#: The five job settings (JobSettings' fields, in its order).
SETTING_FIELDS: tuple[str, ...] = tuple(pb.JobSettings.DESCRIPTOR.fields_by_name)


def setting_values(message: pb.JobSettings | pb.JobSettingsOverride) -> dict[str, Any]:
    """The five settings of a JobSettings or JobSettingsOverride by field name; an
    optional one not set is None."""
    fields = message.DESCRIPTOR.fields_by_name
    given: Message = message  # HasField by a name held in a variable
    return {
        name: getattr(message, name)
        if not fields[name].has_presence or given.HasField(name)
        else None
        for name in SETTING_FIELDS
    }


def settings_json(message: pb.JobSettings | pb.JobSettingsOverride) -> dict[str, Any]:
    """The five settings in their JSON names; one not set is null."""
    fields = message.DESCRIPTOR.fields_by_name
    return {fields[name].json_name: value for name, value in setting_values(message).items()}


def workload_json(workload: pb.JobWorkload) -> dict[str, Any]:
    """A job's settings in force at the top, what it declares, the run-time values set
    over them (null: not set), and its executions holding a slot and waiting."""
    override = workload.override
    return {
        "jobName": workload.job_name,
        **settings_json(workload.settings),
        "declared": settings_json(workload.declared),
        "override": {
            **settings_json(override),
            "updated": _time(override, "updated"),
            "updatedBy": override.updated_by or None,
        },
        "running": workload.running,
        "queued": workload.queued,
    }


def queued_json(entry: pb.QueuedExecution) -> dict[str, Any]:
    """A start waiting in the queue (GET /api/queue's entries)."""
    return {
        "id": entry.execution_id,
        "jobName": entry.job_name,
        "priority": entry.priority,
        "position": entry.position,
        "queuedSeconds": entry.queued_seconds,
        "waitingFor": entry.waiting_for,
    }


def request_json(request: Message) -> dict[str, Any]:
    """A request message in this form: the fields it sets, parameters typed."""
    fields: dict[str, Any] = {}
    for field, value in request.ListFields():
        kind = _field_kind(field)
        if kind == "parameters":
            fields[field.json_name] = parameters_json(value)
        elif kind == "map":
            assert field.message_type is not None
            item = field.message_type.fields_by_name["value"]
            fields[field.json_name] = {key: _value(item, value[key]) for key in sorted(value)}
        elif kind == "parameter":
            fields[field.json_name] = parameter_json(value)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            fields[field.json_name] = [_value(field, item) for item in value]
        else:
            fields[field.json_name] = _value(field, value)
    return fields


# Each field's kind, by its descriptor: what request_json does with it (the audit renders
# every request, StartJobs every entry; descriptors live as long as their module).
_FIELD_KINDS: dict[FieldDescriptor, str] = {}


def _field_kind(field: FieldDescriptor) -> str:
    """ "parameters" (a map of JobParameter), "map", "parameter" (a JobParameter) or
    "other"."""
    kind = _FIELD_KINDS.get(field)
    if kind is None:
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            kind = "parameters" if _is_parameter(entry.fields_by_name["value"]) else "map"
        else:
            kind = "parameter" if _is_parameter(field) else "other"
        _FIELD_KINDS[field] = kind
    return kind


def _is_parameter(field: FieldDescriptor) -> bool:
    kind = field.message_type
    return kind is not None and kind.full_name == pb.JobParameter.DESCRIPTOR.full_name


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.enum_type is not None:
        known = field.enum_type.values_by_number.get(value)
        return known.name if known is not None else value
    if isinstance(value, Timestamp):
        return utc_text(value.ToDatetime(dt.UTC))
    if isinstance(value, Message):
        return request_json(value)
    return value


# -- schedules ---------------------------------------------------------------------------


def zone_text(value: dt.datetime | None, zone_name: str) -> str | None:
    """RFC 3339 with the offset of the IANA zone `zone_name` (``Z`` for UTC): how a
    schedule's fire times read in its own zone. An unknown zone falls back to UTC."""
    if value is None:
        return None
    if zone_name in ("", "UTC"):
        return utc_text(value)
    try:
        zone: dt.tzinfo = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return utc_text(value)
    aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return aware.astimezone(zone).isoformat()


def schedule_fire_json(fire: pb.ScheduleFire, zone_name: str = "UTC") -> dict[str, Any]:
    return {
        "scheduleName": fire.schedule_name,
        "fireTime": zone_text(timestamp(fire, "fire_time"), zone_name),
        "outcome": fire.outcome,
        "executionId": fire.execution_id or None,
        "reason": fire.reason,
        "recorded": _time(fire, "recorded"),
        "nodeId": fire.node_id or None,
        "triggered": fire.triggered,
    }


def schedule_json(schedule: pb.Schedule) -> dict[str, Any]:
    """A schedule; its fire times with its zone's offset, the rest as everywhere."""
    zone = schedule.time_zone
    return {
        "name": schedule.name,
        "jobName": schedule.job_name,
        "cron": schedule.cron,
        "timeZone": zone,
        "parameters": parameters_json(schedule.parameters),
        "overlap": schedule.overlap,
        "catchUp": schedule.catch_up,
        "maxCatchUp": schedule.max_catch_up,
        "paused": schedule.paused,
        "description": schedule.description,
        "nextFireTimes": [
            zone_text(moment.ToDatetime(tzinfo=dt.UTC), zone) for moment in schedule.next_fire_times
        ],
        "lastFire": schedule_fire_json(schedule.last_fire, zone)
        if schedule.HasField("last_fire")
        else None,
        "created": _time(schedule, "created"),
        "updated": _time(schedule, "updated"),
        "updatedBy": schedule.updated_by,
    }
