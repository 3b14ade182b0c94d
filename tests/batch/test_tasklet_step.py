"""TaskletStep on both databases: a transaction per call, contributions, stoppable tasklets
stopped in-process and from another connection (as another process would)."""

from __future__ import annotations

import threading
import time

from batch_engine_support import OUT, OutTable
from jobop.batch import (
    ChunkContext,
    ChunkListener,
    Job,
    JobLauncher,
    RepeatStatus,
    StepContext,
    StepContribution,
    Tasklet,
    TaskletStep,
    step_scope,
)
from jobop.domain import BatchStatus, ExitStatus, JobParameters
from jobop.repository import JobRepository
from sqlalchemy import insert


def test_each_call_commits_its_own_writes_and_counters(
    launcher: JobLauncher, repository: JobRepository, out: OutTable
) -> None:
    calls: list[int] = []

    def tasklet(contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        calls.append(len(calls) + 1)
        assert context.connection is not None
        context.connection.execute(
            insert(OUT), {"item": calls[-1], "job_execution_id": context.job_execution.id}
        )
        contribution.read_count += 2
        contribution.write_count += 1
        context.attributes["calls"] = len(calls)
        if len(calls) == 3:
            raise RuntimeError("third call fails")
        return RepeatStatus.CONTINUABLE

    job = Job("tasklet", [TaskletStep("t", tasklet)])
    execution = launcher.launch(job)
    assert execution.status is BatchStatus.FAILED
    assert "RuntimeError: third call fails" in execution.exit_status.exit_description
    step = execution.step_executions[0]
    # Spring applies a rolled-back call's contribution too.
    assert (step.commit_count, step.rollback_count) == (2, 1)
    assert (step.read_count, step.write_count) == (6, 3)
    assert out.items() == [1, 2]


def test_none_means_finished_and_contribution_sets_the_exit_status(
    launcher: JobLauncher,
) -> None:
    def tasklet(contribution: StepContribution, context: ChunkContext) -> None:
        contribution.exit_status = ExitStatus.NOOP
        contribution.filter_count = 1

    execution = launcher.launch(Job("noop", [TaskletStep("t", tasklet)]))
    step = execution.step_executions[0]
    assert (step.status, step.exit_status.exit_code) == (BatchStatus.COMPLETED, "NOOP")
    assert (step.commit_count, step.filter_count) == (1, 1)
    assert execution.exit_status.exit_code == "NOOP"


class Waiting:
    """Stoppable: waits up to 30 s per call, returns as soon as stop() is called."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.started = threading.Event()
        self.stop_calls = 0

    def __call__(self, contribution: StepContribution, context: ChunkContext) -> RepeatStatus:
        self.started.set()
        self.stopped.wait(30)
        return RepeatStatus.FINISHED

    def stop(self) -> None:
        self.stop_calls += 1
        self.stopped.set()


def _run_in_thread(launcher: JobLauncher, job: Job) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(launcher.launch(job)))
    thread.start()
    return thread, result


def test_in_process_stop_calls_the_tasklet_stop(launcher: JobLauncher) -> None:
    tasklet = Waiting()
    job = Job("stoppable", [TaskletStep("t", tasklet)])
    thread, result = _run_in_thread(launcher, job)
    assert tasklet.started.wait(10)
    [execution_id] = launcher.runner.running_execution_ids()
    started = time.monotonic()
    assert launcher.runner.request_stop(execution_id)
    thread.join(10)
    assert time.monotonic() - started < 2
    [execution] = result
    assert execution.status is BatchStatus.STOPPED  # type: ignore[attr-defined]
    step = execution.step_executions[0]  # type: ignore[attr-defined]
    assert step.status is BatchStatus.STOPPED
    assert step.exit_status.exit_code == "STOPPED"
    assert step.exit_status.exit_description == "JobInterrupted: stop requested"
    assert tasklet.stop_calls == 1


def test_a_stop_requested_through_the_database_reaches_the_tasklet(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    tasklet = Waiting()
    job = Job("remote", [TaskletStep("t", tasklet)])
    thread, result = _run_in_thread(launcher, job)
    assert tasklet.started.wait(10)
    [running] = repository.explorer.find_running_job_executions("remote")
    started = time.monotonic()
    repository.request_stop(running.id)  # what `jobop run --stop` does from elsewhere
    thread.join(10)
    assert time.monotonic() - started < 1.5
    [execution] = result
    assert execution.status is BatchStatus.STOPPED  # type: ignore[attr-defined]
    assert repository.get_job_status(running.id) is BatchStatus.STOPPED


def test_a_stop_before_a_stoppable_tasklet_starts_stops_it_at_once(
    launcher: JobLauncher,
) -> None:
    tasklet = Waiting()

    class StopFirst(ChunkListener):
        def before_chunk(self, context: ChunkContext) -> None:
            launcher.runner.request_stop(context.job_execution.id)

    job = Job("prestopped", [TaskletStep("t", tasklet, listeners=[StopFirst()])])
    started = time.monotonic()
    execution = launcher.launch(job)
    assert time.monotonic() - started < 5
    assert execution.status is BatchStatus.STOPPED
    assert tasklet.stop_calls == 1


def test_demo_tasklet_job_stops_and_resumes_the_remaining_time(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    from jobop_jobs import demoTaskletJob

    params = JobParameters.parse(["durationMs=3000,long"])
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(launcher.launch(demoTaskletJob, params)))
    thread.start()
    # Stop once a few slices have committed: waiting on the clock alone is flaky on a
    # loaded machine, where the step may not have begun yet.
    deadline = time.monotonic() + 10
    while True:
        assert time.monotonic() < deadline
        running = repository.explorer.find_running_job_executions("demoTaskletJob")
        steps = running[0].step_executions if running else []
        if steps and steps[0].commit_count >= 4:
            break
        time.sleep(0.01)
    repository.request_stop(running[0].id)
    thread.join(10)
    [first] = result
    assert first.status is BatchStatus.STOPPED  # type: ignore[attr-defined]
    step = first.step_executions[0]  # type: ignore[attr-defined]
    worked = step.execution_context["demoTasklet.workedMs"]
    assert 150 <= worked < 3000
    assert step.commit_count >= 4  # slices of at most 50 ms
    second = launcher.launch(demoTaskletJob, params)
    assert second.status is BatchStatus.COMPLETED
    assert second.step_executions[0].execution_context["demoTasklet.workedMs"] == 3000


def test_step_scoped_tasklet_is_built_per_execution(launcher: JobLauncher) -> None:
    built: list[int] = []

    def factory(context: StepContext) -> Tasklet:
        built.append(1)
        return lambda contribution, chunk_context: RepeatStatus.FINISHED

    job = Job("perexecution", [TaskletStep("t", step_scope(factory))])
    launcher.launch(job, JobParameters.of(n=1))
    launcher.launch(job, JobParameters.of(n=2))
    assert len(built) == 2
