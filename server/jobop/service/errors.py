"""The one place where errors become gRPC statuses with a google.rpc.ErrorInfo detail.

Each status carries docs/api.md's code and an ErrorInfo (domain "jobop", the reason) in the
standard `grpc-status-details-bin` trailer, so that clients in any language can branch on
the reason rather than on the message text.
"""

from __future__ import annotations

from typing import Any, NoReturn

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status

from jobop.domain import (
    ConcurrentModification,
    InvalidJobParameters,
    InvalidSettings,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    JobInstanceAlreadyComplete,
    JobInstanceAlreadyExists,
    JobNotRegistered,
    JobopError,
    JobParametersNotFound,
    JobRestartNotAllowed,
    NoSuchBulkOperation,
    NoSuchJob,
    NoSuchJobExecution,
    NoSuchJobInstance,
)
from jobop.operator import OperatorShutDown, RequestIdReused
from jobop.repository import is_database_unavailable

ERROR_DOMAIN = "jobop"

# Reasons of our own beyond the original table (additions, never renames; docs/api.md).
INVALID_ARGUMENT = "INVALID_ARGUMENT"
SHUTTING_DOWN = "SHUTTING_DOWN"
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
INTERNAL = "INTERNAL"
# The security layer's reasons (auth.py, limits.py), listed in docs/api.md.
UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"


class InvalidArgument(Exception):
    """A malformed request: an empty name, a non-positive id, an oversized field."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# Checked in order: subclasses before their bases (StartLimitExceeded is a
# JobRestartNotAllowed and maps with it).
_CODES: tuple[tuple[type[JobopError], grpc.StatusCode], ...] = (
    (NoSuchJob, grpc.StatusCode.NOT_FOUND),
    (NoSuchBulkOperation, grpc.StatusCode.NOT_FOUND),
    (NoSuchJobExecution, grpc.StatusCode.NOT_FOUND),
    (NoSuchJobInstance, grpc.StatusCode.NOT_FOUND),
    (JobInstanceAlreadyExists, grpc.StatusCode.ALREADY_EXISTS),
    (JobInstanceAlreadyComplete, grpc.StatusCode.FAILED_PRECONDITION),
    (JobExecutionAlreadyRunning, grpc.StatusCode.FAILED_PRECONDITION),
    (JobExecutionNotRunning, grpc.StatusCode.FAILED_PRECONDITION),
    (JobRestartNotAllowed, grpc.StatusCode.FAILED_PRECONDITION),
    (JobNotRegistered, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidJobParameters, grpc.StatusCode.INVALID_ARGUMENT),
    # A priority or a job setting out of range (reason INVALID_ARGUMENT, the field named).
    (InvalidSettings, grpc.StatusCode.INVALID_ARGUMENT),
    (JobParametersNotFound, grpc.StatusCode.FAILED_PRECONDITION),
    (ConcurrentModification, grpc.StatusCode.ABORTED),
    (RequestIdReused, grpc.StatusCode.INVALID_ARGUMENT),
    (OperatorShutDown, grpc.StatusCode.UNAVAILABLE),
)


# Schedules' errors (docs/schedules.md), by their reason.
_REASON_CODES: dict[str, grpc.StatusCode] = {
    "NO_SUCH_SCHEDULE": grpc.StatusCode.NOT_FOUND,
    "SCHEDULE_EXISTS": grpc.StatusCode.ALREADY_EXISTS,
    INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
}


def code_for(error: JobopError) -> grpc.StatusCode:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return _REASON_CODES.get(error.reason, grpc.StatusCode.INTERNAL)


def error_status(
    code: grpc.StatusCode, reason: str, message: str, metadata: dict[str, str] | None = None
) -> grpc.Status:
    """A grpc.Status whose trailer holds google.rpc.Status{details: [ErrorInfo]}. The
    message and metadata values are cut to a size the trailer always carries: a message
    quoting a huge input would otherwise exceed the peer's metadata limit (16 KiB), and the
    caller would get a bare RESOURCE_EXHAUSTED instead of the reason."""
    message, metadata = _cut(message, metadata or {})
    info = error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)
    detail = any_pb2.Any()
    detail.Pack(info)
    status = status_pb2.Status(code=_rpc_code(code), message=message, details=[detail])
    result: grpc.Status = rpc_status.to_status(status)
    return result


# At most 4 bytes a character, percent-encoded in grpc-message and base64 in the details:
# both fit in 16 KiB with room to spare.
_MESSAGE_CHARACTERS = 600
_METADATA_CHARACTERS = 300


def _cut(message: str, metadata: dict[str, str]) -> tuple[str, dict[str, str]]:
    bounded = {key: _bounded(value, _METADATA_CHARACTERS) for key, value in metadata.items()}
    return _bounded(message, _MESSAGE_CHARACTERS), bounded


def _bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_for(error: BaseException) -> grpc.Status:
    """The status of any exception raised while serving a call."""
    return error_status(*error_parts(error))


def error_parts(error: BaseException) -> tuple[grpc.StatusCode, str, str, dict[str, str]]:
    """The code, reason, message and ErrorInfo metadata `status_for` sends for `error`
    (StartJobs answers them per entry)."""
    if is_database_unavailable(error):
        return (
            grpc.StatusCode.UNAVAILABLE,
            DATABASE_UNAVAILABLE,
            "the repository's database cannot be reached right now; retry later",
            {},
        )
    if isinstance(error, JobopError | InvalidArgument):
        metadata = {"field": error.field} if error.field else {}
    if isinstance(error, JobopError):
        message = str(error) or error.reason
        return code_for(error), error.reason, message, {**error.metadata, **metadata}
    if isinstance(error, InvalidArgument):
        return grpc.StatusCode.INVALID_ARGUMENT, INVALID_ARGUMENT, str(error), metadata
    return grpc.StatusCode.INTERNAL, INTERNAL, f"internal error: {type(error).__name__}", {}


def bounded_error(
    error: BaseException,
) -> tuple[grpc.StatusCode, str, str, dict[str, str]]:
    """`error_parts` cut as `error_status` cuts them."""
    code, reason, message, metadata = error_parts(error)
    return (code, reason, *_cut(message, metadata))


def reason_for(error: BaseException) -> str:
    """The ErrorInfo reason that `status_for` sends for `error`."""
    if isinstance(error, JobopError):
        return error.reason
    if isinstance(error, InvalidArgument):
        return INVALID_ARGUMENT
    return INTERNAL


def _rpc_code(code: grpc.StatusCode) -> int:
    value: int = code.value[0]
    assert code_pb2.Code.Name(value)  # the gRPC and google.rpc numberings are the same
    return value


async def abort(context: grpc.aio.ServicerContext[Any, Any], status: grpc.Status) -> NoReturn:
    """End the call with `status` (its ErrorInfo travels in the trailing metadata)."""
    await context.abort(status.code, status.details, status.trailing_metadata)
