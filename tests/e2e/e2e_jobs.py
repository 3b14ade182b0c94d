"""Jobs that only the end-to-end tests load (`jobop serve --jobs e2e_jobs`): the error
paths the bundled samples cannot reach."""

from __future__ import annotations

import logging
import time

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
    TaskletStep,
    step_scope,
)
from jobop.domain import BatchStatus, JobExecution
from jobop_jobs._parameters import long_parameter
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
    return NumberReader(
        long_parameter(parameters, "items", 1000), long_parameter(parameters, "itemDelayMs", 20)
    )


# A long run that holds no write lock while it works (it sleeps in its reader, outside the
# chunk transaction), stops within one item (chunks of 1), and writes no DEMO_ITEMS rows,
# so that any number of its instances share a database.
slow_chunk_job = Job(
    "e2eSlowChunkJob",
    [ChunkStep("slow", reader=step_scope(_slow_numbers), writer=_DiscardWriter(), chunk_size=1)],
    incrementer=RunIdIncrementer(),
)

JOBS.append(slow_chunk_job)


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
