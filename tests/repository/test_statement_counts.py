"""The launch and chunk paths stay lean: statements counted with StatementCounter.

Spring Batch 5.2 spends 27 statements on a first launch and two or three per chunk. Run
with `-s` to see the figures:
    .venv/bin/pytest tests/repository/test_statement_counts.py -s
"""

from __future__ import annotations

from jobop.domain import BatchStatus, JobParameter, JobParameters
from jobop.repository import JobRepository, StatementCounter
from repository_lifecycle import finish, run_chunk, run_execution, start_execution, start_step
from sqlalchemy import text

PARAMETERS = JobParameters.of(items=100, chunkSize=JobParameter(10, "LONG", identifying=False))


def report(what: str, repository: JobRepository, counter: StatementCounter) -> None:
    print(
        f"\n[{repository.engine.dialect.name}] {what}: {counter.count} statements, "
        f"{counter.transactions} transactions"
    )
    for statement in counter.statements:
        print("   ", " ".join(statement.split())[:110])


def test_a_first_launch_costs_four_statements(repository: JobRepository) -> None:
    with StatementCounter(repository.engine) as counter:
        repository.create_job_execution("demoChunkJob", PARAMETERS)
    report("first launch", repository, counter)
    # Instance, execution, all parameters in one executemany, context; no SELECT.
    assert counter.count == 4
    assert counter.transactions == 1
    assert not counter.matching("select")


def test_a_restart_costs_seven_statements_whatever_the_history(repository: JobRepository) -> None:
    run_execution(repository, "demoChunkJob", PARAMETERS, status=BatchStatus.FAILED)
    for attempt in range(1, 4):
        with StatementCounter(repository.engine) as counter:
            execution = repository.create_job_execution("demoChunkJob", PARAMETERS)
        report(f"restart {attempt}", repository, counter)
        # + lock the instance, read its executions' statuses, read the last job context.
        assert counter.count == 7
        start_execution(repository, execution)
        finish(repository, execution, BatchStatus.FAILED)


def test_a_first_launch_and_one_step_cost_twelve_statements(repository: JobRepository) -> None:
    with StatementCounter(repository.engine) as counter:
        execution = repository.create_job_execution("demoChunkJob", PARAMETERS)
        start_execution(repository, execution)  # STARTED, start time
        step = start_step(repository, execution, "demoChunkStep")  # row + context
        step.status = BatchStatus.STARTED
        repository.update_step_execution(step)
        run_chunk(repository, step, 10)  # counters + changed context
        finish(repository, step, BatchStatus.COMPLETED)
        finish(repository, execution, BatchStatus.COMPLETED)
    report("first launch + one step of one chunk", repository, counter)
    # The chunk's counters and changed context: one statement on PostgreSQL.
    chunk = 1 if repository.engine.dialect.name == "postgresql" else 2
    assert counter.count == 4 + 1 + 2 + 1 + chunk + 1 + 1
    assert counter.transactions == 7


def test_a_chunk_costs_at_most_two_metadata_statements(repository: JobRepository) -> None:
    with repository.engine.begin() as connection:
        connection.execute(text("create table DEMO_ITEMS (ITEM bigint primary key)"))
    execution = repository.create_job_execution("demoChunkJob", PARAMETERS)
    start_execution(repository, execution)
    step = start_step(repository, execution, "demoChunkStep")
    for item in range(1, 4):
        with (
            StatementCounter(repository.engine) as counter,
            repository.chunk_transaction(step) as chunk,
        ):
            chunk.connection.execute(
                text("insert into DEMO_ITEMS (ITEM) values (:item)"), {"item": item}
            )
            step.write_count += 1
            step.commit_count += 1
            if item != 2:
                step.execution_context["position"] = item
        report(f"chunk {item}", repository, counter)
        metadata = counter.matching("batch_")
        # The step's UPDATE (which also reads the job's status) and the context if changed;
        # on PostgreSQL both in one statement.
        postgresql = repository.engine.dialect.name == "postgresql"
        assert len(metadata) == (1 if item == 2 or postgresql else 2)
        assert counter.count == len(metadata) + 1  # + the writer's insert
        assert counter.transactions == 1
        assert chunk.job_status is BatchStatus.STARTED


def test_a_one_step_tasklet_job_costs_three_statements_on_postgresql(
    repository: JobRepository,
) -> None:
    from jobop.batch import JobLauncher
    from jobop_jobs import demoTaskletJob

    launcher = JobLauncher(repository)
    parameters = JobParameters.of(durationMs=0, **{"run.id": 1})
    with StatementCounter(repository.engine) as counter:
        execution = launcher.launch(demoTaskletJob, parameters, new_instance_only=True)
    report("no-op tasklet job, launch to COMPLETED", repository, counter)
    assert execution.status is BatchStatus.COMPLETED
    if repository.engine.dialect.name == "postgresql":
        # Each write one statement in autocommit: the launch; STARTED with the step and its
        # context; the step's end (its tasklet's commit held for it) with the job's.
        assert counter.count == 3
    else:
        # The same writes, row by row in three transactions.
        assert counter.count == 4 + 4 + 2
        assert counter.transactions == 3
    stored = repository.explorer.get_job_execution(execution.id)
    assert stored is not None and stored.status is BatchStatus.COMPLETED
    [step] = stored.step_executions
    # Saved twice: added, then ended (with the counters of its one commit).
    assert (step.status, step.commit_count, step.version) == (BatchStatus.COMPLETED, 1, 1)


def test_a_start_claimed_by_its_node_costs_no_statement_more(repository: JobRepository) -> None:
    # What `jobop serve` writes for a Start it runs itself: the launch and its claimed
    # launch request. PostgreSQL: the one launch statement; SQLite: the request's INSERT
    # joins the launch's transaction.
    with StatementCounter(repository.engine) as counter:
        repository.create_job_execution(
            "demoChunkJob",
            PARAMETERS,
            new_instance_only=True,
            request_launch=True,
            claimed_by="node-1",
        )
    report("first launch, claimed by its node", repository, counter)
    assert counter.count == (1 if repository.engine.dialect.name == "postgresql" else 5)
    assert counter.transactions == 1


def test_a_start_claimed_from_the_queue_runs_in_the_statements_of_one_started_here(
    repository: JobRepository,
) -> None:
    # What a worker node does with a start an api server left: claim it, run it.
    from jobop.batch import JobRunner
    from jobop.repository.nodes import NodeRepository
    from jobop_jobs import demoTaskletJob

    repository.create_job_execution(
        "demoTaskletJob",
        JobParameters.of(durationMs=0, **{"run.id": 1}),
        new_instance_only=True,
        request_launch=True,
    )
    with StatementCounter(repository.engine) as counter:
        (claimed,) = NodeRepository(repository.engine).claim_launch_requests(
            "node-2", ["demoTaskletJob"], 4
        )
    report("claim of one waiting start", repository, counter)
    # The jobs' run-time settings (a limit or a pause decides admission), the claim, then
    # the execution, its parameters and its steps.
    assert (counter.count, counter.transactions) == (5, 1)
    with StatementCounter(repository.engine) as counter:
        final = JobRunner(repository).run(demoTaskletJob, claimed)
    report("the claimed start, run to COMPLETED", repository, counter)
    assert final.status is BatchStatus.COMPLETED
    # The claim said it is its instance's first execution: no look for earlier steps, so
    # the run writes what a run started here writes (the owner with STARTED).
    assert not counter.matching("order by")
    assert counter.count == (2 if repository.engine.dialect.name == "postgresql" else 6)


def _execution_with_large_contexts(repository: JobRepository, size: int) -> int:
    """A running execution whose job and step contexts each hold `size` characters."""
    execution = repository.create_job_execution(
        "demoChunkJob", PARAMETERS, context={"blob": "j" * size}
    )
    start_execution(repository, execution)
    step = start_step(repository, execution, "demoChunkStep")
    step.execution_context["blob"] = "s" * size
    repository.update_step_execution(step)
    return execution.id


def test_reads_without_contexts_touch_no_context_table(repository: JobRepository) -> None:
    execution_id = _execution_with_large_contexts(repository, 2_000_000)
    explorer = repository.explorer
    with StatementCounter(repository.engine) as counter:
        one = explorer.get_job_execution(execution_id, contexts=False)
        running = explorer.find_running_job_executions(contexts=False)
        listed = explorer.list_job_executions("demoChunkJob", contexts=False)
    report("three reads without contexts", repository, counter)
    assert not counter.matching("execution_context")
    for execution in (one, *running, *listed):
        assert execution is not None
        assert execution.id == execution_id
        assert [s.step_name for s in execution.step_executions] == ["demoChunkStep"]
        assert dict(execution.execution_context) == {}
        assert dict(execution.step_executions[0].execution_context) == {}
    # By default (the engine's reads, restarts, recovery) the contexts are read.
    whole = explorer.get_job_execution(execution_id)
    assert whole is not None
    assert len(whole.execution_context["blob"]) == 2_000_000
    assert len(whole.step_executions[0].execution_context["blob"]) == 2_000_000
