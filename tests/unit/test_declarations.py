"""The declaration of a job's parameters: what a job may declare."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobop.batch import Job, RepeatStatus, TaskletStep
from jobop.domain import ParameterDeclaration, ParametersDeclaration


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
