"""The declaration of a job's parameters: what a job may declare."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobop.batch import Job, RepeatStatus, TaskletStep
from jobop.domain import (
    InvalidJobParameters,
    JobParameter,
    JobParameters,
    ParameterDeclaration,
    ParametersDeclaration,
)


def test_a_default_must_be_of_the_declared_type() -> None:
    ParameterDeclaration("items", "LONG", default=100)
    ParameterDeclaration("ratio", "DOUBLE", default=1)
    ParameterDeclaration("day", "DATE", default=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="not a long"):
        ParameterDeclaration("items", "LONG", default="100")
    with pytest.raises(ValueError, match="not a long"):
        ParameterDeclaration("items", "LONG", default=True)
    with pytest.raises(ValueError, match="not a boolean"):
        ParameterDeclaration("fail", "BOOLEAN", default=0)


def test_a_required_parameter_has_no_default_and_names_are_checked() -> None:
    with pytest.raises(ValueError, match="required"):
        ParameterDeclaration("items", "LONG", required=True, default=1)
    with pytest.raises(ValueError, match="1 to 100 characters"):
        ParameterDeclaration("")
    with pytest.raises(ValueError, match="unknown type"):
        ParameterDeclaration("x", "INTEGER")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="declared twice: a"):
        ParametersDeclaration((ParameterDeclaration("a"), ParameterDeclaration("a")))


def test_a_job_holds_its_declaration() -> None:
    step = TaskletStep("s", lambda contribution, context: RepeatStatus.FINISHED)
    assert Job("j", [step]).parameters is None
    job = Job("j", [step], parameters=[ParameterDeclaration("items", "LONG", default=5)])
    assert job.parameters is not None
    assert job.parameters.names == ["items"]
    assert not job.parameters.allow_undeclared
    assert job.parameters.get("items") == ParameterDeclaration("items", "LONG", default=5)
    assert job.parameters.get("other") is None
    open_job = Job("j", [step], parameters=ParametersDeclaration((), allow_undeclared=True))
    assert open_job.parameters is not None and open_job.parameters.allow_undeclared


CHUNK = ParametersDeclaration(
    (
        ParameterDeclaration("items", "LONG", default=100),
        ParameterDeclaration("chunkSize", "LONG", identifying=False, default=10),
        ParameterDeclaration("ratio", "DOUBLE", default=1),
        ParameterDeclaration("day", "DATE"),
        ParameterDeclaration("fail", "BOOLEAN", default=False),
        ParameterDeclaration("input.file", required=True),
    )
)


def refusal(declaration: ParametersDeclaration, *texts: str) -> InvalidJobParameters:
    with pytest.raises(InvalidJobParameters) as caught:
        declaration.check(JobParameters.parse(texts))
    return caught.value


def test_text_is_read_as_the_declared_type_as_if_typed() -> None:
    given = JobParameters.parse(
        ["items=6", "ratio=2.5", "day=2024-03-15", "fail=TRUE", "input.file=a\\,b.csv"]
    )
    typed = JobParameters.parse(
        ["items=6,long", "ratio=2.5,double", "day=2024-03-15,date", "fail=true,boolean"]
    )
    checked = CHUNK.check(given)
    assert checked == typed.merged({"input.file": JobParameter("a,b.csv", "STRING")})
    assert (
        checked.job_key()
        == CHUNK.check(typed.merged({"input.file": given["input.file"]})).job_key()
    )


def test_the_declared_identifying_flag_is_the_one_recorded() -> None:
    checked = CHUNK.check(
        JobParameters.parse(["chunkSize=5", "items=7,long,false", "input.file=f"])
    )
    assert checked["chunkSize"] == JobParameter(5, "LONG", identifying=False)
    assert checked["items"] == JobParameter(7, "LONG", identifying=True)


def test_a_long_widens_to_a_declared_double_and_nothing_else_changes_type() -> None:
    checked = CHUNK.check(JobParameters.of(ratio=3, **{"input.file": "f"}))
    assert checked["ratio"] == JobParameter(3.0, "DOUBLE")
    error = refusal(CHUNK, "items=1.5,double", "fail=1,long", "input.file=f")
    assert error.metadata == {"invalid": "fail,items"}
    assert "items (a double where a long is declared)" in str(error)
    assert "fail (a long where a boolean is declared)" in str(error)


def test_every_misfit_is_named_in_the_message_and_the_metadata() -> None:
    error = refusal(CHUNK, "itemz=7", "items=abc", "day=tomorrow", "other=1")
    assert error.reason == "INVALID_JOB_PARAMETERS"
    assert error.metadata == {
        "unknown": "itemz,other",
        "missing": "input.file",
        "invalid": "day,items",
    }
    message = str(error)
    assert (
        "unknown itemz, other (declared: items, chunkSize, ratio, day, fail, input.file)" in message
    )
    assert "missing required input.file" in message
    assert "items ('abc' is not a whole number)" in message
    # Only the keys that name someone.
    assert refusal(CHUNK, "items=x", "input.file=f").metadata == {"invalid": "items"}
    assert refusal(CHUNK).metadata == {"missing": "input.file"}


def test_undeclared_names_pass_when_allowed_or_accepted_and_stay_as_given() -> None:
    given = JobParameters.parse(["durationMs=5", "note=7", "run.id=3,long"])
    declared = (ParameterDeclaration("durationMs", "LONG", default=1000),)
    open_job = ParametersDeclaration(declared, allow_undeclared=True)
    assert open_job.check(given) == JobParameters.parse(
        ["durationMs=5,long", "note=7", "run.id=3,long"]
    )
    closed = ParametersDeclaration(declared)
    assert refusal(closed, "durationMs=5", "note=7", "run.id=3,long").metadata == {
        "unknown": "note,run.id"
    }
    assert closed.check(JobParameters.parse(["run.id=3,long"]), accepted=["run.id"])["run.id"] == (
        JobParameter(3, "LONG")
    )


def test_a_value_stored_unreadable_does_not_fit_its_declaration() -> None:
    stored = JobParameters({"items": JobParameter.from_column("java.lang.Float", "1.5", True)})
    with pytest.raises(InvalidJobParameters, match=r"stored java\.lang\.Float that cannot be read"):
        ParametersDeclaration((ParameterDeclaration("items", "LONG"),)).check(stored)


def test_defaults_fill_what_is_not_given_typed_and_flagged_as_declared() -> None:
    checked = CHUNK.check(JobParameters.parse(["items=6", "input.file=f"]))
    seen = CHUNK.with_defaults(checked)
    assert seen == JobParameters(
        {
            "items": JobParameter(6, "LONG"),
            "input.file": JobParameter("f", "STRING"),
            "chunkSize": JobParameter(10, "LONG", identifying=False),
            "ratio": JobParameter(1.0, "DOUBLE"),
            "fail": JobParameter(False, "BOOLEAN"),
        }
    )
    # What identifies the instance is what was given: defaults are for job code only.
    assert seen.job_key() != checked.job_key()
    assert CHUNK.with_defaults(seen) == seen
    nothing = ParametersDeclaration((ParameterDeclaration("day", "DATE"),))
    assert nothing.with_defaults(JobParameters()) == JobParameters()


def test_a_parameter_of_the_declared_type_gets_the_declared_flag_and_keeps_its_java_class() -> None:
    declared = ParameterDeclaration("count", "LONG", identifying=False)
    given = JobParameter(7, "LONG", java_class="java.lang.Integer")
    accepted = declared.accept(given)
    assert accepted == JobParameter(7, "LONG", False, java_class="java.lang.Integer")
    assert given.identifying  # the given one is left as it was
    already = JobParameter(7, "LONG", False)
    assert declared.accept(already) == already
