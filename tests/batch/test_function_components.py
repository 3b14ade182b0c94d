"""Plain functions wherever a one-method component is (reader, processor, writer, tasklet,
listener hooks through `listener(...)`), and components that cannot work refused when the
step or job is defined, naming the step and the component."""

from __future__ import annotations

from typing import Any

import pytest
from batch_engine_support import OUT, OutTable
from jobop.batch import (
    Chunk,
    ChunkContext,
    ChunkStep,
    Job,
    JobLauncher,
    RepeatStatus,
    StepContribution,
    TaskletStep,
    listener,
    step_scope,
)
from jobop.domain import BatchStatus, ExitStatus, JobParameters, StepExecution
from sqlalchemy import insert


def test_a_job_of_functions_runs_to_completed(launcher: JobLauncher, out: OutTable) -> None:
    numbers = iter(range(1, 8))
    events: list[str] = []

    def read() -> int | None:
        return next(numbers, None)

    def write(chunk: Chunk[int]) -> None:
        assert chunk.connection is not None and chunk.step_execution is not None
        chunk.connection.execute(
            insert(OUT),
            [
                {"item": item, "job_execution_id": chunk.step_execution.job_execution_id}
                for item in chunk
            ],
        )

    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> RepeatStatus:
        chunk_context.step_context.job_execution_context["items"] = len(out.items())
        return RepeatStatus.FINISHED

    def after_step(step_execution: StepExecution) -> ExitStatus | None:
        events.append(f"after {step_execution.step_name}")
        return None

    job = Job(
        "functions",
        [
            ChunkStep(
                "load",
                reader=read,
                processor=lambda item: None if item % 3 == 0 else item * 10,
                writer=write,
                chunk_size=3,
                listeners=[listener(after_step=after_step)],
            ),
            TaskletStep("count", tasklet),
        ],
        listeners=[listener(before_job=lambda execution: events.append("job"))],
    )

    execution = launcher.launch(job, JobParameters())

    assert execution.status is BatchStatus.COMPLETED, execution.exit_status
    assert out.items() == [10, 20, 40, 50, 70]
    load = execution.step_executions[0]
    assert (load.read_count, load.filter_count, load.write_count) == (7, 2, 5)
    assert execution.execution_context["items"] == 5
    assert events == ["job", "after load"]


def test_step_scoped_functions_run(launcher: JobLauncher) -> None:
    """A factory may build functions too: here a reader over a job parameter."""
    written: list[int] = []

    def reader(context: Any) -> Any:
        remaining = list(range(context.job_parameters.long("count", 0)))
        return lambda: remaining.pop(0) if remaining else None

    job = Job(
        "scopedFunctions",
        [ChunkStep("load", reader=step_scope(reader), writer=lambda chunk: written.extend(chunk))],
    )
    execution = launcher.launch(job, JobParameters.of(count=4))
    assert execution.status is BatchStatus.COMPLETED, execution.exit_status
    assert written == [0, 1, 2, 3]


class _NoMethods:
    pass


class _Writer:
    def write(self, chunk: Chunk[Any]) -> None:
        pass


class _TwoArgumentWriter:
    def write(self, chunk: Chunk[Any], extra: int) -> None:
        pass


def _read() -> None:
    return None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"reader": _read, "writer": _NoMethods()},
            r"step 'load': writer <.*_NoMethods object .*> has no write\(chunk\) method "
            r"and is not callable",
        ),
        (
            {"reader": 42, "writer": _Writer()},
            r"step 'load': reader 42 has no read\(\) method and is not callable",
        ),
        (
            {"reader": lambda item: item, "writer": _Writer()},
            r"step 'load': reader function <function .*> cannot be called as <lambda>\(\)",
        ),
        (
            {"reader": _read, "writer": lambda: None},
            r"step 'load': writer function .* a writer function takes chunk",
        ),
        (
            {"reader": _read, "writer": _TwoArgumentWriter()},
            r"step 'load': writer .*: its write method cannot be called as write\(chunk\)",
        ),
        (
            {"reader": _read, "writer": _Writer},
            r"step 'load': writer <class .*_Writer'> is a class: pass an instance of it",
        ),
        (
            {"reader": _read, "writer": _Writer(), "processor": lambda a, b: a},
            r"step 'load': processor function .* cannot be called as <lambda>\(item\)",
        ),
    ],
)
def test_a_chunk_component_that_cannot_work_is_refused_at_definition(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        ChunkStep("load", **options)


def test_a_tasklet_that_cannot_work_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match=r"step 'work': tasklet 'x' is not callable"):
        TaskletStep("work", "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"step 'work': tasklet .* cannot take two arguments"):
        TaskletStep("work", lambda contribution: None)  # type: ignore[arg-type, return-value]


def test_a_listener_that_cannot_work_is_refused_at_definition() -> None:
    def tasklet(contribution: StepContribution, chunk_context: ChunkContext) -> None:
        return None

    with pytest.raises(TypeError, match=r"step 'work': listener <function .*> is a function"):
        TaskletStep("work", tasklet, listeners=[lambda step_execution: None])
    with pytest.raises(TypeError, match=r"step 'work': listener .* has none of the hook methods"):
        TaskletStep("work", tasklet, listeners=[_NoMethods()])
    with pytest.raises(
        TypeError, match=r"step 'work': listener .*: its after_step cannot be called as"
    ):
        TaskletStep("work", tasklet, listeners=[listener(after_step=lambda: None)])
    with pytest.raises(TypeError, match=r"job 'j': listener .* has none of the hook methods"):
        Job("j", [TaskletStep("work", tasklet)], listeners=[listener(after_step=print)])
    with pytest.raises(ValueError, match=r"no such listener hook: after_stp"):
        listener(after_stp=print)


def test_a_factory_that_builds_a_broken_component_fails_the_step(launcher: JobLauncher) -> None:
    job = Job(
        "brokenFactory",
        [ChunkStep("load", reader=_read, writer=step_scope(lambda context: _NoMethods()))],
    )
    execution = launcher.launch(job, JobParameters())
    assert execution.status is BatchStatus.FAILED
    assert "step 'load': writer" in execution.exit_status.exit_description
