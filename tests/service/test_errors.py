"""Every domain error maps to docs/api.md's status code and ErrorInfo reason, in one place."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from jobop import domain
from jobop.operator import OperatorShutDown, RequestIdReused
from jobop.service.errors import InvalidArgument, status_for

CONTRACT = [
    (domain.NoSuchJob, grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB"),
    (domain.NoSuchJobExecution, grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB_EXECUTION"),
    (domain.NoSuchJobInstance, grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB_INSTANCE"),
    (domain.NoSuchBulkOperation, grpc.StatusCode.NOT_FOUND, "NO_SUCH_OPERATION"),
    (
        domain.JobInstanceAlreadyExists,
        grpc.StatusCode.ALREADY_EXISTS,
        "JOB_INSTANCE_ALREADY_EXISTS",
    ),
    (
        domain.JobInstanceAlreadyComplete,
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_INSTANCE_ALREADY_COMPLETE",
    ),
    (
        domain.JobExecutionAlreadyRunning,
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_EXECUTION_ALREADY_RUNNING",
    ),
    (
        domain.JobExecutionNotRunning,
        grpc.StatusCode.FAILED_PRECONDITION,
        "JOB_EXECUTION_NOT_RUNNING",
    ),
    (domain.JobRestartNotAllowed, grpc.StatusCode.FAILED_PRECONDITION, "JOB_RESTART_NOT_ALLOWED"),
    (domain.JobNotRegistered, grpc.StatusCode.FAILED_PRECONDITION, "JOB_NOT_REGISTERED"),
    (domain.StartLimitExceeded, grpc.StatusCode.FAILED_PRECONDITION, "JOB_RESTART_NOT_ALLOWED"),
    (domain.InvalidJobParameters, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_PARAMETERS"),
    (domain.JobParametersNotFound, grpc.StatusCode.FAILED_PRECONDITION, "JOB_PARAMETERS_NOT_FOUND"),
    (domain.ConcurrentModification, grpc.StatusCode.ABORTED, "CONCURRENT_MODIFICATION"),
    (RequestIdReused, grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED"),
    (OperatorShutDown, grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN"),
]


def _details(status: grpc.Status) -> tuple[int, str, str, str]:
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin"
    rich = status_pb2.Status.FromString(value)
    info = error_details_pb2.ErrorInfo()
    assert rich.details[0].Unpack(info)
    return rich.code, rich.message, info.domain, info.reason


@pytest.mark.parametrize(("error", "code", "reason"), CONTRACT)
def test_domain_errors_map_to_the_contract(
    error: type[Exception], code: grpc.StatusCode, reason: str
) -> None:
    status = status_for(error("what happened"))
    assert status.code == code
    assert status.details == "what happened"
    assert _details(status) == (code.value[0], "what happened", "jobop", reason)


def test_invalid_argument_and_unexpected_errors() -> None:
    status = status_for(InvalidArgument("job_name must not be empty", field="job_name"))
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT
    assert _details(status)[2:] == ("jobop", "INVALID_ARGUMENT")
    status = status_for(RuntimeError("secret internals"))
    assert status.code == grpc.StatusCode.INTERNAL
    assert "secret" not in status.details
    assert _details(status)[2:] == ("jobop", "INTERNAL")
