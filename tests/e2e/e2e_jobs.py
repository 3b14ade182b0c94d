"""Jobs that only the end-to-end tests load (`jobop serve --jobs e2e_jobs`): the error
paths the bundled samples cannot reach."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable

from jobop.batch import (
    Chunk,
    ChunkContext,
    ChunkStep,
    Job,
    JobExecutionListener,
    RepeatStatus,
    RunIdIncrementer,
    StepContext,
    StepContribution,
    StepScoped,
    Tasklet,
    TaskletStep,
    step_scope,
)
from jobop.domain import (
    BatchStatus,
    ExitStatus,
    JobExecution,
    ParameterDeclaration,
    ParametersDeclaration,
)
from jobop_jobs.demo_chunk import NumberReader


def _finish(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    return RepeatStatus.FINISHED


def _fail(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    raise RuntimeError("failing on purpose")


# No incrementer: StartNextInstance is refused with JOB_PARAMETERS_NOT_FOUND.
no_incrementer_job = Job("e2eNoIncrementerJob", [TaskletStep("finish", _finish)])

# Fails, and may not be restarted: JOB_RESTART_NOT_ALLOWED.
not_restartable_job = Job("e2eNotRestartableJob", [TaskletStep("fail", _fail)], restartable=False)

JOBS = [no_incrementer_job, not_restartable_job]


def _work_slowly(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    time.sleep(0.02)
    return RepeatStatus.CONTINUABLE


class _LingerWhenStopped(JobExecutionListener):
    # Once stopped, the job takes 1.5 s more to end (its after_job runs before the final
    # save), which gives the shutdown tests a dependable window in which the server is
    # still stopping.
    def after_job(self, job_execution: JobExecution) -> None:
        if job_execution.status is BatchStatus.STOPPED:
            time.sleep(1.5)


lingering_stop_job = Job(
    "e2eLingeringStopJob",
    [TaskletStep("linger", _work_slowly)],
    listeners=[_LingerWhenStopped()],
)

JOBS.append(lingering_stop_job)


class _DiscardWriter:
    def write(self, chunk: Chunk[int]) -> None:
        pass


def _slow_numbers(context: StepContext) -> NumberReader:
    parameters = context.job_parameters
    return NumberReader(parameters.long("items", 1000), parameters.long("itemDelayMs", 20))


# A long run that holds no write lock while it works (it sleeps in its reader, outside the
# chunk transaction), stops within one item (chunks of 1), and writes no DEMO_ITEMS rows,
# so that any number of its instances share a database.
slow_chunk_job = Job(
    "e2eSlowChunkJob",
    [ChunkStep("slow", reader=step_scope(_slow_numbers), writer=_DiscardWriter(), chunk_size=1)],
    incrementer=RunIdIncrementer(),
)

JOBS.append(slow_chunk_job)


def _owner_lost_chunk_job() -> Job:
    from jobop_jobs import demo_chunk

    # demoChunkJob's step, restarted by the survivor that finds its owner dead.
    return Job(
        "e2eOwnerLostChunkJob",
        list(demo_chunk.job.steps),
        validator=demo_chunk.job.validator,
        incrementer=RunIdIncrementer(),
        parameters=demo_chunk.job.parameters,
        restart_on_owner_lost=1,
    )


JOBS.append(_owner_lost_chunk_job())


def _open_chunk_job() -> Job:
    from jobop_jobs import demo_chunk

    # demoChunkJob's step and parameters, but taking undeclared ones too: for the tests of
    # parameters of every type (demoChunkJob refuses names it does not declare).
    declared = demo_chunk.job.parameters
    assert declared is not None
    return Job(
        "e2eOpenChunkJob",
        list(demo_chunk.job.steps),
        validator=demo_chunk.job.validator,
        incrementer=RunIdIncrementer(),
        parameters=ParametersDeclaration(declared.parameters, allow_undeclared=True),
    )


JOBS.append(_open_chunk_job())


_user_log = logging.getLogger("e2e.user_code")


class _LoggingWriter:
    """Job code that logs as users' code does, with a plain logger of its own."""

    def write(self, chunk: Chunk[int]) -> None:
        _user_log.info("writing %d items", len(chunk))


def _log_once(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    _user_log.warning("tasklet step of its own")
    return RepeatStatus.FINISHED


# Two steps that log through their own logger: the log tests look for the context there.
logging_job = Job(
    "e2eLoggingJob",
    [
        ChunkStep(
            "logWrites",
            reader=step_scope(_slow_numbers),
            writer=_LoggingWriter(),
            chunk_size=2,
        ),
        TaskletStep("logOnce", _log_once),
    ],
    incrementer=RunIdIncrementer(),
)

JOBS.append(logging_job)


# -- hostile jobs: what they raise or store, their ends must be written --------------------

# A file name that is not UTF-8, as os.fsdecode gives it (a lone surrogate).
NOT_UTF8 = os.fsdecode(b"caf\xe9.csv")


def _raising(message: str) -> Callable[[StepContribution, ChunkContext], RepeatStatus]:
    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
        raise RuntimeError(message)

    return tasklet


class _StrRaises(Exception):
    def __str__(self) -> str:
        raise ValueError("no text for this error")


def _raise_unprintable(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    raise _StrRaises()


def _put_in_place(*, job: bool) -> Callable[[StepContribution, ChunkContext], RepeatStatus]:
    """Values no Java type holds, appended to a list already put: only the save sees them."""

    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
        context = (
            chunk_context.job_execution.execution_context
            if job
            else chunk_context.step_context.execution_context
        )
        context["file"] = NOT_UTF8
        context["seen"] = []
        context["seen"].extend([2**80, object()])
        return RepeatStatus.FINISHED

    return tasklet


def _put_awkward(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    # What contexts hold, though no text column takes it as it is.
    for context in (
        chunk_context.step_context.execution_context,
        chunk_context.job_execution.execution_context,
    ):
        context.update({"file": NOT_UTF8, "nul": "a\x00b", "nan": math.nan})
    return RepeatStatus.FINISHED


class _AwaitStop:
    """Puts awkward values in its contexts, then works until it is stopped."""

    def __init__(self) -> None:
        self._stopped = threading.Event()

    def stop(self) -> None:
        self._stopped.set()

    def __call__(self, contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
        _put_awkward(contribution, chunk_context)
        # Stopped: FINISHED, and the step ends STOPPED.
        return RepeatStatus.FINISHED if self._stopped.wait(0.05) else RepeatStatus.CONTINUABLE


def _hostile(name: str, tasklet: Tasklet | StepScoped[Tasklet]) -> Job:
    """The hostile step first, then another: the first step's end is saved alone."""
    return Job(
        name,
        [TaskletStep("hostile", tasklet), TaskletStep("after", _finish)],
        incrementer=RunIdIncrementer(),
    )


HOSTILE_JOBS = [
    _hostile("e2eSurrogateMessageJob", _raising(f"cannot read {NOT_UTF8}")),
    _hostile("e2eNulMessageJob", _raising("a\x00b")),
    _hostile("e2eUnprintableErrorJob", _raise_unprintable),
    _hostile("e2eUnstorableStepContextJob", _put_in_place(job=False)),
    _hostile("e2eUnstorableJobContextJob", _put_in_place(job=True)),
    _hostile("e2eAwkwardContextJob", _put_awkward),
    _hostile("e2eAwkwardStopJob", step_scope(lambda context: _AwaitStop())),
]
JOBS.extend(HOSTILE_JOBS)


class _SurrogateExitCode(JobExecutionListener):
    def after_job(self, job_execution: JobExecution) -> None:
        job_execution.exit_status = ExitStatus(f"E2E-{NOT_UTF8}", f"ended on {NOT_UTF8}")


# A job whose end the test makes the database refuse for a while (a trigger).
refused_end_job = Job(
    "e2eRefusedEndJob",
    [TaskletStep("finish", _finish)],
    listeners=[_SurrogateExitCode()],
    incrementer=RunIdIncrementer(),
)
JOBS.append(refused_end_job)


# The catalogue's test job: a description, parameters of every type (required, defaulted,
# identifying or not, one secret-named), a tasklet and a chunk step, an incrementer.
CATALOGUE_PARAMETERS = [
    ParameterDeclaration(
        "day", "DATE", identifying=True, required=True, description="The day to import"
    ),
    ParameterDeclaration("items", "LONG", default=5, description="How many items to read"),
    ParameterDeclaration("rate", "DOUBLE", identifying=False, default=1.5),
    ParameterDeclaration(
        "dryRun", "BOOLEAN", identifying=False, default=False, description="Write nothing"
    ),
    ParameterDeclaration("label", "STRING", default="orders", description="Shown in logs"),
    ParameterDeclaration("apiToken", "STRING", identifying=False, default="s3cr3t"),
]

catalogue_job = Job(
    "e2eCatalogueJob",
    [
        TaskletStep("prepare", _finish),
        ChunkStep("load", reader=step_scope(_slow_numbers), writer=_DiscardWriter(), chunk_size=5),
    ],
    description="Imports one day's orders (a test job that declares its parameters).",
    incrementer=RunIdIncrementer(),
    parameters=CATALOGUE_PARAMETERS,
)

JOBS.append(catalogue_job)

# Declares one parameter and takes undeclared ones too: the Start dialog's free rows.
open_catalogue_job = Job(
    "e2eOpenCatalogueJob",
    [TaskletStep("finish", _finish)],
    parameters=ParametersDeclaration(
        (ParameterDeclaration("region", default="eu", description="Where to run"),),
        allow_undeclared=True,
    ),
)

JOBS.append(open_catalogue_job)


# -- workload control (issue 21): demoTaskletJob's stoppable step under declared settings --


def _governed_tasklet_job(name: str, **settings: object) -> Job:
    from jobop_jobs import demo_tasklet

    # Works for durationMs (default 1000) in stoppable 50 ms slices, as demoTaskletJob.
    return Job(
        name,
        list(demo_tasklet.job.steps),
        validator=demo_tasklet.job.validator,
        incrementer=RunIdIncrementer(),
        parameters=demo_tasklet.PARAMETERS,
        **settings,  # type: ignore[arg-type]
    )


WORKLOAD_JOBS = [
    # At most two at once across the cluster.
    _governed_tasklet_job("e2eLimitedJob", max_concurrent=2),
    # One at a time: the queue's order shows behind it.
    _governed_tasklet_job("e2eSerialJob", max_concurrent=1),
    # One at a time per value of its `tenant` parameter.
    _governed_tasklet_job("e2eTenantJob", max_concurrent=1, concurrency_key="tenant"),
    # Overdue after a second: flagged only, or flagged and stopped.
    _governed_tasklet_job("e2eOverdueJob", max_duration=1),
    _governed_tasklet_job("e2eOverdueStopJob", max_duration=1, stop_when_overdue=True),
]
JOBS.extend(WORKLOAD_JOBS)
