"""Execution contexts cross between jobop and Spring Batch 5.2 in both of Spring's
formats: what jobop writes, a real JVM reads with Spring's serializers' configuration to
equal values, and what the JVM writes, jobop reads back to equal values of the same types.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from jobop.domain import (
    BatchStatus,
    ExecutionContext,
    JavaFloat,
    JavaInteger,
    JobParameters,
    JobRestartNotAllowed,
    StepExecution,
    UnreadableContext,
)
from jobop.repository import JobRepository, create_engine, init_schema
from jobop.repository.contexts import ContextFormat, decode, load
from spring_oracle import Oracle, describe
from sqlalchemy import text

OPS = {ContextFormat.JACKSON: "jackson", ContextFormat.JAVA: "java"}

AWKWARD_CONTEXTS: list[dict[str, Any]] = [
    {},
    {"numbers.read.count": 6},
    {"FlatFileItemReader.read.count": JavaInteger(3), "batch.version": "5.2.6"},
    {
        # Debian's jackson-core 2.14.1 cannot parse 19-digit longs (fixed in 2.14.2), so
        # its JVM cannot read its own output of those: they are in JAVA_ONLY below.
        "long.min": -999_999_999_999_999_999,
        "long.max": 999_999_999_999_999_999,
        "int.min": JavaInteger(-(2**31)),
        "int.max": JavaInteger(2**31 - 1),
        "zero": 0,
        "true": True,
        "false": False,
        "null": None,
    },
    {
        "doubles": [0.0, -0.0, 1.0, 0.1, 1e-300, 5e-324, 1.7976931348623157e308, 12345678.0],
        "more": [1e20, 0.0005, -2.5e-7, 3.141592653589793, 1e7, 1e-3, 9.999999999999999e22],
        "nan": float("nan"),
        "inf": float("inf"),
        "-inf": float("-inf"),
        "floats": [JavaFloat(1.5), JavaFloat(-0.0), JavaFloat(3.4028234663852886e38)],
    },
    {
        "unicode": "é€漢字 🎉 \u0000 nul, \U0010ffff, \ud7ff, 'quotes' \"and\" \\ back",
        "keys é €": "values",
        "": "an empty key",
        "newlines": "a\nb\r\nc\t",
    },
    # A Java String may hold lone surrogates (a file name that is not UTF-8, as Python's
    # os.fsdecode gives it): Jackson's JSON escapes them, Java's serialization keeps them.
    {"file": "caf\udce9.csv", "halves": "\udfff\ud800"},
    {
        # java.util.Date around the European DST change of 2024-03-31 (milliseconds kept).
        "before.dst": datetime(2024, 3, 31, 0, 59, 59, 999000, tzinfo=UTC),
        "after.dst": datetime(2024, 3, 31, 1, 0, 0, 1000, tzinfo=UTC),
        "offset": datetime(2024, 10, 27, 2, 30, tzinfo=timezone(timedelta(hours=2))),
        "epoch": datetime(1970, 1, 1, tzinfo=UTC),
        "before.epoch": datetime(1969, 12, 31, 23, 59, 59, 1000, tzinfo=UTC),
        "day": date(2024, 2, 29),
        "local": datetime(2024, 3, 31, 2, 30),
        "local.seconds": datetime(2024, 3, 31, 2, 30, 5),
        "local.micros": datetime(2024, 3, 31, 2, 0, 0, 123456),
        "local.midnight": datetime(2024, 1, 1),
    },
    {
        "nested": {"list": [1, 2.5, None, True, "x", [JavaInteger(1)]], "map": {"deep": {}}},
        "empty.list": [],
    },
    {"long.text": "x" * 3000, "position": 12},  # longer than SHORT_CONTEXT
    {f"key{i}": i for i in range(200)},  # many entries: HashMap grows its table
]


JAVA_ONLY: list[dict[str, Any]] = [{"long.min": -(2**63), "long.max": 2**63 - 1}]


def cases(fmt: ContextFormat) -> list[dict[str, Any]]:
    return AWKWARD_CONTEXTS + (JAVA_ONLY if fmt is ContextFormat.JAVA else [])


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_every_context_jobop_writes_reads_in_java_as_equal_values(
    oracle: Oracle, fmt: ContextFormat
) -> None:
    texts = [fmt.serialize(values) for values in cases(fmt)]
    answers = oracle.ask([{"op": f"{OPS[fmt]}-read", "text": t} for t in texts])
    for values, answer in zip(cases(fmt), answers, strict=True):
        assert "error" not in answer, (values, answer)
        assert answer["value"] == describe(values)


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_every_context_java_writes_reads_back_in_jobop(oracle: Oracle, fmt: ContextFormat) -> None:
    answers = oracle.ask([{"op": f"{OPS[fmt]}-write", "value": describe(v)} for v in cases(fmt)])
    for values, answer in zip(cases(fmt), answers, strict=True):
        assert "error" not in answer, (values, answer)
        read = decode(answer["text"])
        assert describe(read) == describe(values)  # equal values of the same Java types


def test_java_serialization_is_byte_for_byte_what_object_output_stream_writes(
    oracle: Oracle,
) -> None:
    # Ordering aside (HashMap iterates by hash), one entry per map is deterministic.
    cases = [
        {"a": 1},
        {"b": JavaInteger(2)},
        {"c": [1, 2, "x"]},
        {"d": datetime(2024, 3, 15, tzinfo=UTC)},
        {"e": date(2024, 3, 15)},
        {"f": datetime(2024, 3, 15, 10, 30, 5, 123000)},
        {"g": {"h": 1.5}},
    ]
    answers = oracle.ask([{"op": "java-write", "value": describe(v)} for v in cases])
    for values, answer in zip(cases, answers, strict=True):
        assert ContextFormat.JAVA.serialize(values) == answer["text"]


def test_the_plain_json_of_earlier_jobop_versions_is_still_read() -> None:
    loaded = load('{"numbers.read.count":6,"ratio":0.5,"nested":{"a":[1,null]}}', None)
    assert dict(loaded) == {"numbers.read.count": 6, "ratio": 0.5, "nested": {"a": [1, None]}}
    assert type(loaded["numbers.read.count"]) is int  # a Long when written again


def test_an_unreadable_context_is_a_clear_error() -> None:
    with pytest.raises(UnreadableContext, match="not Base64"):
        decode("Not a context at all!")
    with pytest.raises(UnreadableContext, match="not a Java serialization stream"):
        decode("aGVsbG8=")
    with pytest.raises(UnreadableContext, match=r"java\.util\.UUID"):
        decode('{"@class":"java.util.HashMap","id":["java.util.UUID","x"]}')


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_contexts_in_the_database_read_in_java_as_springs_row_mapper_reads_them(
    oracle: Oracle, blank_db_url: str, fmt: ContextFormat
) -> None:
    engine = create_engine(blank_db_url)
    try:
        settings = init_schema(engine, context_format=fmt)
        assert settings.context_format is fmt
        repository = JobRepository(engine)
        assert repository.settings.context_format is fmt
        stored: dict[int, dict[str, Any]] = {}
        for i, values in enumerate(AWKWARD_CONTEXTS):
            execution = repository.create_job_execution("ctxJob", JobParameters.of(run=i))
            execution.execution_context = ExecutionContext(values)
            execution.execution_context.dirty = True
            repository.update_job_execution(execution)
            stored[execution.id] = values
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT JOB_EXECUTION_ID, SHORT_CONTEXT, SERIALIZED_CONTEXT "
                    "FROM BATCH_JOB_EXECUTION_CONTEXT"
                )
            ).all()
        # ExecutionContextRowMapper: SERIALIZED_CONTEXT, else SHORT_CONTEXT.
        texts = {row[0]: row[2] if row[2] is not None else row[1] for row in rows}
        answers = oracle.ask([{"op": f"{OPS[fmt]}-read", "text": texts[i]} for i in stored])
        for (execution_id, values), answer in zip(stored.items(), answers, strict=True):
            assert answer.get("value") == describe(values), execution_id
            loaded = repository.explorer.get_job_execution(execution_id)
            assert loaded is not None
            assert describe(dict(loaded.execution_context)) == describe(values)
        if fmt is ContextFormat.JACKSON:
            short = texts[next(iter(stored))]
            assert json.loads(short) == {"@class": "java.util.HashMap"}
    finally:
        engine.dispose()


def test_an_unreadable_stored_context_still_shows_but_is_never_resumed_from(
    repository: JobRepository,
) -> None:
    execution = repository.create_job_execution("javaJob", JobParameters.of(run=1))
    step = StepExecution("javaStep", execution.id, status=BatchStatus.STARTED)
    repository.add_step_execution(step)
    execution.status = BatchStatus.FAILED
    repository.update_job_execution(execution)
    # As a Spring application with classes of its own (trusted in its serializer) writes.
    bean = '{"@class":"java.util.HashMap","id":["java.util.UUID","0b7f1b7e-5d3c"]}'
    with repository.engine.begin() as connection:
        for table in ("BATCH_JOB_EXECUTION_CONTEXT", "BATCH_STEP_EXECUTION_CONTEXT"):
            connection.execute(text(f"UPDATE {table} SET SHORT_CONTEXT = :bean"), {"bean": bean})
    shown = repository.explorer.get_job_execution(execution.id)
    assert shown is not None and shown.status is BatchStatus.FAILED
    with pytest.raises(UnreadableContext, match=r"step execution \d+ \(javaStep\).*UUID"):
        dict(shown.step_executions[0].execution_context)
    with pytest.raises(UnreadableContext, match=rf"job execution {execution.id} cannot be read"):
        repository.create_job_execution("javaJob", JobParameters.of(run=1))
    assert issubclass(UnreadableContext, JobRestartNotAllowed)  # FAILED_PRECONDITION
