"""Typed errors of the jobop API and their mapping to and from gRPC statuses.

Every error the server sends carries a gRPC status code and, in the standard
``grpc-status-details-bin`` trailer, a ``google.rpc.Status`` whose details hold a
``google.rpc.ErrorInfo`` with domain ``jobop`` and one of the reasons of ``REASONS``. The
client turns it back into the exception class of that reason. The server raises with the
same table: ``abort_arguments(reason, message)`` gives what ``context.abort`` takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import grpc

from jobop_client import _rpc_status

DOMAIN = "jobop"


class JobOperatorError(Exception):
    """Base class of every error a jobop call raises.

    ``code`` is the gRPC status the server (or the channel) answered with, ``reason`` the
    ErrorInfo reason (None when the error did not come from jobop), ``metadata`` the
    ErrorInfo's metadata.
    """

    reason: ClassVar[str | None] = None
    #: The gRPC status code the server sends with ``reason``.
    grpc_code: ClassVar[grpc.StatusCode] = grpc.StatusCode.UNKNOWN
    #: What to say when the server sent no message.
    default_message: ClassVar[str] = "the jobop call failed"

    def __init__(
        self,
        message: str = "",
        *,
        code: grpc.StatusCode | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.code = code if code is not None else self.grpc_code
        self.metadata: dict[str, str] = dict(metadata or {})


class NotFoundError(JobOperatorError):
    """The job, execution or instance named in the request does not exist."""

    grpc_code = grpc.StatusCode.NOT_FOUND


class NoSuchJobError(NotFoundError):
    reason = "NO_SUCH_JOB"
    default_message = "no such job"


class NoSuchJobExecutionError(NotFoundError):
    reason = "NO_SUCH_JOB_EXECUTION"
    default_message = "no such job execution"


class NoSuchJobInstanceError(NotFoundError):
    reason = "NO_SUCH_JOB_INSTANCE"
    default_message = "no such job instance"


class NoSuchOperationError(NotFoundError):
    """GetBulkOperation, WatchBulkOperation or CancelBulkOperation of an unknown id."""

    reason = "NO_SUCH_OPERATION"
    default_message = "no such bulk operation"


class NoSuchScheduleError(NotFoundError):
    reason = "NO_SUCH_SCHEDULE"
    default_message = "no such schedule"


class ScheduleExistsError(JobOperatorError):
    """CreateSchedule with a name another schedule has."""

    reason = "SCHEDULE_EXISTS"
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    default_message = "a schedule of that name exists already"


class JobInstanceAlreadyExistsError(JobOperatorError):
    reason = "JOB_INSTANCE_ALREADY_EXISTS"
    grpc_code = grpc.StatusCode.ALREADY_EXISTS
    default_message = "a job instance with these identifying parameters exists already"


class JobInstanceAlreadyCompleteError(JobOperatorError):
    reason = "JOB_INSTANCE_ALREADY_COMPLETE"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "the job instance is already complete"


class JobExecutionAlreadyRunningError(JobOperatorError):
    reason = "JOB_EXECUTION_ALREADY_RUNNING"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "an execution of this job instance is running"


class JobExecutionNotRunningError(JobOperatorError):
    reason = "JOB_EXECUTION_NOT_RUNNING"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "the job execution is not running"


class JobRestartNotAllowedError(JobOperatorError):
    reason = "JOB_RESTART_NOT_ALLOWED"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "the job instance may not be restarted"


class JobNotRegisteredError(JobOperatorError):
    """The repository knows the job (a Spring Batch application's, say) but the server
    has not registered it: it shows its executions and can stop them, not launch it."""

    reason = "JOB_NOT_REGISTERED"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "the job is not registered on this server"


class InvalidJobParametersError(JobOperatorError):
    reason = "INVALID_JOB_PARAMETERS"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    default_message = "the job parameters are invalid"


class JobParametersNotFoundError(JobOperatorError):
    reason = "JOB_PARAMETERS_NOT_FOUND"
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    default_message = "the job has no incrementer to make the next instance's parameters"


class ConcurrentModificationError(JobOperatorError):
    reason = "CONCURRENT_MODIFICATION"
    grpc_code = grpc.StatusCode.ABORTED
    default_message = "the execution was changed concurrently; try again"


class ServerUnavailableError(JobOperatorError):
    """The server cannot be reached (gRPC UNAVAILABLE), after any retries."""

    grpc_code = grpc.StatusCode.UNAVAILABLE
    default_message = "the jobop server is unavailable"


class ServerShuttingDownError(ServerUnavailableError):
    """The server is draining (SIGTERM): it refuses new starts; another replica may not."""

    reason = "SHUTTING_DOWN"
    default_message = "the jobop server is shutting down"


class DatabaseUnavailableError(ServerUnavailableError):
    """The server runs but cannot reach its database right now; retry later, or on
    another replica."""

    reason = "DATABASE_UNAVAILABLE"
    default_message = "the jobop server cannot reach its database"


class InvalidArgumentError(JobOperatorError):
    """A malformed request (empty name, non-positive id, oversized field); the ErrorInfo
    metadata names the field."""

    reason = "INVALID_ARGUMENT"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    default_message = "the request is malformed"


class RequestIdReusedError(JobOperatorError):
    """A request_id already used for a different request."""

    reason = "REQUEST_ID_REUSED"
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    default_message = "the request_id was already used for another request"


class UnauthenticatedError(JobOperatorError):
    """No credentials, or a token or certificate the server does not know."""

    reason = "UNAUTHENTICATED"
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    default_message = "not authenticated"


class PermissionDeniedError(JobOperatorError):
    """The caller is known but its role does not allow the request."""

    reason = "PERMISSION_DENIED"
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    default_message = "not permitted"


class ResourceExhaustedError(JobOperatorError):
    """A limit was reached (open streams, launch rate, size); the ErrorInfo metadata
    names it under ``limit``."""

    reason = "RESOURCE_EXHAUSTED"
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    default_message = "a server limit was reached"


class InternalServerError(JobOperatorError):
    """The server failed unexpectedly (for example, its database refused the work)."""

    reason = "INTERNAL"
    grpc_code = grpc.StatusCode.INTERNAL
    default_message = "the jobop server failed"


class DeadlineExceededError(JobOperatorError):
    """The server did not answer within the call's deadline."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    default_message = "the jobop server did not answer in time"


_REASON_CLASSES: tuple[type[JobOperatorError], ...] = (
    NoSuchJobError,
    NoSuchJobExecutionError,
    NoSuchJobInstanceError,
    JobInstanceAlreadyExistsError,
    JobInstanceAlreadyCompleteError,
    JobExecutionAlreadyRunningError,
    JobExecutionNotRunningError,
    JobRestartNotAllowedError,
    InvalidJobParametersError,
    JobParametersNotFoundError,
    ConcurrentModificationError,
    DatabaseUnavailableError,
    UnauthenticatedError,
    PermissionDeniedError,
    ResourceExhaustedError,
    # Reasons of jobop's own beyond the original table (docs/api.md lists them all).
    ServerShuttingDownError,
    InvalidArgumentError,
    RequestIdReusedError,
    InternalServerError,
    JobNotRegisteredError,
    NoSuchScheduleError,
    NoSuchOperationError,
    ScheduleExistsError,
)

#: ErrorInfo reason -> exception class (each class has ``reason`` and ``grpc_code``).
REASONS: Mapping[str, type[JobOperatorError]] = {
    cls.reason: cls for cls in _REASON_CLASSES if cls.reason is not None
}
#: Exception class -> ErrorInfo reason.
EXCEPTION_REASONS: Mapping[type[JobOperatorError], str] = {
    cls: reason for reason, cls in REASONS.items()
}
#: ErrorInfo reason -> the gRPC status code it is sent with.
STATUS_CODES: Mapping[str, grpc.StatusCode] = {
    reason: cls.grpc_code for reason, cls in REASONS.items()
}

_BY_CODE: Mapping[grpc.StatusCode, type[JobOperatorError]] = {
    # A proxy's refusals carry no ErrorInfo: the code alone still tells what happened.
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}


def from_rpc_error(error: grpc.RpcError) -> JobOperatorError:
    """The typed error for a failed call (sync or grpc.aio).

    The ErrorInfo reason decides the class; without one (an error from a proxy or the
    channel itself), UNAVAILABLE and DEADLINE_EXCEEDED have their own classes and anything
    else is a plain JobOperatorError carrying the status code.
    """
    code = _call_value(error, "code", grpc.StatusCode.UNKNOWN)
    message = _one_line(_call_value(error, "details", None) or "")
    status = _status_details(_call_value(error, "trailing_metadata", None) or ())
    info = status.error_info if status is not None else None
    if status is not None and not message:
        message = _one_line(status.message)
    if info is not None and info.domain == DOMAIN and info.reason in REASONS:
        return REASONS[info.reason](message, code=code, metadata=info.metadata)
    cls = _BY_CODE.get(code, JobOperatorError)
    if cls is JobOperatorError and not message:
        message = f"the jobop call failed with {code.name}"
    return cls(message, code=code, metadata=info.metadata if info else None)


def from_error_parts(
    code: int, reason: str, message: str, metadata: Mapping[str, str] | None = None
) -> JobOperatorError:
    """The typed error of an error the server answered as data (one entry of StartJobs):
    the class of ``reason``, as ``from_rpc_error`` would raise for the same status."""
    status = _CODES_BY_VALUE.get(code, grpc.StatusCode.UNKNOWN)
    cls = REASONS.get(reason) or _BY_CODE.get(status, JobOperatorError)
    return cls(_one_line(message), code=status, metadata=metadata)


_CODES_BY_VALUE: Mapping[int, grpc.StatusCode] = {
    status.value[0]: status for status in grpc.StatusCode
}


def status_details(reason: str, message: str, metadata: Mapping[str, str] | None = None) -> bytes:
    """The ``grpc-status-details-bin`` value for a jobop error of ``reason``."""
    code = STATUS_CODES[reason]
    info = _rpc_status.ErrorInfo(reason, DOMAIN, dict(metadata or {}))
    return _rpc_status.encode_status(code.value[0], message, info)


def abort_arguments(
    reason: str, message: str, metadata: Mapping[str, str] | None = None
) -> tuple[grpc.StatusCode, str, tuple[tuple[str, bytes], ...]]:
    """``(code, details, trailing_metadata)`` for ``context.abort`` on the server.

    ``await context.abort(*abort_arguments("NO_SUCH_JOB", "no job named 'x'"))`` sends the
    status code of the reason and the ErrorInfo detail.
    """
    if reason not in STATUS_CODES:
        raise KeyError(f"unknown jobop error reason {reason!r}; use one of {sorted(REASONS)}")
    trailer = (_rpc_status.STATUS_DETAILS_KEY, status_details(reason, message, metadata))
    return STATUS_CODES[reason], message, (trailer,)


def _call_value(error: grpc.RpcError, name: str, default: Any) -> Any:
    # Sync errors are grpc.Call objects and aio ones AioRpcError; a bare RpcError has neither.
    method = getattr(error, name, None)
    if method is None:
        return default
    try:
        return method()
    except Exception:  # an RpcError subclass that does not implement the Call interface
        return default


def _status_details(trailers: Iterable[Any]) -> _rpc_status.RpcStatus | None:
    for item in trailers:
        key, value = item
        if key == _rpc_status.STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return _rpc_status.decode_status(value)
            except ValueError:
                return None  # a broken detail is no reason to hide the status itself
    return None


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
