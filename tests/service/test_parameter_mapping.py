"""A parameter to its message and back: the direct forms of the plain types make what the
client's general form makes, a value of another class still goes through that form."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from jobop.domain import JobExecution, JobInstance, JobParameter, JobParameters
from jobop.service import mapping
from jobop.service.mapping import _parameter_from_proto, execution_to_proto, parameter_to_proto
from jobop_client import jsonform
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

PARAMETERS = [
    JobParameter("", "STRING"),
    JobParameter("in.csv", "STRING", identifying=False),
    JobParameter(0, "LONG"),
    JobParameter(-(2**63), "LONG"),
    JobParameter(2**63 - 1, "LONG", identifying=False),
    JobParameter(7, "LONG", java_class="java.lang.Integer"),
    JobParameter(0.5, "DOUBLE"),
    JobParameter(-0.0, "DOUBLE"),
    JobParameter(math.inf, "DOUBLE", identifying=False),
    JobParameter(math.nan, "DOUBLE"),
    JobParameter(3, "DOUBLE"),  # an int where a DOUBLE is declared
    JobParameter(True, "BOOLEAN"),
    JobParameter(False, "BOOLEAN", identifying=False),
    JobParameter(datetime(2024, 3, 15, 1, 2, 3, 4000, tzinfo=UTC), "DATE"),
]


def _general(parameter: JobParameter) -> pb.JobParameter:
    return client_parameters.to_proto(
        client_parameters.ParameterValue(parameter.value, parameter.type, parameter.identifying)
    )


@pytest.mark.parametrize("parameter", PARAMETERS, ids=repr)
def test_a_parameter_makes_the_message_the_clients_form_makes(parameter: JobParameter) -> None:
    message = parameter_to_proto(parameter)
    assert message.SerializeToString(deterministic=True) == _general(parameter).SerializeToString(
        deterministic=True
    )
    assert message.HasField("identifying")


@pytest.mark.parametrize("parameter", PARAMETERS, ids=repr)
def test_a_message_reads_back_as_the_clients_form_reads_it(parameter: JobParameter) -> None:
    message = _general(parameter)
    read = _parameter_from_proto(message)
    general = client_parameters.from_proto(message)
    assert (read.type, read.identifying) == (general.type, general.identifying)
    assert type(read.value) is type(general.value)
    assert repr(read.value) == repr(general.value)


def test_an_absent_identifying_flag_reads_as_identifying_and_no_value_is_refused() -> None:
    assert _parameter_from_proto(pb.JobParameter(long_value=3)) == JobParameter(3, "LONG")
    with pytest.raises(ValueError, match="no value"):
        _parameter_from_proto(pb.JobParameter(identifying=True))


@pytest.mark.parametrize("parameter", PARAMETERS, ids=repr)
def test_a_message_in_json_is_what_its_value_makes(parameter: JobParameter) -> None:
    """The typed JSON form (REST, the audit's arguments) read straight from the message."""
    message = _general(parameter)
    general = jsonform.parameter_value_json(client_parameters.from_proto(message))
    assert json.dumps(jsonform.parameter_json(message)) == json.dumps(general)


def test_an_executions_times_are_each_its_own() -> None:
    created = datetime(2024, 3, 15, 1, 2, 3, 4000, tzinfo=UTC)
    later = datetime(2024, 3, 15, 1, 2, 4, tzinfo=UTC)
    instance = JobInstance(1, "importJob", "k")
    for last_updated in (created, later, None):
        execution = JobExecution(
            instance, JobParameters(), id=3, create_time=created, last_updated=last_updated
        )
        message = execution_to_proto(execution)
        assert message.create_time.ToDatetime(UTC) == created
        assert message.HasField("last_updated") is (last_updated is not None)
        if last_updated is not None:
            assert message.last_updated.ToDatetime(UTC) == last_updated


def _request_json_as_before(request: Message) -> dict[str, Any]:
    """request_json as it was before it kept each field's kind (the reference)."""
    fields: dict[str, Any] = {}
    for field, value in request.ListFields():
        entry = field.message_type
        if entry is not None and entry.GetOptions().map_entry:
            if jsonform._is_parameter(entry.fields_by_name["value"]):
                fields[field.json_name] = jsonform.parameters_json(value)
            else:
                item = entry.fields_by_name["value"]
                fields[field.json_name] = {
                    key: jsonform._value(item, value[key]) for key in sorted(value)
                }
        elif jsonform._is_parameter(field):
            fields[field.json_name] = jsonform.parameter_json(value)
        elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
            fields[field.json_name] = [jsonform._value(field, item) for item in value]
        else:
            fields[field.json_name] = jsonform._value(field, value)
    return fields


def _requests() -> list[Message]:
    when = datetime(2024, 3, 15, 1, 2, 3, tzinfo=UTC)
    start = pb.StartRequest(
        job_name="importJob",
        parameters={f"p{n}": parameter_to_proto(p) for n, p in enumerate(PARAMETERS)},
        request_id="r-1",
        priority=-3,
    )
    schedule = pb.Schedule(name="nightly", job_name="importJob", cron="0 1 * * *")
    schedule.parameters["day"].CopyFrom(parameter_to_proto(PARAMETERS[-1]))
    schedule.next_fire_times.add().FromDatetime(when)
    schedule.created.FromDatetime(when)
    selection = pb.ExecutionSelection(
        filter=pb.ExecutionFilter(
            job_names=["a", "b"],
            statuses=[pb.BATCH_STATUS_FAILED, pb.BATCH_STATUS_STOPPED],
            parameters=[pb.ParameterFilter(name="day", value="x")],
        ),
        execution_ids=[3, 4],
    )
    settings = pb.UpdateJobSettingsRequest(job_name="importJob")
    settings.update_mask.paths.append("paused")
    since = pb.ListAuditEventsRequest(job_name="importJob")
    since.since.FromDatetime(when)
    return [
        pb.StartRequest(),
        start,
        pb.StartJobsRequest(starts=[start, pb.StartRequest(job_name="x")]),
        pb.CreateScheduleRequest(schedule=schedule),
        pb.BulkStopRequest(selection=selection, dry_run=True),
        settings,
        since,
    ]


@pytest.mark.parametrize("request_", _requests(), ids=lambda r: type(r).__name__)
def test_a_request_in_json_is_what_it_was(request_: Message) -> None:
    assert json.dumps(jsonform.request_json(request_), sort_keys=True) == json.dumps(
        _request_json_as_before(request_), sort_keys=True
    )


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 7, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1900, 3, 1, 12, 0, 0, 1000, tzinfo=UTC),
        datetime(2026, 6, 1, 12, 30, tzinfo=timezone(timedelta(hours=-7, minutes=-30))),
        datetime(2026, 6, 1, 12, 30, 0, 123_000),  # naive: read as UTC, as protobuf does
    ],
)
def test_times_are_set_as_protobufs_from_datetime_sets_them(value: datetime) -> None:
    ours, theirs = Timestamp(), Timestamp()
    mapping._set_time(ours, value)
    theirs.FromDatetime(value)
    assert (ours.seconds, ours.nanos) == (theirs.seconds, theirs.nanos)
