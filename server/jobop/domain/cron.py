"""Cron expressions of schedules: parsing and next fire times, pure (no clock, no database).

Six fields seconds first read as Spring's `CronExpression` reads them (both day fields
restrict; Quartz's `L`, `W`, `#` forms), five fields minutes first as standard cron (the
day fields joined by Vixie cron's rule), and the macros. Fire times are searched on the
zone's wall clock field by field, then placed on the time line: a local time the clock
skips (spring forward) fires when the gap ends, a local time it shows twice (fall back)
fires once, at its first occurrence. No library reads exactly this (docs/cron.md says why).
"""

from __future__ import annotations

import calendar
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import JobopError

_T = TypeVar("_T")

Zone = ZoneInfo | timezone


class InvalidSchedule(JobopError):
    """A schedule's cron expression, time zone or other setting is unusable; `field` names
    the request field (cron, timeZone, ...), the message the cron field in words."""

    reason = "INVALID_ARGUMENT"


MACROS = {
    "@yearly": "0 0 0 1 1 *",
    "@annually": "0 0 0 1 1 *",
    "@monthly": "0 0 0 1 * *",
    "@weekly": "0 0 0 * * 0",
    "@daily": "0 0 0 * * *",
    "@midnight": "0 0 0 * * *",
    "@hourly": "0 0 * * * *",
}

_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAY_NAMES = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_SECOND = timedelta(seconds=1)
# The Gregorian calendar repeats every 400 years: a date no search finds in them never comes.
_CYCLE_YEARS = 400


class _FieldError(ValueError):
    """A fault in one field's text; parse() names the field around it."""


def _number(text: str) -> int | None:
    """A whole number written in ASCII digits (str.isdigit also takes '²'), else None."""
    return int(text) if text.isascii() and text.isdigit() else None


@dataclass(frozen=True)
class _Kind:
    words: str  # how errors name the field
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for the value i + 1

    def value(self, token: str) -> int:
        upper = token.upper()
        if upper in self.names:
            return self.names.index(upper) + 1
        number = _number(token)
        if number is None:
            raise _FieldError(f"'{token}' is not a number" + (" or a name" if self.names else ""))
        if not self.low <= number <= self.high:
            raise _FieldError(f"{number} is out of range {self.low}-{self.high}")
        return number


_SECONDS = _Kind("second", 0, 59)
_MINUTES = _Kind("minute", 0, 59)
_HOURS = _Kind("hour", 0, 23)
_DAYS_OF_MONTH = _Kind("day-of-month", 1, 31)
_MONTHS = _Kind("month", 1, 12, _MONTH_NAMES)
# 0 and 7 are both Sunday (cron's convention, and Spring's); values are kept as 0-6 from Sunday.
_DAYS_OF_WEEK = _Kind("day-of-week", 0, 7, _DAY_NAMES)


def _values(text: str, kind: _Kind, star: tuple[int, int]) -> set[int]:
    """A field of numbers, names, ranges `a-b`, steps `x/n` and lists `x,y`; `star` is the
    range `*` stands for (the day of week's: Monday to Sunday in Spring, from Sunday in cron)."""
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if base == "*":
            low, high = star
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = kind.value(first), kind.value(last)
            if kind is _DAYS_OF_WEEK and low == 7:
                low = 0  # Sunday at the start of a range is its first day (Spring's rule)
            if low > high:
                raise _FieldError(f"range '{base}' runs backwards")
        else:
            low = kind.value(base)
            # `5/15` is `5-<last>/15`, as in Spring
            high = kind.high if slash else low
        step = _number(step_text) if slash else 1
        if not step:
            raise _FieldError(f"step '{step_text}' must be a whole number of 1 or more")
        values.update(range(low, high + 1, step))
    if kind is _DAYS_OF_WEEK:
        values = {value % 7 for value in values}
    return values


# A Quartz-style day rule: the days of a month (year, month, days in month) it picks.
DayRule = Callable[[int, int, int], Iterable[int]]


def _weekday(year: int, month: int, day: int) -> int:
    """Day of week as cron counts it: 0 for Sunday to 6 for Saturday."""
    return (date(year, month, day).weekday() + 1) % 7


def _last_weekday(year: int, month: int, length: int) -> list[int]:
    last = length
    while _weekday(year, month, last) in (0, 6):
        last -= 1
    return [last]


def _nearest_weekday(day: int) -> DayRule:
    """`nW`: the weekday nearest to day n, within the month, as Spring's tests fix it: a
    Saturday moves to the Friday before (`1W` to Monday the 3rd), a Sunday to the Monday
    after, and a Sunday that ends the month fires nowhere; so do months without day n."""

    def rule(year: int, month: int, length: int) -> list[int]:
        if day > length:
            return []
        weekday = _weekday(year, month, day)
        if weekday == 6:
            return [day - 1] if day > 1 else [day + 2]
        if weekday == 0:
            return [day + 1] if day < length else []
        return [day]

    return rule


def _day_of_month_rule(part: str) -> DayRule:
    """One list item of the day-of-month field holding `L` or `W`: `L`, `L-n`, `LW`, `nW`."""
    upper = part.upper()
    if upper == "L":
        return lambda year, month, length: [length]
    if upper == "LW":
        return _last_weekday
    if upper.startswith("L-"):
        back = _number(upper[2:])
        if back is None or not 1 <= back <= 30:
            raise _FieldError(f"'{part}': the offset after 'L-' must be 1 to 30")
        return lambda year, month, length: [length - back] if length > back else []
    if upper.endswith("W") and _number(upper[:-1]) is not None:
        return _nearest_weekday(_DAYS_OF_MONTH.value(upper[:-1]))
    raise _FieldError(f"'{part}' is not one of L, L-n, LW, nW")


def _day_of_week_rule(part: str) -> DayRule:
    """One list item of the day-of-week field holding `L` or `#`: `dL` (the last day d of
    the month) or `d#n` (its n-th day d), d a number or a name."""
    upper = part.upper()
    if "#" in upper:
        day_text, _, ordinal_text = upper.partition("#")
        day = _DAYS_OF_WEEK.value(day_text) % 7
        ordinal = _number(ordinal_text)
        if ordinal is None or not 1 <= ordinal <= 5:
            raise _FieldError(f"'{part}': the ordinal after '#' must be 1 to 5")

        def nth(year: int, month: int, length: int) -> list[int]:
            first = 1 + (day - _weekday(year, month, 1)) % 7
            found = first + 7 * (ordinal - 1)
            return [found] if found <= length else []

        return nth
    if upper.endswith("L") and len(upper) > 1:
        day = _DAYS_OF_WEEK.value(part[:-1]) % 7

        def last(year: int, month: int, length: int) -> list[int]:
            return [length - (_weekday(year, month, length) - day) % 7]

        return last
    raise _FieldError(f"'{part}' is not one of dL, d#n")


def _is_quartz(part: str, letters: str) -> bool:
    return any(letter in part.upper() for letter in letters)


@dataclass(frozen=True)
class _DayField:
    """A day field: plain values, plus Quartz-style rules each picking days of a month."""

    values: frozenset[int]
    rule_texts: tuple[str, ...]  # what the rules were read from: equal texts, equal rules
    rules: tuple[DayRule, ...] = field(default=(), compare=False)
    starred: bool = False  # written `*` or `?` (cron's day rule asks)


def _day_field(
    text: str,
    kind: _Kind,
    star: tuple[int, int],
    quartz: str,
    rule: Callable[[str], DayRule],
) -> _DayField:
    if text == "?":
        text = "*"
    plain = [part for part in text.split(",") if not _is_quartz(part, quartz)]
    quartz_parts = tuple(part.upper() for part in text.split(",") if _is_quartz(part, quartz))
    values = _values(",".join(plain), kind, star) if plain else set()
    return _DayField(
        frozenset(values),
        quartz_parts,
        tuple(rule(part) for part in quartz_parts),
        text.startswith("*"),
    )


def _sorted(values: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(values)))


def _at_or_after(values: tuple[int, ...], start: int) -> tuple[int, ...]:
    return values[bisect_left(values, start) :]


@dataclass(frozen=True)
class CronExpression:
    """A parsed cron expression; `text` is as given."""

    text: str
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    days_of_month: _DayField = field(repr=False)
    days_of_week: _DayField = field(repr=False)
    either_day: bool = False  # five fields, both days restricted: either may match (cron)

    @classmethod
    def parse(cls, text: str) -> CronExpression:
        if not isinstance(text, str):
            raise InvalidSchedule("cron expression must be text", field="cron")
        if not text.strip():
            raise InvalidSchedule("cron expression is empty", field="cron")
        stripped = text.strip()
        if stripped.startswith("@"):
            if stripped.lower() not in MACROS:
                raise InvalidSchedule(
                    f"cron expression '{stripped}': unknown macro (known: {', '.join(MACROS)})",
                    field="cron",
                )
            stripped = MACROS[stripped.lower()]
        fields = stripped.split()
        five = len(fields) == 5
        if five:
            # standard cron: minutes first, Sunday-based day of week, days joined by cron's rule
            fields = ["0", *fields]
            week_star = (0, 6)
        elif len(fields) == 6:
            week_star = (1, 7)
        else:
            raise InvalidSchedule(
                f"cron expression '{text}' has {len(fields)} fields: six (seconds first), "
                "five (minutes first) or a macro such as @daily expected",
                field="cron",
            )
        second, minute, hour, day_of_month, month, day_of_week = fields

        def read(kind: _Kind, value: str, reader: Callable[[], _T]) -> _T:
            try:
                return reader()
            except _FieldError as error:
                raise InvalidSchedule(
                    f"{kind.words} field '{value}': {error}",
                    field="cron",
                    metadata={"cronField": kind.words},
                ) from None

        def plain(kind: _Kind, value: str) -> tuple[int, ...]:
            def reader() -> tuple[int, ...]:
                if value == "?":
                    raise _FieldError("'?' is only for the day-of-month and day-of-week fields")
                return _sorted(_values(value, kind, (kind.low, kind.high)))

            return read(kind, value, reader)

        days_of_month = read(
            _DAYS_OF_MONTH,
            day_of_month,
            lambda: _day_field(day_of_month, _DAYS_OF_MONTH, (1, 31), "LW", _day_of_month_rule),
        )
        days_of_week = read(
            _DAYS_OF_WEEK,
            day_of_week,
            lambda: _day_field(day_of_week, _DAYS_OF_WEEK, week_star, "L#", _day_of_week_rule),
        )
        expression = cls(
            text=text,
            seconds=plain(_SECONDS, second),
            minutes=plain(_MINUTES, minute),
            hours=plain(_HOURS, hour),
            months=plain(_MONTHS, month),
            days_of_month=days_of_month,
            days_of_week=days_of_week,
            either_day=five and not days_of_month.starred and not days_of_week.starred,
        )
        if expression._next_local(datetime(2000, 1, 1)) is None:
            raise InvalidSchedule(
                f"cron expression '{text}' never fires: no date matches its day-of-month, "
                "month and day-of-week fields together",
                field="cron",
            )
        return expression

    def next_after(self, instant: datetime, zone: Zone) -> datetime:
        """The first fire time strictly after `instant` (aware), as an aware UTC datetime."""
        if instant.tzinfo is None:
            raise ValueError("next_after needs an aware datetime")
        local = self._next_local(_search_start(instant, zone))
        if local is None:
            raise InvalidSchedule(
                f"cron expression '{self.text}' does not fire after {instant.isoformat()}",
                field="cron",
            )
        return _instant_of(local, zone)

    def fire_times(self, after: datetime, zone: Zone, count: int) -> list[datetime]:
        """The next `count` fire times strictly after `after`, in order (UTC)."""
        times: list[datetime] = []
        for _ in range(count):
            after = self.next_after(after, zone)
            times.append(after)
        return times

    def _days(self, year: int, month: int) -> tuple[int, ...]:
        """The days of a month both day fields allow (or either, for cron's rule)."""
        length = calendar.monthrange(year, month)[1]

        def picked(day_field: _DayField, plain: Callable[[int], bool]) -> set[int]:
            days = {day for day in range(1, length + 1) if plain(day)}
            for rule in day_field.rules:
                days.update(rule(year, month, length))
            return days

        by_month = picked(self.days_of_month, lambda day: day in self.days_of_month.values)
        by_week = picked(
            self.days_of_week,
            lambda day: _weekday(year, month, day) in self.days_of_week.values,
        )
        return _sorted(by_month | by_week if self.either_day else by_month & by_week)

    def _time_at_or_after(self, start: time) -> time | None:
        for hour in _at_or_after(self.hours, start.hour):
            if hour > start.hour:
                return time(hour, self.minutes[0], self.seconds[0])
            for minute in _at_or_after(self.minutes, start.minute):
                if minute > start.minute:
                    return time(hour, minute, self.seconds[0])
                seconds = _at_or_after(self.seconds, start.second)
                if seconds:
                    return time(hour, minute, seconds[0])
        return None

    def _next_local(self, start: datetime) -> datetime | None:
        """The first matching wall-clock time at or after `start` (naive, whole seconds),
        searched field by field: months, then days, then the time of day."""
        for year in range(start.year, min(start.year + _CYCLE_YEARS, 9999) + 1):
            for month in self.months:
                if (year, month) < (start.year, start.month):
                    continue
                same_month = (year, month) == (start.year, start.month)
                for day in _at_or_after(self._days(year, month), start.day if same_month else 1):
                    if same_month and day == start.day:
                        at = self._time_at_or_after(start.time())
                        if at is None:
                            continue
                    else:
                        at = time(self.hours[0], self.minutes[0], self.seconds[0])
                    return datetime.combine(date(year, month, day), at)
        return None


def _wall_clock(instant: datetime, zone: Zone) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _first_instant(
    early: datetime, late: datetime, reached: Callable[[datetime], bool]
) -> datetime:
    """The first whole second in (early, late] at which `reached` holds, given it fails at
    `early`, holds at `late` and keeps holding once it does (a zone's transitions fall on
    whole seconds): a binary search, a dozen steps for an hour."""
    low, high = math.floor(early.timestamp()), math.ceil(late.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if reached(datetime.fromtimestamp(middle, UTC)):
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _instant_of(local: datetime, zone: Zone) -> datetime:
    """The first instant at which the zone's clock shows `local` or later: a time the clock
    shows twice is its first occurrence, a time it skips is the end of the gap."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    shown = _wall_clock(first, zone)
    if shown == local:
        return first  # fold=0 reads a repeated time with the earlier offset: its first occurrence
    # In a gap fold=0 reads `local` with the offset from before the jump, which lands
    # `jump` past it; the jump itself happened less than `jump` before that.
    jump = shown - local
    return _first_instant(first - jump, first, lambda instant: _wall_clock(instant, zone) >= local)


def _search_start(instant: datetime, zone: Zone) -> datetime:
    """The first wall-clock time whose fire comes strictly after `instant`."""
    local = instant.astimezone(zone)
    start = local.replace(tzinfo=None, microsecond=0) + _SECOND
    earlier, later = local.replace(fold=0).utcoffset(), local.utcoffset()
    if local.fold == 0 or earlier is None or later is None or earlier <= later:
        return start
    # The clock's second pass through a repeated hour: its times fired on the first pass,
    # so the search starts where the repetition ends (the old offset's clock at the turn).
    repeat = earlier - later
    turn = _first_instant(
        instant.astimezone(UTC) - repeat,
        instant.astimezone(UTC),
        lambda moment: moment.astimezone(zone).fold == 1,
    )
    return _wall_clock(turn, zone) + repeat


_OFFSET = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")


def time_zone(name: str) -> Zone:
    """An IANA time zone by name (`Europe/Berlin`, `UTC`), or a fixed offset `+05:30`."""
    if isinstance(name, str):
        offset = _OFFSET.fullmatch(name)
        if offset and int(offset[2]) < 24 and int(offset[3]) < 60:
            sign = -1 if offset[1] == "-" else 1
            return timezone(sign * timedelta(hours=int(offset[2]), minutes=int(offset[3])))
        try:
            # the zone directory also holds this machine's own zone, under names not IANA's
            if name and name == name.strip() and name not in ("localtime", "posixrules"):
                return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # (OSError: a folder of zones, as `Europe` is in the tzdata package.)
            pass
    raise InvalidSchedule(
        f"time zone '{name}' is not an IANA time zone name (such as Europe/Berlin or UTC) "
        "nor an offset such as +05:30",
        field="timeZone",
    )
