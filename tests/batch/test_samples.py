"""The bundled sample jobs (README.md, docs/schema.md), on both databases."""

from __future__ import annotations

import pytest
from jobop.batch import Job, JobLauncher, JobRegistry
from jobop.domain import (
    BatchStatus,
    InvalidJobParameters,
    JobInstanceAlreadyComplete,
    JobParameters,
)
from jobop.repository import JobRepository
from jobop_jobs import JOBS, csv_import, demoChunkJob, demoExitCodeJob, demoTaskletJob
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
    [
        "items=x",
        "items=-1",
        "chunkSize=0",
        "itemDelayMs=1.5,double",
        "failAtItem=true,boolean",
        "itemz=7",
        "fail=true",
    ],
)
def test_demo_chunk_job_rejects_bad_parameters(parameter: str) -> None:
    with pytest.raises(InvalidJobParameters) as refused:
        demoChunkJob.validate(JobParameters.parse([parameter]))
    name = parameter.partition("=")[0]
    assert name in refused.value.metadata.get("unknown", refused.value.metadata.get("invalid"))


# CONTRACT's parameters of the bundled jobs: (name, type, identifying, default).
DECLARED = {
    "demoChunkJob": [
        ("items", "LONG", True, 100),
        ("chunkSize", "LONG", False, 10),
        ("itemDelayMs", "LONG", False, 0),
        ("failAtItem", "LONG", False, 0),
    ],
    "demoExitCodeJob": [("fail", "BOOLEAN", True, False)],
    "demoPartitionedJob": [
        ("items", "LONG", True, 1000),
        ("partitions", "LONG", False, 4),
        ("chunkSize", "LONG", False, 10),
        ("itemDelayMs", "LONG", False, 0),
        ("cpuWorkUs", "LONG", False, 0),
        ("failAtItem", "LONG", False, 0),
    ],
    "demoTaskletJob": [("durationMs", "LONG", True, 1000), ("run.id", "LONG", True, None)],
    "csvImportJob": [
        ("input.file", "STRING", True, None),
        ("skipLimit", "LONG", False, 10),
        ("chunkSize", "LONG", False, 100),
        ("useCopy", "BOOLEAN", False, False),
    ],
}


@pytest.mark.parametrize("job", [*JOBS, csv_import.job], ids=lambda job: job.name)
def test_bundled_jobs_declare_their_parameters_for_people(job: Job) -> None:
    assert job.description and job.parameters is not None
    declared = [(p.name, p.type, p.identifying, p.default) for p in job.parameters.parameters]
    assert declared == DECLARED[job.name]
    assert all(p.description for p in job.parameters.parameters)
    # Only demoTaskletJob, the job of tools and tests, takes undeclared parameters.
    assert job.parameters.allow_undeclared is (job is demoTaskletJob)
    assert [p.name for p in job.parameters.parameters if p.required] == (
        ["input.file"] if job is csv_import.job else []
    )


def test_text_and_typed_values_run_alike_and_store_alike(
    launcher: JobLauncher, repository: JobRepository
) -> None:
    as_text = launcher.launch(demoChunkJob, JobParameters.parse(["items=4", "chunkSize=3"]))
    typed = JobParameters.parse(["items=4,long", "chunkSize=3,long,false"])
    assert as_text.job_parameters == typed
    assert repository.explorer.get_parameters(as_text.id) == typed
    assert as_text.step_executions[0].commit_count == 2  # chunks of 3
    # The same instance: the text named the same identifying parameters.
    with pytest.raises(JobInstanceAlreadyComplete):
        launcher.launch(demoChunkJob, typed)


def test_demo_tasklet_job_takes_undeclared_parameters_as_given(launcher: JobLauncher) -> None:
    given = JobParameters.parse(["durationMs=0", "note=7", "when=2024-01-01,date"])
    execution = launcher.launch(demoTaskletJob, given)
    assert execution.status is BatchStatus.COMPLETED
    assert execution.job_parameters == JobParameters.parse(
        ["durationMs=0,long", "note=7", "when=2024-01-01,date"]
    )


def test_demo_exit_code_job(launcher: JobLauncher) -> None:
    failed = launcher.launch(demoExitCodeJob, JobParameters.parse(["fail=true"]))
    assert failed.status is BatchStatus.FAILED
    assert failed.step_executions[0].exit_status.exit_code == "CUSTOM STEP FAILED"
    assert failed.exit_status.exit_code == "CUSTOM FAILED"
    ok = launcher.launch(demoExitCodeJob, JobParameters.parse(["fail=false,boolean"]))
    assert (ok.status, ok.exit_status.exit_code) == (BatchStatus.COMPLETED, "COMPLETED")
    with pytest.raises(InvalidJobParameters):
        demoExitCodeJob.validate(JobParameters.parse(["fail=maybe"]))
    with pytest.raises(InvalidJobParameters, match="unknown items"):
        demoExitCodeJob.validate(JobParameters.parse(["fail=true", "items=1"]))


def test_demo_tasklet_job_works_its_duration(launcher: JobLauncher) -> None:
    execution = launcher.launch(demoTaskletJob, JobParameters.parse(["durationMs=120,long"]))
    assert execution.status is BatchStatus.COMPLETED
    step = execution.step_executions[0]
    assert step.step_name == "demoTaskletStep"
    assert step.commit_count >= 3
    assert step.execution_context["demoTasklet.workedMs"] == 120


def test_samples_are_registered_by_default_with_incrementers() -> None:
    registry = JobRegistry.default()
    assert {"demoChunkJob", "demoTaskletJob", "demoExitCodeJob", "demoPartitionedJob"} <= set(
        registry.names()
    )
    for job in JOBS:
        assert registry.get(job.name) is job
        assert job.incrementer is not None
        assert job.incrementer.get_next(None)["run.id"].value == 1
