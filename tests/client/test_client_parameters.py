"""The text form name=value[,type[,identifying]] and the proto form of job parameters."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from jobop_client.parameters import (
    Parameter,
    ParameterValue,
    format_parameter,
    from_proto,
    from_proto_map,
    parse_parameter,
    parse_parameters,
    to_proto,
    to_proto_map,
)

UTC = dt.UTC


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("name=Alice", "name", ParameterValue("Alice", "STRING")),
        ("items=6,long", "items", ParameterValue(6, "LONG")),
        ("chunkSize=3,long,false", "chunkSize", ParameterValue(3, "LONG", False)),
        ("rate=2.5,double", "rate", ParameterValue(2.5, "DOUBLE")),
        ("neg=-7,long", "neg", ParameterValue(-7, "LONG")),
        ("fail=true,boolean", "fail", ParameterValue(True, "BOOLEAN")),
        ("fail=FALSE,boolean,TRUE", "fail", ParameterValue(False, "BOOLEAN")),
        ("empty=", "empty", ParameterValue("", "STRING")),
        ("expr=a=b", "expr", ParameterValue("a=b", "STRING")),
        ("run.id=9,java.lang.Long", "run.id", ParameterValue(9, "LONG")),
        ("s=x,java.lang.String,false", "s", ParameterValue("x", "STRING", False)),
        ("d=1.5,java.lang.Double", "d", ParameterValue(1.5, "DOUBLE")),
        ("b=true,java.lang.Boolean", "b", ParameterValue(True, "BOOLEAN")),
        ("csv=eu\\,us", "csv", ParameterValue("eu,us", "STRING")),
        ("path=C:\\data\\in", "path", ParameterValue("C:\\data\\in", "STRING")),
        ("slash=a\\\\,string,false", "slash", ParameterValue("a\\", "STRING", False)),
    ],
)
def test_parse_parameter(text: str, name: str, expected: ParameterValue) -> None:
    assert parse_parameter(text) == (name, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("d=2024-05-31,date", dt.datetime(2024, 5, 31, tzinfo=UTC)),
        ("d=2024-05-31,java.time.LocalDate", dt.datetime(2024, 5, 31, tzinfo=UTC)),
        (
            "d=2024-05-31T12:30:00,java.time.LocalDateTime",
            dt.datetime(2024, 5, 31, 12, 30, tzinfo=UTC),
        ),
        ("d=2024-05-31T12:30:00Z,java.util.Date", dt.datetime(2024, 5, 31, 12, 30, tzinfo=UTC)),
        ("d=2024-05-31T14:30:00+02:00,date", dt.datetime(2024, 5, 31, 12, 30, tzinfo=UTC)),
    ],
)
def test_dates_are_iso_8601_and_become_utc(text: str, expected: dt.datetime) -> None:
    _, value = parse_parameter(text)
    assert value.type == "DATE"
    assert value.value == expected
    assert isinstance(value.value, dt.datetime) and value.value.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("items", "is not of the form name=value"),
        ("=5", "needs a name"),
        (" items=5", "needs a name"),
        ("items=six,long", "'six' is not a whole number"),
        ("items=1.5,long", "is not a whole number"),
        ("items=99999999999999999999,long", "out of the 64-bit range"),
        ("rate=fast,double", "'fast' is not a number"),
        ("rate=1_0,double", "is not a number"),
        ("fail=yes,boolean", "'yes' is not a boolean"),
        ("d=31/05/2024,date", "is not an ISO-8601 date"),
        ("items=6,lng", "unknown type 'lng'"),
        ("items=6,java.lang.Integer", "unknown type 'java.lang.Integer'"),
        ("items=6,long,maybe", "identifying must be true or false"),
        ("csv=eu,us,ca,x", "too many commas"),
    ],
)
def test_parse_errors_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_parameter(text)


def test_a_name_given_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="'items' is given more than once"):
        parse_parameters(["items=1,long", "items=2,long"])


@pytest.mark.parametrize(
    "value",
    [
        ParameterValue("plain", "STRING"),
        ParameterValue("with, comma", "STRING", False),
        ParameterValue("trailing\\", "STRING"),
        ParameterValue("back\\\\slashes\\,", "STRING"),
        ParameterValue("6,long", "STRING"),
        ParameterValue("", "STRING", False),
        ParameterValue(0, "LONG"),
        ParameterValue(-(2**63), "LONG", False),
        ParameterValue(2**63 - 1, "LONG"),
        ParameterValue(0.1, "DOUBLE"),
        ParameterValue(1e300, "DOUBLE", False),
        ParameterValue(True, "BOOLEAN"),
        ParameterValue(False, "BOOLEAN", False),
        ParameterValue(dt.datetime(2024, 5, 31, tzinfo=UTC), "DATE"),
        ParameterValue(dt.datetime(2024, 5, 31, 1, 2, 3, 456789, tzinfo=UTC), "DATE", False),
    ],
)
def test_format_round_trips(value: ParameterValue) -> None:
    text = format_parameter("p.name", value)
    assert parse_parameter(text) == ("p.name", value)


def test_format_is_the_short_form() -> None:
    assert format_parameter("items", ParameterValue(6, "LONG")) == "items=6,long"
    assert format_parameter("chunkSize", ParameterValue(3, "LONG", False)) == (
        "chunkSize=3,long,false"
    )
    assert format_parameter("name", ParameterValue("x", "STRING")) == "name=x"
    day = ParameterValue(dt.datetime(2024, 5, 31, tzinfo=UTC), "DATE")
    assert format_parameter("day", day) == "day=2024-05-31T00:00:00Z,date"


def test_parameter_value_checks_its_type() -> None:
    with pytest.raises(ValueError, match="a LONG parameter cannot hold True"):
        ParameterValue(True, "LONG")
    with pytest.raises(ValueError, match="a STRING parameter cannot hold 5"):
        ParameterValue(5, "STRING")
    with pytest.raises(ValueError, match="unknown parameter type"):
        ParameterValue(5, "INTEGER")  # type: ignore[arg-type]
    assert ParameterValue(2, "DOUBLE").value == 2.0
    naive = ParameterValue(dt.datetime(2024, 1, 1, 12), "DATE")
    assert naive.value == dt.datetime(2024, 1, 1, 12, tzinfo=UTC)


def test_plain_values_convert_to_proto_and_back() -> None:
    given = {
        "name": "Alice",
        "items": 20,
        "rate": 0.5,
        "fail": False,
        "at": dt.datetime(2024, 5, 31, 12, 0, 0, 123456, tzinfo=UTC),
        "day": dt.date(2024, 5, 31),
        "chunkSize": Parameter(5, identifying=False),
        "typed": ParameterValue(7, "LONG", False),
    }
    messages = to_proto_map(given)
    assert messages["items"].long_value == 20
    assert messages["fail"].WhichOneof("value") == "bool_value"
    assert messages["chunkSize"].identifying is False
    assert messages["name"].identifying is True
    assert from_proto_map(messages) == {
        "at": ParameterValue(dt.datetime(2024, 5, 31, 12, 0, 0, 123456, tzinfo=UTC), "DATE"),
        "chunkSize": ParameterValue(5, "LONG", False),
        "day": ParameterValue(dt.datetime(2024, 5, 31, tzinfo=UTC), "DATE"),
        "fail": ParameterValue(False, "BOOLEAN"),
        "items": ParameterValue(20, "LONG"),
        "name": ParameterValue("Alice", "STRING"),
        "rate": ParameterValue(0.5, "DOUBLE"),
        "typed": ParameterValue(7, "LONG", False),
    }


def test_absent_identifying_means_identifying() -> None:
    from jobop_client.proto import job_operator_pb2 as pb

    message = pb.JobParameter(long_value=3)
    assert not message.HasField("identifying")
    assert from_proto(message) == ParameterValue(3, "LONG", True)
    with pytest.raises(ValueError, match="has no value"):
        from_proto(pb.JobParameter())


def test_unsupported_python_values_are_refused() -> None:
    with pytest.raises(TypeError, match="not list"):
        to_proto([1, 2])  # type: ignore[arg-type]


def test_the_parser_imports_neither_grpc_nor_protobuf() -> None:
    # The server's domain layer reuses it and must stay free of transports.
    code = (
        "import sys, jobop_client.parameters as p, jobop_client.exit_codes;"
        "p.parse_parameter('items=1,long');"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('grpc', 'google')];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
