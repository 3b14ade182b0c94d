"""The unit of work the runner writes through (repository/unit_of_work.py): Spring's plain
calls in, the same rows out, in the fewest transactions, with Spring's separate writes as
the fallback. Counted with StatementCounter on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from jobop.batch import Job, JobLauncher, JobRunner, RepeatStatus, TaskletStep
from jobop.batch.store import WriteThrough
from jobop.domain import (
    BatchStatus,
    ExecutionEndedElsewhere,
    ExitStatus,
    JobExecution,
    JobInterrupted,
    JobParameters,
    StepExecution,
    utcnow,
)
from jobop.repository import JobRepository, StatementCounter
from jobop.repository.unit_of_work import ExecutionUnitOfWork
from sqlalchemy import text


def _noop(contribution: Any, chunk_context: Any) -> None:
    return None


ONE_STEP = Job("uowOneStep", [TaskletStep("only", _noop)])
TWO_STEPS = Job("uowTwoSteps", [TaskletStep("first", _noop), TaskletStep("second", _noop)])


def launched(repository: JobRepository, job: Job = ONE_STEP) -> JobExecution:
    return repository.create_job_execution(job.name, JobParameters.of(run=1))


def started(execution: JobExecution) -> JobExecution:
    execution.status, execution.start_time = BatchStatus.STARTED, utcnow()
    return execution


def new_step(execution: JobExecution, name: str) -> StepExecution:
    return StepExecution(name, execution.id, status=BatchStatus.STARTED, start_time=utcnow())


def end(target: JobExecution | StepExecution, status: BatchStatus) -> None:
    target.status, target.exit_status, target.end_time = status, ExitStatus(status.value), utcnow()


def reload(repository: JobRepository, execution_id: int) -> JobExecution:
    execution = repository.explorer.get_job_execution(execution_id)
    assert execution is not None
    return execution


def status_in_database(repository: JobRepository, execution_id: int) -> str:
    with repository.engine.connect() as connection:
        status: str = connection.execute(
            text("select STATUS from BATCH_JOB_EXECUTION where JOB_EXECUTION_ID = :id"),
            {"id": execution_id},
        ).scalar_one()
    return status


def test_a_one_step_run_is_two_transactions(repository: JobRepository) -> None:
    execution = started(launched(repository))
    writes = repository.unit_of_work(execution, ONE_STEP)
    with StatementCounter(repository.engine) as held:
        writes.update_job_execution(execution)  # held until the step is added
    assert held.count == 0
    assert status_in_database(repository, execution.id) == "STARTING"
    step = new_step(execution, "only")
    with StatementCounter(repository.engine) as first:
        writes.add_step_execution(step)
    assert first.transactions == 1
    assert step.id is not None and execution.step_executions == [step]
    assert status_in_database(repository, execution.id) == "STARTED"
    end(step, BatchStatus.COMPLETED)
    with StatementCounter(repository.engine) as last:
        assert writes.update_step_execution(step) is BatchStatus.STARTED  # held
        end(execution, BatchStatus.COMPLETED)
        writes.update_job_execution(execution)
    assert last.transactions == 1
    if repository.engine.dialect.name == "postgresql":
        assert (first.count, last.count) == (1, 1)
    saved = reload(repository, execution.id)
    assert (saved.status, saved.version) == (BatchStatus.COMPLETED, 2)
    assert [(s.status, s.version) for s in saved.step_executions] == [(BatchStatus.COMPLETED, 1)]


def test_a_step_that_does_not_end_the_flow_is_saved_at_once(repository: JobRepository) -> None:
    execution = started(launched(repository, TWO_STEPS))
    writes = repository.unit_of_work(execution, TWO_STEPS)
    writes.update_job_execution(execution)
    first = new_step(execution, "first")
    writes.add_step_execution(first)
    end(first, BatchStatus.COMPLETED)
    with StatementCounter(repository.engine) as counter:
        # Its end reads the job's status (a stop between steps): it cannot wait.
        assert writes.update_step_execution(first) is BatchStatus.STARTED
    assert counter.transactions == 1
    second = new_step(execution, "second")
    writes.add_step_execution(second)
    assert execution.step_executions == [first, second]
    end(second, BatchStatus.COMPLETED)
    writes.update_step_execution(second)
    end(execution, BatchStatus.COMPLETED)
    writes.update_job_execution(execution)
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.COMPLETED
    assert [s.status for s in saved.step_executions] == [BatchStatus.COMPLETED] * 2


def test_a_last_commit_that_carried_only_the_step_waits_for_its_end(
    repository: JobRepository,
) -> None:
    execution = started(launched(repository, TWO_STEPS))
    writes = repository.unit_of_work(execution, TWO_STEPS)
    writes.update_job_execution(execution)
    first = new_step(execution, "first")
    writes.add_step_execution(first)
    first.commit_count = 1
    with StatementCounter(repository.engine) as held:
        assert writes.save_last_commit(first) is BatchStatus.STARTED
    assert held.count == 0
    end(first, BatchStatus.COMPLETED)
    with StatementCounter(repository.engine) as counter:
        writes.update_step_execution(first)  # not the last step: saved at once, once
    assert counter.transactions == 1
    [saved] = reload(repository, execution.id).step_executions
    assert (saved.status, saved.commit_count, saved.version) == (BatchStatus.COMPLETED, 1, 1)
    # Held, and then another write comes first: the commit is saved before it.
    second = new_step(execution, "second")
    writes.add_step_execution(second)
    second.commit_count = 1
    writes.save_last_commit(second)
    writes.flush()
    saved_second = reload(repository, execution.id).step_executions[1]
    assert (saved_second.status, saved_second.commit_count) == (BatchStatus.STARTED, 1)


def _commits(rounds: int, use_connection: bool) -> Any:
    calls = iter(range(rounds))

    def tasklet(contribution: Any, chunk_context: Any) -> RepeatStatus:
        if use_connection:
            chunk_context.connect().execute(text("select 1"))
        return RepeatStatus.CONTINUABLE if next(calls) < rounds - 1 else RepeatStatus.FINISHED

    return tasklet


@pytest.mark.parametrize(
    ("rounds", "use_connection", "transactions"),
    # Launch and STARTED with the step, then one per commit but the last, then the end;
    # a tasklet that used its transaction keeps its own last commit.
    [(1, False, 3), (3, False, 5), (1, True, 4), (2, True, 5)],
)
def test_only_a_finished_tasklets_untouched_last_commit_is_held(
    repository: JobRepository, rounds: int, use_connection: bool, transactions: int
) -> None:
    job = Job("uowRepeats", [TaskletStep("repeat", _commits(rounds, use_connection))])
    with StatementCounter(repository.engine) as counter:
        execution = JobLauncher(repository).launch(job, JobParameters.of(run=1))
    assert execution.status is BatchStatus.COMPLETED
    assert counter.transactions == transactions
    [step] = reload(repository, execution.id).step_executions
    assert (step.status, step.commit_count) == (BatchStatus.COMPLETED, rounds)


def test_a_run_without_a_step_saves_started_then_its_end(repository: JobRepository) -> None:
    execution = started(launched(repository))
    writes = repository.unit_of_work(execution, ONE_STEP)
    writes.update_job_execution(execution)
    execution.execution_context["note"] = "joins the held STARTED"
    writes.update_job_execution(execution)
    end(execution, BatchStatus.FAILED)
    execution.exit_status = ExitStatus.FAILED.add_exit_description("bad parameters")
    with StatementCounter(repository.engine) as counter:
        writes.update_job_execution(execution)
    # STARTED first (so the states read STARTING -> STARTED -> FAILED), then the end.
    assert counter.transactions == 2
    assert (execution.status, execution.version) == (BatchStatus.FAILED, 2)
    saved = reload(repository, execution.id)
    assert (saved.status, saved.exit_status.exit_code) == (BatchStatus.FAILED, "FAILED")
    assert saved.start_time is not None and saved.end_time is not None
    assert saved.execution_context["note"] == "joins the held STARTED"


def test_flush_saves_what_is_held(repository: JobRepository) -> None:
    execution = started(launched(repository))
    writes = repository.unit_of_work(execution, ONE_STEP)
    writes.update_job_execution(execution)
    writes.flush()
    assert status_in_database(repository, execution.id) == "STARTED"
    step = new_step(execution, "only")
    writes.add_step_execution(step)
    end(step, BatchStatus.COMPLETED)
    writes.update_step_execution(step)
    writes.flush()
    assert reload(repository, execution.id).step_executions[0].status is BatchStatus.COMPLETED
    end(execution, BatchStatus.COMPLETED)
    writes.update_job_execution(execution)
    assert reload(repository, execution.id).status is BatchStatus.COMPLETED


def test_a_stop_merged_with_started_adds_no_step(repository: JobRepository) -> None:
    execution = started(launched(repository))
    writes = repository.unit_of_work(execution, ONE_STEP)
    writes.update_job_execution(execution)
    with repository.engine.begin() as connection:  # another process's stop, merged
        connection.execute(
            text(
                "update BATCH_JOB_EXECUTION set STATUS = 'STOPPING', VERSION = VERSION + 1 "
                "where JOB_EXECUTION_ID = :id"
            ),
            {"id": execution.id},
        )
    with pytest.raises(JobInterrupted, match="before the job started"):
        writes.add_step_execution(new_step(execution, "only"))
    assert execution.status is BatchStatus.STOPPING and execution.step_executions == []
    end(execution, BatchStatus.STOPPED)
    writes.update_job_execution(execution)
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.STOPPED and saved.step_executions == []


def test_an_execution_stopped_while_starting_ended_elsewhere(repository: JobRepository) -> None:
    execution = started(launched(repository))
    writes = repository.unit_of_work(execution, ONE_STEP)
    writes.update_job_execution(execution)
    repository.request_stop(execution.id)  # STARTING -> STOPPED at once
    with pytest.raises(ExecutionEndedElsewhere):
        writes.add_step_execution(new_step(execution, "only"))
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.STOPPED and saved.step_executions == []


class FailingMergedWrites:
    """A repository whose merged end write fails (as a lost connection would), and whose
    step update may fail as well: the fault the real database cannot be made to have."""

    def __init__(self, repository: JobRepository, *, step_fails: bool = False) -> None:
        self.repository = repository
        self.step_fails = step_fails
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repository, name)

    def finish_step_and_job(self, step: StepExecution, execution: JobExecution) -> None:
        self.calls.append("finish_step_and_job")
        raise OSError("connection lost")

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        self.calls.append("update_step_execution")
        if self.step_fails:
            raise OSError("connection lost again")
        return self.repository.update_step_execution(step)

    def update_job_execution(self, execution: JobExecution) -> None:
        self.calls.append("update_job_execution")
        self.repository.update_job_execution(execution)


def run_to_the_end(store: FailingMergedWrites, execution: JobExecution) -> StepExecution:
    writes = ExecutionUnitOfWork(store, execution, ONE_STEP)
    writes.update_job_execution(started(execution))
    step = new_step(execution, "only")
    writes.add_step_execution(step)
    end(step, BatchStatus.COMPLETED)
    writes.update_step_execution(step)
    end(execution, BatchStatus.COMPLETED)
    writes.update_job_execution(execution)
    return step


def test_a_failed_merged_end_is_retried_as_spring_writes_it(repository: JobRepository) -> None:
    store = FailingMergedWrites(repository)
    execution = launched(repository)
    run_to_the_end(store, execution)
    assert store.calls == ["finish_step_and_job", "update_step_execution", "update_job_execution"]
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.COMPLETED
    assert saved.step_executions[0].status is BatchStatus.COMPLETED


def test_a_step_end_that_cannot_be_saved_fails_the_job(repository: JobRepository) -> None:
    store = FailingMergedWrites(repository, step_fails=True)
    execution = launched(repository)
    step = run_to_the_end(store, execution)
    assert step.status is BatchStatus.UNKNOWN
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.FAILED
    assert "connection lost again" in saved.exit_status.exit_description
    # Its outcome never reached the repository.
    assert saved.step_executions[0].status is BatchStatus.STARTED


def test_job_listeners_see_the_execution_saved(repository: JobRepository) -> None:
    seen: list[tuple[str, str, list[str]]] = []

    def observe(when: str, execution: JobExecution) -> None:
        saved = reload(repository, execution.id)
        seen.append((when, saved.status.value, [s.status.value for s in saved.step_executions]))

    class Listener:
        def before_job(self, execution: JobExecution) -> None:
            observe("before", execution)

        def after_job(self, execution: JobExecution) -> None:
            observe("after", execution)

    job = Job("uowListened", [TaskletStep("only", _noop)], listeners=[Listener()])
    execution = JobLauncher(repository).launch(job, JobParameters.of(run=1))
    assert execution.status is BatchStatus.COMPLETED
    assert seen == [("before", "STARTED", []), ("after", "STARTED", ["COMPLETED"])]


class PlainStore:
    """A store without merged writes (as an in-memory one for unit tests would be): its
    unit of work is WriteThrough, each write made at once."""

    def __init__(self, repository: JobRepository) -> None:
        self.repository = repository

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repository, name)

    def unit_of_work(self, execution: JobExecution, job: Job) -> WriteThrough:
        return WriteThrough(self, execution)


def test_a_store_without_merged_writes_runs_jobs_write_through(
    repository: JobRepository,
) -> None:
    execution = launched(repository)
    runner = JobRunner(PlainStore(repository))
    try:
        with StatementCounter(repository.engine) as counter:
            finished = runner.run(ONE_STEP, execution)
    finally:
        runner.close()
    assert finished.status is BatchStatus.COMPLETED
    # STARTED; the step added; the tasklet's commit; the step's end; the job's end.
    assert counter.transactions == 5
    saved = reload(repository, execution.id)
    assert saved.status is BatchStatus.COMPLETED
    assert [s.status for s in saved.step_executions] == [BatchStatus.COMPLETED]
