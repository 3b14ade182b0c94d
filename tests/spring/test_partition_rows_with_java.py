"""Spring Batch 5.2's own DAO statements (a real JVM, SpringOracle.Dao) read the rows of a
jobop partition step as a Spring application reads its own: the manager and its worker
step executions of the same job execution, Spring's `<workerStep>:<partition>` names, the
partitions' contexts (minValue/maxValue as java.lang.Long) and the manager's
`SimpleStepExecutionSplitter.GRID_SIZE`; and Spring's getLastStepExecution, which its
SimpleStepExecutionSplitter asks on restart, finds each partition's last execution."""

from __future__ import annotations

import pytest
from jobop.batch import JobLauncher
from jobop.domain import BatchStatus, JobParameters
from jobop.repository import ContextFormat, JobRepository, create_engine, init_schema
from jobop_jobs import demoPartitionedJob
from jobop_jobs.demo_partitioned import MANAGER_STEP, WORKER_STEP
from spring_oracle import Oracle, describe


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_spring_reads_the_partition_steps_jobop_wrote(
    oracle: Oracle, blank_db_url: str, fmt: ContextFormat
) -> None:
    engine = create_engine(blank_db_url)
    try:
        init_schema(engine, context_format=fmt, spring_schema=5)
        repository = JobRepository(engine)
        launcher = JobLauncher(repository)
        parameters = JobParameters.parse(
            ["items=30", "partitions=3", "chunkSize=4", "failAtItem=15"]
        )
        first = launcher.launch(demoPartitionedJob, parameters)
        assert first.status is BatchStatus.FAILED
        second = launcher.launch(demoPartitionedJob, parameters)
        assert second.status is BatchStatus.COMPLETED
        instance = first.job_instance_id
        read_first, read_second, *last = oracle.dao(
            blank_db_url,
            5,
            fmt,
            {"do": "read", "execution": first.id},
            {"do": "read", "execution": second.id},
            *(
                {"do": "last-step", "instance": instance, "step": f"{WORKER_STEP}:partition{i}"}
                for i in range(3)
            ),
        )
    finally:
        engine.dispose()

    names = [f"{WORKER_STEP}:partition{i}" for i in range(3)]
    steps = read_first["steps"]
    assert [s["name"] for s in steps] == [MANAGER_STEP, *names]
    assert [s["status"] for s in steps] == ["FAILED", "COMPLETED", "FAILED", "COMPLETED"]
    manager = steps[0]
    assert manager["context"]["v"]["SimpleStepExecutionSplitter.GRID_SIZE"] == describe(3)
    ranges = [(1, 10), (11, 20), (21, 30)]
    for step, (low, high) in zip(steps[1:], ranges, strict=True):
        values = step["context"]["v"]
        assert (values["minValue"], values["maxValue"]) == (describe(low), describe(high))
    # The manager sums its workers' counters, as Spring's aggregator does.
    assert manager["writeCount"] == sum(s["writeCount"] for s in steps[1:]) == 24
    assert manager["commitCount"] == sum(s["commitCount"] for s in steps[1:])

    again = read_second["steps"]
    assert [(s["name"], s["status"]) for s in again] == [
        (MANAGER_STEP, "COMPLETED"),
        (f"{WORKER_STEP}:partition1", "COMPLETED"),
    ]
    assert again[0]["context"]["v"]["SimpleStepExecutionSplitter.GRID_SIZE"] == describe(3)
    assert again[1]["writeCount"] == 6  # 15..20, after the commit of 11..14
    assert again[1]["context"]["v"]["minValue"] == describe(11)

    # getLastStepExecution: partitions 0 and 2 from the first execution, 1 from the restart.
    saved = repository.explorer.get_job_execution(second.id)
    assert saved is not None
    restarted = {s.step_name: s.id for s in saved.step_executions}
    assert last[1]["step"] == restarted[names[1]]
    assert last[1]["context"]["v"]["maxValue"] == describe(20)
    first_steps = {s.step_name: s.id for s in first.step_executions}
    assert [last[0]["step"], last[2]["step"]] == [first_steps[names[0]], first_steps[names[2]]]
