"""JobOperatorClient (blocking) and AsyncJobOperatorClient (asyncio) for ``jobop.v1``.

Both mirror the RPCs of ``JobOperatorService`` in snake_case and raise the typed errors of
``jobop_client.errors``. Unary calls have a deadline (30 s unless told otherwise) that
covers their retries. Only calls that are safe to repeat are retried, and only on
UNAVAILABLE: the reads, ``stop``, ``abandon``, and ``start``/``start_next_instance``/
``restart`` when they carry a ``request_id``, and the workload calls (settings, pause,
resume, queue: each sets a state, so a repeat changes nothing more). Watches resume where
they left off (``after_version``) when the connection drops.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, TypeVar

import grpc
import grpc.aio
from google.protobuf.field_mask_pb2 import FieldMask

from jobop_client import errors, executions
from jobop_client.jsonform import SETTING_FIELDS
from jobop_client.parameters import ParameterInput, ParameterValue, from_proto_map, to_proto_map
from jobop_client.proto import job_operator_pb2 as pb
from jobop_client.proto import job_operator_pb2_grpc as pb_grpc

DEFAULT_TARGET = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 30.0

T = TypeVar("T")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

#: Call metadata, e.g. ``[("authorization", "Bearer TOKEN")]``.
Metadata = Sequence[tuple[str, str]]
ChannelOptions = Sequence[tuple[str, str | int]]


@dataclass(frozen=True)
class JobStart:
    """One entry of ``start_jobs``: what ``start`` takes."""

    job_name: str
    parameters: Mapping[str, ParameterInput] | None = None
    request_id: str | None = None
    priority: int = 0


#: What ``start_jobs`` answers for each entry: its new execution, or the typed error a
#: ``start`` of that entry alone would have raised.
StartOutcome = pb.JobExecution | errors.JobOperatorError

#: The most entries one ``start_jobs`` call may carry (the server's limit).
MAX_STARTS = 1000


def _start_jobs_request(starts: Sequence[JobStart]) -> pb.StartJobsRequest:
    return pb.StartJobsRequest(
        starts=[
            pb.StartRequest(
                job_name=start.job_name,
                parameters=to_proto_map(start.parameters),
                request_id=start.request_id or "",
                priority=start.priority,
            )
            for start in starts
        ]
    )


def _start_outcomes(response: pb.StartJobsResponse) -> list[StartOutcome]:
    outcomes: list[StartOutcome] = []
    for result in response.results:
        if result.HasField("execution"):
            outcomes.append(result.execution)
        else:
            error = result.error
            outcomes.append(
                errors.from_error_parts(error.code, error.reason, error.message, error.metadata)
            )
    return outcomes


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of repeatable calls that fail with UNAVAILABLE: exponential backoff, jittered.

    ``max_attempts`` counts the first try; 1 turns retries off.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.1
    max_backoff: float = 2.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.multiplier < 1:
            raise ValueError("backoffs must not be negative and the multiplier at least 1")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** (retry - 1))
        # Jitter keeps many clients that lost one server from coming back in lockstep.
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list call; ``next_page_token`` is empty on the last page."""

    items: list[T]
    next_page_token: str


class _Settings:
    """What both clients share: deadline, retry policy, metadata and the retry decision."""

    def __init__(
        self, timeout: float | None, retry: RetryPolicy | None, metadata: Metadata
    ) -> None:
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.metadata: tuple[tuple[str, str], ...] = tuple(metadata)

    def deadline(self, timeout: float | None) -> float | None:
        budget = self.timeout if timeout is None else timeout
        return None if budget is None else time.monotonic() + budget

    def retry_delay(
        self, error: grpc.RpcError, *, idempotent: bool, attempt: int, deadline: float | None
    ) -> float | None:
        """Seconds to wait before trying again, or None to give up."""
        if not idempotent or attempt >= self.retry.max_attempts:
            return None
        if error.code() != grpc.StatusCode.UNAVAILABLE:
            return None
        delay = self.retry.backoff(attempt)
        if deadline is not None and time.monotonic() + delay >= deadline:
            return None
        return delay


def _remaining(deadline: float | None) -> float | None:
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), 0.0)


class _Follower:
    """The bookkeeping of a watch stream that survives reconnections.

    Shared by both clients: it remembers the last version seen (the next request's
    ``after_version``), skips heartbeats, and decides whether a broken or ended stream is
    resumed.
    """

    def __init__(
        self,
        settings: _Settings,
        deadline: float | None,
        after_version: int,
        what: str,
        *,
        ends: bool,
    ) -> None:
        self.settings = settings
        self.deadline = deadline
        self.version = after_version
        self.what = what
        self.ends = ends  # WatchExecution ends by itself once the execution has finished
        self.latest: pb.JobExecution | None = None
        self.failures = 0

    def accept(self, execution: pb.JobExecution | None) -> pb.JobExecution | None:
        """Notes a stream message; returns the snapshot to hand out (None for heartbeats)."""
        self.failures = 0
        if execution is None:
            return None
        self.latest = execution
        self.version = max(self.version, execution.version)
        return execution

    def delay_after_error(self, error: grpc.RpcError) -> float:
        """Seconds to wait before resuming, or raises the typed error."""
        self.failures += 1
        delay = self.settings.retry_delay(
            error, idempotent=True, attempt=self.failures, deadline=self.deadline
        )
        if delay is None:
            raise errors.from_rpc_error(error) from error
        return delay

    def delay_after_end(self) -> float | None:
        """Seconds to wait before resuming a stream that ended, or None when it is over."""
        if self.ends and (self.latest is None or not executions.is_running(self.latest)):
            return None
        # The server closed the stream early (e.g. it is shutting down): resume elsewhere.
        self.failures += 1
        if self.failures >= self.settings.retry.max_attempts:
            raise errors.ServerUnavailableError(
                f"the server keeps closing the watch of {self.what}"
            )
        return self.settings.retry.backoff(self.failures)


class _BulkWatch:
    """A bulk operation's watch across reconnections: it ends with the operation."""

    def __init__(self, settings: _Settings, timeout: float | None, operation_id: int) -> None:
        self.settings = settings
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.operation_id = operation_id
        self.latest: pb.BulkOperation | None = None
        self.failures = 0

    def accept(self, operation: pb.BulkOperation) -> pb.BulkOperation:
        self.failures = 0
        self.latest = operation
        return operation

    def delay_after_error(self, error: grpc.RpcError) -> float:
        self.failures += 1
        delay = self.settings.retry_delay(
            error, idempotent=True, attempt=self.failures, deadline=self.deadline
        )
        if delay is None:
            raise errors.from_rpc_error(error) from error
        return delay

    def delay_after_end(self) -> float | None:
        if self.latest is not None and not bulk_running(self.latest):
            return None
        # Closed while it runs (the server is shutting down): resume, perhaps elsewhere.
        self.failures += 1
        if self.failures >= self.settings.retry.max_attempts:
            raise errors.ServerUnavailableError(
                f"the server keeps closing the watch of bulk operation {self.operation_id}"
            )
        return self.settings.retry.backoff(self.failures)


def _snapshot(
    response: pb.WatchExecutionResponse | pb.WatchExecutionsResponse,
) -> pb.JobExecution | None:
    if response.heartbeat or not response.HasField("execution"):
        return None
    return response.execution


def _settings_request(
    job_name: str, changes: Mapping[str, object | None]
) -> pb.UpdateJobSettingsRequest:
    """Sets each field of ``changes`` to its value, or clears it (None): the mask names
    them all, and a masked field left unset is cleared by the server."""
    unknown = sorted(set(changes) - set(SETTING_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown job settings: {', '.join(unknown)} (one of {', '.join(SETTING_FIELDS)})"
        )
    values = {name: value for name, value in changes.items() if value is not None}
    return pb.UpdateJobSettingsRequest(
        job_name=job_name,
        settings=pb.JobSettingsOverride(**values),  # type: ignore[arg-type]
        update_mask=FieldMask(paths=list(changes)),
    )


def _audit_request(
    job_name: str, since: dt.datetime | None, page_size: int, page_token: str
) -> pb.ListAuditEventsRequest:
    request = pb.ListAuditEventsRequest(
        job_name=job_name, page_size=page_size, page_token=page_token
    )
    if since is not None:
        request.since.FromDatetime(since)
    return request


# -- schedules: the requests both clients send ---------------------------------------------

#: The fields of a Schedule a caller sets besides its name (``update_schedule``'s, an
#: update mask's paths): the server's ScheduleSpec has the same names.
SCHEDULE_FIELDS = (
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


def schedule_message(
    name: str,
    job_name: str,
    cron: str,
    parameters: Mapping[str, ParameterInput] | None = None,
    **fields: object,
) -> pb.Schedule:
    """A Schedule message; ``fields`` are its other fields (``time_zone="Europe/Berlin"``),
    None leaving one unset (the server's default)."""
    return _schedule_fields(
        pb.Schedule(name=name), job_name=job_name, cron=cron, parameters=parameters, **fields
    )


def _schedule_fields(message: pb.Schedule, **fields: object) -> pb.Schedule:
    for field, value in fields.items():
        if field not in SCHEDULE_FIELDS:
            raise TypeError(f"unknown schedule field {field!r}")
        if value is None:
            continue
        if field == "parameters":
            for key, parameter in to_proto_map(value).items():  # type: ignore[arg-type]
                message.parameters[key].CopyFrom(parameter)
        else:
            setattr(message, field, value)
    return message


def _update_schedule_request(name: str, changes: Mapping[str, object]) -> pb.UpdateScheduleRequest:
    """The fields of ``changes`` changed; None restores a field's default."""
    request = pb.UpdateScheduleRequest(
        name=name, schedule=_schedule_fields(pb.Schedule(), **changes)
    )
    request.update_mask.paths.extend(changes)
    return request


def _preview_request(
    cron: str, time_zone: str, after: dt.datetime | None, count: int
) -> pb.PreviewScheduleRequest:
    request = pb.PreviewScheduleRequest(cron=cron, time_zone=time_zone, count=count)
    if after is not None:
        request.after.FromDatetime(after)
    return request


def _fire_times(response: pb.PreviewScheduleResponse) -> list[dt.datetime]:
    return [moment.ToDatetime(dt.UTC) for moment in response.fire_times]


def _executions_request(
    job_name: str,
    job_instance_id: int,
    page_size: int,
    page_token: str,
    selection: pb.ExecutionFilter | None,
    oldest_first: bool,
) -> pb.ListJobExecutionsRequest:
    return pb.ListJobExecutionsRequest(
        job_name=job_name,
        job_instance_id=job_instance_id,
        page_size=page_size,
        page_token=page_token,
        filter=selection,
        oldest_first=oldest_first,
    )


def _count_request(
    job_name: str, job_instance_id: int, selection: pb.ExecutionFilter | None
) -> pb.CountJobExecutionsRequest:
    return pb.CountJobExecutionsRequest(
        job_name=job_name, job_instance_id=job_instance_id, filter=selection
    )


_BulkRequest = (
    pb.BulkStopRequest | pb.BulkAbandonRequest | pb.BulkRestartRequest | pb.BulkRecoverRequest
)
#: The bulk actions' RPCs and request messages.
_BULK: dict[str, tuple[str, type[_BulkRequest]]] = {
    "stop": ("BulkStop", pb.BulkStopRequest),
    "abandon": ("BulkAbandon", pb.BulkAbandonRequest),
    "restart": ("BulkRestart", pb.BulkRestartRequest),
    "recover": ("BulkRecover", pb.BulkRecoverRequest),
}


def _bulk_request(
    action: str,
    selection: pb.ExecutionFilter | None,
    ids: Sequence[int],
    dry_run: bool,
    force: bool = False,
) -> _BulkRequest:
    _, message = _BULK[action]
    request: _BulkRequest = message(
        selection=pb.ExecutionSelection(filter=selection, execution_ids=list(ids)),
        dry_run=dry_run,
    )
    if force:
        assert isinstance(request, pb.BulkRecoverRequest)
        request.force = True
    return request


def bulk_running(operation: pb.BulkOperation) -> bool:
    """Whether a bulk operation is still running (a dry run never is)."""
    return operation.state == pb.BULK_OPERATION_STATE_RUNNING and not operation.dry_run


class JobOperatorClient:
    """Blocking client of a jobop server.

    ``JobOperatorClient("host:50051")`` talks plaintext; pass ``credentials`` (e.g.
    ``grpc.ssl_channel_credentials()``) for TLS and ``metadata`` for an auth token. Use it as
    a context manager or call ``close()``.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Metadata = (),
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        options: ChannelOptions = (),
    ) -> None:
        self.target = target
        self._settings = _Settings(timeout, retry, metadata)
        if credentials is None:
            self._channel = grpc.insecure_channel(target, options=list(options))
        else:
            self._channel = grpc.secure_channel(target, credentials, options=list(options))
        self._stub = pb_grpc.JobOperatorServiceStub(self._channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> JobOperatorClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- launching and controlling ----------------------------------------------------

    def start(
        self,
        job_name: str,
        parameters: Mapping[str, ParameterInput] | None = None,
        request_id: str | None = None,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> pb.JobExecution:
        """Launches a new instance of ``job_name``; returns the new execution.

        ``parameters`` maps names to plain values (str, int, float, bool, datetime, date),
        ``Parameter(value, identifying=False)`` or ``ParameterValue``. With a
        ``request_id`` the call is retried safely when the server is unavailable.
        ``priority`` (-1000 to 1000) orders it in its job's queue: higher runs first.
        """
        request = pb.StartRequest(
            job_name=job_name,
            parameters=to_proto_map(parameters),
            request_id=request_id or "",
            priority=priority,
        )
        return self._call(
            self._stub.Start, request, idempotent=bool(request_id), timeout=timeout
        ).execution

    def start_jobs(
        self, starts: Sequence[JobStart], *, timeout: float | None = None
    ) -> list[StartOutcome]:
        """Launches many in one call (at most MAX_STARTS ``JobStart`` entries, else
        InvalidArgumentError): for each entry, in order, its new execution or the typed
        error a ``start`` of it alone would raise (returned, not raised). Retried when the
        server is unavailable only if every entry carries a ``request_id``."""
        request = _start_jobs_request(starts)
        idempotent = all(start.request_id for start in starts)
        response = self._call(self._stub.StartJobs, request, idempotent=idempotent, timeout=timeout)
        return _start_outcomes(response)

    def start_next_instance(
        self,
        job_name: str,
        request_id: str | None = None,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> pb.JobExecution:
        """Launches the next instance of ``job_name`` (its incrementer makes the parameters)."""
        request = pb.StartNextInstanceRequest(
            job_name=job_name, request_id=request_id or "", priority=priority
        )
        return self._call(
            self._stub.StartNextInstance, request, idempotent=bool(request_id), timeout=timeout
        ).execution

    def stop(self, execution_id: int, *, timeout: float | None = None) -> pb.JobExecution:
        """Asks a running execution to stop; returns it (usually STOPPING)."""
        request = pb.StopRequest(execution_id=execution_id)
        return self._call(self._stub.Stop, request, idempotent=True, timeout=timeout).execution

    def restart(
        self,
        execution_id: int,
        request_id: str | None = None,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> pb.JobExecution:
        """Runs the instance of a FAILED or STOPPED execution again; returns the new execution."""
        request = pb.RestartRequest(
            execution_id=execution_id, request_id=request_id or "", priority=priority
        )
        return self._call(
            self._stub.Restart, request, idempotent=bool(request_id), timeout=timeout
        ).execution

    def abandon(self, execution_id: int, *, timeout: float | None = None) -> pb.JobExecution:
        """Marks a stopped or failed execution ABANDONED: it will never be restarted."""
        request = pb.AbandonRequest(execution_id=execution_id)
        return self._call(self._stub.Abandon, request, idempotent=True, timeout=timeout).execution

    def recover(
        self, execution_id: int, *, force: bool = False, timeout: float | None = None
    ) -> pb.JobExecution:
        """Marks an execution whose process died FAILED, so that it can be restarted.
        ``force``: the caller knows the owner of an execution no jobop node owns (a Spring
        Batch application's) is dead; without it such an execution is refused."""
        request = pb.RecoverRequest(execution_id=execution_id, force=force)
        return self._call(self._stub.Recover, request, idempotent=False, timeout=timeout).execution

    # -- reading --------------------------------------------------------------------------

    def get_running_executions(self, job_name: str, *, timeout: float | None = None) -> list[int]:
        """Ids of the running executions of ``job_name`` (empty: of every job)."""
        request = pb.GetRunningExecutionsRequest(job_name=job_name)
        response = self._call(
            self._stub.GetRunningExecutions, request, idempotent=True, timeout=timeout
        )
        return list(response.execution_ids)

    def get_summary(self, execution_id: int, *, timeout: float | None = None) -> str:
        """Spring Batch's one-line summary of an execution."""
        request = pb.GetSummaryRequest(execution_id=execution_id)
        return self._call(self._stub.GetSummary, request, idempotent=True, timeout=timeout).summary

    def get_step_execution_summaries(
        self, execution_id: int, *, timeout: float | None = None
    ) -> dict[int, str]:
        """Step execution id -> Spring Batch's summary of that step execution."""
        request = pb.GetStepExecutionSummariesRequest(execution_id=execution_id)
        response = self._call(
            self._stub.GetStepExecutionSummaries, request, idempotent=True, timeout=timeout
        )
        return dict(sorted(response.summaries.items()))

    def get_job_names(self, *, timeout: float | None = None) -> list[str]:
        """Names of the jobs the server can launch."""
        response = self._call(
            self._stub.GetJobNames, pb.GetJobNamesRequest(), idempotent=True, timeout=timeout
        )
        return list(response.job_names)

    def describe_jobs(
        self, job_names: Sequence[str] = (), *, timeout: float | None = None
    ) -> pb.DescribeJobsResponse:
        """The job catalogue: each named job (none: every job) with its description,
        declared parameters, steps and whether this server runs it (`registered`)."""
        request = pb.DescribeJobsRequest(job_names=list(job_names))
        return self._call(self._stub.DescribeJobs, request, idempotent=True, timeout=timeout)

    def get_parameters(
        self, execution_id: int, *, timeout: float | None = None
    ) -> dict[str, ParameterValue]:
        """The parameters an execution was launched with."""
        request = pb.GetParametersRequest(execution_id=execution_id)
        response = self._call(self._stub.GetParameters, request, idempotent=True, timeout=timeout)
        return from_proto_map(response.parameters)

    def get_job_execution(
        self, execution_id: int, *, timeout: float | None = None
    ) -> pb.JobExecution:
        """One execution with its step executions."""
        request = pb.GetJobExecutionRequest(execution_id=execution_id)
        return self._call(
            self._stub.GetJobExecution, request, idempotent=True, timeout=timeout
        ).execution

    def list_job_instances(
        self,
        job_name: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> Page[pb.JobInstance]:
        """One page of the instances of ``job_name`` (empty: of every job), newest first."""
        request = pb.ListJobInstancesRequest(
            job_name=job_name, page_size=page_size, page_token=page_token
        )
        response = self._call(
            self._stub.ListJobInstances, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.job_instances), response.next_page_token)

    def list_job_executions(
        self,
        job_name: str = "",
        *,
        job_instance_id: int = 0,
        page_size: int = 0,
        page_token: str = "",
        filter: pb.ExecutionFilter | None = None,
        oldest_first: bool = False,
        timeout: float | None = None,
    ) -> Page[pb.JobExecution]:
        """One page of the executions of a job or of one instance (neither: of every
        job), newest first (or oldest first), only those `filter` selects (see
        ``jobop_client.listing.execution_filter``). A page token belongs to its filter."""
        request = _executions_request(
            job_name, job_instance_id, page_size, page_token, filter, oldest_first
        )
        response = self._call(
            self._stub.ListJobExecutions, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.executions), response.next_page_token)

    def count_job_executions(
        self,
        job_name: str = "",
        *,
        job_instance_id: int = 0,
        filter: pb.ExecutionFilter | None = None,
        timeout: float | None = None,
    ) -> int:
        """How many executions list_job_executions would list with these arguments."""
        request = _count_request(job_name, job_instance_id, filter)
        response = self._call(
            self._stub.CountJobExecutions, request, idempotent=True, timeout=timeout
        )
        return response.count

    def list_audit_events(
        self,
        job_name: str = "",
        *,
        since: dt.datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> Page[pb.AuditEvent]:
        """One page of the audit trail (control actions), newest first."""
        request = _audit_request(job_name, since, page_size, page_token)
        response = self._call(self._stub.ListAuditEvents, request, idempotent=True, timeout=timeout)
        return Page(list(response.events), response.next_page_token)

    # -- schedules (docs/schedules.md) ------------------------------------------------------

    def create_schedule(
        self,
        name: str,
        job_name: str,
        cron: str,
        parameters: Mapping[str, ParameterInput] | None = None,
        *,
        timeout: float | None = None,
        **fields: object,
    ) -> pb.Schedule:
        """Creates a schedule: ``job_name`` starts at each fire time of ``cron``. ``fields``:
        ``time_zone``, ``overlap``, ``catch_up``, ``max_catch_up``, ``paused``,
        ``description`` (unset: the server's defaults)."""
        schedule = schedule_message(name, job_name, cron, parameters, **fields)
        request = pb.CreateScheduleRequest(schedule=schedule)
        return self._call(
            self._stub.CreateSchedule, request, idempotent=False, timeout=timeout
        ).schedule

    def get_schedule(self, name: str, *, timeout: float | None = None) -> pb.Schedule:
        """One schedule with its next fire times and its last fire."""
        request = pb.GetScheduleRequest(name=name)
        return self._call(
            self._stub.GetSchedule, request, idempotent=True, timeout=timeout
        ).schedule

    def list_schedules(self, *, timeout: float | None = None) -> list[pb.Schedule]:
        """Every schedule, by name."""
        request = pb.ListSchedulesRequest()
        response = self._call(self._stub.ListSchedules, request, idempotent=True, timeout=timeout)
        return list(response.schedules)

    def update_schedule(
        self, name: str, *, timeout: float | None = None, **changes: object
    ) -> pb.Schedule:
        """Changes the fields given (``cron="0 0 * * * *"``; None restores a default)."""
        request = _update_schedule_request(name, changes)
        return self._call(
            self._stub.UpdateSchedule, request, idempotent=True, timeout=timeout
        ).schedule

    def delete_schedule(self, name: str, *, timeout: float | None = None) -> None:
        """Deletes a schedule (the executions its fires launched stay)."""
        request = pb.DeleteScheduleRequest(name=name)
        self._call(self._stub.DeleteSchedule, request, idempotent=False, timeout=timeout)

    def pause_schedule(self, name: str, *, timeout: float | None = None) -> pb.Schedule:
        request = pb.PauseScheduleRequest(name=name)
        return self._call(
            self._stub.PauseSchedule, request, idempotent=True, timeout=timeout
        ).schedule

    def resume_schedule(self, name: str, *, timeout: float | None = None) -> pb.Schedule:
        request = pb.ResumeScheduleRequest(name=name)
        return self._call(
            self._stub.ResumeSchedule, request, idempotent=True, timeout=timeout
        ).schedule

    def trigger_schedule(self, name: str, *, timeout: float | None = None) -> pb.ScheduleFire:
        """Fires the schedule now, as an extra fire; returns the fire's record."""
        request = pb.TriggerScheduleRequest(name=name)
        return self._call(
            self._stub.TriggerSchedule, request, idempotent=False, timeout=timeout
        ).fire

    def list_schedule_fires(
        self, name: str, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> Page[pb.ScheduleFire]:
        """One page of a schedule's recorded fires, newest first."""
        request = pb.ListScheduleFiresRequest(name=name, page_size=page_size, page_token=page_token)
        response = self._call(
            self._stub.ListScheduleFires, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.fires), response.next_page_token)

    def preview_schedule(
        self,
        cron: str,
        *,
        time_zone: str = "",
        after: dt.datetime | None = None,
        count: int = 0,
        timeout: float | None = None,
    ) -> list[dt.datetime]:
        """The next ``count`` (default 5) fire times of ``cron`` after ``after`` (default
        now), UTC; the server stores nothing."""
        request = _preview_request(cron, time_zone, after, count)
        response = self._call(self._stub.PreviewSchedule, request, idempotent=True, timeout=timeout)
        return _fire_times(response)

    # -- workload control -----------------------------------------------------------------

    def get_job_settings(
        self, job_names: Sequence[str] = (), *, timeout: float | None = None
    ) -> list[pb.JobWorkload]:
        """Each named job's settings (none named: every job's, by name): those in force,
        declared and set at run time, with its executions holding a slot and waiting."""
        request = pb.GetJobSettingsRequest(job_names=list(job_names))
        response = self._call(self._stub.GetJobSettings, request, idempotent=True, timeout=timeout)
        return list(response.jobs)

    def update_job_settings(
        self,
        job_name: str,
        changes: Mapping[str, object | None],
        *,
        timeout: float | None = None,
    ) -> pb.JobWorkload:
        """Sets run-time settings of a job (admin role): ``changes`` maps fields of
        ``SETTING_FIELDS`` to a value, or None to clear it (the declared value holds
        again); the fields not named stay as they are. Returns the job's settings."""
        request = _settings_request(job_name, changes)
        return self._call(
            self._stub.UpdateJobSettings, request, idempotent=True, timeout=timeout
        ).job

    def pause_job(
        self, job_name: str, *, stop_running: bool = False, timeout: float | None = None
    ) -> pb.PauseJobResponse:
        """Holds the job's new and waiting starts in the queue until ``resume_job``;
        ``stop_running`` stops its running executions too (``stopped_execution_ids``)."""
        request = pb.PauseJobRequest(job_name=job_name, stop_running=stop_running)
        return self._call(self._stub.PauseJob, request, idempotent=True, timeout=timeout)

    def resume_job(self, job_name: str, *, timeout: float | None = None) -> pb.JobWorkload:
        """Lets a paused job's queued starts run again."""
        request = pb.ResumeJobRequest(job_name=job_name)
        return self._call(self._stub.ResumeJob, request, idempotent=True, timeout=timeout).job

    def list_queue(
        self, job_name: str = "", *, page_size: int = 0, timeout: float | None = None
    ) -> pb.ListQueueResponse:
        """The starts waiting for a claim, in run order, each saying why it waits: of
        ``job_name`` (empty: of every job), at most ``page_size`` (0: the server's 100)
        from the head, with ``total`` counting them all."""
        request = pb.ListQueueRequest(job_name=job_name, page_size=page_size)
        return self._call(self._stub.ListQueue, request, idempotent=True, timeout=timeout)

    # -- bulk operations (docs/operations.md) ----------------------------------------------

    def bulk_stop(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """Stop every execution ``filter`` (``jobop_client.listing.execution_filter``) or
        ``ids`` select (both: those of the ids the filter selects), as one operation that
        runs on the server. Returns it as accepted (RUNNING, ``matched`` executions);
        follow it with ``watch_bulk_operation(operation.id)``. ``dry_run``: changes
        nothing, answers the count and the first ids. Not retried (it has no request id)."""
        return self._bulk("stop", _bulk_request("stop", filter, ids, dry_run), timeout)

    def bulk_abandon(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """As bulk_stop, abandoning (the admin role, as abandon)."""
        return self._bulk("abandon", _bulk_request("abandon", filter, ids, dry_run), timeout)

    def bulk_restart(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """As bulk_stop, restarting each FAILED or STOPPED execution's instance."""
        return self._bulk("restart", _bulk_request("restart", filter, ids, dry_run), timeout)

    def bulk_recover(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        force: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """As bulk_stop, recovering (``force`` as recover's, for each)."""
        request = _bulk_request("recover", filter, ids, dry_run, force)
        return self._bulk("recover", request, timeout)

    def get_bulk_operation(
        self, operation_id: int, *, timeout: float | None = None
    ) -> pb.BulkOperation:
        """A bulk operation as it is now (NoSuchOperationError)."""
        request = pb.GetBulkOperationRequest(id=operation_id)
        response = self._call(
            self._stub.GetBulkOperation, request, idempotent=True, timeout=timeout
        )
        return response.operation

    def cancel_bulk_operation(
        self, operation_id: int, *, timeout: float | None = None
    ) -> pb.BulkOperation:
        """Cancels a running bulk operation after the execution in hand (what it did stays
        done); a finished one is answered as it is. Safe to repeat, so retried."""
        request = pb.CancelBulkOperationRequest(id=operation_id)
        response = self._call(
            self._stub.CancelBulkOperation, request, idempotent=True, timeout=timeout
        )
        return response.operation

    def watch_bulk_operation(
        self, operation_id: int, *, timeout: float | None = None
    ) -> Iterator[pb.BulkOperation]:
        """The operation now, then as it progresses, ending once it is DONE or CANCELLED.
        A dropped connection is resumed (the operation goes on without watchers);
        ``timeout`` bounds the whole watch (default: none)."""
        watch = _BulkWatch(self._settings, timeout, operation_id)
        while True:
            call = self._stub.WatchBulkOperation(
                pb.WatchBulkOperationRequest(id=operation_id),
                timeout=_remaining(watch.deadline),
                metadata=self._settings.metadata,
            )
            try:
                for response in call:
                    yield watch.accept(response.operation)
            except grpc.RpcError as error:
                time.sleep(watch.delay_after_error(error))
                continue
            finally:
                call.cancel()  # type: ignore[no-untyped-call]
            delay = watch.delay_after_end()
            if delay is None:
                return
            time.sleep(delay)

    def _bulk(self, action: str, request: _BulkRequest, timeout: float | None) -> pb.BulkOperation:
        """The stream's first message (the operation as accepted); the stream is then
        closed, which leaves the operation running."""
        rpc, _ = _BULK[action]
        method = getattr(self._stub, rpc)
        deadline = self._settings.deadline(timeout)
        call = method(request, timeout=_remaining(deadline), metadata=self._settings.metadata)
        try:
            for response in call:
                operation: pb.BulkOperation = response.operation
                return operation
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error) from error
        finally:
            call.cancel()
        raise errors.JobOperatorError(f"{rpc} answered nothing")

    # -- following ------------------------------------------------------------------------

    def watch_execution(
        self, execution_id: int, *, after_version: int = 0, timeout: float | None = None
    ) -> Iterator[pb.JobExecution]:
        """Snapshots of one execution as it changes, ending once it has finished.

        The first snapshot is the current state (unless its version is not above
        ``after_version``). Heartbeats are consumed here. ``timeout`` bounds the whole watch
        (default: none).
        """
        follower = _Follower(
            self._settings,
            None if timeout is None else time.monotonic() + timeout,
            after_version,
            f"execution {execution_id}",
            ends=True,
        )
        while True:
            request = pb.WatchExecutionRequest(
                execution_id=execution_id, after_version=follower.version
            )
            call = self._stub.WatchExecution(
                request, timeout=_remaining(follower.deadline), metadata=self._settings.metadata
            )
            try:
                for response in call:
                    snapshot = follower.accept(_snapshot(response))
                    if snapshot is not None:
                        yield snapshot
            except grpc.RpcError as error:
                time.sleep(follower.delay_after_error(error))
                continue
            finally:
                # The caller may stop iterating before the stream ends.
                call.cancel()  # type: ignore[no-untyped-call]  # untyped in grpc-stubs
            delay = follower.delay_after_end()
            if delay is None:
                return
            time.sleep(delay)

    def watch_executions(
        self, job_name: str = "", *, timeout: float | None = None
    ) -> Iterator[pb.JobExecution]:
        """Snapshots of every execution of ``job_name`` (empty: all jobs) as they change.

        Never ends by itself: stop iterating, or give a ``timeout``.
        """
        follower = _Follower(
            self._settings,
            None if timeout is None else time.monotonic() + timeout,
            0,
            f"job {job_name!r}" if job_name else "all jobs",
            ends=False,
        )
        while True:
            request = pb.WatchExecutionsRequest(job_name=job_name)
            call = self._stub.WatchExecutions(
                request, timeout=_remaining(follower.deadline), metadata=self._settings.metadata
            )
            try:
                for response in call:
                    snapshot = follower.accept(_snapshot(response))
                    if snapshot is not None:
                        yield snapshot
            except grpc.RpcError as error:
                time.sleep(follower.delay_after_error(error))
                continue
            finally:
                call.cancel()  # type: ignore[no-untyped-call]
            delay = follower.delay_after_end()
            if delay is None:
                return
            time.sleep(delay)

    def _call(
        self,
        method: grpc.UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        *,
        idempotent: bool,
        timeout: float | None,
    ) -> Resp:
        deadline = self._settings.deadline(timeout)
        attempt = 1
        while True:
            try:
                return method(
                    request, timeout=_remaining(deadline), metadata=self._settings.metadata
                )
            except grpc.RpcError as error:
                delay = self._settings.retry_delay(
                    error, idempotent=idempotent, attempt=attempt, deadline=deadline
                )
                if delay is None:
                    raise errors.from_rpc_error(error) from error
            time.sleep(delay)
            attempt += 1


class AsyncJobOperatorClient:
    """asyncio client of a jobop server (grpc.aio); the methods of JobOperatorClient, awaited.

    Create it inside a running event loop; use ``async with`` or ``await client.close()``.
    """

    def __init__(
        self,
        target: str = DEFAULT_TARGET,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        metadata: Metadata = (),
        timeout: float | None = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        options: ChannelOptions = (),
    ) -> None:
        self.target = target
        self._settings = _Settings(timeout, retry, metadata)
        if credentials is None:
            self._channel = grpc.aio.insecure_channel(target, options=list(options))
        else:
            self._channel = grpc.aio.secure_channel(target, credentials, options=list(options))
        self._stub = pb_grpc.JobOperatorServiceStub(self._channel)

    async def close(self) -> None:
        await self._channel.close(grace=None)

    async def __aenter__(self) -> AsyncJobOperatorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(
        self,
        job_name: str,
        parameters: Mapping[str, ParameterInput] | None = None,
        request_id: str | None = None,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> pb.JobExecution:
        """See JobOperatorClient.start."""
        request = pb.StartRequest(
            job_name=job_name,
            parameters=to_proto_map(parameters),
            request_id=request_id or "",
            priority=priority,
        )
        response = await self._call(
            self._stub.Start, request, idempotent=bool(request_id), timeout=timeout
        )
        return response.execution

    async def start_jobs(
        self, starts: Sequence[JobStart], *, timeout: float | None = None
    ) -> list[StartOutcome]:
        """See JobOperatorClient.start_jobs."""
        request = _start_jobs_request(starts)
        idempotent = all(start.request_id for start in starts)
        response = await self._call(
            self._stub.StartJobs, request, idempotent=idempotent, timeout=timeout
        )
        return _start_outcomes(response)

    async def start_next_instance(
        self,
        job_name: str,
        request_id: str | None = None,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> pb.JobExecution:
        """See JobOperatorClient.start_next_instance."""
        request = pb.StartNextInstanceRequest(
            job_name=job_name, request_id=request_id or "", priority=priority
        )
        response = await self._call(
            self._stub.StartNextInstance, request, idempotent=bool(request_id), timeout=timeout
        )
        return response.execution

    async def stop(self, execution_id: int, *, timeout: float | None = None) -> pb.JobExecution:
        """See JobOperatorClient.stop."""
        request = pb.StopRequest(execution_id=execution_id)
        response = await self._call(self._stub.Stop, request, idempotent=True, timeout=timeout)
        return response.execution

    async def restart(
        self,
        execution_id: int,
        request_id: str | None = None,
        *,
        priority: int = 0,
        timeout: float | None = None,
    ) -> pb.JobExecution:
        """See JobOperatorClient.restart."""
        request = pb.RestartRequest(
            execution_id=execution_id, request_id=request_id or "", priority=priority
        )
        response = await self._call(
            self._stub.Restart, request, idempotent=bool(request_id), timeout=timeout
        )
        return response.execution

    async def abandon(self, execution_id: int, *, timeout: float | None = None) -> pb.JobExecution:
        """See JobOperatorClient.abandon."""
        request = pb.AbandonRequest(execution_id=execution_id)
        response = await self._call(self._stub.Abandon, request, idempotent=True, timeout=timeout)
        return response.execution

    async def recover(
        self, execution_id: int, *, force: bool = False, timeout: float | None = None
    ) -> pb.JobExecution:
        """See JobOperatorClient.recover."""
        request = pb.RecoverRequest(execution_id=execution_id, force=force)
        response = await self._call(self._stub.Recover, request, idempotent=False, timeout=timeout)
        return response.execution

    async def get_running_executions(
        self, job_name: str, *, timeout: float | None = None
    ) -> list[int]:
        """See JobOperatorClient.get_running_executions."""
        request = pb.GetRunningExecutionsRequest(job_name=job_name)
        response = await self._call(
            self._stub.GetRunningExecutions, request, idempotent=True, timeout=timeout
        )
        return list(response.execution_ids)

    async def get_summary(self, execution_id: int, *, timeout: float | None = None) -> str:
        """See JobOperatorClient.get_summary."""
        request = pb.GetSummaryRequest(execution_id=execution_id)
        response = await self._call(
            self._stub.GetSummary, request, idempotent=True, timeout=timeout
        )
        return response.summary

    async def get_step_execution_summaries(
        self, execution_id: int, *, timeout: float | None = None
    ) -> dict[int, str]:
        """See JobOperatorClient.get_step_execution_summaries."""
        request = pb.GetStepExecutionSummariesRequest(execution_id=execution_id)
        response = await self._call(
            self._stub.GetStepExecutionSummaries, request, idempotent=True, timeout=timeout
        )
        return dict(sorted(response.summaries.items()))

    async def get_job_names(self, *, timeout: float | None = None) -> list[str]:
        """See JobOperatorClient.get_job_names."""
        response = await self._call(
            self._stub.GetJobNames, pb.GetJobNamesRequest(), idempotent=True, timeout=timeout
        )
        return list(response.job_names)

    async def describe_jobs(
        self, job_names: Sequence[str] = (), *, timeout: float | None = None
    ) -> pb.DescribeJobsResponse:
        """See JobOperatorClient.describe_jobs."""
        request = pb.DescribeJobsRequest(job_names=list(job_names))
        return await self._call(self._stub.DescribeJobs, request, idempotent=True, timeout=timeout)

    async def get_parameters(
        self, execution_id: int, *, timeout: float | None = None
    ) -> dict[str, ParameterValue]:
        """See JobOperatorClient.get_parameters."""
        request = pb.GetParametersRequest(execution_id=execution_id)
        response = await self._call(
            self._stub.GetParameters, request, idempotent=True, timeout=timeout
        )
        return from_proto_map(response.parameters)

    async def get_job_execution(
        self, execution_id: int, *, timeout: float | None = None
    ) -> pb.JobExecution:
        """See JobOperatorClient.get_job_execution."""
        request = pb.GetJobExecutionRequest(execution_id=execution_id)
        response = await self._call(
            self._stub.GetJobExecution, request, idempotent=True, timeout=timeout
        )
        return response.execution

    async def list_job_instances(
        self,
        job_name: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> Page[pb.JobInstance]:
        """See JobOperatorClient.list_job_instances."""
        request = pb.ListJobInstancesRequest(
            job_name=job_name, page_size=page_size, page_token=page_token
        )
        response = await self._call(
            self._stub.ListJobInstances, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.job_instances), response.next_page_token)

    async def list_job_executions(
        self,
        job_name: str = "",
        *,
        job_instance_id: int = 0,
        page_size: int = 0,
        page_token: str = "",
        filter: pb.ExecutionFilter | None = None,
        oldest_first: bool = False,
        timeout: float | None = None,
    ) -> Page[pb.JobExecution]:
        """See JobOperatorClient.list_job_executions."""
        request = _executions_request(
            job_name, job_instance_id, page_size, page_token, filter, oldest_first
        )
        response = await self._call(
            self._stub.ListJobExecutions, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.executions), response.next_page_token)

    async def count_job_executions(
        self,
        job_name: str = "",
        *,
        job_instance_id: int = 0,
        filter: pb.ExecutionFilter | None = None,
        timeout: float | None = None,
    ) -> int:
        """See JobOperatorClient.count_job_executions."""
        request = _count_request(job_name, job_instance_id, filter)
        response = await self._call(
            self._stub.CountJobExecutions, request, idempotent=True, timeout=timeout
        )
        return response.count

    async def list_audit_events(
        self,
        job_name: str = "",
        *,
        since: dt.datetime | None = None,
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> Page[pb.AuditEvent]:
        """See JobOperatorClient.list_audit_events."""
        request = _audit_request(job_name, since, page_size, page_token)
        response = await self._call(
            self._stub.ListAuditEvents, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.events), response.next_page_token)

    # -- schedules: see JobOperatorClient -------------------------------------------------

    async def create_schedule(
        self,
        name: str,
        job_name: str,
        cron: str,
        parameters: Mapping[str, ParameterInput] | None = None,
        *,
        timeout: float | None = None,
        **fields: object,
    ) -> pb.Schedule:
        request = pb.CreateScheduleRequest(
            schedule=schedule_message(name, job_name, cron, parameters, **fields)
        )
        response = await self._call(
            self._stub.CreateSchedule, request, idempotent=False, timeout=timeout
        )
        return response.schedule

    async def get_schedule(self, name: str, *, timeout: float | None = None) -> pb.Schedule:
        response = await self._call(
            self._stub.GetSchedule,
            pb.GetScheduleRequest(name=name),
            idempotent=True,
            timeout=timeout,
        )
        return response.schedule

    async def list_schedules(self, *, timeout: float | None = None) -> list[pb.Schedule]:
        response = await self._call(
            self._stub.ListSchedules, pb.ListSchedulesRequest(), idempotent=True, timeout=timeout
        )
        return list(response.schedules)

    async def update_schedule(
        self, name: str, *, timeout: float | None = None, **changes: object
    ) -> pb.Schedule:
        response = await self._call(
            self._stub.UpdateSchedule,
            _update_schedule_request(name, changes),
            idempotent=True,
            timeout=timeout,
        )
        return response.schedule

    async def delete_schedule(self, name: str, *, timeout: float | None = None) -> None:
        request = pb.DeleteScheduleRequest(name=name)
        await self._call(self._stub.DeleteSchedule, request, idempotent=False, timeout=timeout)

    async def pause_schedule(self, name: str, *, timeout: float | None = None) -> pb.Schedule:
        request = pb.PauseScheduleRequest(name=name)
        response = await self._call(
            self._stub.PauseSchedule, request, idempotent=True, timeout=timeout
        )
        return response.schedule

    async def resume_schedule(self, name: str, *, timeout: float | None = None) -> pb.Schedule:
        request = pb.ResumeScheduleRequest(name=name)
        response = await self._call(
            self._stub.ResumeSchedule, request, idempotent=True, timeout=timeout
        )
        return response.schedule

    async def trigger_schedule(self, name: str, *, timeout: float | None = None) -> pb.ScheduleFire:
        request = pb.TriggerScheduleRequest(name=name)
        response = await self._call(
            self._stub.TriggerSchedule, request, idempotent=False, timeout=timeout
        )
        return response.fire

    async def list_schedule_fires(
        self, name: str, *, page_size: int = 0, page_token: str = "", timeout: float | None = None
    ) -> Page[pb.ScheduleFire]:
        request = pb.ListScheduleFiresRequest(name=name, page_size=page_size, page_token=page_token)
        response = await self._call(
            self._stub.ListScheduleFires, request, idempotent=True, timeout=timeout
        )
        return Page(list(response.fires), response.next_page_token)

    async def preview_schedule(
        self,
        cron: str,
        *,
        time_zone: str = "",
        after: dt.datetime | None = None,
        count: int = 0,
        timeout: float | None = None,
    ) -> list[dt.datetime]:
        response = await self._call(
            self._stub.PreviewSchedule,
            _preview_request(cron, time_zone, after, count),
            idempotent=True,
            timeout=timeout,
        )
        return _fire_times(response)

    async def get_job_settings(
        self, job_names: Sequence[str] = (), *, timeout: float | None = None
    ) -> list[pb.JobWorkload]:
        """See JobOperatorClient.get_job_settings."""
        request = pb.GetJobSettingsRequest(job_names=list(job_names))
        response = await self._call(
            self._stub.GetJobSettings, request, idempotent=True, timeout=timeout
        )
        return list(response.jobs)

    async def update_job_settings(
        self,
        job_name: str,
        changes: Mapping[str, object | None],
        *,
        timeout: float | None = None,
    ) -> pb.JobWorkload:
        """See JobOperatorClient.update_job_settings."""
        request = _settings_request(job_name, changes)
        response = await self._call(
            self._stub.UpdateJobSettings, request, idempotent=True, timeout=timeout
        )
        return response.job

    async def pause_job(
        self, job_name: str, *, stop_running: bool = False, timeout: float | None = None
    ) -> pb.PauseJobResponse:
        """See JobOperatorClient.pause_job."""
        request = pb.PauseJobRequest(job_name=job_name, stop_running=stop_running)
        return await self._call(self._stub.PauseJob, request, idempotent=True, timeout=timeout)

    async def resume_job(self, job_name: str, *, timeout: float | None = None) -> pb.JobWorkload:
        """See JobOperatorClient.resume_job."""
        request = pb.ResumeJobRequest(job_name=job_name)
        response = await self._call(self._stub.ResumeJob, request, idempotent=True, timeout=timeout)
        return response.job

    async def list_queue(
        self, job_name: str = "", *, page_size: int = 0, timeout: float | None = None
    ) -> pb.ListQueueResponse:
        """See JobOperatorClient.list_queue."""
        request = pb.ListQueueRequest(job_name=job_name, page_size=page_size)
        return await self._call(self._stub.ListQueue, request, idempotent=True, timeout=timeout)

    async def bulk_stop(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """See JobOperatorClient.bulk_stop."""
        return await self._bulk("stop", _bulk_request("stop", filter, ids, dry_run), timeout)

    async def bulk_abandon(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """See JobOperatorClient.bulk_abandon."""
        request = _bulk_request("abandon", filter, ids, dry_run)
        return await self._bulk("abandon", request, timeout)

    async def bulk_restart(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """See JobOperatorClient.bulk_restart."""
        request = _bulk_request("restart", filter, ids, dry_run)
        return await self._bulk("restart", request, timeout)

    async def bulk_recover(
        self,
        filter: pb.ExecutionFilter | None = None,
        *,
        ids: Sequence[int] = (),
        dry_run: bool = False,
        force: bool = False,
        timeout: float | None = None,
    ) -> pb.BulkOperation:
        """See JobOperatorClient.bulk_recover."""
        request = _bulk_request("recover", filter, ids, dry_run, force)
        return await self._bulk("recover", request, timeout)

    async def get_bulk_operation(
        self, operation_id: int, *, timeout: float | None = None
    ) -> pb.BulkOperation:
        """See JobOperatorClient.get_bulk_operation."""
        request = pb.GetBulkOperationRequest(id=operation_id)
        response = await self._call(
            self._stub.GetBulkOperation, request, idempotent=True, timeout=timeout
        )
        return response.operation

    async def cancel_bulk_operation(
        self, operation_id: int, *, timeout: float | None = None
    ) -> pb.BulkOperation:
        """See JobOperatorClient.cancel_bulk_operation."""
        request = pb.CancelBulkOperationRequest(id=operation_id)
        response = await self._call(
            self._stub.CancelBulkOperation, request, idempotent=True, timeout=timeout
        )
        return response.operation

    async def watch_bulk_operation(
        self, operation_id: int, *, timeout: float | None = None
    ) -> AsyncIterator[pb.BulkOperation]:
        """See JobOperatorClient.watch_bulk_operation."""
        watch = _BulkWatch(self._settings, timeout, operation_id)
        while True:
            call = self._stub.WatchBulkOperation(
                pb.WatchBulkOperationRequest(id=operation_id),
                timeout=_remaining(watch.deadline),
                metadata=self._settings.metadata,
            )
            try:
                async for response in call:
                    yield watch.accept(response.operation)
            except grpc.RpcError as error:
                await asyncio.sleep(watch.delay_after_error(error))
                continue
            finally:
                call.cancel()
            delay = watch.delay_after_end()
            if delay is None:
                return
            await asyncio.sleep(delay)

    async def _bulk(
        self, action: str, request: _BulkRequest, timeout: float | None
    ) -> pb.BulkOperation:
        rpc, _ = _BULK[action]
        method = getattr(self._stub, rpc)
        deadline = self._settings.deadline(timeout)
        call = method(request, timeout=_remaining(deadline), metadata=self._settings.metadata)
        try:
            async for response in call:
                operation: pb.BulkOperation = response.operation
                return operation
        except grpc.RpcError as error:
            raise errors.from_rpc_error(error) from error
        finally:
            call.cancel()
        raise errors.JobOperatorError(f"{rpc} answered nothing")

    async def watch_execution(
        self, execution_id: int, *, after_version: int = 0, timeout: float | None = None
    ) -> AsyncIterator[pb.JobExecution]:
        """See JobOperatorClient.watch_execution."""
        follower = _Follower(
            self._settings,
            None if timeout is None else time.monotonic() + timeout,
            after_version,
            f"execution {execution_id}",
            ends=True,
        )
        while True:
            request = pb.WatchExecutionRequest(
                execution_id=execution_id, after_version=follower.version
            )
            call = self._stub.WatchExecution(
                request, timeout=_remaining(follower.deadline), metadata=self._settings.metadata
            )
            try:
                async for response in call:
                    snapshot = follower.accept(_snapshot(response))
                    if snapshot is not None:
                        yield snapshot
            except grpc.RpcError as error:
                await asyncio.sleep(follower.delay_after_error(error))
                continue
            finally:
                call.cancel()
            delay = follower.delay_after_end()
            if delay is None:
                return
            await asyncio.sleep(delay)

    async def watch_executions(
        self, job_name: str = "", *, timeout: float | None = None
    ) -> AsyncIterator[pb.JobExecution]:
        """See JobOperatorClient.watch_executions."""
        follower = _Follower(
            self._settings,
            None if timeout is None else time.monotonic() + timeout,
            0,
            f"job {job_name!r}" if job_name else "all jobs",
            ends=False,
        )
        while True:
            request = pb.WatchExecutionsRequest(job_name=job_name)
            call = self._stub.WatchExecutions(
                request, timeout=_remaining(follower.deadline), metadata=self._settings.metadata
            )
            try:
                async for response in call:
                    snapshot = follower.accept(_snapshot(response))
                    if snapshot is not None:
                        yield snapshot
            except grpc.RpcError as error:
                await asyncio.sleep(follower.delay_after_error(error))
                continue
            finally:
                call.cancel()
            delay = follower.delay_after_end()
            if delay is None:
                return
            await asyncio.sleep(delay)

    async def _call(
        self,
        method: grpc.aio.UnaryUnaryMultiCallable[Req, Resp],
        request: Req,
        *,
        idempotent: bool,
        timeout: float | None,
    ) -> Resp:
        deadline = self._settings.deadline(timeout)
        attempt = 1
        while True:
            try:
                return await method(
                    request, timeout=_remaining(deadline), metadata=self._settings.metadata
                )
            except grpc.RpcError as error:
                delay = self._settings.retry_delay(
                    error, idempotent=idempotent, attempt=attempt, deadline=deadline
                )
                if delay is None:
                    raise errors.from_rpc_error(error) from error
            await asyncio.sleep(delay)
            attempt += 1
