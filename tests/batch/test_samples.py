"""The bundled sample jobs (README.md, docs/schema.md), on both databases."""

from __future__ import annotations

import pytest
from jobop.batch import JobLauncher, JobRegistry
from jobop.domain import BatchStatus, InvalidJobParameters, JobParameters
from jobop.repository import JobRepository
from jobop_jobs import JOBS, demoChunkJob, demoExitCodeJob, demoTaskletJob
from sqlalchemy import text


def demo_items(repository: JobRepository) -> list[tuple[int, int]]:
    with repository.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT ITEM, JOB_EXECUTION_ID FROM DEMO_ITEMS ORDER BY ITEM")
        ).all()
    return [(row[0], row[1]) for row in rows]


def test_demo_chunk_job_fails_at_item_then_a_restart_completes(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    params = JobParameters.parse(["items=6", "chunkSize=3", "failAtItem=5"])
    first = launcher.launch(demoChunkJob, params)
    assert first.status is BatchStatus.FAILED
    assert "failAtItem=5" in first.exit_status.exit_description
    assert demo_items(repository) == [(1, first.id), (2, first.id), (3, first.id)]

    second = launcher.launch(demoChunkJob, params)
    assert second.status is BatchStatus.COMPLETED
    assert second.job_instance_id == first.job_instance_id
    assert [item for item, _ in demo_items(repository)] == [1, 2, 3, 4, 5, 6]
    assert {execution for _, execution in demo_items(repository)} == {first.id, second.id}
    executions = repository.explorer.get_job_executions(first.job_instance_id)
    assert [e.id for e in executions] == [second.id, first.id]
    step = second.step_executions[0]
    assert (step.step_name, step.read_count, step.write_count) == ("demoChunkStep", 3, 3)


def test_demo_chunk_job_typed_parameters_and_defaults(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    execution = launcher.launch(demoChunkJob, JobParameters.parse(["items=25,long"]))
    assert execution.status is BatchStatus.COMPLETED
    assert execution.step_executions[0].commit_count == 3  # default chunkSize 10
    assert len(demo_items(repository)) == 25
    default = launcher.launch(demoChunkJob, JobParameters.parse(["run.id=1,long"]))
    assert default.status is BatchStatus.COMPLETED
    assert default.step_executions[0].read_count == 100


@pytest.mark.parametrize(
    "parameter",
    ["items=x", "items=-1", "chunkSize=0", "itemDelayMs=1.5,double", "failAtItem=true,boolean"],
)
def test_demo_chunk_job_rejects_bad_parameters(parameter: str) -> None:
    with pytest.raises(InvalidJobParameters):
        demoChunkJob.validate(JobParameters.parse([parameter]))


def test_demo_exit_code_job(launcher: JobLauncher) -> None:
    failed = launcher.launch(demoExitCodeJob, JobParameters.parse(["fail=true"]))
    assert failed.status is BatchStatus.FAILED
    assert failed.step_executions[0].exit_status.exit_code == "CUSTOM STEP FAILED"
    assert failed.exit_status.exit_code == "CUSTOM FAILED"
    ok = launcher.launch(demoExitCodeJob, JobParameters.parse(["fail=false,boolean"]))
    assert (ok.status, ok.exit_status.exit_code) == (BatchStatus.COMPLETED, "COMPLETED")
    with pytest.raises(InvalidJobParameters):
        demoExitCodeJob.validate(JobParameters.parse(["fail=maybe"]))


def test_demo_tasklet_job_works_its_duration(launcher: JobLauncher) -> None:
    execution = launcher.launch(demoTaskletJob, JobParameters.parse(["durationMs=120,long"]))
    assert execution.status is BatchStatus.COMPLETED
    step = execution.step_executions[0]
    assert step.step_name == "demoTaskletStep"
    assert step.commit_count >= 3
    assert step.execution_context["demoTasklet.workedMs"] == 120


def test_samples_are_registered_by_default_with_incrementers() -> None:
    registry = JobRegistry.default()
    assert {"demoChunkJob", "demoTaskletJob", "demoExitCodeJob"} <= set(registry.names())
    for job in JOBS:
        assert registry.get(job.name) is job
        assert job.incrementer is not None
        assert job.incrementer.get_next(None)["run.id"].value == 1
