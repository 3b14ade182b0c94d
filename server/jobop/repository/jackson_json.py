"""The typed JSON of Spring's `Jackson2ExecutionContextStringSerializer`.

Jackson there uses default typing NON_FINAL with the type as a property: a map is an
object with an `@class` member, a list is `["java.util.ArrayList", [...]]`, and a scalar
whose JSON form does not say its Java type is `["java.lang.Long", 6]`; strings, booleans,
Integers and Doubles are bare JSON, which Jackson reads back as those types. Dates are
epoch milliseconds; JavaTimeModule writes a LocalDate as `[2024, 3, 15]` and a
LocalDateTime as `[2024, 3, 15, 10, 30, 5, 123000000]` (trailing zero seconds and
nanoseconds left out).
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from jobop.domain import JavaFloat, JavaInteger, UnreadableContext
from jobop.domain.context_values import INT_MAX, INT_MIN

_MAP_CLASSES = frozenset(
    {
        "java.util.HashMap",
        "java.util.LinkedHashMap",
        "java.util.TreeMap",
        "java.util.concurrent.ConcurrentHashMap",
        "java.util.Collections$UnmodifiableMap",
        "java.util.Collections$SingletonMap",
        "java.util.Collections$EmptyMap",
    }
)
_LIST_CLASSES = frozenset(
    {
        "java.util.ArrayList",
        "java.util.LinkedList",
        "java.util.Arrays$ArrayList",
        "java.util.Collections$UnmodifiableRandomAccessList",
        "java.util.Collections$UnmodifiableList",
        "java.util.Collections$SingletonList",
        "java.util.Collections$EmptyList",
    }
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Surrogates (a Java String may hold them alone; UTF-8, the text columns' encoding, has no
# form for them) can only stand in the JSON's strings: there they are written as escapes,
# which Jackson reads back into the same UTF-16 units, and Python into the same text.
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def encode(values: dict[str, Any]) -> str:
    text = json.dumps(_typed(values), ensure_ascii=False, separators=(",", ":"))
    return _SURROGATES.sub(_escape, text)


def _number(value: float) -> Any:
    # Jackson writes non-finite doubles as the strings "NaN", "Infinity" and "-Infinity".
    if math.isnan(value):
        return "NaN"
    return value if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")


def _typed(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, JavaInteger):
        return int(value)
    if isinstance(value, int):
        return ["java.lang.Long", value]
    if isinstance(value, JavaFloat):
        return ["java.lang.Float", _number(value)]
    if isinstance(value, float):
        if not math.isfinite(value):
            return ["java.lang.Double", _number(value)]
        return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return ["java.util.Date", (value - _EPOCH) // timedelta(milliseconds=1)]
    if isinstance(value, datetime):
        parts = [value.year, value.month, value.day, value.hour, value.minute]
        if value.second or value.microsecond:
            parts.append(value.second)
        if value.microsecond:
            parts.append(value.microsecond * 1000)
        return ["java.time.LocalDateTime", parts]
    if isinstance(value, date):
        return ["java.time.LocalDate", [value.year, value.month, value.day]]
    if isinstance(value, list | tuple):
        return ["java.util.ArrayList", [_typed(v) for v in value]]
    if isinstance(value, dict):
        return {"@class": "java.util.HashMap", **{k: _typed(v) for k, v in value.items()}}
    raise TypeError(f"a {type(value).__name__} has no Jackson form here")


def is_typed(document: Any) -> bool:
    """Whether a parsed JSON context is Jackson's (its top map names its class)."""
    return isinstance(document, dict) and isinstance(document.get("@class"), str)


def decode(document: dict[str, Any]) -> dict[str, Any]:
    """The values of a parsed Jackson context (see `is_typed`)."""
    value = _untyped(document)
    assert isinstance(value, dict)
    return value


def _bare_number(value: int | float) -> Any:
    # Jackson reads a bare JSON integer into an Object as Integer, or Long if it is larger.
    if isinstance(value, int):
        return JavaInteger(value) if INT_MIN <= value <= INT_MAX else value
    return value


def _untyped(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return _bare_number(value)
    if isinstance(value, dict):
        kind = value.get("@class", "java.util.HashMap")
        if kind not in _MAP_CLASSES:
            raise UnreadableContext(f"a {kind} value, which jobop does not map to a Python value")
        return {k: _untyped(v) for k, v in value.items() if k != "@class"}
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        return _scalar(value[0], value[1])
    raise UnreadableContext(f"untyped JSON array in a Jackson context: {str(value)[:60]}")


def _float(value: Any) -> float:
    return float(value) if isinstance(value, int | float | str) else math.nan


def _scalar(kind: str, value: Any) -> Any:
    if kind in _LIST_CLASSES:
        return [_untyped(v) for v in value]
    if kind == "java.lang.Long":
        return int(value)
    if kind == "java.lang.Integer":
        return JavaInteger(int(value))
    if kind == "java.lang.Double":
        return _float(value)
    if kind == "java.lang.Float":
        return JavaFloat(_float(value))
    if kind == "java.lang.Boolean":
        return bool(value)
    if kind == "java.lang.String":
        return str(value)
    if kind in ("java.util.Date", "java.sql.Timestamp"):
        return _EPOCH + timedelta(milliseconds=int(value))
    if kind == "java.time.LocalDate":
        if isinstance(value, str):
            return date.fromisoformat(value)
        return date(*value)
    if kind == "java.time.LocalDateTime":
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        year, month, day, hour, minute, *rest = value
        second = rest[0] if rest else 0
        nano = rest[1] if len(rest) > 1 else 0
        return datetime(year, month, day, hour, minute, second, nano // 1000)
    raise UnreadableContext(f"a {kind} value, which jobop does not map to a Python value")
