"""JobParameters: the text form, typed values, and the JOB_KEY of an instance."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from jobop.domain import InvalidJobParameters, JobParameter, JobParameters


def test_text_form_round_trip() -> None:
    texts = [
        "items=6,long",
        "chunkSize=3,long,false",
        "name=a\\,b",
        "ratio=0.5,double",
        "day=2024-05-31T12:00:00Z,date",
        "dryRun=true,boolean,false",
    ]
    parameters = JobParameters.parse(texts)
    assert parameters["items"] == JobParameter(6, "LONG")
    assert parameters["chunkSize"] == JobParameter(3, "LONG", identifying=False)
    assert parameters["name"] == JobParameter("a,b", "STRING")
    assert parameters["ratio"] == JobParameter(0.5, "DOUBLE")
    assert parameters["day"] == JobParameter(datetime(2024, 5, 31, 12, tzinfo=UTC), "DATE")
    assert parameters["dryRun"] == JobParameter(True, "BOOLEAN", identifying=False)
    assert parameters.to_text() == texts
    assert JobParameters.parse(parameters.to_text()) == parameters


def test_java_type_names_are_accepted() -> None:
    parameters = JobParameters.parse(
        ["a=1,java.lang.Long", "b=2024-01-02,java.time.LocalDate", "c=x,java.lang.String,false"]
    )
    assert [p.type for p in parameters.values()] == ["LONG", "DATE", "STRING"]
    assert parameters["b"].value == datetime(2024, 1, 2, tzinfo=UTC)
    assert [p.java_type for p in parameters.values()] == [
        "java.lang.Long",
        "java.util.Date",
        "java.lang.String",
    ]


@pytest.mark.parametrize("text", ["novalue", "n=abc,long", "n=1,color", "n=1,long,maybe", "=1"])
def test_malformed_parameters_are_invalid(text: str) -> None:
    with pytest.raises(InvalidJobParameters):
        JobParameters.parse([text])


def test_values_infer_their_type() -> None:
    parameters = JobParameters.of(
        s="x", n=3, f=1.5, b=False, d=date(2024, 1, 2), t=datetime(2024, 1, 2, 3, 4, 5)
    )
    assert [p.type for p in parameters.values()] == [
        "STRING",
        "LONG",
        "DOUBLE",
        "BOOLEAN",
        "DATE",
        "DATE",
    ]
    # Dates are UTC: naive ones are taken as UTC, others converted.
    assert parameters["t"].value == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    shifted = JobParameter.of(datetime(2024, 1, 2, 5, tzinfo=timezone(timedelta(hours=2))))
    assert shifted.value == datetime(2024, 1, 2, 3, tzinfo=UTC)


def test_column_form_round_trip() -> None:
    for parameter in JobParameters.of(s="x", n=-7, f=0.1, b=True, d=date(2024, 2, 29)).values():
        rebuilt = JobParameter.from_column(
            parameter.java_type, parameter.value_text(), parameter.identifying
        )
        assert rebuilt == parameter


def test_job_key_is_springs_md5_of_identifying_parameters_in_name_order() -> None:
    parameters = JobParameters(
        {
            "run.id": JobParameter(1, "LONG"),
            "chunkSize": JobParameter(10, "LONG", identifying=False),
            "file": JobParameter("in.csv", "STRING"),
        }
    )
    # Spring Batch 5's DefaultJobKeyGenerator over JobParameter.toString().
    text = (
        "file={value=in.csv, type=class java.lang.String, identifying=true};"
        "run.id={value=1, type=class java.lang.Long, identifying=true};"
    )
    assert parameters.job_key() == hashlib.md5(text.encode()).hexdigest()
    assert len(parameters.job_key()) == 32


def test_job_key_ignores_non_identifying_parameters_and_order() -> None:
    base = JobParameters.of(a=1, b="x")
    with_extra = base.merged({"chunkSize": JobParameter(5, "LONG", identifying=False)})
    reordered = JobParameters.of(b="x", a=1)
    assert base.job_key() == with_extra.job_key() == reordered.job_key()
    assert JobParameters.of(a=2, b="x").job_key() != base.job_key()
    # The type is part of the key: "1" is not 1.
    assert JobParameters.of(a="1", b="x").job_key() != base.job_key()
    assert JobParameters().job_key() == hashlib.md5(b"").hexdigest()


def test_accessors() -> None:
    parameters = JobParameters.of(items=6, flag=True, name="n", ratio=2.0)
    assert parameters.long("items") == 6 and parameters.long("missing", 100) == 100
    assert parameters.long("ratio") == 2
    assert parameters.boolean("flag") and not parameters.boolean("missing")
    assert parameters.string("name") == "n" and parameters.string("items") == "6"
    assert parameters.value("missing", "d") == "d"
    with pytest.raises(InvalidJobParameters, match="not a number"):
        parameters.long("name")
    assert list(parameters.identifying()) == ["items", "flag", "name", "ratio"]


def test_names_are_checked() -> None:
    with pytest.raises(InvalidJobParameters, match="100"):
        JobParameters({"x" * 101: JobParameter(1, "LONG")})
    with pytest.raises(InvalidJobParameters, match="non-empty"):
        JobParameters({"": JobParameter(1, "LONG")})


def test_text_shown_in_summaries_is_springs() -> None:
    parameters = JobParameters.of(items=6, name=JobParameter("a", "STRING", False))
    assert str(parameters) == (
        "{'items':'{value=6, type=class java.lang.Long, identifying=true}',"
        "'name':'{value=a, type=class java.lang.String, identifying=false}'}"
    )


def test_a_name_given_twice_is_an_error_not_an_override() -> None:
    with pytest.raises(InvalidJobParameters, match="'items' is given more than once"):
        JobParameters.parse(["items=5", "chunkSize=2", "items=6"])


def test_secret_named_parameters_are_masked_and_the_rest_kept() -> None:
    parameters = JobParameters(
        {
            "dbPassword": JobParameter("hunter2", "STRING"),
            "API_KEY": JobParameter(12345, "LONG", identifying=False),
            "region": JobParameter("eu", "STRING"),
        }
    )
    shown = parameters.with_secrets_masked()
    assert shown["dbPassword"] == JobParameter("***", "STRING", java_class="java.lang.String")
    assert shown["API_KEY"].value == "***" and shown["API_KEY"].identifying is False
    assert shown["region"] is parameters["region"]
    assert parameters["dbPassword"].value == "hunter2"  # the original is untouched
    # The log's and audit's text form is the masked set's own.
    assert (
        parameters.masked()
        == str(shown)
        == (
            "{'dbPassword':'{value=***, type=class java.lang.String, identifying=true}',"
            "'API_KEY':'{value=***, type=class java.lang.Long, identifying=false}',"
            "'region':'{value=eu, type=class java.lang.String, identifying=true}'}"
        )
    )
    plain = JobParameters.of(items=6)
    assert plain.with_secrets_masked() is plain
