"""Typed job parameters, their text form, and the JOB_KEY that identifies an instance."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import Literal

from jobop_client import parameters as text_form

from .errors import InvalidJobParameters

# Parameters named like this hold secrets: their values are never logged or audited, and
# only admins read them back.
SECRET_NAME = re.compile(r"(?i)(pass(word|wd)?|secret|token|credential|api[._-]?key|private)")
MASK = "***"


def is_secret(name: str) -> bool:
    return SECRET_NAME.search(name) is not None


log = logging.getLogger(__name__)

ParameterType = Literal["STRING", "LONG", "DOUBLE", "DATE", "BOOLEAN"]
ParameterValue = str | int | float | bool | datetime

# PARAMETER_TYPE column values, as Spring Batch 5 writes them.
JAVA_TYPES: dict[str, str] = {
    "STRING": "java.lang.String",
    "LONG": "java.lang.Long",
    "DOUBLE": "java.lang.Double",
    "DATE": "java.util.Date",
    "BOOLEAN": "java.lang.Boolean",
}
_FROM_JAVA: dict[str, ParameterType] = {
    "java.lang.String": "STRING",
    "java.lang.Long": "LONG",
    "java.lang.Integer": "LONG",
    "java.lang.Double": "DOUBLE",
    "java.util.Date": "DATE",
    "java.time.LocalDate": "DATE",
    "java.time.LocalDateTime": "DATE",
    "java.lang.Boolean": "BOOLEAN",
}


# Java classes a Spring application may store that jobop holds as one of its five types,
# remembering the class so that PARAMETER_TYPE, PARAMETER_VALUE and JOB_KEY stay Spring's.
_LOCAL_DATE = "java.time.LocalDate"
_LOCAL_DATE_TIME = "java.time.LocalDateTime"


LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

# Stored values that could not be read are logged once each, up to this many.
_WARN_ONCE_LIMIT = 1000
_warned: set[tuple[str, str]] = set()

# Every PARAMETER_TYPE jobop reads.
SPRING_TYPES = frozenset(_FROM_JAVA)


@dataclass(frozen=True, slots=True)
class JobParameter:
    """One typed parameter value; identifying parameters make up the job instance.

    `java_class`: the Java class Spring stored, when it is not the type's own
    (`java.lang.Integer` for a LONG, `java.time.LocalDate` or `LocalDateTime` for a DATE,
    whose value is then its wall-clock time taken as UTC).
    """

    value: ParameterValue
    type: ParameterType
    identifying: bool = True
    # The PARAMETER_TYPE of a stored value that could not be read (unknown type, malformed
    # or out of range): the value is then its text, typed STRING. Shown, never stored anew.
    unreadable_type: str | None = None
    java_class: str | None = None

    @classmethod
    def of(cls, value: ParameterValue | date, identifying: bool = True) -> JobParameter:
        """Infer the type from a plain Python value."""
        # bool before int: bool is a subclass of int.
        if isinstance(value, bool):
            return cls(value, "BOOLEAN", identifying)
        if isinstance(value, int):
            return cls(value, "LONG", identifying)
        if isinstance(value, float):
            return cls(value, "DOUBLE", identifying)
        if isinstance(value, datetime):
            return cls(_utc(value), "DATE", identifying)
        if isinstance(value, date):
            return cls(
                datetime(value.year, value.month, value.day, tzinfo=UTC), "DATE", identifying
            )
        if isinstance(value, str):
            return cls(value, "STRING", identifying)
        raise InvalidJobParameters(f"unsupported parameter value type {type(value).__name__}")

    @property
    def java_type(self) -> str:
        return self.unreadable_type or self.java_class or JAVA_TYPES[self.type]

    def value_text(self) -> str:
        """The value as stored in PARAMETER_VALUE and shown in the text form."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, datetime):
            return self.value.isoformat()
        return str(self.value)

    @classmethod
    def from_column(cls, java_type: str, text: str, identifying: bool) -> JobParameter:
        """Rebuild a parameter from its BATCH_JOB_EXECUTION_PARAMS row. A row that cannot
        be read (written by another tool, or by an older jobop) never fails the read: its
        text is the value, and `unreadable_type` keeps its type."""
        kind = _FROM_JAVA.get(java_type)
        try:
            if kind is None:
                raise InvalidJobParameters(f"unknown parameter type {java_type!r}")
            java_class = None if JAVA_TYPES[kind] == java_type else java_type
            return cls(_convert(kind, text), kind, identifying, java_class=java_class)
        except InvalidJobParameters as error:
            _warn_once(java_type, text, error)
            return cls(text, "STRING", identifying, unreadable_type=java_type)

    def column_text(self) -> str:
        """The value as Spring Batch writes PARAMETER_VALUE (its conversion service): an
        ISO instant for a date (`2024-03-15T00:00:00Z`), ISO local forms for java.time
        values, Java's toString otherwise."""
        if isinstance(self.value, datetime) and self.java_class == _LOCAL_DATE:
            return self.value.astimezone(UTC).date().isoformat()
        if isinstance(self.value, datetime) and self.java_class == _LOCAL_DATE_TIME:
            local = self.value.astimezone(UTC)
            fraction = _fraction(local.microsecond * 1000, minimal=True)
            return f"{local:%Y-%m-%dT%H:%M:%S}{fraction}"
        if isinstance(self.value, datetime):
            instant = self.value.astimezone(UTC)
            fraction = ""
            if instant.microsecond:
                micros = f"{instant.microsecond:06d}"
                fraction = "." + (micros[:3] if micros.endswith("000") else micros)
            return f"{instant:%Y-%m-%dT%H:%M:%S}{fraction}Z"
        if isinstance(self.value, float) and not isinstance(self.value, bool):
            return java_double_text(self.value)
        return self.value_text()

    def java_text(self, zone: tzinfo = UTC) -> str:
        """The value as Java's `toString()` spells it, which Spring's JOB_KEY hashes:
        `Double.toString` (`1.0E20`, `5.0E-4`) and `Date.toString` in `zone` (the JVM's
        default zone: `Fri Mar 15 00:00:00 UTC 2024`)."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, float):
            return java_double_text(self.value)
        if isinstance(self.value, datetime) and self.java_class == _LOCAL_DATE:
            return self.column_text()
        if isinstance(self.value, datetime) and self.java_class == _LOCAL_DATE_TIME:
            return java_local_date_time_text(self.value.astimezone(UTC))
        if isinstance(self.value, datetime):
            return java_date_text(self.value, zone)
        return str(self.value)

    def spring_text(self, name: str, spring: int = 5, zone: tzinfo = UTC) -> str:
        """What Spring Batch's DefaultJobKeyGenerator appends for this parameter: 5.x's
        `name=` + JobParameter.toString() + `;`, 6.x's record-style toString()."""
        flag = "true" if self.identifying else "false"
        value = self.java_text(zone)
        if spring >= 6:
            return (
                f"JobParameter{{name='{name}', value={value}, type=class {self.java_type}, "
                f"identifying={flag}}}"
            )
        return f"{name}={{value={value}, type=class {self.java_type}, identifying={flag}}};"

    def __str__(self) -> str:
        return self.describe(self.value_text())

    def masked(self) -> JobParameter:
        """This parameter with its value shown as `MASK`: a STRING that keeps the flag and
        names the stored Java type. Shown only, never stored."""
        return JobParameter(MASK, "STRING", self.identifying, java_class=self.java_type)

    def describe(self, value_text: str) -> str:
        """Spring's JobParameter.toString, showing `value_text` as the value."""
        return (
            f"{{value={value_text}, type=class {self.java_type}, "
            f"identifying={'true' if self.identifying else 'false'}}}"
        )


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_double_text(value: float) -> str:
    """Java's `Double.toString`: plain decimals in [1e-3, 1e7), else `d.dddE±n`; the
    shortest digits that read back (as JDK 19+ and Python's repr pick them)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    magnitude = abs(value)
    if magnitude == 0:
        return f"{sign}0.0"
    digits_tuple, exponent = Decimal(repr(magnitude)).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    assert isinstance(exponent, int)
    scientific = len(digits) + exponent - 1  # the exponent of the first digit
    if 1e-3 <= magnitude < 1e7:
        if exponent >= 0:
            return f"{sign}{digits}{'0' * exponent}.0"
        point = len(digits) + exponent
        if point > 0:
            return f"{sign}{digits[:point]}.{digits[point:]}"
        return f"{sign}0.{'0' * -point}{digits}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{scientific}"


def _fraction(nanos: int, minimal: bool) -> str:
    """A fraction of a second as java.time spells it: `DateTimeFormatter.ISO_LOCAL_TIME`
    with as few digits as needed (`minimal`), `toString()` in groups of three."""
    if not nanos:
        return ""
    if minimal:
        return "." + f"{nanos:09d}".rstrip("0")
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1000 == 0:
        return f".{nanos // 1000:06d}"
    return f".{nanos:09d}"


def java_local_date_time_text(value: datetime) -> str:
    """`LocalDateTime.toString()`: seconds left out when they and the fraction are zero."""
    text = f"{value:%Y-%m-%dT%H:%M}"
    if value.second or value.microsecond:
        text += f":{value.second:02d}" + _fraction(value.microsecond * 1000, minimal=False)
    return text


def java_date_text(value: datetime, zone: tzinfo = UTC) -> str:
    """Java's `Date.toString()` in `zone`: `EEE MMM dd HH:mm:ss zzz yyyy`."""
    local = value.astimezone(zone)
    name = "UTC" if zone is UTC else (local.tzname() or "GMT")
    return (
        f"{_DAYS[local.weekday()]} {_MONTHS[local.month - 1]} {local.day:02d} "
        f"{local:%H:%M:%S} {name} {local.year}"
    )


def _warn_once(java_type: str, text: str, error: Exception) -> None:
    key = (java_type, text)
    if key in _warned or len(_warned) >= _WARN_ONCE_LIMIT:
        return
    _warned.add(key)
    log.warning("stored job parameter %r of type %s shown as text: %s", text, java_type, error)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _convert(kind: ParameterType, text: str) -> ParameterValue:
    try:
        if kind == "LONG":
            number = int(text)
            if not LONG_MIN <= number <= LONG_MAX:
                raise ValueError(f"{text} is out of the 64-bit range")
            return number
        if kind == "DOUBLE":
            return float(text)
        if kind == "BOOLEAN":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"not a boolean: {text!r}")
            return text.lower() == "true"
        if kind == "DATE":
            return _utc(datetime.fromisoformat(text))
    except ValueError as error:
        raise InvalidJobParameters(str(error)) from error
    return text


class JobParameters(Mapping[str, JobParameter]):
    """An immutable, ordered set of named parameters."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, JobParameter] | None = None) -> None:
        self._items: dict[str, JobParameter] = dict(items or {})
        for name in self._items:
            if not name or not isinstance(name, str):
                raise InvalidJobParameters("a parameter name must be a non-empty string")
            if len(name) > 100:
                raise InvalidJobParameters(
                    f"parameter name longer than 100 characters: {name[:20]}…"
                )

    @classmethod
    def of(cls, **values: ParameterValue | date | JobParameter) -> JobParameters:
        return cls(
            {k: v if isinstance(v, JobParameter) else JobParameter.of(v) for k, v in values.items()}
        )

    @classmethod
    def parse(cls, args: Iterable[str]) -> JobParameters:
        """Parse the text form (docs/cli.md), `name=value[,type[,identifying]]`, one per argument;
        a name given twice is an error (as in the client), not a silent override."""
        try:
            parsed = text_form.parse_parameters(args)
        except ValueError as error:
            raise InvalidJobParameters(str(error)) from error
        return cls(
            {name: JobParameter(p.value, p.type, p.identifying) for name, p in parsed.items()}
        )

    def to_text(self) -> list[str]:
        """The text form of each parameter; `parse(to_text())` gives back an equal set."""
        return [
            text_form.format_parameter(
                name, text_form.ParameterValue(p.value, p.type, p.identifying)
            )
            for name, p in self._items.items()
        ]

    def __getitem__(self, name: str) -> JobParameter:
        return self._items[name]

    # The dict's own views and lookup, rather than Mapping's made of __getitem__ calls.
    def __contains__(self, name: object) -> bool:
        return name in self._items

    def keys(self) -> KeysView[str]:
        return self._items.keys()

    def items(self) -> ItemsView[str, JobParameter]:
        return self._items.items()

    def values(self) -> ValuesView[JobParameter]:
        return self._items.values()

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JobParameters):
            return self._items == other._items
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items(), key=lambda kv: kv[0])))

    def value(self, name: str, default: ParameterValue | None = None) -> ParameterValue | None:
        parameter = self._items.get(name)
        return default if parameter is None else parameter.value

    def long(self, name: str, default: int = 0) -> int:
        value = self.value(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidJobParameters(f"parameter {name!r} is not a number: {value!r}")
        return int(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.value(name)
        if value is None:
            return default
        if isinstance(value, str):
            return value.lower() == "true"
        return bool(value)

    def string(self, name: str, default: str = "") -> str:
        parameter = self._items.get(name)
        return default if parameter is None else parameter.value_text()

    def identifying(self) -> JobParameters:
        return JobParameters({k: v for k, v in self._items.items() if v.identifying})

    def merged(self, other: Mapping[str, JobParameter]) -> JobParameters:
        """These parameters overridden by `other`."""
        return JobParameters({**self._items, **other})

    def check_storable(self) -> None:
        """Refuse what the repository must never hold, on every database alike: NUL
        characters (PostgreSQL's text cannot hold them), longs outside 64 bits (Java's
        Long), and values read back as text because they could not be read."""
        for name, parameter in self._items.items():
            if "\x00" in name:
                raise InvalidJobParameters(f"job parameter name {name!r} contains a NUL character")
            if parameter.unreadable_type is not None:
                raise InvalidJobParameters(
                    f"job parameter {name!r} holds a stored value that cannot be read "
                    f"({parameter.unreadable_type} {parameter.value_text()!r})"
                )
            value = parameter.value
            if parameter.type == "LONG" and isinstance(value, int):
                if not LONG_MIN <= value <= LONG_MAX:
                    raise InvalidJobParameters(
                        f"job parameter {name!r}: {value} is out of the 64-bit range of a long"
                    )
            elif isinstance(value, str) and "\x00" in value:
                raise InvalidJobParameters(f"job parameter {name!r} contains a NUL character")

    def job_key_text(self, spring: int = 5, zone: tzinfo = UTC) -> str:
        """The text Spring Batch's DefaultJobKeyGenerator (of Spring `spring`) hashes: the
        identifying parameters in sorted name order, values spelled as Java does."""
        return "".join(
            self._items[name].spring_text(name, spring, zone)
            for name in sorted(self._items)
            if self._items[name].identifying
        )

    def job_key(self, spring: int = 5, zone: tzinfo = UTC) -> str:
        """Spring's JOB_KEY: MD5 hex of `job_key_text`."""
        text = self.job_key_text(spring, zone)
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def __str__(self) -> str:
        inner = ",".join(f"'{name}':'{p}'" for name, p in self._items.items())
        return "{" + inner + "}"

    def masked(self) -> str:
        """`str()` with the values of secret-looking parameters (`SECRET_NAME`) shown as
        `MASK`: what logs and the audit trail show, since operators read both."""
        return str(self.with_secrets_masked())

    def with_secrets_masked(self) -> JobParameters:
        """These parameters as a caller who may not read secrets sees them: each
        secret-named one `masked()` (itself when none is)."""
        if not any(is_secret(name) for name in self._items):
            return self
        return JobParameters(
            {name: p.masked() if is_secret(name) else p for name, p in self._items.items()}
        )

    def __repr__(self) -> str:
        return f"JobParameters({self._items!r})"
