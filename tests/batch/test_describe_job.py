"""What the catalogue tells of a job definition: its description, declared parameters,
steps and their kinds, restartability and incrementer (batch/catalogue.py)."""

from __future__ import annotations

from jobop.batch import ChunkStep, Job, RepeatStatus, RunIdIncrementer, Step, TaskletStep
from jobop.batch.catalogue import (
    JobDescription,
    StepDescription,
    describe_job,
    describe_unregistered,
    incrementer_text,
)
from jobop.domain import JobParameters, ParameterDeclaration, ParametersDeclaration


def _finish(contribution: object, chunk_context: object) -> RepeatStatus:
    return RepeatStatus.FINISHED


def _nothing() -> None:
    return None  # a reader function: no items


class _Writer:
    def write(self, chunk: object) -> None:
        pass


class CustomStep(Step):
    pass


class DailyIncrementer:
    def get_next(self, parameters: JobParameters | None) -> JobParameters:
        return JobParameters()


def test_a_job_is_described_from_its_definition() -> None:
    day = ParameterDeclaration("day", "DATE", required=True, description="The day")
    items = ParameterDeclaration("items", "LONG", identifying=False, default=10)
    job = Job(
        "importJob",
        [
            TaskletStep("prepare", _finish),
            ChunkStep("load", reader=_nothing, writer=_Writer(), chunk_size=5),
            CustomStep("custom"),
        ],
        description="Imports a day",
        incrementer=RunIdIncrementer("run.number"),
        restartable=False,
        parameters=[day, items],
    )
    assert describe_job(job) == JobDescription(
        name="importJob",
        registered=True,
        description="Imports a day",
        parameters=(day, items),
        allow_undeclared_parameters=False,
        restartable=False,
        incrementer="RunIdIncrementer(run.number)",
        steps=(
            StepDescription("prepare", "tasklet"),
            StepDescription("load", "chunk"),
            StepDescription("custom", "CustomStep"),
        ),
    )


def test_undeclared_parameters_are_allowed_when_the_job_says_so_or_declares_nothing() -> None:
    steps = [TaskletStep("only", _finish)]
    declared = Job("a", steps, parameters=ParametersDeclaration((), allow_undeclared=True))
    nothing = Job("b", steps)
    strict = Job("c", steps, parameters=[ParameterDeclaration("x")])
    assert describe_job(declared).allow_undeclared_parameters
    assert describe_job(nothing).allow_undeclared_parameters
    assert describe_job(nothing).parameters == ()
    assert not describe_job(strict).allow_undeclared_parameters
    assert describe_job(nothing).restartable and describe_job(nothing).incrementer == ""


def test_incrementers_and_unregistered_jobs_in_short() -> None:
    assert incrementer_text(RunIdIncrementer()) == "RunIdIncrementer(run.id)"
    assert incrementer_text(DailyIncrementer()) == "DailyIncrementer"
    assert incrementer_text(None) == ""
    assert describe_unregistered("springJob") == JobDescription(
        name="springJob", registered=False, allow_undeclared_parameters=False
    )
