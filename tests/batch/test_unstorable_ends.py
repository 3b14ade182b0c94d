"""Whatever a job raises or stores, its end is written (both databases): messages no column
stores as they are, context values no Java type holds, and ends the database refuses."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from jobop.batch import (
    ChunkContext,
    Job,
    JobExecutionListener,
    JobLauncher,
    RepeatStatus,
    StepContribution,
    StepExecutionListener,
    TaskletStep,
)
from jobop.domain import BatchStatus, ExitStatus, JobExecution, JobParameters, StepExecution
from jobop.repository import JobRepository

Tasklet = Callable[[StepContribution, ChunkContext], RepeatStatus | None]

FILE_NAME = os.fsdecode(b"caf\xe9.csv")  # a file name that is not UTF-8


def _finish(contribution: StepContribution, chunk_context: ChunkContext) -> None:
    return None


def _jobs(name: str, tasklet: Tasklet, **options: Any) -> list[Job]:
    """The tasklet as a job's only step, then as the first of two: the last step's end is
    saved with the job's, an earlier step's alone."""
    return [
        Job(name, [TaskletStep("hostile", tasklet)], **options),
        Job(f"{name}Then", [TaskletStep("hostile", tasklet), TaskletStep("next", _finish)]),
    ]


def _saved(repository: JobRepository, execution: JobExecution) -> JobExecution:
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    return saved


def _assert_ended(saved: JobExecution) -> None:
    assert not saved.status.is_running, saved.summary()
    for step in saved.step_executions:
        assert not step.status.is_running, step.summary()
        assert step.end_time is not None


def _raising(message: str) -> Tasklet:
    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> None:
        raise RuntimeError(message)

    return tasklet


@pytest.mark.parametrize(
    ("message", "stored"),
    [(f"cannot read {FILE_NAME}", r"cannot read caf\udce9.csv"), ("a\x00b", r"a\x00b")],
    ids=["surrogate", "nul"],
)
def test_an_error_message_no_column_stores_is_saved_escaped(
    launcher: JobLauncher, repository: JobRepository, message: str, stored: str
) -> None:
    for job in _jobs("unstorableMessage", _raising(message)):
        saved = _saved(repository, launcher.launch(job))
        _assert_ended(saved)
        assert saved.status is BatchStatus.FAILED
        step = saved.step_executions[0]
        assert step.status is BatchStatus.FAILED
        for exit_status in (saved.exit_status, step.exit_status):
            assert exit_status.exit_description.startswith(f"RuntimeError: {stored}\n")


def test_an_exit_status_of_a_listener_is_saved_escaped_and_cut(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    class Rename(StepExecutionListener, JobExecutionListener):
        def after_step(self, step_execution: StepExecution) -> ExitStatus:
            return ExitStatus(f"DONE-{FILE_NAME}", FILE_NAME * 1000)

        def after_job(self, job_execution: JobExecution) -> None:
            job_execution.exit_status = ExitStatus("DONE\x00", "\x00" * 3000)

    job = Job(
        "renamedExit", [TaskletStep("t", _finish, listeners=[Rename()])], listeners=[Rename()]
    )
    saved = _saved(repository, launcher.launch(job))
    _assert_ended(saved)
    step = saved.step_executions[0]
    assert step.exit_status.exit_code == r"DONE-caf\udce9.csv"
    assert len(step.exit_status.exit_description) == 2500
    assert step.exit_status.exit_description.startswith(r"caf\udce9.csv" * 3)
    assert saved.exit_status.exit_code == r"DONE\x00"
    assert saved.exit_status.exit_description.startswith(r"\x00" * 100)


def _putting(value: Any, *, job: bool) -> Tasklet:
    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> None:
        if job:
            context = chunk_context.job_execution.execution_context
        else:
            context = chunk_context.step_context.execution_context
        context["value"] = value

    return tasklet


@pytest.mark.parametrize("in_job", [False, True], ids=["step", "job"])
def test_strings_of_any_characters_and_nan_are_held_by_the_context(
    launcher: JobLauncher, repository: JobRepository, in_job: bool
) -> None:
    values = {"file": FILE_NAME, "nul": "a\x00b", "nan": float("nan"), "inf": float("-inf")}
    for job in _jobs("heldValues", _putting(values, job=in_job)):
        saved = _saved(repository, launcher.launch(job))
        assert saved.status is BatchStatus.COMPLETED, saved.exit_status
        _assert_ended(saved)
        context = saved.execution_context if in_job else saved.step_executions[0].execution_context
        held = context["value"]
        assert (held["file"], held["nul"], held["inf"]) == (FILE_NAME, "a\x00b", float("-inf"))
        assert held["nan"] != held["nan"]  # NaN


def _changing_in_place(value: Any, *, job: bool, connect: bool) -> Tasklet:
    """Puts a list, then appends `value` to it: only the save can see it."""

    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> None:
        if connect:
            assert chunk_context.connection is not None  # the chunk's own transaction
        context = (
            chunk_context.job_execution.execution_context
            if job
            else chunk_context.step_context.execution_context
        )
        context["kept"] = "yes"
        context["seen"] = []
        context["seen"].append(value)

    return tasklet


@pytest.mark.parametrize("value", [2**80, object()], ids=["beyond-long", "object"])
@pytest.mark.parametrize("connect", [False, True], ids=["no-transaction", "transaction"])
def test_a_step_context_value_no_java_type_holds_fails_the_step(
    launcher: JobLauncher, repository: JobRepository, value: Any, connect: bool
) -> None:
    for job in _jobs(
        "unstorableStepContext", _changing_in_place(value, job=False, connect=connect)
    ):
        saved = _saved(repository, launcher.launch(job))
        _assert_ended(saved)
        assert saved.status is BatchStatus.FAILED
        step = saved.step_executions[0]
        assert step.status is BatchStatus.FAILED
        assert [s.step_name for s in saved.step_executions] == ["hostile"]
        assert "UnstorableContext" in step.exit_status.exit_description
        assert "execution context['seen'][0]" in step.exit_status.exit_description
        # Whatever the context can hold is saved: a restart resumes from it.
        assert "seen" not in step.execution_context
        if not connect:
            assert step.execution_context["kept"] == "yes"


@pytest.mark.parametrize("value", [2**80, object()], ids=["beyond-long", "object"])
def test_a_job_context_value_no_java_type_holds_fails_the_job(
    launcher: JobLauncher, repository: JobRepository, value: Any
) -> None:
    for job in _jobs("unstorableJobContext", _changing_in_place(value, job=True, connect=False)):
        saved = _saved(repository, launcher.launch(job))
        _assert_ended(saved)
        assert saved.status is BatchStatus.FAILED
        assert (
            "UnstorableContext: the execution context of job" in saved.exit_status.exit_description
        )
        assert saved.execution_context["kept"] == "yes"
        assert "seen" not in saved.execution_context
        assert all(s.status is BatchStatus.COMPLETED for s in saved.step_executions)


class _Overflow(StepExecutionListener):
    """A count that no BIGINT holds: the database refuses the step's end."""

    def after_step(self, step_execution: StepExecution) -> None:
        step_execution.read_count = 2**70


def test_a_step_end_the_database_refuses_is_saved_failed_and_restarts(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    jobs = [
        Job("refusedStepEnd", [TaskletStep("refused", _finish, listeners=[_Overflow()])]),
        Job(
            "refusedFirstStepEnd",
            [TaskletStep("refused", _finish, listeners=[_Overflow()]), TaskletStep("n", _finish)],
        ),
    ]
    for job in jobs:
        saved = _saved(repository, launcher.launch(job))
        _assert_ended(saved)
        assert saved.status is BatchStatus.FAILED
        step = saved.step_executions[0]
        assert step.status is BatchStatus.FAILED
        assert "could not be saved" in step.exit_status.exit_description
        # FAILED, not UNKNOWN: the instance may be restarted.
        again = launcher.launch(job, JobParameters())
        assert again.id != saved.id
        _assert_ended(_saved(repository, again))


class _NoCreateTime(JobExecutionListener):
    """A job end the database refuses (CREATE_TIME is NOT NULL)."""

    def after_job(self, job_execution: JobExecution) -> None:
        job_execution.create_time = None  # type: ignore[assignment]


def test_a_job_end_the_database_refuses_is_saved_failed_anew(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    for job in _jobs("refusedJobEnd", _raising(FILE_NAME), listeners=[_NoCreateTime()])[:1]:
        saved = _saved(repository, launcher.launch(job))
        _assert_ended(saved)
        assert saved.status is BatchStatus.FAILED
        description = saved.exit_status.exit_description
        assert description.startswith("its end could not be saved (")
        # What it would have said, made storable.
        assert r"it ended FAILED with exit code FAILED: RuntimeError: caf\udce9.csv" in description
        assert saved.step_executions[0].status is BatchStatus.FAILED
        restarted = launcher.launch(Job(job.name, job.steps), JobParameters())
        assert _saved(repository, restarted).status is BatchStatus.FAILED
