"""The bundled demoPartitionedJob (README.md, docs/partitions.md) on both databases: its
partitions write DEMO_ITEMS exactly once, failAtItem fails one partition in the first
execution only, and a restart runs only that one, from its last commit."""

from __future__ import annotations

import pytest
from jobop.batch import JobLauncher
from jobop.domain import BatchStatus, InvalidJobParameters, JobParameters
from jobop.repository import JobRepository
from jobop_jobs import demoPartitionedJob
from jobop_jobs.demo_partitioned import MANAGER_STEP, WORKER_STEP
from sqlalchemy import text


def demo_items(repository: JobRepository) -> dict[int, int]:
    with repository.engine.connect() as connection:
        rows = connection.execute(text("SELECT ITEM, JOB_EXECUTION_ID FROM DEMO_ITEMS")).all()
    return {row[0]: row[1] for row in rows}


def test_partitions_write_every_item_and_a_failed_one_alone_is_restarted(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    params = JobParameters.parse(
        ["items=40", "partitions=3", "chunkSize=4", "failAtItem=19", "cpuWorkUs=20"]
    )
    first = launcher.launch(demoPartitionedJob, params)
    assert first.status is BatchStatus.FAILED
    assert "Partition handler returned an unsuccessful step" in first.exit_status.exit_description
    saved = repository.explorer.get_job_execution(first.id)
    assert saved is not None
    steps = {step.step_name: step for step in saved.step_executions}
    names = [f"{WORKER_STEP}:partition{i}" for i in range(3)]
    assert list(steps) == [MANAGER_STEP, *names]
    # partition1 holds 14..26: 14..17 committed, the chunk of 19 (18..21) failed.
    assert [steps[n].status for n in names] == [
        BatchStatus.COMPLETED,
        BatchStatus.FAILED,
        BatchStatus.COMPLETED,
    ]
    assert sorted(demo_items(repository)) == [*range(1, 18), *range(27, 41)]

    second = launcher.launch(demoPartitionedJob, params)
    assert second.status is BatchStatus.COMPLETED
    assert second.job_instance_id == first.job_instance_id
    restarted = [s for s in second.step_executions if s.step_name != MANAGER_STEP]
    assert [(s.step_name, s.read_count, s.write_count) for s in restarted] == [
        (f"{WORKER_STEP}:partition1", 9, 9)
    ]
    written = demo_items(repository)
    assert sorted(written) == list(range(1, 41))
    assert sorted(i for i, e in written.items() if e == second.id) == list(range(18, 27))


def test_defaults_and_bad_parameters(launcher: JobLauncher, repository: JobRepository) -> None:
    execution = launcher.launch(demoPartitionedJob, JobParameters.parse(["items=10"]))
    assert execution.status is BatchStatus.COMPLETED
    assert len(execution.step_executions) == 1 + 4  # the default 4 partitions
    assert sorted(demo_items(repository)) == list(range(1, 11))
    for bad in ["partitions=0", "partitions=1001", "cpuWorkUs=-1", "chunkSize=0", "grid=2"]:
        with pytest.raises(InvalidJobParameters):
            demoPartitionedJob.validate(JobParameters.parse([bad]))
