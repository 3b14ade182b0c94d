"""A parameter to its message and back: the direct forms of the plain types make what the
client's general form makes, a value of another class still goes through that form."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from jobop.domain import JobParameter
from jobop.service.mapping import _parameter_from_proto, parameter_to_proto
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
