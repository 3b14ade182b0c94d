"""JOB_KEY as Spring Batch computes it (DefaultJobKeyGenerator of 5.2 and of 6.0), checked
against a real JVM for every parameter type and awkward values."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from jobop.domain import JobParameter, JobParameters
from spring_oracle import Oracle, java_parameters

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def request(parameters: JobParameters, spring: int, zone: str) -> dict[str, Any]:
    return {
        "op": "job-key",
        "spring": spring,
        "zone": zone,
        "parameters": java_parameters(parameters),
    }


def awkward_doubles() -> list[float]:
    chosen = [0.0, -0.0, 1.0, -1.0, 0.1, 0.001, 0.0009999999999999998, 1e-3, 9999999.999999998]
    chosen += [
        1e7,
        1e20,
        12345678.0,
        0.0005,
        5e-324,
        1.7976931348623157e308,
        2.2250738585072014e-308,
    ]
    chosen += [100.0, 1234567.0, 3.141592653589793, 2.5e-7, 123456.789, float("nan")]
    chosen += [float("inf"), float("-inf")]
    rng = random.Random(9)
    for exponent in range(-320, 309, 7):  # every magnitude
        chosen.append(rng.uniform(1, 10) * 10.0**exponent)
    return chosen


DST_MOMENTS = [
    datetime(2024, 3, 31, 0, 59, 59, tzinfo=UTC),  # Europe: just before summer time
    datetime(2024, 3, 31, 1, 0, 0, tzinfo=UTC),
    datetime(2024, 10, 27, 0, 30, tzinfo=UTC),  # Europe: the repeated hour
    datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
    datetime(2024, 3, 10, 6, 59, 59, tzinfo=UTC),  # US: just before summer time
    datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
    datetime(2024, 11, 3, 5, 30, tzinfo=UTC),
    datetime(2024, 11, 3, 6, 30, tzinfo=UTC),
    datetime(2024, 3, 15, tzinfo=UTC),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
    datetime(2038, 1, 19, 3, 14, 8, tzinfo=UTC),
]

STRINGS = ["", "plain", "é€漢字", "🎉 emoji", "a=b;c", "{value=x}", "tab\tnew\nline", "한국어"]


def parameter_sets() -> list[JobParameters]:
    sets = [JobParameters.of(d=JobParameter(d, "DOUBLE")) for d in awkward_doubles()]
    sets += [JobParameters.of(at=JobParameter(t, "DATE")) for t in DST_MOMENTS]
    sets += [JobParameters.of(s=s, **{"ü名": s}) for s in STRINGS]
    # Types Spring stores that jobop keeps as one of its own, remembering the Java class.
    spring_only = [
        ("java.time.LocalDate", "2024-03-31"),
        ("java.time.LocalDate", "1999-12-31"),
        ("java.time.LocalDateTime", "2024-03-31T02:30:00"),
        ("java.time.LocalDateTime", "2024-03-31T02:30:05"),
        ("java.time.LocalDateTime", "2024-03-31T02:30:05.123"),
        ("java.time.LocalDateTime", "2024-03-31T02:30:05.1234"),
        ("java.time.LocalDateTime", "2024-03-31T00:00:00.000001"),
        ("java.lang.Integer", "42"),
        ("java.lang.Integer", "-2147483648"),
    ]
    sets += [
        JobParameters({"p": JobParameter.from_column(java_type, text, True)})
        for java_type, text in spring_only
    ]
    sets += [
        JobParameters.of(n=0),
        JobParameters.of(n=-(2**63), m=2**63 - 1),
        JobParameters.of(flag=True, other=False),
        JobParameters(),
        JobParameters(
            {
                "run.id": JobParameter(7, "LONG"),
                "input": JobParameter("data.csv", "STRING"),
                "ratio": JobParameter(0.25, "DOUBLE"),
                "when": JobParameter(datetime(2024, 3, 15, tzinfo=UTC), "DATE"),
                "verbose": JobParameter(True, "BOOLEAN", identifying=False),
                "B": JobParameter("upper case sorts first", "STRING"),
            }
        ),
    ]
    return sets


def _digits(text: str) -> str:
    return text.split("E")[0].replace("-", "").replace(".", "").strip("0")


def longer_spelling_of_the_same_double(ours: str, theirs: str) -> bool:
    """JDK 17 and 18's Double.toString sometimes gives more digits than needed (JDK-4511638,
    fixed in 19, whose shortest spelling jobop follows): the same double, spelled longer."""
    if (ours, theirs) == ("5.0E-324", "4.9E-324"):  # Double.MIN_VALUE
        return True
    return float(ours) == float(theirs) and len(_digits(theirs)) > len(_digits(ours))


@pytest.mark.parametrize("spring", [5, 6])
def test_job_keys_agree_with_spring_for_every_type(oracle: Oracle, spring: int) -> None:
    sets = parameter_sets()
    answers = oracle.ask([request(p, spring, "UTC") for p in sets] + [{"op": "java-version"}])
    java = answers.pop()["version"]
    old_doubles = 0
    for parameters, answer in zip(sets, answers, strict=True):
        assert "error" not in answer, answer
        if parameters.job_key_text(spring) != answer["text"] and java < 19:
            (parameter,) = parameters.values()
            theirs = answer["text"].split("value=")[1].split(",")[0]
            assert longer_spelling_of_the_same_double(parameter.java_text(), theirs), theirs
            old_doubles += 1
            continue
        assert parameters.job_key_text(spring) == answer["text"]
        assert parameters.job_key(spring) == answer["key"]
    assert old_doubles <= 3  # the rare JDK-4511638 cases among these values


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Asia/Tokyo"])
def test_date_keys_agree_in_the_jvms_zone(oracle: Oracle, zone: str) -> None:
    sets = [JobParameters.of(at=JobParameter(t, "DATE")) for t in DST_MOMENTS]
    answers = oracle.ask([request(p, 5, zone) for p in sets])
    for parameters, answer in zip(sets, answers, strict=True):
        assert parameters.job_key_text(5, ZoneInfo(zone)) == answer["text"]


def test_the_issues_examples_are_spelled_as_java_does() -> None:
    at = JobParameters.of(at=datetime(2024, 3, 15, tzinfo=UTC))
    assert at.job_key_text() == (
        "at={value=Fri Mar 15 00:00:00 UTC 2024, type=class java.util.Date, identifying=true};"
    )
    for value, text in ((1e20, "1.0E20"), (12345678.0, "1.2345678E7"), (0.0005, "5.0E-4")):
        assert JobParameter(value, "DOUBLE").java_text() == text
