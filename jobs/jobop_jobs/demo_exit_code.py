"""demoExitCodeJob: custom exit codes, as in TERASOLUNA's guideline. With `fail=true` the
step fails, its listener turns the step's exit code into `CUSTOM STEP FAILED`, and a job
listener makes the job's exit code `CUSTOM FAILED` (map it with `--exit-codes`)."""

from __future__ import annotations

from jobop.batch import (
    ChunkContext,
    Job,
    JobExecutionListener,
    RepeatStatus,
    RunIdIncrementer,
    StepContribution,
    StepExecutionListener,
    TaskletStep,
)
from jobop.domain import (
    BatchStatus,
    ExitStatus,
    JobExecution,
    ParameterDeclaration,
    StepExecution,
)

JOB_NAME = "demoExitCodeJob"
STEP_NAME = "demoExitCodeStep"
CUSTOM_STEP_FAILED = "CUSTOM STEP FAILED"
CUSTOM_FAILED = "CUSTOM FAILED"


class RequestedFailure(RuntimeError):
    """The failure that fail=true asks for."""


def work(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
    if chunk_context.job_parameters.boolean("fail"):
        raise RequestedFailure("fail=true: failing as asked")
    return RepeatStatus.FINISHED


class ExitStatusChangeListener(StepExecutionListener):
    def after_step(self, step_execution: StepExecution) -> ExitStatus | None:
        if step_execution.status is BatchStatus.FAILED:
            return ExitStatus(CUSTOM_STEP_FAILED)
        return None


class JobExitCodeChangeListener(JobExecutionListener):
    def after_job(self, job_execution: JobExecution) -> None:
        if any(
            s.exit_status.exit_code == CUSTOM_STEP_FAILED for s in job_execution.step_executions
        ):
            job_execution.exit_status = ExitStatus(
                CUSTOM_FAILED, job_execution.exit_status.exit_description
            )


job = Job(
    JOB_NAME,
    [TaskletStep(STEP_NAME, work, listeners=[ExitStatusChangeListener()])],
    incrementer=RunIdIncrementer(),
    listeners=[JobExitCodeChangeListener()],
    description="Ends with the custom exit code CUSTOM FAILED when fail=true.",
    parameters=[
        ParameterDeclaration(
            "fail",
            "BOOLEAN",
            default=False,
            description="Fail the step, so that the listeners set the exit codes "
            "CUSTOM STEP FAILED and CUSTOM FAILED.",
        )
    ],
)
