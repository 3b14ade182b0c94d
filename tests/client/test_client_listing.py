"""jobop_client.listing.execution_filter: Python values into the ExecutionFilter message."""

from __future__ import annotations

import datetime as dt

import pytest
from jobop_client.listing import execution_filter, status_value
from jobop_client.proto import job_operator_pb2 as pb

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def test_every_field_lands_in_its_place() -> None:
    selection = execution_filter(
        job_names=["a", "b"],
        statuses=["failed", "BATCH_STATUS_STOPPED", pb.BATCH_STATUS_COMPLETED],
        exit_codes=["CUSTOM"],
        since=T0,
        ended_until=T0 + dt.timedelta(hours=1),
        parameters={"tenant": "7"},
        node_id="node-1",
        overdue=False,
    )
    assert list(selection.statuses) == [
        pb.BATCH_STATUS_FAILED,
        pb.BATCH_STATUS_STOPPED,
        pb.BATCH_STATUS_COMPLETED,
    ]
    assert selection.created.since.ToDatetime(tzinfo=dt.UTC) == T0
    assert not selection.created.HasField("until")
    assert not selection.HasField("started")
    assert selection.ended.until.ToDatetime(tzinfo=dt.UTC) == T0 + dt.timedelta(hours=1)
    assert [(p.name, p.value) for p in selection.parameters] == [("tenant", "7")]
    assert selection.HasField("overdue") and selection.overdue is False
    assert not execution_filter().HasField("overdue")
    assert execution_filter() == pb.ExecutionFilter()


def test_an_unknown_status_name_is_a_value_error_naming_the_statuses() -> None:
    with pytest.raises(ValueError, match="'DONE' is not a status: one of COMPLETED"):
        status_value("DONE")
