"""``execution_filter``: the ``ExecutionFilter`` message of ListJobExecutions and
CountJobExecutions from Python values::

    selection = execution_filter(
        job_names=["importJob"], statuses=["FAILED", "STOPPED"],
        since=datetime.now(UTC) - timedelta(hours=2), parameters={"tenant": "7"},
    )
    page = client.list_job_executions(filter=selection, page_size=100)
    total = client.count_job_executions(filter=selection)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from jobop_client.proto import job_operator_pb2 as pb

_PREFIX = "BATCH_STATUS_"


def status_value(status: str | int) -> pb.BatchStatus.ValueType:
    """``"FAILED"`` (any case; the enum's own name too) or a ``pb.BatchStatus`` value;
    ValueError for another name."""
    if isinstance(status, int):
        return pb.BatchStatus.ValueType(status)
    name = status.strip().upper()
    try:
        return pb.BatchStatus.Value(name if name.startswith(_PREFIX) else _PREFIX + name)
    except ValueError:
        names = ", ".join(n.removeprefix(_PREFIX) for n in pb.BatchStatus.keys()[1:])
        raise ValueError(f"{status!r} is not a status: one of {names}") from None


def _window(target: pb.TimeRange, since: dt.datetime | None, until: dt.datetime | None) -> None:
    if since is not None:
        target.since.FromDatetime(since)
    if until is not None:
        target.until.FromDatetime(until)


def execution_filter(
    *,
    job_names: Iterable[str] = (),
    statuses: Iterable[str | int] = (),
    exit_codes: Iterable[str] = (),
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    started_since: dt.datetime | None = None,
    started_until: dt.datetime | None = None,
    ended_since: dt.datetime | None = None,
    ended_until: dt.datetime | None = None,
    parameters: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    node_id: str = "",
    overdue: bool | None = None,
) -> pb.ExecutionFilter:
    """Every condition given must hold. `since`/`until` bound the create time (from
    `since`, inclusive, until `until`, exclusive; aware datetimes); `parameters` maps a
    name to the value as the repository stores it (``"7"`` for a long 7)."""
    pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
    selection = pb.ExecutionFilter(
        job_names=list(job_names),
        statuses=[status_value(status) for status in statuses],
        exit_codes=list(exit_codes),
        parameters=[pb.ParameterFilter(name=name, value=value) for name, value in pairs],
        node_id=node_id,
    )
    for field, since_, until_ in (
        ("created", since, until),
        ("started", started_since, started_until),
        ("ended", ended_since, ended_until),
    ):
        if since_ is not None or until_ is not None:
            _window(getattr(selection, field), since_, until_)
    if overdue is not None:
        selection.overdue = overdue
    return selection
