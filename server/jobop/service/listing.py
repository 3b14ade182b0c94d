"""The filtered listing's requests (ListJobExecutions, CountJobExecutions) checked and
turned into the domain's ExecutionFilter; every failure is INVALID_ARGUMENT naming the
field."""

from __future__ import annotations

from datetime import datetime

from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from jobop.domain import EXIT_MESSAGE_LENGTH, BatchStatus, ExecutionFilter, TimeRange
from jobop.domain.bulk import MAX_SELECTION_IDS, BulkSelection
from jobop.repository.schema import NAME_LENGTH, NODE_ID_LENGTH, PARAMETER_VALUE_LENGTH

from . import validation as check
from .errors import InvalidArgument
from .mapping import status_to_proto

# More would be a list of ids in disguise, and long statements.
MAX_VALUES = 100

_STATUSES: dict[int, BatchStatus] = {status_to_proto(status): status for status in BatchStatus}


def _text(value: str, field: str, limit: int) -> str:
    if not value:
        raise InvalidArgument(f"{field} must not be empty", field=field)
    if len(value) > limit:
        raise InvalidArgument(f"{field} is longer than {limit} characters", field=field)
    if "\x00" in value:
        raise InvalidArgument(f"{field} must not contain NUL characters", field=field)
    return value


def _at_most(values: object, field: str) -> None:
    assert hasattr(values, "__len__")
    if len(values) > MAX_VALUES:
        raise InvalidArgument(f"{field} holds more than {MAX_VALUES} values", field=field)


def _status(value: int) -> BatchStatus:
    status = _STATUSES.get(value)
    if status is None:
        raise InvalidArgument(
            f"filter.statuses holds {value}, not a status of an execution",
            field="filter.statuses",
        )
    return status


def _range(message: pb.ExecutionFilter, name: str) -> TimeRange:
    if not message.HasField(name):  # type: ignore[arg-type]
        return TimeRange()
    window: pb.TimeRange = getattr(message, name)
    ends: list[datetime | None] = []
    for side in ("since", "until"):
        field = f"filter.{name}.{side}"
        ends.append(
            check.timestamp(getattr(window, side), field) if window.HasField(side) else None
        )
    since, until = ends
    if since is not None and until is not None and since > until:
        raise InvalidArgument(
            f"filter.{name}.since is after filter.{name}.until", field=f"filter.{name}"
        )
    return TimeRange(since, until)


def execution_filter(
    job_name: str, job_instance_id: int, message: pb.ExecutionFilter
) -> ExecutionFilter:
    """The request's job (empty: none), instance (0: none) and filter as one selection."""
    names = [check.job_name(job_name)] if job_name else []
    _at_most(message.job_names, "filter.job_names")
    names += check.job_names(message.job_names, field="filter.job_names")
    for field in ("statuses", "exit_codes", "parameters"):
        _at_most(getattr(message, field), f"filter.{field}")
    parameters = [
        (
            _text(item.name, "filter.parameters.name", NAME_LENGTH),
            # An empty value is a value too (an empty string parameter).
            item.value
            if not item.value
            else _text(item.value, "filter.parameters.value", PARAMETER_VALUE_LENGTH),
        )
        for item in message.parameters
    ]
    return ExecutionFilter(
        job_names=tuple(names),
        job_instance_id=(
            check.execution_id(job_instance_id, field="job_instance_id")
            if job_instance_id
            else None
        ),
        statuses=tuple(_status(value) for value in message.statuses),
        exit_codes=tuple(
            _text(code, "filter.exit_codes", EXIT_MESSAGE_LENGTH) for code in message.exit_codes
        ),
        created=_range(message, "created"),
        started=_range(message, "started"),
        ended=_range(message, "ended"),
        parameters=tuple(parameters),
        node_id=(
            _text(message.node_id, "filter.node_id", NODE_ID_LENGTH) if message.node_id else None
        ),
        overdue=message.overdue if message.HasField("overdue") else None,
    )


def page_query(selection: ExecutionFilter, *, oldest_first: bool) -> str:
    """What the page tokens of this listing are bound to. A request without a filter keeps
    the tag it had before filters existed, so tokens survive a rolling upgrade."""
    if (
        selection
        == ExecutionFilter(
            job_names=selection.job_names[:1], job_instance_id=selection.job_instance_id
        )
        and not oldest_first
    ):
        name = selection.job_names[0] if selection.job_names else None
        return f"executions {name!r} {selection.job_instance_id}"
    order = "oldest" if oldest_first else "newest"
    return f"executions {order} {selection.describe()}"


def bulk_selection(message: pb.ExecutionSelection, *, force: bool = False) -> BulkSelection:
    """A bulk request's selection: its filter (`selection.filter.*` fields named in the
    errors) and ids; at least one of them."""
    selection: ExecutionFilter | None = None
    if message.HasField("filter"):
        try:
            selection = execution_filter("", 0, message.filter)
        except InvalidArgument as error:
            field = f"selection.{error.field}" if error.field else "selection.filter"
            raise InvalidArgument(str(error), field=field) from None
    ids = list(message.execution_ids)
    if len(ids) > MAX_SELECTION_IDS:
        raise InvalidArgument(
            f"selection.execution_ids holds more than {MAX_SELECTION_IDS} ids: use a filter",
            field="selection.execution_ids",
        )
    for execution_id in ids:
        check.execution_id(execution_id, field="selection.execution_ids")
    if selection is None and not ids:
        raise InvalidArgument(
            "selection needs a filter or execution_ids (an empty filter selects every execution)",
            field="selection",
        )
    return BulkSelection(filter=selection, execution_ids=tuple(ids), force=force)
