"""Request checks done before the operator sees a request: every failure is INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping

from google.protobuf.message import Message
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from jobop.domain import InvalidJobParameters, JobParameters
from jobop.repository.schema import NAME_LENGTH, PARAMETER_VALUE_LENGTH, REQUEST_ID_LENGTH

from .errors import InvalidArgument
from .mapping import parameters_from_proto

# No legitimate request comes near this: 200 parameters of 2,500 characters are 0.5 MiB.
MAX_REQUEST_BYTES = 1 << 20
MAX_PARAMETERS = 200
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 1000


def request_size(request: Message) -> None:
    size = request.ByteSize()
    if size > MAX_REQUEST_BYTES:
        raise InvalidArgument(f"request of {size} bytes exceeds the limit of {MAX_REQUEST_BYTES}")


def job_name(value: str, *, field: str = "job_name") -> str:
    if not value or not value.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > NAME_LENGTH:
        raise InvalidArgument(f"{field} is longer than {NAME_LENGTH} characters", field=field)
    return value


def execution_id(value: int, *, field: str = "execution_id") -> int:
    if value <= 0:
        raise InvalidArgument(f"{field} must be a positive id, not {value}", field=field)
    return value


def request_id(value: str) -> str | None:
    """The request id, or None when the caller sent none (the call is then not retry-safe)."""
    if not value:
        return None
    if len(value) > REQUEST_ID_LENGTH:
        raise InvalidArgument(
            f"request_id is longer than {REQUEST_ID_LENGTH} characters", field="request_id"
        )
    return value


def parameters(messages: Mapping[str, pb.JobParameter]) -> JobParameters:
    """Typed parameters; malformed ones are INVALID_JOB_PARAMETERS (docs/api.md)."""
    if len(messages) > MAX_PARAMETERS:
        raise InvalidJobParameters(f"more than {MAX_PARAMETERS} job parameters")
    for name, message in messages.items():
        if message.WhichOneof("value") == "string_value" and (
            len(message.string_value) > PARAMETER_VALUE_LENGTH
        ):
            raise InvalidJobParameters(
                f"job parameter {name!r} is longer than {PARAMETER_VALUE_LENGTH} characters"
            )
    return parameters_from_proto(messages)


def page_size(value: int) -> int:
    if value < 0:
        raise InvalidArgument(f"page_size must not be negative, not {value}", field="page_size")
    return min(value or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_page_token(fields: dict[str, int]) -> str:
    text = json.dumps(fields, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_page_token(token: str, keys: tuple[str, ...]) -> dict[str, int] | None:
    """The fields of a token made by `encode_page_token`; None for an empty token."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        fields = None
    if (
        not isinstance(fields, dict)
        or set(fields) != set(keys)
        or not all(isinstance(fields[key], int) and fields[key] >= 0 for key in keys)
    ):
        raise InvalidArgument("page_token is not a token this server returned", field="page_token")
    return fields
