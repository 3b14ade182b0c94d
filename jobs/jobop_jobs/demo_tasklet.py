"""demoTaskletJob: a stoppable tasklet that works for `durationMs` (identifying, default
1000) in slices of at most 50 ms, one transaction per slice. A stop ends the current slice
at once; a restart works only the time that is left. It accepts undeclared parameters too:
tools and tests start it with whatever they like."""

from __future__ import annotations

import threading
import time

from jobop.batch import (
    ChunkContext,
    Job,
    RepeatStatus,
    RunIdIncrementer,
    StepContribution,
    TaskletStep,
    step_scope,
)
from jobop.domain import ParameterDeclaration, ParametersDeclaration

from ._parameters import at_least

JOB_NAME = "demoTaskletJob"
STEP_NAME = "demoTaskletStep"
SLICE_MS = 50
WORKED_KEY = "demoTasklet.workedMs"


class SlicedWork:
    """Works (waits) `duration_ms` in slices; `stop()` cuts the current slice short."""

    def __init__(self, duration_ms: int) -> None:
        self.duration_ms = duration_ms
        self._stopped = threading.Event()

    def __call__(self, contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
        context = chunk_context.step_execution.execution_context
        worked = int(context.get(WORKED_KEY, 0))
        remaining = self.duration_ms - worked
        if remaining <= 0:
            return RepeatStatus.FINISHED
        started = time.monotonic()
        self._stopped.wait(min(SLICE_MS, remaining) / 1000)
        elapsed = round((time.monotonic() - started) * 1000)
        worked = min(self.duration_ms, worked + elapsed)
        context[WORKED_KEY] = worked
        return RepeatStatus.FINISHED if worked >= self.duration_ms else RepeatStatus.CONTINUABLE

    def stop(self) -> None:
        self._stopped.set()


PARAMETERS = ParametersDeclaration(
    (
        ParameterDeclaration(
            "durationMs",
            "LONG",
            default=1000,
            description="How long to work, in milliseconds.",
        ),
        ParameterDeclaration(
            "run.id",
            "LONG",
            description="Numbers the instances that --next (StartNextInstance) starts.",
        ),
    ),
    allow_undeclared=True,
)


job = Job(
    JOB_NAME,
    [
        TaskletStep(
            STEP_NAME,
            step_scope(lambda context: SlicedWork(context.job_parameters.long("durationMs"))),
        )
    ],
    validator=at_least(durationMs=0),
    incrementer=RunIdIncrementer(),
    description="Works for durationMs in stoppable slices of at most 50 ms.",
    parameters=PARAMETERS,
)
