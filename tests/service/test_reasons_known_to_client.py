"""Every ErrorInfo reason the server sends is one the Python client turns into its class."""

from __future__ import annotations

import grpc
from jobop.operator import RequestIdReused
from jobop.service import errors as service_errors
from jobop_client import errors


def test_every_server_reason_has_a_client_class_with_the_same_code() -> None:
    sent = {
        service_errors.INVALID_ARGUMENT: grpc.StatusCode.INVALID_ARGUMENT,
        service_errors.SHUTTING_DOWN: grpc.StatusCode.UNAVAILABLE,
        service_errors.DATABASE_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
        service_errors.INTERNAL: grpc.StatusCode.INTERNAL,
        RequestIdReused.reason: grpc.StatusCode.INVALID_ARGUMENT,
        service_errors.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
        service_errors.PERMISSION_DENIED: grpc.StatusCode.PERMISSION_DENIED,
        service_errors.RESOURCE_EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
    for reason, code in sent.items():
        assert reason in errors.REASONS, reason
        assert errors.STATUS_CODES[reason] == code


def test_every_schedule_reason_has_a_client_class_with_the_same_code() -> None:
    for reason, code in service_errors._REASON_CODES.items():
        assert reason in errors.REASONS, reason
        assert errors.STATUS_CODES[reason] == code, reason


def test_every_domain_reason_has_a_client_class_with_the_same_code() -> None:
    # Each domain error the service maps (JOB_NOT_REGISTERED among them), with its code.
    for kind, code in service_errors._CODES:
        assert kind.reason in errors.REASONS, kind.reason
        assert errors.STATUS_CODES[kind.reason] == code, kind.reason
