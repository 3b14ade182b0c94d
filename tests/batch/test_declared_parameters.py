"""A job's declared parameters in the engine, on both databases: what is stored (typed as
declared, without the defaults) and what the job's code sees (the defaults filled in)."""

from __future__ import annotations

from typing import Any

import pytest
from jobop.batch import (
    ChunkContext,
    DefaultJobParametersValidator,
    Job,
    JobExecutionListener,
    JobLauncher,
    RepeatStatus,
    RunIdIncrementer,
    StepContribution,
    TaskletStep,
)
from jobop.domain import (
    BatchStatus,
    ExitStatus,
    InvalidJobParameters,
    JobExecution,
    JobParameter,
    JobParameters,
    ParameterDeclaration,
    ParametersDeclaration,
)
from jobop.repository import JobRepository
from sqlalchemy import text

DECLARED = [
    ParameterDeclaration("items", "LONG", default=100),
    ParameterDeclaration("chunkSize", "LONG", identifying=False, default=10),
    ParameterDeclaration("label", default="none"),
]


class Seen(JobExecutionListener):
    """Records the parameters job code reads: listeners, tasklet, and what a listener's
    change of the execution leaves behind."""

    def __init__(self) -> None:
        self.before: JobParameters | None = None
        self.after: JobParameters | None = None
        self.step: JobParameters | None = None

    def before_job(self, job_execution: JobExecution) -> None:
        self.before = job_execution.job_parameters
        job_execution.execution_context["seenBefore"] = job_execution.job_parameters.long("items")

    def after_job(self, job_execution: JobExecution) -> None:
        self.after = job_execution.job_parameters
        job_execution.exit_status = ExitStatus("SEEN", "set by a listener")

    def tasklet(self, contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        self.step = context.job_parameters
        return RepeatStatus.FINISHED


def declared_job(seen: Seen, **options: Any) -> Job:
    return Job(
        "declaredJob",
        [TaskletStep("work", seen.tasklet)],
        listeners=[seen],
        parameters=options.pop("parameters", DECLARED),
        **options,
    )


def stored(repository: JobRepository, execution: JobExecution) -> tuple[JobParameters, str]:
    with repository.engine.connect() as connection:
        key = connection.execute(
            text("SELECT JOB_KEY FROM BATCH_JOB_INSTANCE WHERE JOB_INSTANCE_ID = :id"),
            {"id": execution.job_instance_id},
        ).scalar_one()
    return repository.explorer.get_parameters(execution.id), key


def test_stored_as_given_typed_as_declared_and_job_code_sees_the_defaults(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    seen = Seen()
    execution = launcher.launch(declared_job(seen), JobParameters.parse(["items=6"]))
    assert execution.status is BatchStatus.COMPLETED

    given = JobParameters({"items": JobParameter(6, "LONG")})
    parameters, key = stored(repository, execution)
    assert parameters == given
    assert key == given.job_key() == JobParameters.parse(["items=6,long"]).job_key()
    assert execution.job_parameters == given

    with_defaults = given.merged(
        {
            "chunkSize": JobParameter(10, "LONG", identifying=False),
            "label": JobParameter("none", "STRING"),
        }
    )
    assert seen.before == seen.step == seen.after == with_defaults
    # What listeners changed on the execution they got is the execution's.
    assert execution.exit_status == ExitStatus("SEEN", "set by a listener")
    assert repository.explorer.get_job_execution(execution.id).exit_status.exit_code == "SEEN"  # type: ignore[union-attr]
    assert execution.execution_context["seenBefore"] == 6


def test_a_refused_start_writes_nothing(launcher: JobLauncher, repository: JobRepository) -> None:
    job = declared_job(Seen())
    with pytest.raises(InvalidJobParameters) as refused:
        launcher.launch(job, JobParameters.parse(["itemz=7", "items=x"]))
    assert refused.value.metadata == {"unknown": "itemz", "invalid": "items"}
    assert "job 'declaredJob': " in str(refused.value)
    with repository.engine.connect() as connection:
        count = connection.execute(text("SELECT COUNT(*) FROM BATCH_JOB_INSTANCE")).scalar_one()
    assert count == 0


def test_the_validator_runs_after_the_declaration_and_sees_typed_values(
    launcher: JobLauncher,
) -> None:
    checked: list[JobParameters] = []

    def validator(parameters: JobParameters) -> None:
        checked.append(parameters)
        if parameters.long("items", 100) > 50:
            raise InvalidJobParameters("at most 50 items")

    job = declared_job(Seen(), validator=validator)
    with pytest.raises(InvalidJobParameters, match="declaration"):
        launcher.launch(job, JobParameters.parse(["items=many"]))
    assert checked == []
    with pytest.raises(InvalidJobParameters, match="at most 50"):
        launcher.launch(job, JobParameters.parse(["items=60"]))
    assert checked == [JobParameters.parse(["items=60,long"])]


def test_spring_default_validator_stays_the_floor_with_the_names_in_metadata(
    launcher: JobLauncher,
) -> None:
    floor = DefaultJobParametersValidator(required=["label"], optional=["items"])
    job = declared_job(Seen(), validator=floor)
    with pytest.raises(InvalidJobParameters) as missing:
        launcher.launch(job, JobParameters.parse(["items=1"]))
    assert missing.value.metadata == {"missing": "label"}
    with pytest.raises(InvalidJobParameters) as unknown:
        launcher.launch(job, JobParameters.parse(["label=x", "chunkSize=2"]))
    assert unknown.value.metadata == {"unknown": "chunkSize"}
    done = launcher.launch(job, JobParameters.parse(["label=x", "items=2"]))
    assert done.status is BatchStatus.COMPLETED


def test_the_incrementers_parameter_needs_no_declaring(launcher: JobLauncher) -> None:
    seen = Seen()
    job = declared_job(seen, incrementer=RunIdIncrementer())
    first = launcher.launch(job, launcher.next_parameters(job))
    second = launcher.launch(job, launcher.next_parameters(job))
    assert (first.status, second.status) == (BatchStatus.COMPLETED, BatchStatus.COMPLETED)
    assert second.job_parameters == JobParameters({"run.id": JobParameter(2, "LONG")})
    assert seen.step is not None and seen.step.long("items") == 100
    # Without an incrementer, run.id is a name like any other.
    with pytest.raises(InvalidJobParameters, match=r"unknown run\.id"):
        launcher.launch(declared_job(Seen()), JobParameters.parse(["run.id=3,long"]))


def test_undeclared_parameters_pass_as_given_when_the_job_allows_them(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    seen = Seen()
    job = declared_job(seen, parameters=ParametersDeclaration(tuple(DECLARED), True))
    execution = launcher.launch(job, JobParameters.parse(["items=2", "note=7", "when=1,long"]))
    assert stored(repository, execution)[0] == JobParameters.parse(
        ["items=2,long", "note=7", "when=1,long"]
    )
    assert seen.step is not None and seen.step.string("label") == "none"


def test_a_restart_keeps_the_parameters_stored_before_the_declaration(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    """An instance started before its job declared parameters stored `items` as text: a
    restart is of that instance (its stored parameters are kept, they name it) and the job
    code reads them typed."""
    seen = Seen()
    fails = Job("declaredJob", [TaskletStep("work", lambda c, x: 1 / 0)])
    old = JobParameters.parse(["items=6"])
    first = launcher.launch(fails, old)
    assert first.status is BatchStatus.FAILED
    restarted = launcher.launch(declared_job(seen), first.job_parameters, restart=True)
    assert restarted.status is BatchStatus.COMPLETED
    assert restarted.job_instance_id == first.job_instance_id
    assert stored(repository, restarted)[0] == old
    assert seen.step is not None and seen.step["items"] == JobParameter(6, "LONG")
