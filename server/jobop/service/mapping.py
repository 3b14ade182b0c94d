"""Proto <-> domain conversions for the gRPC service (and so for REST, which calls it).

What a caller reads goes through the `*_for_caller` functions: the values of secret-named
job parameters (`domain.parameters.is_secret`) are masked unless the caller is an admin.
The stored values and the snapshots shared between streams stay whole; masking happens
where a response is made, for the caller of that call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.client import SCHEDULE_FIELDS as SCHEDULE_FIELDS

from jobop.batch.catalogue import JobDescription
from jobop.domain import (
    BatchStatus,
    ExitStatus,
    InvalidJobParameters,
    JobExecution,
    JobInstance,
    JobParameter,
    JobParameters,
    JobSettings,
    JobWorkload,
    ParameterDeclaration,
    QueuedExecution,
    SettingsOverride,
    StepExecution,
)
from jobop.domain.bulk import BulkAction, BulkOperation, BulkState
from jobop.domain.parameters import is_secret
from jobop.domain.schedules import ScheduleFire, ScheduleSpec, ScheduleView
from jobop.repository import AuditEvent

from .auth import Role, current_caller

# PARAMETER_NAME's width: a longer name is refused anyway.
_NAME_SHOWN = 100

_STATUS_TO_PROTO: dict[BatchStatus, pb.BatchStatus.ValueType] = {
    BatchStatus.COMPLETED: pb.BATCH_STATUS_COMPLETED,
    BatchStatus.STARTING: pb.BATCH_STATUS_STARTING,
    BatchStatus.STARTED: pb.BATCH_STATUS_STARTED,
    BatchStatus.STOPPING: pb.BATCH_STATUS_STOPPING,
    BatchStatus.STOPPED: pb.BATCH_STATUS_STOPPED,
    BatchStatus.FAILED: pb.BATCH_STATUS_FAILED,
    BatchStatus.ABANDONED: pb.BATCH_STATUS_ABANDONED,
    BatchStatus.UNKNOWN: pb.BATCH_STATUS_UNKNOWN,
}


def status_to_proto(status: BatchStatus) -> pb.BatchStatus.ValueType:
    return _STATUS_TO_PROTO[status]


def exit_status_to_proto(exit_status: ExitStatus) -> pb.ExitStatus:
    return pb.ExitStatus(
        exit_code=exit_status.exit_code, exit_description=exit_status.exit_description
    )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _set_time(target: Timestamp, value: datetime | None) -> None:
    """`target.FromDatetime(value)` (a naive time read as UTC), without its time tuple and
    calendar arithmetic: every execution in every answer carries four times."""
    if value is not None:
        since = (value if value.tzinfo is not None else value.replace(tzinfo=UTC)) - _EPOCH
        target.seconds = since.days * 86_400 + since.seconds
        target.nanos = since.microseconds * 1000


_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1


def parameter_to_proto(parameter: JobParameter) -> pb.JobParameter:
    value, identifying = parameter.value, parameter.identifying
    # Set directly when the value is of its type's own class (every answer carries its
    # executions' parameters); anything else (a DATE) as the client's form makes it.
    match parameter.type:
        case "STRING" if type(value) is str:
            return pb.JobParameter(string_value=value, identifying=identifying)
        case "LONG" if type(value) is int and _LONG_MIN <= value <= _LONG_MAX:
            return pb.JobParameter(long_value=value, identifying=identifying)
        case "DOUBLE" if type(value) is float:
            return pb.JobParameter(double_value=value, identifying=identifying)
        case "BOOLEAN" if type(value) is bool:
            return pb.JobParameter(bool_value=value, identifying=identifying)
    return client_parameters.to_proto(
        client_parameters.ParameterValue(value, parameter.type, identifying)
    )


def parameters_to_proto(parameters: JobParameters) -> dict[str, pb.JobParameter]:
    return {name: parameter_to_proto(parameter) for name, parameter in parameters.items()}


def quoted_name(name: str) -> str:
    """A parameter's name for an error message, cut short when it is too long to be one
    (the message travels in the error's trailers, which clients cap at 16 KiB)."""
    return repr(name if len(name) <= _NAME_SHOWN else f"{name[:_NAME_SHOWN]}…")


def parameters_from_proto(messages: Mapping[str, pb.JobParameter]) -> JobParameters:
    """Domain parameters from a request's map; InvalidJobParameters when one is malformed."""
    items: dict[str, JobParameter] = {}
    for name, message in messages.items():
        try:
            items[name] = _parameter_from_proto(message)
        except (ValueError, OverflowError) as error:
            raise InvalidJobParameters(
                f"job parameter {quoted_name(name)}: {error}", field="parameters"
            ) from error
    return JobParameters(items)


def instance_to_proto(instance: JobInstance) -> pb.JobInstance:
    return pb.JobInstance(
        id=instance.id,
        version=instance.version,
        job_name=instance.job_name,
        job_key=instance.job_key,
    )


def step_to_proto(step: StepExecution) -> pb.StepExecution:
    message = pb.StepExecution(
        id=step.id,
        version=step.version,
        step_name=step.step_name,
        status=status_to_proto(step.status),
        exit_status=exit_status_to_proto(step.exit_status),
        read_count=step.read_count,
        write_count=step.write_count,
        filter_count=step.filter_count,
        commit_count=step.commit_count,
        rollback_count=step.rollback_count,
        read_skip_count=step.read_skip_count,
        process_skip_count=step.process_skip_count,
        write_skip_count=step.write_skip_count,
        job_execution_id=step.job_execution_id,
        node_id=step.node_id or "",
    )
    _set_time(message.start_time, step.start_time)
    _set_time(message.end_time, step.end_time)
    _set_time(message.last_updated, step.last_updated)
    _set_time(message.create_time, step.create_time)
    return message


def api_version(execution: JobExecution) -> int:
    """The execution's version as the API shows it: it grows with every persisted change.

    A chunk commit updates only its step's row, so the job execution's own VERSION column
    stays put while progress is made. Adding each step's VERSION (plus one for its
    creation) gives a number that every write to the execution or its steps increases,
    which is what WatchExecution's `after_version` and a client's ordering need. The
    overdue mark (a launch request's column) counts one more.
    """
    steps = sum(step.version + 1 for step in execution.step_executions)
    return execution.version + steps + execution.overdue


def execution_to_proto(execution: JobExecution) -> pb.JobExecution:
    version = api_version(execution)
    message = pb.JobExecution(
        id=execution.id,
        version=version,
        change_version=version,
        job_instance_id=execution.job_instance_id,
        job_name=execution.job_name,
        parameters=parameters_to_proto(execution.job_parameters),
        status=status_to_proto(execution.status),
        exit_status=exit_status_to_proto(execution.exit_status),
        step_executions=[step_to_proto(step) for step in execution.step_executions],
        priority=execution.priority,
        overdue=execution.overdue,
    )
    _set_time(message.create_time, execution.create_time)
    _set_time(message.start_time, execution.start_time)
    _set_time(message.end_time, execution.end_time)
    if execution.last_updated is execution.create_time is not None:  # a new execution's
        message.last_updated.CopyFrom(message.create_time)
    else:
        _set_time(message.last_updated, execution.last_updated)
    return message


def audit_event_to_proto(event: AuditEvent) -> pb.AuditEvent:
    message = pb.AuditEvent(
        id=event.id or 0,
        principal=event.principal,
        role=event.role or "",
        action=event.action,
        arguments=event.arguments,
        peer=event.peer or "",
        node=event.node or "",
        succeeded=event.succeeded,
        reason=event.reason or "",
        message=event.message or "",
        execution_id=event.execution_id or 0,
        job_name=event.job_name or "",
    )
    _set_time(message.time, event.occurred_at)
    return message


# -- what the caller may see -------------------------------------------------------------


def reveals_secrets() -> bool:
    """Whether the call being served may read secret-named parameters' values: an admin's
    only. A call with no caller known (none was set) sees them masked: fail closed."""
    caller = current_caller.get()
    return caller is not None and caller.principal.role is Role.ADMIN


def parameters_for_caller(parameters: JobParameters) -> JobParameters:
    return parameters if reveals_secrets() else parameters.with_secrets_masked()


def parameters_to_proto_for_caller(parameters: JobParameters) -> dict[str, pb.JobParameter]:
    return parameters_to_proto(parameters_for_caller(parameters))


def execution_for_caller(execution: JobExecution | pb.JobExecution) -> pb.JobExecution:
    """The execution as the caller may see it. A message given is never changed (streams
    share snapshots): a masked copy is made when it holds a secret the caller may not read."""
    if isinstance(execution, JobExecution):
        execution = execution_to_proto(execution)
    if reveals_secrets() or not any(is_secret(name) for name in execution.parameters):
        return execution
    shown = pb.JobExecution()
    shown.CopyFrom(execution)
    for name, message in shown.parameters.items():
        if is_secret(name):
            message.CopyFrom(parameter_to_proto(_parameter_from_proto(message).masked()))
    return shown


def summary_for_caller(execution: JobExecution) -> str:
    """Spring's one-line summary, its jobParameters as the caller may see them."""
    shown = parameters_for_caller(execution.job_parameters)
    if shown is execution.job_parameters:
        return execution.summary()
    return dataclasses.replace(execution, job_parameters=shown).summary()


def _parameter_from_proto(message: pb.JobParameter) -> JobParameter:
    identifying = message.identifying if message.HasField("identifying") else True
    # What the client's form makes of a message, without its checks (a value read from
    # its own field passes them), but for a DATE's.
    match message.WhichOneof("value"):
        case "string_value":
            return JobParameter(message.string_value, "STRING", identifying)
        case "long_value":
            return JobParameter(message.long_value, "LONG", identifying)
        case "double_value":
            return JobParameter(message.double_value, "DOUBLE", identifying)
        case "bool_value":
            return JobParameter(message.bool_value, "BOOLEAN", identifying)
    value = client_parameters.from_proto(message)
    return JobParameter(value.value, value.type, value.identifying)


# -- the job catalogue -------------------------------------------------------------------

_PARAMETER_TYPE_TO_PROTO: dict[str, pb.ParameterType.ValueType] = {
    "STRING": pb.PARAMETER_TYPE_STRING,
    "LONG": pb.PARAMETER_TYPE_LONG,
    "DOUBLE": pb.PARAMETER_TYPE_DOUBLE,
    "DATE": pb.PARAMETER_TYPE_DATE,
    "BOOLEAN": pb.PARAMETER_TYPE_BOOLEAN,
}


def declaration_to_proto(declaration: ParameterDeclaration) -> pb.ParameterDescription:
    """A declared parameter; its default as the JobParameter a caller would send (masked
    when its name looks secret and the caller may not read secrets)."""
    message = pb.ParameterDescription(
        name=declaration.name,
        type=_PARAMETER_TYPE_TO_PROTO[declaration.type],
        identifying=declaration.identifying,
        required=declaration.required,
        description=declaration.description,
    )
    if declaration.default is not None:
        value = declaration.default
        if declaration.type == "DOUBLE" and isinstance(value, int):
            value = float(value)  # a DOUBLE may declare an int default
        default = JobParameter(value, declaration.type, declaration.identifying)
        if is_secret(declaration.name) and not reveals_secrets():
            default = default.masked()
        message.default_value.CopyFrom(parameter_to_proto(default))
    return message


def description_to_proto(job: JobDescription) -> pb.JobDescription:
    return pb.JobDescription(
        job_name=job.name,
        description=job.description,
        parameters=[declaration_to_proto(declaration) for declaration in job.parameters],
        allow_undeclared_parameters=job.allow_undeclared_parameters,
        restartable=job.restartable,
        incrementer=job.incrementer,
        steps=[pb.StepDescription(name=step.name, kind=step.kind) for step in job.steps],
        registered=job.registered,
    )


# -- schedules ---------------------------------------------------------------------------

_SPEC_DEFAULTS: dict[str, object] = {
    field.name: field.default
    for field in dataclasses.fields(ScheduleSpec)
    if field.default is not dataclasses.MISSING
}


def schedule_value(message: pb.Schedule, field: str, parameters: JobParameters) -> object:
    """The spec's value of `field` as the message gives it: an empty string or a zero
    stands for the spec's default (proto3 cannot tell them from unset)."""
    if field == "parameters":
        return parameters
    value = getattr(message, field)
    if value in ("", 0) and not isinstance(value, bool) and field in _SPEC_DEFAULTS:
        return _SPEC_DEFAULTS[field]
    return value


def schedule_spec_from_proto(message: pb.Schedule, parameters: JobParameters) -> ScheduleSpec:
    """The spec a CreateSchedule asks for; `parameters` are the message's, checked."""
    values = {field: schedule_value(message, field, parameters) for field in SCHEDULE_FIELDS}
    return ScheduleSpec(name=message.name, **values)  # type: ignore[arg-type]


def schedule_fire_to_proto(fire: ScheduleFire) -> pb.ScheduleFire:
    message = pb.ScheduleFire(
        schedule_name=fire.schedule_name,
        outcome=fire.outcome,
        execution_id=fire.execution_id or 0,
        reason=fire.reason or "",
        node_id=fire.node_id or "",
        triggered=fire.triggered,
    )
    _set_time(message.fire_time, fire.fire_time)
    _set_time(message.recorded, fire.recorded)
    return message


def schedule_for_caller(view: ScheduleView) -> pb.Schedule:
    """A schedule as the caller may see it (secret-named parameters masked but for admins)."""
    spec = view.schedule.spec
    message = pb.Schedule(
        name=spec.name,
        job_name=spec.job_name,
        cron=spec.cron,
        time_zone=spec.time_zone,
        parameters=parameters_to_proto_for_caller(spec.parameters),
        overlap=spec.overlap,
        catch_up=spec.catch_up,
        max_catch_up=spec.max_catch_up,
        paused=spec.paused,
        description=spec.description,
        updated_by=view.schedule.updated_by or "",
    )
    for time in view.next_fire_times:
        message.next_fire_times.add().FromDatetime(time)
    if view.last_fire is not None:
        message.last_fire.CopyFrom(schedule_fire_to_proto(view.last_fire))
    _set_time(message.created, view.schedule.created)
    _set_time(message.updated, view.schedule.updated)
    return message


# -- workload control --------------------------------------------------------------------


def job_settings_to_proto(settings: JobSettings) -> pb.JobSettings:
    # None leaves an optional field unset: "no limit", "no key", "never overdue".
    return pb.JobSettings(
        max_concurrent=settings.max_concurrent,
        concurrency_key=settings.concurrency_key,
        paused=settings.paused,
        max_duration_seconds=settings.max_duration_seconds,
        stop_when_overdue=settings.stop_when_overdue,
    )


def settings_override_to_proto(override: SettingsOverride) -> pb.JobSettingsOverride:
    message = pb.JobSettingsOverride(
        max_concurrent=override.max_concurrent,
        concurrency_key=override.concurrency_key,
        paused=override.paused,
        max_duration_seconds=override.max_duration_seconds,
        stop_when_overdue=override.stop_when_overdue,
        updated_by=override.updated_by or "",
    )
    _set_time(message.updated, override.updated)
    return message


def workload_to_proto(workload: JobWorkload) -> pb.JobWorkload:
    return pb.JobWorkload(
        job_name=workload.job_name,
        settings=job_settings_to_proto(workload.settings),
        declared=job_settings_to_proto(workload.declared),
        override=settings_override_to_proto(workload.override),
        running=workload.running,
        queued=workload.queued,
    )


def queued_execution_to_proto(entry: QueuedExecution) -> pb.QueuedExecution:
    return pb.QueuedExecution(
        execution_id=entry.execution_id,
        job_name=entry.job_name,
        priority=entry.priority,
        position=entry.position,
        queued_seconds=entry.queued_seconds,
        waiting_for=entry.waiting_for,
    )


_BULK_ACTION_TO_PROTO: dict[BulkAction, pb.BulkAction.ValueType] = {
    BulkAction.STOP: pb.BULK_ACTION_STOP,
    BulkAction.ABANDON: pb.BULK_ACTION_ABANDON,
    BulkAction.RESTART: pb.BULK_ACTION_RESTART,
    BulkAction.RECOVER: pb.BULK_ACTION_RECOVER,
}

_BULK_STATE_TO_PROTO: dict[BulkState, pb.BulkOperationState.ValueType] = {
    BulkState.RUNNING: pb.BULK_OPERATION_STATE_RUNNING,
    BulkState.DONE: pb.BULK_OPERATION_STATE_DONE,
    BulkState.CANCELLED: pb.BULK_OPERATION_STATE_CANCELLED,
}


def bulk_operation_to_proto(operation: BulkOperation) -> pb.BulkOperation:
    message = pb.BulkOperation(
        id=operation.id or 0,
        action=_BULK_ACTION_TO_PROTO[operation.action],
        state=_BULK_STATE_TO_PROTO[operation.state],
        matched=operation.matched,
        done=operation.done,
        failed=operation.failed,
        errors=[
            pb.BulkOperationError(
                execution_id=error.execution_id, reason=error.reason, message=error.message
            )
            for error in operation.errors
        ],
        dry_run=operation.dry_run,
        execution_ids=list(operation.execution_ids),
        principal=operation.principal,
        node_id=operation.node_id or "",
    )
    _set_time(message.create_time, operation.created)
    _set_time(message.end_time, operation.ended)
    return message
