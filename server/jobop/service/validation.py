"""Request checks done before the operator sees a request: every failure is INVALID_ARGUMENT."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from jobop.domain import LONG_MAX, InvalidJobParameters, JobParameters, check_priority
from jobop.domain.workload import CLEAR, SETTING_FIELDS
from jobop.repository.schema import NAME_LENGTH, PARAMETER_VALUE_LENGTH, REQUEST_ID_LENGTH

from .errors import InvalidArgument
from .mapping import parameters_from_proto, quoted_name

# No legitimate request comes near this: 200 parameters of 2,500 characters are 0.5 MiB.
MAX_REQUEST_BYTES = 1 << 20
MAX_PARAMETERS = 200
DEFAULT_PAGE_SIZE = 20
# ListQueue's page: the head of the queue (its proto says so).
DEFAULT_QUEUE_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_JOB_NAMES = 1000
# StartJobs' entries per call (docs/api.md).
MAX_STARTS = 1000


def request_size(request: Message) -> None:
    size = request.ByteSize()
    if size > MAX_REQUEST_BYTES:
        raise InvalidArgument(f"request of {size} bytes exceeds the limit of {MAX_REQUEST_BYTES}")


def starts_count(count: int) -> None:
    if count > MAX_STARTS:
        raise InvalidArgument(
            f"starts has {count} entries; at most {MAX_STARTS} per call", field="starts"
        )


def _no_nul(value: str, field: str) -> None:
    # One rule for both databases: PostgreSQL's text cannot hold NUL, so SQLite gets none.
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)


def job_name(value: str, *, field: str = "job_name") -> str:
    if not value or not value.strip():
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > NAME_LENGTH:
        raise InvalidArgument(f"{field} is longer than {NAME_LENGTH} characters", field=field)
    _no_nul(value, field)
    return value


def job_names(values: Sequence[str], *, field: str = "job_names") -> list[str]:
    """The names of a catalogue request (none: every job), each checked as a job name."""
    if len(values) > MAX_JOB_NAMES:
        raise InvalidArgument(f"{field} names more than {MAX_JOB_NAMES} jobs", field=field)
    return [job_name(value, field=field) for value in values]


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
    _no_nul(value, "request_id")
    return value


def parameters(messages: Mapping[str, pb.JobParameter]) -> JobParameters:
    """Typed parameters; malformed ones are INVALID_JOB_PARAMETERS (docs/api.md)."""
    if len(messages) > MAX_PARAMETERS:
        raise InvalidJobParameters(f"more than {MAX_PARAMETERS} job parameters", field="parameters")
    for name, message in messages.items():
        if message.WhichOneof("value") == "string_value" and (
            len(message.string_value) > PARAMETER_VALUE_LENGTH
        ):
            raise InvalidJobParameters(
                f"job parameter {quoted_name(name)} is longer than {PARAMETER_VALUE_LENGTH} "
                "characters",
                field="parameters",
            )
    try:
        parameters = parameters_from_proto(messages)
        parameters.check_storable()
    except InvalidJobParameters as error:
        raise InvalidJobParameters(str(error), field="parameters") from None
    return parameters


# Timestamp's documented range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z.
_MIN_SECONDS, _MAX_SECONDS = -62135596800, 253402300799


def timestamp(value: Timestamp, field: str) -> datetime:
    if not (_MIN_SECONDS <= value.seconds <= _MAX_SECONDS) or not (0 <= value.nanos <= 999_999_999):
        raise InvalidArgument(f"{field} is not a valid timestamp", field=field)
    return value.ToDatetime(tzinfo=UTC)


def page_size(value: int, *, default: int = DEFAULT_PAGE_SIZE) -> int:
    if value < 0:
        raise InvalidArgument(f"page_size must not be negative, not {value}", field="page_size")
    return min(value or default, MAX_PAGE_SIZE)


def priority(value: int) -> int:
    """A launch's priority; out of range is InvalidSettings (INVALID_ARGUMENT, field
    "priority"), refused before anything is written."""
    return check_priority(value)


def settings_change(settings: pb.JobSettingsOverride, mask: FieldMask) -> dict[str, object]:
    """UpdateJobSettings' change for the operator: each field the mask names -> its value
    in `settings`, or CLEAR when `settings` leaves it unset (the declared value holds
    again). An empty mask names the fields `settings` sets (as Google's AIP-134 has it),
    "*" all five. The values' ranges are the domain's to check (InvalidSettings)."""
    given: Message = settings  # HasField by a name held in a variable
    paths = list(mask.paths)
    if not paths:
        paths = [name for name in SETTING_FIELDS if given.HasField(name)]
        if not paths:
            raise InvalidArgument(
                "nothing to change: update_mask names no field and settings sets none",
                field="update_mask",
            )
    elif paths == ["*"]:
        paths = list(SETTING_FIELDS)
    for path in paths:
        if path not in SETTING_FIELDS:
            raise InvalidArgument(
                f"update_mask names {quoted_name(path)}, which is not a setting (one of "
                f"{', '.join(SETTING_FIELDS)})",
                field="update_mask",
            )
    change: dict[str, object] = {
        name: getattr(settings, name) if given.HasField(name) else CLEAR for name in paths
    }
    key = change.get("concurrency_key")
    if isinstance(key, str):
        _no_nul(key, "concurrencyKey")
    return change


def encode_page_token(query: str, fields: dict[str, int]) -> str:
    """An opaque token for the next page of `query` (a description of the request's
    filters), holding `fields` (non-negative 64-bit integers)."""
    text = json.dumps({**fields, "q": _query_tag(query)}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_page_token(token: str, query: str, keys: tuple[str, ...]) -> dict[str, int] | None:
    """The fields of a token that `encode_page_token` made for this same query; None for an
    empty token. Anything else is INVALID_ARGUMENT: tokens are only ever echoed back."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        fields = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        fields = None
    if (
        not isinstance(fields, dict)
        or set(fields) != {*keys, "q"}
        or fields["q"] != _query_tag(query)
        # bool is an int to Python, but no token holds one.
        or not all(type(fields[key]) is int and 0 <= fields[key] <= LONG_MAX for key in keys)
    ):
        raise InvalidArgument(
            "page_token is not a token this server returned for this query", field="page_token"
        )
    return {key: fields[key] for key in keys}


def _query_tag(query: str) -> str:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# -- schedules ---------------------------------------------------------------------------

# GET /api/schedules/preview is the preview, so no schedule may take that name.
RESERVED_SCHEDULE_NAMES = frozenset({"preview"})
DEFAULT_PREVIEW_COUNT = 5
MAX_PREVIEW_COUNT = 100


def schedule_name(value: str, *, new: bool = False) -> str:
    """A schedule's name (camelCase field names, as the operator's schedule errors); a
    new one may be no path word of its own nor hold a slash, so REST paths reach it."""
    job_name(value, field="name")
    if new and (value in RESERVED_SCHEDULE_NAMES or "/" in value):
        raise InvalidArgument(
            f"name {value!r} cannot name a schedule: no slashes, and not "
            + ", ".join(sorted(RESERVED_SCHEDULE_NAMES)),
            field="name",
        )
    return value


def preview_count(value: int) -> int:
    if not 0 <= value <= MAX_PREVIEW_COUNT:
        raise InvalidArgument(
            f"count must be from 1 to {MAX_PREVIEW_COUNT}, not {value}", field="count"
        )
    return value or DEFAULT_PREVIEW_COUNT
