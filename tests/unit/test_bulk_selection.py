"""A bulk operation's selection as kept with it (JSON in the listing's REST names), and
its checks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobop.domain import BatchStatus, ExecutionFilter, TimeRange
from jobop.domain.bulk import BulkAction, BulkSelection, InvalidSelection

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_a_selection_survives_its_json() -> None:
    selection = BulkSelection(
        filter=ExecutionFilter(
            job_names=("importJob", "exportJob"),
            statuses=(BatchStatus.FAILED, BatchStatus.STOPPED),
            exit_codes=("FAILED",),
            created=TimeRange(T0, None),
            started=TimeRange(None, T0),
            ended=TimeRange(T0, T0),
            parameters=(("tenant", "7"),),
            node_id="node-1",
            overdue=False,
        ),
        execution_ids=(3, 1),
        force=True,
    )
    stored = selection.to_json()
    assert stored["filter"]["job"] == ["importJob", "exportJob"]
    assert stored["filter"]["status"] == ["FAILED", "STOPPED"]
    assert stored["filter"]["since"] == T0.isoformat() and "until" not in stored["filter"]
    assert stored["filter"]["startedUntil"] == T0.isoformat()
    assert stored["filter"]["param"] == {"tenant": "7"}
    assert BulkSelection.from_json(stored) == selection
    assert BulkSelection.from_json({"ids": [5]}) == BulkSelection(execution_ids=(5,))


def test_checks_and_names() -> None:
    with pytest.raises(InvalidSelection) as caught:
        BulkSelection().check()
    assert caught.value.field == "selection"
    with pytest.raises(InvalidSelection):
        BulkSelection(execution_ids=(1, 0)).check()
    with pytest.raises(InvalidSelection):
        BulkSelection(execution_ids=tuple(range(1, 10_002))).check()
    BulkSelection(filter=ExecutionFilter()).check()  # an empty filter: every execution
    assert BulkAction.RECOVER.rpc == "BulkRecover"
    assert BulkAction.ABANDON.single_action == "Abandon"
