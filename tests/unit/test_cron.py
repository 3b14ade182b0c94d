"""Cron expressions of schedules: Spring's six fields, standard cron's five, the macros, and
fire times in zones with daylight saving, against dates worked out by hand (2026 unless
said: 1 January 2026 is a Thursday)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from jobop.domain.cron import CronExpression, InvalidSchedule, time_zone

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
SYDNEY = "Australia/Sydney"


def utc(text: str) -> datetime:
    """An instant written in UTC, `2026-03-29T01:00:00`."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expression: str, after: str, count: int = 3, zone: str = "UTC") -> list[str]:
    """The next fire times after `after` (UTC), written in UTC without the offset."""
    times = CronExpression.parse(expression).fire_times(utc(after), time_zone(zone), count)
    assert all(time.tzinfo is UTC for time in times)
    return [time.replace(tzinfo=None).isoformat() for time in times]


def invalid(expression: str) -> InvalidSchedule:
    with pytest.raises(InvalidSchedule) as raised:
        CronExpression.parse(expression)
    assert raised.value.field == "cron"
    assert raised.value.reason == "INVALID_ARGUMENT"
    return raised.value


# --- six fields, seconds first (Spring's CronExpression) ---------------------------------


def test_every_two_seconds_fires_on_even_seconds_strictly_after_the_instant() -> None:
    assert fires("*/2 * * * * *", "2026-01-01T00:00:00") == [
        "2026-01-01T00:00:02",
        "2026-01-01T00:00:04",
        "2026-01-01T00:00:06",
    ]
    # from inside a second: the next even second, never the instant itself
    after = utc("2026-01-01T00:00:01.500000")
    assert CronExpression.parse("*/2 * * * * *").next_after(after, UTC) == utc(
        "2026-01-01T00:00:02"
    )


def test_weekdays_at_half_past_two_skip_the_weekend() -> None:
    # Thursday 1st, Friday 2nd, then Monday 5th
    assert fires("0 30 2 * * MON-FRI", "2026-01-01T00:00:00") == [
        "2026-01-01T02:30:00",
        "2026-01-02T02:30:00",
        "2026-01-05T02:30:00",
    ]


def test_ranges_steps_and_lists_of_the_time_fields() -> None:
    # 0/30 is 0-59/30; 8-10 is inclusive
    assert fires("0 0/30 8-10 * * *", "2026-01-01T00:00:00", 7) == [
        "2026-01-01T08:00:00",
        "2026-01-01T08:30:00",
        "2026-01-01T09:00:00",
        "2026-01-01T09:30:00",
        "2026-01-01T10:00:00",
        "2026-01-01T10:30:00",
        "2026-01-02T08:00:00",
    ]
    assert fires("0 0 6,19 * * *", "2026-01-01T07:00:00") == [
        "2026-01-01T19:00:00",
        "2026-01-02T06:00:00",
        "2026-01-02T19:00:00",
    ]
    # a stepped range stops at its end; `10/20` runs from 10 to the field's last value
    assert fires("15-45/10 0 0 * * *", "2026-01-01T00:00:00", 5) == [
        "2026-01-01T00:00:15",
        "2026-01-01T00:00:25",
        "2026-01-01T00:00:35",
        "2026-01-01T00:00:45",
        "2026-01-02T00:00:15",
    ]
    assert fires("10/20 0 0 * * *", "2026-01-01T00:00:00") == [
        "2026-01-01T00:00:10",
        "2026-01-01T00:00:30",
        "2026-01-01T00:00:50",
    ]


def test_month_and_day_names_in_any_case() -> None:
    assert fires("0 0 0 1 jan,Jul ?", "2026-01-01T00:00:00") == [
        "2026-07-01T00:00:00",
        "2027-01-01T00:00:00",
        "2027-07-01T00:00:00",
    ]
    assert fires("0 0 12 ? * wed", "2026-01-01T00:00:00") == fires(
        "0 0 12 ? * 3", "2026-01-01T00:00:00"
    )
    assert fires("0 0 0 1 FEB-APR *", "2026-01-01T00:00:00") == [
        "2026-02-01T00:00:00",
        "2026-03-01T00:00:00",
        "2026-04-01T00:00:00",
    ]


def test_sunday_is_0_or_7_and_starts_a_range_as_0() -> None:
    sundays = ["2026-01-04T00:00:00", "2026-01-11T00:00:00", "2026-01-18T00:00:00"]
    for day in ("0", "7", "SUN", "sun"):
        assert fires(f"0 0 0 * * {day}", "2026-01-01T00:00:00") == sundays
    # SUN-TUE is 7-2, read as 0-2 (Spring's rule): Sunday 4th, Monday 5th, Tuesday 6th
    assert fires("0 0 0 * * SUN-TUE", "2026-01-02T00:00:00") == [
        "2026-01-04T00:00:00",
        "2026-01-05T00:00:00",
        "2026-01-06T00:00:00",
    ]


def test_a_stepped_day_of_week_counts_from_monday_in_six_fields_and_sunday_in_five() -> None:
    # Spring: `*` is MON-SUN (1-7), so */2 is Mon, Wed, Fri, Sun
    assert fires("0 0 0 * * */2", "2026-01-01T00:00:00", 4) == [
        "2026-01-02T00:00:00",
        "2026-01-04T00:00:00",
        "2026-01-05T00:00:00",
        "2026-01-07T00:00:00",
    ]
    # cron: `*` is 0-6 from Sunday, so */2 is Sun, Tue, Thu, Sat
    assert fires("0 0 * * */2", "2026-01-01T00:00:00", 4) == [
        "2026-01-03T00:00:00",
        "2026-01-04T00:00:00",
        "2026-01-06T00:00:00",
        "2026-01-08T00:00:00",
    ]


def test_six_fields_fire_only_where_both_day_fields_match() -> None:
    # Friday the 13th: in 2026 February, March and November (Spring: both fields restrict)
    assert fires("0 0 0 13 * FRI", "2026-01-01T00:00:00") == [
        "2026-02-13T00:00:00",
        "2026-03-13T00:00:00",
        "2026-11-13T00:00:00",
    ]


def test_five_fields_fire_where_either_restricted_day_field_matches() -> None:
    # standard cron: both restricted, either matches: Fridays 2nd and 9th, Tuesday 13th, ...
    assert fires("0 0 13 * FRI", "2026-01-01T00:00:00", 4) == [
        "2026-01-02T00:00:00",
        "2026-01-09T00:00:00",
        "2026-01-13T00:00:00",
        "2026-01-16T00:00:00",
    ]
    # a field written with `*` (stepped or not) does not widen: both must match, the 13ths
    # that fall on Sunday, Tuesday, Thursday or Saturday (13 January Tue, 13 June Sat)
    assert fires("0 0 13 * */2", "2026-01-01T00:00:00", 2) == [
        "2026-01-13T00:00:00",
        "2026-06-13T00:00:00",
    ]
    assert fires("0 0 13 * *", "2026-01-01T00:00:00", 2) == [
        "2026-01-13T00:00:00",
        "2026-02-13T00:00:00",
    ]


def test_five_fields_are_minutes_first_at_second_zero() -> None:
    assert fires("*/15 9-10 * * MON-FRI", "2026-01-02T10:20:00") == [
        "2026-01-02T10:30:00",
        "2026-01-02T10:45:00",
        "2026-01-05T09:00:00",
    ]


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", ["2027-01-01T00:00:00", "2028-01-01T00:00:00"]),
        ("@annually", ["2027-01-01T00:00:00", "2028-01-01T00:00:00"]),
        ("@monthly", ["2026-02-01T00:00:00", "2026-03-01T00:00:00"]),
        ("@weekly", ["2026-01-04T00:00:00", "2026-01-11T00:00:00"]),  # Sundays
        ("@daily", ["2026-01-02T00:00:00", "2026-01-03T00:00:00"]),
        ("@midnight", ["2026-01-02T00:00:00", "2026-01-03T00:00:00"]),
        ("@hourly", ["2026-01-01T01:00:00", "2026-01-01T02:00:00"]),
        (" @Daily ", ["2026-01-02T00:00:00", "2026-01-03T00:00:00"]),
    ],
)
def test_macros(macro: str, expected: list[str]) -> None:
    assert fires(macro, "2026-01-01T00:00:00", 2) == expected


def test_text_is_kept_as_given() -> None:
    assert CronExpression.parse(" @Daily ").text == " @Daily "
    assert CronExpression.parse("0 0 * * * *") == CronExpression.parse("0 0 * * * *")


# --- the last-day forms (Quartz's, as Spring reads them) ---------------------------------


def test_last_day_of_the_month_and_days_before_it() -> None:
    assert fires("0 0 0 L * *", "2026-01-01T00:00:00") == [
        "2026-01-31T00:00:00",
        "2026-02-28T00:00:00",
        "2026-03-31T00:00:00",
    ]
    assert fires("0 0 0 L * *", "2028-02-01T00:00:00", 1) == ["2028-02-29T00:00:00"]  # leap
    assert fires("0 0 0 L-3 * *", "2026-01-01T00:00:00") == [
        "2026-01-28T00:00:00",
        "2026-02-25T00:00:00",
        "2026-03-28T00:00:00",
    ]
    # a list joins a plain day and a last-day form: the 1st and the last
    assert fires("0 0 0 1,L * *", "2026-01-01T00:00:00") == [
        "2026-01-31T00:00:00",
        "2026-02-01T00:00:00",
        "2026-02-28T00:00:00",
    ]


def test_last_weekday_and_nearest_weekday() -> None:
    # 31 January 2026 is a Saturday, 28 February a Saturday, 31 March a Tuesday
    assert fires("0 0 0 LW * *", "2026-01-01T00:00:00") == [
        "2026-01-30T00:00:00",
        "2026-02-27T00:00:00",
        "2026-03-31T00:00:00",
    ]
    # 1 February 2026 is a Sunday: Monday 2nd; 1 August a Saturday: Monday 3rd, never July
    assert fires("0 0 0 1W 2,8 *", "2026-01-01T00:00:00", 2) == [
        "2026-02-02T00:00:00",
        "2026-08-03T00:00:00",
    ]
    # 15 February 2026 is a Sunday: Monday 16th; 15 August a Saturday: Friday 14th
    assert fires("0 0 0 15W 2,8 *", "2026-01-01T00:00:00", 2) == [
        "2026-02-16T00:00:00",
        "2026-08-14T00:00:00",
    ]
    # months without a 31st have no fire; 31 May 2026 is a Sunday and the Monday after is
    # in June: no fire in May either (Spring's rule, its quartzWeekdayNearestTo31 test);
    # 31 July is a Friday, 31 August a Monday
    assert fires("0 0 0 31W * *", "2026-04-01T00:00:00", 2) == [
        "2026-07-31T00:00:00",
        "2026-08-31T00:00:00",
    ]


def test_last_and_nth_day_of_week_in_the_month() -> None:
    # last Friday: 30 January, 27 February, 27 March
    assert fires("0 0 0 * * 5L", "2026-01-01T00:00:00") == [
        "2026-01-30T00:00:00",
        "2026-02-27T00:00:00",
        "2026-03-27T00:00:00",
    ]
    assert fires("0 0 0 * * thuL", "2026-01-01T00:00:00", 1) == ["2026-01-29T00:00:00"]
    assert fires("0 0 0 ? * 5#2", "2026-01-01T00:00:00", 2) == [
        "2026-01-09T00:00:00",
        "2026-02-13T00:00:00",
    ]
    assert fires("0 0 0 ? * MON#1", "2026-01-01T00:00:00", 2) == [
        "2026-01-05T00:00:00",
        "2026-02-02T00:00:00",
    ]
    # a fifth Monday: only March (2nd..30th) and June (1st..29th) in the first half of 2026
    assert fires("0 0 0 ? * MON#5", "2026-01-01T00:00:00", 2) == [
        "2026-03-30T00:00:00",
        "2026-06-29T00:00:00",
    ]


@pytest.mark.parametrize(
    ("expression", "last", "expected"),
    [
        # cases of Spring's CronExpressionTests, read with no zone (UTC here)
        (
            "0 15 12 */10 1-8 5",
            "2021-04-30T12:14:59",
            ["2021-05-21T12:15:00", "2021-06-11T12:15:00", "2022-01-21T12:15:00"],
        ),
        ("3-57 13-28 17,18 1,15 3-12 6#1", "2022-09-15T17:44:11", ["2022-10-01T17:13:03"]),
        ("*/28 56 22 */6 * *", "2022-02-27T08:00:42", ["2022-03-01T22:56:00"]),
        (
            "0 30 23 30 1/3 ?",
            "2010-12-30T12:00:00",
            ["2011-01-30T23:30:00", "2011-04-30T23:30:00", "2011-07-30T23:30:00"],
        ),
        (
            "0 0 0 31W * ?",
            "2020-01-01T00:00:00",
            [
                "2020-01-31T00:00:00",
                "2020-03-31T00:00:00",
                "2020-07-31T00:00:00",
                "2020-08-31T00:00:00",
                "2020-10-30T00:00:00",
                "2020-12-31T00:00:00",
            ],
        ),
        (
            "0 0 0 1W,15,LW * ?",
            "2019-12-30T00:00:00",
            [
                "2019-12-31T00:00:00",
                "2020-01-01T00:00:00",
                "2020-01-15T00:00:00",
                "2020-01-31T00:00:00",
            ],
        ),
        (
            "0 0 0 ? * THU#1,THU#3,THU#5",
            "2019-12-31T00:00:00",
            ["2020-01-02T00:00:00", "2020-01-16T00:00:00", "2020-01-30T00:00:00"],
        ),
        (
            "0 0 0 ? * 3#5",
            "2020-01-01T00:00:00",
            [
                "2020-01-29T00:00:00",
                "2020-04-29T00:00:00",
                "2020-07-29T00:00:00",
                "2020-09-30T00:00:00",
                "2020-12-30T00:00:00",
            ],
        ),
        ("0 0 0 ? * MON#5", "2025-01-01T00:00:00", ["2025-03-31T00:00:00"]),
        (
            "0 0 0 ? * SUN-FRI",
            "2021-02-25T15:00:00",
            ["2021-02-26T00:00:00", "2021-02-28T00:00:00"],
        ),
    ],
)
def test_agrees_with_spring_s_own_examples(expression: str, last: str, expected: list[str]) -> None:
    assert fires(expression, last, len(expected)) == expected


@pytest.mark.parametrize(
    ("zone", "last", "expected"),
    [
        # Spring's daylightSaving test, at 09:00 in Amsterdam across both changes of 2021
        ("Europe/Amsterdam", "2021-03-27T08:00:00", "2021-03-28T07:00:00"),
        ("Europe/Amsterdam", "2021-10-30T07:00:00", "2021-10-31T08:00:00"),
    ],
)
def test_agrees_with_spring_on_fire_times_away_from_the_shifted_hour(
    zone: str, last: str, expected: str
) -> None:
    assert fires("0 0 9 * * *", last, 1, zone) == [expected]


def test_a_rare_date_is_found_years_ahead() -> None:
    # 29 February on a Monday: 2016, then (a leap day moves five weekdays on) 2044
    assert fires("0 0 0 29 2 MON", "2026-01-01T00:00:00", 1) == ["2044-02-29T00:00:00"]


# --- invalid expressions: each error names the field in words ----------------------------


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("61 * * * * *", "second field '61': 61 is out of range 0-59"),
        ("? * * * * *", "second field '?'"),
        ("*/0 * * * * *", "second field '*/0': step '0'"),
        ("0 60 * * * *", "minute field '60': 60 is out of range 0-59"),
        ("0 1,,2 * * * *", "minute field '1,,2'"),
        ("0 0 24 * * *", "hour field '24'"),
        ("0 0 5-2 * * *", "hour field '5-2': range '5-2' runs backwards"),
        ("0 0 0 32 * *", "day-of-month field '32': 32 is out of range 1-31"),
        ("0 0 0 0 * *", "day-of-month field '0'"),
        ("0 0 0 L-0 * *", "day-of-month field 'L-0'"),
        ("0 0 0 L3 * *", "day-of-month field 'L3'"),
        ("0 0 0 W * *", "day-of-month field 'W'"),
        ("0 0 0 MON * *", "day-of-month field 'MON'"),
        ("0 0 0 * 13 *", "month field '13': 13 is out of range 1-12"),
        ("0 0 0 * FOO *", "month field 'FOO': 'FOO' is not a number or a name"),
        ("0 0 0 * * FOO", "day-of-week field 'FOO': 'FOO' is not a number or a name"),
        ("0 0 0 * * 8", "day-of-week field '8': 8 is out of range 0-7"),
        ("0 0 0 * * FRI-MON", "day-of-week field 'FRI-MON': range 'FRI-MON' runs backwards"),
        ("0 0 0 ? * 1#6", "day-of-week field '1#6'"),
        ("0 0 0 ? * 1#0", "day-of-week field '1#0'"),
        ("0 0 0 ? * L", "day-of-week field 'L'"),
        ("0 0 * * JAN", "day-of-week field 'JAN'"),
        (
            "\u00b2 * * * * *",
            "second field '\u00b2': '\u00b2' is not a number",
        ),  # isdigit() says yes
        ("0 */\u00b2 * * * *", "minute field '*/\u00b2': step '\u00b2'"),
        ("0 0 0 L-\u00b2 * *", "day-of-month field 'L-\u00b2'"),
    ],
)
def test_an_invalid_field_is_named(expression: str, message: str) -> None:
    error = invalid(expression)
    assert message in str(error)
    assert error.metadata["cronField"] == message.split(" field")[0]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "cron expression is empty"),
        ("   ", "cron expression is empty"),
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * * 2026", "has 7 fields"),
        ("@often", "unknown macro"),
        # Spring accepts these and never fires them: refused here
        ("0 0 0 30 2 *", "never fires"),
        ("0 0 0 31 4,6,9,11 *", "never fires"),
    ],
)
def test_an_invalid_expression_says_why(expression: str, message: str) -> None:
    assert message in str(invalid(expression))


def test_an_expression_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidSchedule, match="must be text"):
        CronExpression.parse(5)  # type: ignore[arg-type]  # as a JSON body may send it


def test_zones_by_iana_name_or_fixed_offset() -> None:
    assert str(time_zone("Europe/Berlin")) == "Europe/Berlin"
    assert fires("0 0 9 * * *", "2026-01-01T00:00:00", 1, "+05:30") == ["2026-01-01T03:30:00"]
    assert fires("0 0 9 * * *", "2026-01-01T00:00:00", 1, "-03:00") == ["2026-01-01T12:00:00"]


@pytest.mark.parametrize(
    "name", ["Mars/Olympus", "", " UTC", "Europe", "localtime", "../etc/passwd", "+25:00"]
)
def test_an_unknown_zone_names_the_time_zone_field(name: str) -> None:
    with pytest.raises(InvalidSchedule) as raised:
        time_zone(name)
    assert raised.value.field == "timeZone"
    assert f"time zone '{name}'" in str(raised.value)


def test_next_after_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        CronExpression.parse("@daily").next_after(datetime(2026, 1, 1), UTC)


def test_fire_times_continue_from_each_fire() -> None:
    expression = CronExpression.parse("0 */20 * * * *")
    times = expression.fire_times(utc("2026-01-01T00:00:00"), UTC, 4)
    assert times == [utc(f"2026-01-01T00:{m}:00") for m in ("20", "40")] + [
        utc("2026-01-01T01:00:00"),
        utc("2026-01-01T01:20:00"),
    ]
    assert expression.fire_times(utc("2026-01-01T00:00:00"), UTC, 0) == []


# --- daylight saving ---------------------------------------------------------------------
# Rule: a local fire time the clock skips fires at the first instant after the gap; a local
# time the clock shows twice fires once, at its first occurrence.


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        # 29 March 2026 (last Sunday of March): at 01:00 UTC Berlin's clock jumps 02:00 CET
        # -> 03:00 CEST, so 02:30 does not exist that day and fires at 03:00 CEST = 01:00Z.
        # The day before: 02:30 CET (+01) = 01:30Z; the day after: 02:30 CEST (+02) = 00:30Z.
        (
            "0 30 2 * * *",
            BERLIN,
            "2026-03-27T12:00:00",
            ["2026-03-28T01:30:00", "2026-03-29T01:00:00", "2026-03-30T00:30:00"],
        ),
        # hourly: 01:00 CET (00:00Z), then 02:00 and 03:00 both first exist at 01:00Z: once
        (
            "0 0 * * * *",
            BERLIN,
            "2026-03-28T23:30:00",
            ["2026-03-29T00:00:00", "2026-03-29T01:00:00", "2026-03-29T02:00:00"],
        ),
        # 25 October 2026 (last Sunday of October): at 01:00 UTC the clock goes back 03:00
        # CEST -> 02:00 CET, so 02:30 is shown at 00:30Z (CEST) and again at 01:30Z (CET):
        # it fires once, at 00:30Z. The day before 02:30 CEST = 00:30Z, after 02:30 CET = 01:30Z.
        (
            "0 30 2 * * *",
            BERLIN,
            "2026-10-23T12:00:00",
            ["2026-10-24T00:30:00", "2026-10-25T00:30:00", "2026-10-26T01:30:00"],
        ),
        # hourly: 02:00 CEST (00:00Z); 02:00 CET (01:00Z) is that time again and does not
        # fire; 03:00 CET (02:00Z) is the next time not shown before.
        (
            "0 0 * * * *",
            BERLIN,
            "2026-10-24T23:30:00",
            ["2026-10-25T00:00:00", "2026-10-25T02:00:00", "2026-10-25T03:00:00"],
        ),
        # 8 March 2026 (second Sunday of March): at 07:00 UTC New York's clock jumps 02:00
        # EST -> 03:00 EDT; 02:30 fires at 03:00 EDT = 07:00Z. Before: 02:30 EST (-05) =
        # 07:30Z; after: 02:30 EDT (-04) = 06:30Z. Five fields or six, the same.
        (
            "0 30 2 * * *",
            NEW_YORK,
            "2026-03-06T12:00:00",
            ["2026-03-07T07:30:00", "2026-03-08T07:00:00", "2026-03-09T06:30:00"],
        ),
        (
            "30 2 * * *",
            NEW_YORK,
            "2026-03-06T12:00:00",
            ["2026-03-07T07:30:00", "2026-03-08T07:00:00", "2026-03-09T06:30:00"],
        ),
        # 1 November 2026 (first Sunday of November): at 06:00 UTC the clock goes back 02:00
        # EDT -> 01:00 EST; 01:30 is shown at 05:30Z (EDT) and 06:30Z (EST): it fires at 05:30Z
        # only. On 2 November 01:30 EST = 06:30Z.
        (
            "0 30 1 * * *",
            NEW_YORK,
            "2026-10-31T12:00:00",
            ["2026-11-01T05:30:00", "2026-11-02T06:30:00"],
        ),
        # every quarter hour: 01:45 EDT (05:45Z), then the clock repeats 01:00-01:59 (EST),
        # and the next time not yet shown is 02:00 EST = 07:00Z.
        (
            "0 */15 * * * *",
            NEW_YORK,
            "2026-11-01T05:40:00",
            ["2026-11-01T05:45:00", "2026-11-01T07:00:00", "2026-11-01T07:15:00"],
        ),
        # asked during the repetition (06:20Z is 01:20 EST, shown for the second time), the
        # next fire is still 02:00 EST: 01:30 and 01:45 fired on the first pass.
        (
            "0 */15 * * * *",
            NEW_YORK,
            "2026-11-01T06:20:00",
            ["2026-11-01T07:00:00", "2026-11-01T07:15:00"],
        ),
        # 5 April 2026 (first Sunday of April): at 16:00 UTC on the 4th Sydney's clock goes
        # back 03:00 AEDT (+11) -> 02:00 AEST (+10); 02:30 is first shown at 15:30Z on the
        # 4th. The day before: 02:30 AEDT = 15:30Z on the 3rd; after: 02:30 AEST = 16:30Z.
        (
            "0 30 2 * * *",
            SYDNEY,
            "2026-04-03T00:00:00",
            ["2026-04-03T15:30:00", "2026-04-04T15:30:00", "2026-04-05T16:30:00"],
        ),
        # 4 October 2026 (first Sunday of October): at 16:00 UTC on the 3rd the clock jumps
        # 02:00 AEST (+10) -> 03:00 AEDT (+11); 02:30 fires at 03:00 AEDT = 16:00Z on the 3rd.
        # The day before: 02:30 AEST = 16:30Z on the 2nd; after: 02:30 AEDT = 15:30Z.
        (
            "0 30 2 * * *",
            SYDNEY,
            "2026-10-02T00:00:00",
            ["2026-10-02T16:30:00", "2026-10-03T16:00:00", "2026-10-04T15:30:00"],
        ),
        # Samoa skipped Friday 30 December 2011: at 10:00 UTC its clock went from Thursday
        # 23:59:59 (-10) to Saturday 00:00 (+14). Noon on the 29th is 22:00Z; noon on the
        # 30th never came and fires when the gap ends (10:00Z); noon on the 31st is 22:00Z.
        (
            "0 0 12 * * *",
            "Pacific/Apia",
            "2011-12-29T12:00:00",
            ["2011-12-29T22:00:00", "2011-12-30T10:00:00", "2011-12-30T22:00:00"],
        ),
    ],
)
def test_daylight_saving_transitions(
    expression: str, zone: str, after: str, expected: list[str]
) -> None:
    assert fires(expression, after, len(expected), zone) == expected


def _fires_by_watching_the_clock(
    expression: CronExpression, zone_name: str, start: datetime, end: datetime
) -> list[datetime]:
    """The rule read off the clock second by second: an instant fires when the wall clock
    newly reaches a matching time (one never shown before, or skipped over just now)."""
    zone = time_zone(zone_name)
    shown = start.astimezone(zone).replace(tzinfo=None)
    found = []
    instant = start + timedelta(seconds=1)
    while instant <= end:
        wall = instant.astimezone(zone).replace(tzinfo=None)
        reached = shown
        while reached < wall:
            reached += timedelta(seconds=1)
            if (
                reached.second in expression.seconds
                and reached.minute in expression.minutes
                and reached.hour in expression.hours
                and reached.month in expression.months
                and reached.day in expression._days(reached.year, reached.month)
            ):
                found.append(instant)
                break
        shown = max(shown, wall)
        instant += timedelta(seconds=1)
    return found


@pytest.mark.parametrize(
    ("zone", "around"),
    [
        (BERLIN, "2026-03-29T01:00:00"),
        (BERLIN, "2026-10-25T01:00:00"),
        (NEW_YORK, "2026-03-08T07:00:00"),
        (NEW_YORK, "2026-11-01T06:00:00"),
        (SYDNEY, "2026-04-04T16:00:00"),
        (SYDNEY, "2026-10-03T16:00:00"),
        ("Australia/Lord_Howe", "2026-04-04T15:00:00"),  # a half-hour shift
    ],
)
@pytest.mark.parametrize("text", ["13 */7 * * * *", "0 30 2 * * *", "0 0,45 1-3 * * *"])
def test_fire_times_agree_with_the_clock_around_each_transition(
    zone: str, around: str, text: str
) -> None:
    expression = CronExpression.parse(text)
    start, end = utc(around) - timedelta(hours=3), utc(around) + timedelta(hours=3)
    expected = _fires_by_watching_the_clock(expression, zone, start, end)
    found: list[datetime] = []
    while (after := expression.next_after(found[-1] if found else start, time_zone(zone))) <= end:
        found.append(after)
    assert found == expected
    # asked at any moment, on either pass through a repeated hour, the answer is the next
    # of those fires
    for minutes in range(0, 6 * 60, 5):
        instant = start + timedelta(minutes=minutes, seconds=30, microseconds=250_000)
        later = [fire for fire in expected if fire > instant]
        if later:
            assert expression.next_after(instant, time_zone(zone)) == later[0]
