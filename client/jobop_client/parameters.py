"""Job parameters: the text form ``name=value[,type[,identifying]]`` and the proto form.

The text form is the one of Spring Batch's ``DefaultJobParametersConverter``: ``type`` is one
of ``string`` (default), ``long``, ``double``, ``date`` (ISO-8601), ``boolean`` or one of the
Java class names Spring Batch writes (``java.lang.Long``, ``java.time.LocalDate``, ...), and
``identifying`` is ``true`` (default) or ``false``. A comma inside a value is written ``\\,``
and a backslash before a comma or another backslash ``\\\\``; other backslashes are literal,
so Windows paths need no escaping.

This module imports neither grpc nor protobuf at import time, so that the server's domain
layer can share the parser; the proto conversions import the generated module when called.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias, get_args

if TYPE_CHECKING:
    from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

ParameterType: TypeAlias = Literal["STRING", "LONG", "DOUBLE", "DATE", "BOOLEAN"]
PARAMETER_TYPES: tuple[ParameterType, ...] = get_args(ParameterType)

#: A parameter's value once parsed: dates are timezone-aware UTC datetimes.
Value: TypeAlias = str | int | float | bool | dt.datetime

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

# Text-form type names, matched case-insensitively.
_TYPE_NAMES: dict[str, ParameterType] = {
    "string": "STRING",
    "long": "LONG",
    "double": "DOUBLE",
    "date": "DATE",
    "boolean": "BOOLEAN",
    "java.lang.string": "STRING",
    "java.lang.long": "LONG",
    "java.lang.double": "DOUBLE",
    "java.util.date": "DATE",
    "java.time.localdate": "DATE",
    "java.time.localdatetime": "DATE",
    "java.lang.boolean": "BOOLEAN",
}
_TYPE_CHOICES = "string, long, double, date, boolean (or a Java class name such as java.lang.Long)"
_LONG_PATTERN = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True)
class ParameterValue:
    """One job parameter: its value, its type and whether it identifies the job instance.

    DATE values are normalised to timezone-aware UTC datetimes (a naive datetime is taken as
    UTC); an int given for a DOUBLE becomes a float.
    """

    value: Value
    type: ParameterType
    identifying: bool = True

    def __post_init__(self) -> None:
        value = self.value
        if self.type not in PARAMETER_TYPES:
            raise ValueError(f"unknown parameter type {self.type!r}; use one of {PARAMETER_TYPES}")
        # bool is an int to Python, but not a LONG or DOUBLE here.
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if self.type == "STRING" and isinstance(value, str):
            return
        if self.type == "BOOLEAN" and isinstance(value, bool):
            return
        if self.type == "LONG" and number and isinstance(value, int):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise ValueError(f"long parameter value {value} is out of the 64-bit range")
            return
        if self.type == "DOUBLE" and number and isinstance(value, int | float):
            object.__setattr__(self, "value", float(value))
            return
        if self.type == "DATE" and isinstance(value, dt.datetime):
            object.__setattr__(self, "value", _utc(value))
            return
        raise ValueError(f"a {self.type} parameter cannot hold {value!r} ({type(value).__name__})")


@dataclass(frozen=True)
class Parameter:
    """A plain Python value with an explicit identifying flag, e.g. ``Parameter(3, False)``.

    The type follows the value: str STRING, bool BOOLEAN, int LONG, float DOUBLE,
    datetime or date DATE.
    """

    value: Value | dt.date
    identifying: bool = True


#: What JobOperatorClient.start accepts per parameter.
ParameterInput: TypeAlias = ParameterValue | Parameter | Value | dt.date


def to_parameter_value(value: ParameterInput) -> ParameterValue:
    """The ParameterValue for a plain value, a Parameter or a ParameterValue."""
    if isinstance(value, ParameterValue):
        return value
    if isinstance(value, Parameter):
        return ParameterValue(_plain(value.value), _infer_type(value.value), value.identifying)
    return ParameterValue(_plain(value), _infer_type(value))


def _infer_type(value: object) -> ParameterType:
    # bool before int: bool is a subclass of int; datetime before date, likewise.
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "LONG"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, dt.date):
        return "DATE"
    raise TypeError(
        f"a job parameter must be a str, int, float, bool, datetime or date, "
        f"not {type(value).__name__}"
    )


def _plain(value: Value | dt.date) -> Value:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is in the year 0
        raise ValueError(
            f"{value.isoformat()} is out of range (the years 1 to 9999 in UTC)"
        ) from None


# -- text form -------------------------------------------------------------------------


def parse_parameter(text: str) -> tuple[str, ParameterValue]:
    """Parses ``name=value[,type[,identifying]]``; raises ValueError saying what is wrong."""
    name, equals, rest = text.partition("=")
    if not equals:
        raise ValueError(
            f"job parameter {text!r} is not of the form name=value[,type[,identifying]]"
        )
    if not name or name != name.strip():
        raise ValueError(f"job parameter {text!r} needs a name before '=' (without spaces)")
    fields = _split_fields(rest)
    if len(fields) > 3:
        raise ValueError(
            f"job parameter {name!r} has too many commas: use name=value[,type[,identifying]] "
            f"and write a comma inside a value as \\,"
        )
    value_text = fields[0]
    type_name = fields[1].strip() if len(fields) > 1 else "string"
    parameter_type = _TYPE_NAMES.get(type_name.lower())
    if parameter_type is None:
        raise ValueError(
            f"job parameter {name!r} has an unknown type {type_name!r}; use one of {_TYPE_CHOICES}"
        )
    identifying = True
    if len(fields) > 2:
        identifying = _parse_bool(
            fields[2], f"job parameter {name!r}: identifying must be true or false"
        )
    try:
        value = _parse_value(value_text, parameter_type)
    except ValueError as error:
        raise ValueError(f"job parameter {name!r}: {error}") from None
    return name, ParameterValue(value, parameter_type, identifying)


def parse_parameters(texts: Iterable[str]) -> dict[str, ParameterValue]:
    """Parses several text-form parameters; a name given twice is an error."""
    parameters: dict[str, ParameterValue] = {}
    for text in texts:
        name, value = parse_parameter(text)
        if name in parameters:
            raise ValueError(f"job parameter {name!r} is given more than once")
        parameters[name] = value
    return parameters


def format_parameter(name: str, parameter: ParameterValue) -> str:
    """The text form of one parameter; ``parse_parameter`` reads it back unchanged."""
    text = f"{name}={format_value(parameter)}"
    if parameter.type != "STRING" or not parameter.identifying:
        text += "," + parameter.type.lower()
    if not parameter.identifying:
        text += ",false"
    return text


def format_value(parameter: ParameterValue) -> str:
    """The value part of the text form (escaped for STRING values)."""
    value = parameter.value
    match parameter.type:
        case "STRING":
            return _escape(str(value))
        case "BOOLEAN":
            return "true" if value else "false"
        case "DOUBLE":
            return repr(float(value))  # type: ignore[arg-type]
        case "DATE":
            assert isinstance(value, dt.datetime)
            return value.isoformat().replace("+00:00", "Z")
        case _:
            return str(value)


def _parse_value(text: str, parameter_type: ParameterType) -> Value:
    match parameter_type:
        case "STRING":
            return text
        case "LONG":
            if not _LONG_PATTERN.fullmatch(text.strip()):
                raise ValueError(f"{text!r} is not a whole number")
            number = int(text)
            if not _INT64_MIN <= number <= _INT64_MAX:
                raise ValueError(f"{text} is out of the 64-bit range")
            return number
        case "DOUBLE":
            if "_" in text:  # float() takes 1_000; Java's Double.parseDouble does not
                raise ValueError(f"{text!r} is not a number")
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
        case "DATE":
            try:
                value = dt.datetime.fromisoformat(text.strip())
            except ValueError:
                raise ValueError(
                    f"{text!r} is not an ISO-8601 date or date-time "
                    f"(e.g. 2024-05-31 or 2024-05-31T12:00:00Z)"
                ) from None
            return _utc(value)
        case "BOOLEAN":
            return _parse_bool(text, f"{text!r} is not a boolean (true or false)")


def _parse_bool(text: str, message: str) -> bool:
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(message)


def _split_fields(text: str) -> list[str]:
    """Splits on commas that are not escaped; unescapes ``\\,`` and ``\\\\``."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in ",\\":
            current.append(text[i + 1])
            i += 2
            continue
        if char == ",":
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    fields.append("".join(current))
    return fields


def _escape(text: str) -> str:
    out: list[str] = []
    for i, char in enumerate(text):
        if char == ",":
            out.append("\\,")
        elif char == "\\" and (i + 1 == len(text) or text[i + 1] in ",\\"):
            out.append("\\\\")
        else:
            out.append(char)
    return "".join(out)


# -- proto form ------------------------------------------------------------------------


def to_proto(value: ParameterInput) -> pb.JobParameter:
    """The JobParameter message for a plain value, a Parameter or a ParameterValue."""
    from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

    parameter = to_parameter_value(value)
    message = pb.JobParameter(identifying=parameter.identifying)
    v = parameter.value
    match parameter.type:
        case "STRING":
            assert isinstance(v, str)
            message.string_value = v
        case "LONG":
            assert isinstance(v, int)
            message.long_value = v
        case "DOUBLE":
            assert isinstance(v, float)
            message.double_value = v
        case "DATE":
            assert isinstance(v, dt.datetime)
            message.date_value.FromDatetime(v)
        case "BOOLEAN":
            assert isinstance(v, bool)
            message.bool_value = v
    return message


def from_proto(message: pb.JobParameter) -> ParameterValue:
    """The ParameterValue of a JobParameter message; an absent ``identifying`` means true."""
    identifying = message.identifying if message.HasField("identifying") else True
    match message.WhichOneof("value"):
        case "string_value":
            return ParameterValue(message.string_value, "STRING", identifying)
        case "long_value":
            return ParameterValue(message.long_value, "LONG", identifying)
        case "double_value":
            return ParameterValue(message.double_value, "DOUBLE", identifying)
        case "date_value":
            return ParameterValue(message.date_value.ToDatetime(dt.UTC), "DATE", identifying)
        case "bool_value":
            return ParameterValue(message.bool_value, "BOOLEAN", identifying)
        case _:
            raise ValueError("job parameter has no value")


def to_proto_map(parameters: Mapping[str, ParameterInput] | None) -> dict[str, pb.JobParameter]:
    """Proto form of a parameter mapping (None is no parameters)."""
    return {name: to_proto(value) for name, value in (parameters or {}).items()}


def from_proto_map(parameters: Mapping[str, pb.JobParameter]) -> dict[str, ParameterValue]:
    """ParameterValues of a proto parameter map, sorted by name."""
    return {name: from_proto(parameters[name]) for name in sorted(parameters)}
