"""The values an ExecutionContext holds, and the Java type each stands for.

A Spring Batch application reads the same contexts, so every value has one Java type:

| Python                          | Java                       |
| ------------------------------- | -------------------------- |
| `str`                           | `java.lang.String`         |
| `bool`                          | `java.lang.Boolean`        |
| `int`                           | `java.lang.Long`           |
| `JavaInteger` (an `int`)        | `java.lang.Integer`        |
| `float`                         | `java.lang.Double`         |
| `JavaFloat` (a `float`)         | `java.lang.Float`          |
| aware `datetime`                | `java.util.Date` (ms)      |
| naive `datetime`                | `java.time.LocalDateTime`  |
| `date`                          | `java.time.LocalDate`      |
| `list` (or `tuple`)             | `java.util.ArrayList`      |
| `dict` with `str` keys          | `java.util.HashMap`        |
| `None`                          | `null`                     |

Spring's readers keep their positions as Integers (`putInt`); an `int` put over a
`JavaInteger` stays one (see ExecutionContext), so Spring's `getInt` still works after
jobop wrote the context.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
# Jackson's typed JSON names a map's class in this member: no map can hold the key.
TYPE_KEY = "@class"


class JavaInteger(int):
    """An int that Java holds as `java.lang.Integer` (32 bits)."""

    __slots__ = ()

    def __new__(cls, value: int) -> JavaInteger:
        if not INT_MIN <= int(value) <= INT_MAX:
            raise ValueError(f"{value} does not fit a java.lang.Integer")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"JavaInteger({int(self)})"


class JavaFloat(float):
    """A float that Java holds as `java.lang.Float` (32 bits)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"JavaFloat({float(self)!r})"


def snapshot(value: Any, where: str = "value") -> Any:
    """A comparable, typed copy of `value` (raising TypeError for what no Java type holds).

    Two values with equal snapshots are saved identically: `1`, `1.0`, `True` and
    `JavaInteger(1)` differ here although Python finds them equal.
    """
    # The common exact types first (every context is snapshotted at each of its saves).
    exact = type(value)
    if exact is str:
        return ("String", value)
    if exact is int and LONG_MIN <= value <= LONG_MAX:
        return ("Long", value)
    if value is None:
        return None
    if isinstance(value, bool):
        return ("Boolean", value)
    if isinstance(value, JavaInteger):
        return ("Integer", int(value))
    if isinstance(value, int):
        if not LONG_MIN <= value <= LONG_MAX:
            raise TypeError(f"{where}: {value} does not fit a java.lang.Long")
        return ("Long", int(value))
    if isinstance(value, float):
        kind = "Float" if isinstance(value, JavaFloat) else "Double"
        # repr: NaN equals NaN here, and -0.0 differs from 0.0.
        return (kind, repr(float(value)) if math.isfinite(value) else str(value))
    if isinstance(value, str):
        return ("String", value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return ("LocalDateTime", value.isoformat())
        return ("Date", value.timestamp())
    if isinstance(value, date):
        return ("LocalDate", value.isoformat())
    if isinstance(value, list | tuple):
        return ("List", tuple(snapshot(v, f"{where}[{i}]") for i, v in enumerate(value)))
    if isinstance(value, dict):
        items = []
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: map keys must be strings, not {type(key).__name__}")
            if key == TYPE_KEY:
                raise TypeError(f"{where}: {TYPE_KEY!r} is reserved for Jackson's type names")
            items.append((key, snapshot(item, f"{where}[{key!r}]")))
        return ("Map", tuple(sorted(items, key=lambda kv: kv[0])))
    raise TypeError(
        f"{where}: a {type(value).__name__} cannot be kept in an execution context "
        "(use str, bool, int, float, datetime, date, list or dict)"
    )


def copy_value(value: Any) -> Any:
    """A deep copy keeping the Java types (`JavaInteger` stays one)."""
    if isinstance(value, list | tuple):
        return [copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_value(v) for k, v in value.items()}
    return value
