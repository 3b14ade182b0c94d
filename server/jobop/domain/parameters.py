"""Typed job parameters, their text form, and the JOB_KEY that identifies an instance."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from jobop_client import parameters as text_form

from .errors import InvalidJobParameters

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

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

# Stored values that could not be read are logged once each, up to this many.
_WARN_ONCE_LIMIT = 1000
_warned: set[tuple[str, str]] = set()


@dataclass(frozen=True, slots=True)
class JobParameter:
    """One typed parameter value; identifying parameters make up the job instance."""

    value: ParameterValue
    type: ParameterType
    identifying: bool = True
    # The PARAMETER_TYPE of a stored value that could not be read (unknown type, malformed
    # or out of range): the value is then its text, typed STRING. Shown, never stored anew.
    unreadable_type: str | None = None

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
        return self.unreadable_type or JAVA_TYPES[self.type]

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
            return cls(_convert(kind, text), kind, identifying)
        except InvalidJobParameters as error:
            _warn_once(java_type, text, error)
            return cls(text, "STRING", identifying, unreadable_type=java_type)

    def __str__(self) -> str:
        return (
            f"{{value={self.value_text()}, type=class {self.java_type}, "
            f"identifying={'true' if self.identifying else 'false'}}}"
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
        """Parse CONTRACT's text form, `name=value[,type[,identifying]]`, one per argument;
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

    def job_key(self) -> str:
        """MD5 hex of the identifying parameters in sorted name order (Spring's JOB_KEY)."""
        text = "".join(
            f"{name}={self._items[name]};"
            for name in sorted(self._items)
            if self._items[name].identifying
        )
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def __str__(self) -> str:
        inner = ",".join(f"'{name}':'{p}'" for name, p in self._items.items())
        return "{" + inner + "}"

    def __repr__(self) -> str:
        return f"JobParameters({self._items!r})"
