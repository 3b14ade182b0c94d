"""JobExplorer and the repository's step lookups."""

from __future__ import annotations

import pytest
from jobop.domain import BatchStatus, JobParameter, JobParameters, NoSuchJobExecution
from jobop.repository import JobRepository, StatementCounter
from repository_lifecycle import run_chunk, run_execution, start_execution, start_step


def test_job_names_and_instances(repository: JobRepository) -> None:
    explorer = repository.explorer
    assert explorer.get_job_names() == []
    assert explorer.get_last_job_instance("importJob") is None
    ids = [
        repository.create_job_execution("importJob", JobParameters.of(day=day)).job_instance_id
        for day in range(1, 6)
    ]
    repository.create_job_execution("exportJob", JobParameters())
    assert explorer.get_job_names() == ["exportJob", "importJob"]
    assert explorer.get_job_instance_count("importJob") == 5
    assert explorer.get_job_instance_count("nothing") == 0
    assert [i.id for i in explorer.get_job_instances("importJob")] == ids[::-1]
    assert [i.id for i in explorer.get_job_instances("importJob", 1, 2)] == [ids[3], ids[2]]
    last = explorer.get_last_job_instance("importJob")
    assert last is not None and last.id == ids[-1]
    instance = explorer.get_job_instance(ids[0])
    assert instance is not None
    assert (instance.job_name, instance.job_key, instance.version) == (
        "importJob",
        JobParameters.of(day=1).job_key(),
        0,
    )
    assert explorer.get_job_instance(999) is None


def test_executions_of_an_instance_newest_first_with_steps(repository: JobRepository) -> None:
    parameters = JobParameters.of(run=1)
    first = run_execution(repository, "demoJob", parameters, status=BatchStatus.FAILED)
    second = run_execution(repository, "demoJob", parameters, steps=[("step1", 4), ("step2", 5)])
    executions = repository.explorer.get_job_executions(first.job_instance)
    assert [e.id for e in executions] == [second.id, first.id]
    assert [e.status for e in executions] == [BatchStatus.COMPLETED, BatchStatus.FAILED]
    assert [(s.step_name, s.read_count) for s in executions[0].step_executions] == [
        ("step1", 4),
        ("step2", 5),
    ]
    assert executions[0].step_executions[1].execution_context["read.count"] == 5
    assert all(e.job_parameters == parameters for e in executions)
    last = repository.explorer.get_last_job_execution(first.job_instance_id)
    assert last is not None and last.id == second.id
    assert repository.explorer.get_last_job_execution(999) is None


def test_a_job_execution_is_loaded_whole(repository: JobRepository) -> None:
    parameters = JobParameters.of(run=3, note=JobParameter("x", "STRING", False))
    execution = run_execution(repository, "demoJob", parameters, steps=[("a", 1), ("b", 2)])
    loaded = repository.explorer.get_job_execution(execution.id)
    assert loaded is not None
    assert loaded.summary() == execution.summary()
    assert [s.summary() for s in loaded.step_executions] == [
        s.summary() for s in execution.step_executions
    ]
    assert loaded.start_time == execution.start_time and loaded.end_time == execution.end_time
    assert repository.explorer.get_job_execution(999) is None


def test_loading_many_executions_costs_three_statements(repository: JobRepository) -> None:
    for run in range(6):
        run_execution(repository, "demoJob", JobParameters.of(run=run), steps=[("a", 1), ("b", 1)])
    with StatementCounter(repository.engine) as counter:
        page = repository.explorer.list_job_executions("demoJob", limit=10)
    assert len(page) == 6 and all(len(e.step_executions) == 2 for e in page)
    assert counter.count == 3


def test_running_executions(repository: JobRepository) -> None:
    run_execution(repository, "demoJob", JobParameters.of(run=1))
    starting = repository.create_job_execution("demoJob", JobParameters.of(run=2))
    started = repository.create_job_execution("otherJob", JobParameters.of(run=1))
    start_execution(repository, started)
    stopping = repository.create_job_execution("demoJob", JobParameters.of(run=3))
    start_execution(repository, stopping)
    repository.request_stop(stopping.id)
    explorer = repository.explorer
    assert [e.id for e in explorer.find_running_job_executions("demoJob")] == [
        stopping.id,
        starting.id,
    ]
    assert [e.id for e in explorer.find_running_job_executions(None)] == [
        stopping.id,
        started.id,
        starting.id,
    ]
    assert explorer.find_running_job_executions("nothing") == []


def test_step_execution_and_parameters(repository: JobRepository) -> None:
    execution = run_execution(repository, "demoJob", JobParameters.of(run=1))
    step = execution.step_executions[0]
    loaded = repository.explorer.get_step_execution(execution.id, step.id)
    assert loaded is not None and loaded.summary() == step.summary()
    assert dict(loaded.execution_context) == {"read.count": 3}
    assert repository.explorer.get_step_execution(execution.id + 1, step.id) is None
    assert repository.explorer.get_parameters(execution.id) == JobParameters.of(run=1)
    plain = repository.create_job_execution("plainJob", JobParameters())
    assert repository.explorer.get_parameters(plain.id) == JobParameters()
    with pytest.raises(NoSuchJobExecution):
        repository.explorer.get_parameters(999)


def test_list_job_executions_pages_by_key(repository: JobRepository) -> None:
    ids = [
        repository.create_job_execution("demoJob", JobParameters.of(run=run)).id for run in range(7)
    ]
    other = repository.create_job_execution("otherJob", JobParameters.of(run=0))
    explorer = repository.explorer
    pages: list[list[int]] = []
    after: int | None = None
    while True:
        page = explorer.list_job_executions("demoJob", None, after, 3)
        if not page:
            break
        pages.append([e.id for e in page])
        after = page[-1].id
    assert pages == [ids[6:3:-1], ids[3:0:-1], ids[0:1]]
    assert [e.id for e in explorer.list_job_executions(None, None, None, 2)] == [other.id, ids[6]]
    by_instance = explorer.list_job_executions(None, other.job_instance_id, None, 10)
    assert [e.id for e in by_instance] == [other.id]


def test_last_step_execution_and_count_across_restarts(repository: JobRepository) -> None:
    parameters = JobParameters.of(run=1)
    first = run_execution(
        repository, "demoJob", parameters, steps=[("load", 2)], status=BatchStatus.FAILED
    )
    instance_id = first.job_instance_id
    assert repository.get_last_step_execution(instance_id, "load") is not None
    assert repository.get_last_step_execution(instance_id, "report") is None
    assert repository.count_step_executions(instance_id, "report") == 0

    restart = repository.create_job_execution("demoJob", parameters)
    start_execution(repository, restart)
    step = start_step(repository, restart, "load")
    run_chunk(repository, step, 7)
    last = repository.get_last_step_execution(instance_id, "load")
    assert last is not None
    assert (last.id, last.job_execution_id, last.read_count) == (step.id, restart.id, 7)
    assert last.execution_context["read.count"] == 7
    assert repository.count_step_executions(instance_id, "load") == 2


def test_job_names_among_some_names_only_those_with_instances(repository: JobRepository) -> None:
    explorer = repository.explorer
    assert explorer.get_job_names([]) == []
    assert explorer.get_job_names(["importJob"]) == []
    for at, name in enumerate(("importJob", "exportJob", "importJob")):
        repository.create_job_execution(name, JobParameters.of(at=at))
    assert explorer.get_job_names(["importJob", "nothing", "exportJob"]) == [
        "exportJob",
        "importJob",
    ]
    assert explorer.get_job_names(["nothing"]) == []
    assert explorer.get_job_names() == ["exportJob", "importJob"]
