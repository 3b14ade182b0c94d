"""Bulk operations: Stop, Abandon, Restart or Recover applied to the executions a filter
(or a list of ids) selects, as one operation resource that runs on a server node.

Pure values: the action, the state, the selection (kept as JSON with the operation), the
operation as read back, and its first errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .errors import JobopError
from .listing import ExecutionFilter, TimeRange
from .status import BatchStatus

# The refusals an operation keeps (its counters count them all).
MAX_ERRORS = 10
# A dry run shows this many of the selected ids, newest first.
DRY_RUN_IDS = 20
# A selection may list at most this many ids (a filter selects any number).
MAX_SELECTION_IDS = 10_000


class InvalidSelection(JobopError):
    """A selection that selects nothing by construction, or lists too many or bad ids."""

    reason = "INVALID_ARGUMENT"


class BulkAction(StrEnum):
    STOP = "STOP"
    ABANDON = "ABANDON"
    RESTART = "RESTART"
    RECOVER = "RECOVER"

    @property
    def single_action(self) -> str:
        """The single action's RPC name (`Stop`), which audits each execution acted on."""
        return self.value.capitalize()

    @property
    def rpc(self) -> str:
        """The bulk RPC's name (`BulkStop`), which audits the operation."""
        return "Bulk" + self.single_action


class BulkState(StrEnum):
    RUNNING = "RUNNING"
    DONE = "DONE"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True, slots=True)
class BulkSelection:
    """The executions `filter` selects, or those of `execution_ids` (both: those listed
    that the filter selects). `force` is Recover's (see RecoverRequest.force)."""

    filter: ExecutionFilter | None = None
    execution_ids: tuple[int, ...] = ()
    force: bool = False

    @property
    def empty(self) -> bool:
        return self.filter is None and not self.execution_ids

    def check(self) -> None:
        """InvalidSelection unless a filter or ids are given, the ids positive and at
        most MAX_SELECTION_IDS."""
        if self.empty:
            raise InvalidSelection(
                "a bulk operation needs a filter or execution ids (an empty filter selects "
                "every execution)",
                field="selection",
            )
        if len(self.execution_ids) > MAX_SELECTION_IDS:
            raise InvalidSelection(
                f"selection lists more than {MAX_SELECTION_IDS} execution ids: use a filter",
                field="selection.execution_ids",
            )
        for execution_id in self.execution_ids:
            if execution_id <= 0:
                raise InvalidSelection(
                    f"selection.execution_ids holds {execution_id}, not a positive id",
                    field="selection.execution_ids",
                )

    def to_json(self) -> dict[str, Any]:
        """The JSON kept with the operation (and in its audit row): the listing's REST
        query names for the filter."""
        found: dict[str, Any] = {}
        if self.filter is not None:
            found["filter"] = _filter_json(self.filter)
        if self.execution_ids:
            found["ids"] = list(self.execution_ids)
        if self.force:
            found["force"] = True
        return found

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> BulkSelection:
        raw = value.get("filter")
        return cls(
            filter=_filter_from_json(raw) if isinstance(raw, dict) else None,
            execution_ids=tuple(int(i) for i in value.get("ids", ())),
            force=bool(value.get("force", False)),
        )


@dataclass(frozen=True, slots=True)
class BulkError:
    """One execution the operation could not act on, and why (the reason a single action
    would have answered, e.g. JOB_EXECUTION_NOT_RUNNING)."""

    execution_id: int
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class BulkOperation:
    """A bulk operation as stored (or, for a dry run, as it would select: no id)."""

    id: int | None
    action: BulkAction
    state: BulkState
    selection: BulkSelection
    principal: str
    matched: int
    done: int = 0
    failed: int = 0
    errors: tuple[BulkError, ...] = ()
    node_id: str | None = None
    created: datetime | None = None
    ended: datetime | None = None
    dry_run: bool = False
    # A dry run: the first selected ids, newest first (at most DRY_RUN_IDS).
    execution_ids: tuple[int, ...] = field(default=())
    cancel_requested: bool = False

    @property
    def running(self) -> bool:
        return self.state is BulkState.RUNNING

    def progress(self) -> tuple[object, ...]:
        """What a watcher sees change."""
        return (self.state, self.done, self.failed, self.node_id, len(self.errors))


# -- the filter as JSON (the REST query names of the listing) ---------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_when(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _filter_json(selection: ExecutionFilter) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if selection.job_names:
        found["job"] = list(selection.job_names)
    if selection.job_instance_id is not None:
        found["instanceId"] = selection.job_instance_id
    if selection.statuses:
        found["status"] = [status.value for status in selection.statuses]
    if selection.exit_codes:
        found["exitCode"] = list(selection.exit_codes)
    for prefix, window in (
        ("", selection.created),
        ("started", selection.started),
        ("ended", selection.ended),
    ):
        for side, value in (("since", window.since), ("until", window.until)):
            if value is not None:
                name = prefix + side.capitalize() if prefix else side
                found[name] = _when(value)
    if selection.parameters:
        found["param"] = dict(selection.parameters)
    if selection.node_id is not None:
        found["node"] = selection.node_id
    if selection.overdue is not None:
        found["overdue"] = selection.overdue
    return found


def _filter_from_json(value: dict[str, Any]) -> ExecutionFilter:
    def window(prefix: str) -> TimeRange:
        since = value.get(prefix + "Since" if prefix else "since")
        until = value.get(prefix + "Until" if prefix else "until")
        return TimeRange(_parse_when(since), _parse_when(until))

    overdue = value.get("overdue")
    return ExecutionFilter(
        job_names=tuple(value.get("job", ())),
        job_instance_id=value.get("instanceId"),
        statuses=tuple(BatchStatus(status) for status in value.get("status", ())),
        exit_codes=tuple(value.get("exitCode", ())),
        created=window(""),
        started=window("started"),
        ended=window("ended"),
        parameters=tuple(sorted(dict(value.get("param", {})).items())),
        node_id=value.get("node"),
        overdue=overdue if isinstance(overdue, bool) else None,
    )


def selection_text(selection: BulkSelection) -> str:
    """The selection's JSON as stored."""
    return json.dumps(selection.to_json(), sort_keys=True, ensure_ascii=False)
