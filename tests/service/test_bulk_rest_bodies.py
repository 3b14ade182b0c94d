"""The REST bulk body's `filter` and the listing's query are read by one table of names:
the same names give the same ExecutionFilter; a body's malformed values are refused
naming `filter.NAME`."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from aiohttp.test_utils import make_mocked_request
from jobop.web.api import FILTER_NAMES, ApiError, body_filter, execution_filter

T0 = "2026-03-01T00:00:00+00:00"


def test_a_body_filter_and_a_query_with_the_same_names_select_alike() -> None:
    query = [
        ("job", "a"),
        ("job", "b"),
        ("status", "failed"),
        ("status", "STOPPED"),
        ("exitCode", "CUSTOM"),
        ("since", T0),
        ("endedUntil", "2026-03-02T00:00:00Z"),
        ("param.tenant", "7"),
        ("node", "n1"),
        ("overdue", "false"),
    ]
    from_query = execution_filter(make_mocked_request("GET", "/api/executions?" + urlencode(query)))
    body = {
        "job": ["a", "b"],
        "status": ["failed", "STOPPED"],
        "exitCode": "CUSTOM",
        "since": T0,
        "endedUntil": "2026-03-02T00:00:00Z",
        "param": {"tenant": 7},
        "node": "n1",
        "overdue": False,
    }
    assert body_filter(body) == from_query
    assert from_query.HasField("created") and not from_query.HasField("started")
    assert set(body) <= set(FILTER_NAMES)
    assert (
        body_filter(None)
        == body_filter({})
        == execution_filter(make_mocked_request("GET", "/api/executions"))
    )


@pytest.mark.parametrize(
    ("value", "field", "says"),
    [
        ({"color": "red"}, "filter.color", "unknown field 'color' in the filter"),
        ({"job": [1]}, "filter.job", "must be a list of strings"),
        ({"status": ["DONE"]}, "filter.status", "must be one of COMPLETED"),
        ({"until": "yesterday"}, "filter.until", "RFC 3339 time with its offset"),
        ({"since": 5}, "filter.since", "must be an RFC 3339 time"),
        ({"param": ["tenant=7"]}, "filter.param", "an object of NAME: VALUE"),
        ({"param": {"tenant": True}}, "filter.param.tenant", "the value as stored"),
        ({"node": 3}, "filter.node", "must be a node id"),
        ({"overdue": 1}, "filter.overdue", "true, false or null"),
        ("job=a", "filter", "must be a JSON object"),
    ],
)
def test_a_malformed_body_filter_names_its_field(value: object, field: str, says: str) -> None:
    with pytest.raises(ApiError) as caught:
        body_filter(value)
    assert (caught.value.http_status, caught.value.reason) == (400, "INVALID_ARGUMENT")
    assert caught.value.metadata["field"] == field
    assert says in caught.value.message
