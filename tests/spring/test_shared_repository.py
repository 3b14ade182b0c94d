"""One repository, two users: a Spring Batch 5.2 application (a real JVM running Spring's
DAO statements over JDBC) and jobop, on SQLite and PostgreSQL, taking turns."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jobop.domain import BatchStatus, JobParameters
from jobop.repository import ContextFormat, JobRepository, create_engine, init_schema
from repository_lifecycle import finish, run_chunk, start_execution, start_step
from spring_oracle import (
    Oracle,
    describe,
    failed_demo_chunk_job,
    java_parameters,
    launch,
    run_jobop,
)
from sqlalchemy import text


@contextmanager
def shared_repository(url: str, fmt: ContextFormat, spring: int) -> Iterator[JobRepository]:
    engine = create_engine(url)
    try:
        init_schema(engine, context_format=fmt, spring_schema=spring)
        yield JobRepository(engine)
    finally:
        engine.dispose()


@pytest.mark.parametrize("spring", [5, 6])
def test_java_and_jobop_create_instances_alternately_without_colliding(
    oracle: Oracle, blank_db_url: str, spring: int
) -> None:
    fmt = ContextFormat.JACKSON
    with shared_repository(blank_db_url, fmt, spring) as repository:
        instances: list[int] = []
        executions: list[int] = []
        steps: list[int] = []
        jobop_executions = []
        for turn in range(3):
            for answer in oracle.dao(
                blank_db_url,
                spring,
                fmt,
                *(
                    launch("javaJob", JobParameters.of(turn=turn, n=n), "COMPLETED")
                    for n in range(2)
                ),
            ):
                instances.append(answer["instance"])
                executions.append(answer["execution"])
                steps.append(answer["step"])
            for n in range(2):
                parameters = JobParameters.of(turn=turn, n=n, ratio=0.5 * n)
                execution = repository.create_job_execution("pythonJob", parameters)
                start_execution(repository, execution)
                step = start_step(repository, execution, "pythonStep")
                run_chunk(repository, step, 3)
                finish(repository, step, BatchStatus.COMPLETED)
                finish(repository, execution, BatchStatus.COMPLETED)
                instances.append(execution.job_instance_id)
                executions.append(execution.id)
                steps.append(step.id)
                jobop_executions.append(execution)
        for ids in (instances, executions, steps):
            assert len(set(ids)) == len(ids) == 12
        # Spring finds jobop's instances by its own JOB_KEY, and reads jobop's rows.
        last = jobop_executions[-1]
        found, read = oracle.dao(
            blank_db_url,
            spring,
            fmt,
            {
                "do": "find-instance",
                "job": "pythonJob",
                "parameters": java_parameters(last.job_parameters),
            },
            {"do": "read", "execution": last.id},
        )
        assert found["instance"] == last.job_instance_id
        assert read["status"] == "COMPLETED" and read["key"] == last.job_instance.job_key
        assert read["parameters"] == {
            name: {"value": describe(p.value), "identifying": p.identifying}
            for name, p in last.job_parameters.items()
        }
        assert read["steps"][0]["context"] == describe({"read.count": 3})
        saved = repository.explorer.get_job_execution(last.id)
        assert saved is not None
        assert read["context"] == describe(dict(saved.execution_context))
        # A jobop execution still running is one Spring's findRunningJobExecutions sees, and
        # Spring's getLastStepExecution finds its step with the context of its last chunk.
        running = repository.create_job_execution("pythonJob", JobParameters.of(turn=99))
        start_execution(repository, running)
        step = start_step(repository, running, "pythonStep")
        run_chunk(repository, step, 4)
        run_chunk(repository, step, 2)
        seen, last_step = oracle.dao(
            blank_db_url,
            spring,
            fmt,
            {"do": "running", "job": "pythonJob"},
            {"do": "last-step", "instance": running.job_instance_id, "step": "pythonStep"},
        )
        assert seen["executions"] == [running.id]
        assert last_step["step"] == step.id
        assert last_step["context"] == describe({"read.count": 6})


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_jobop_restarts_a_failed_instance_that_spring_wrote_from_its_reader_position(
    oracle: Oracle, blank_db_url: str, fmt: ContextFormat, tmp_path: Path
) -> None:
    parameters = JobParameters.of(items=30)
    with shared_repository(blank_db_url, fmt, 5) as repository:
        (failed,) = oracle.dao(
            blank_db_url,
            5,
            fmt,
            failed_demo_chunk_job(parameters, read=20),
        )
        # Spring's rows read in jobop as any other.
        seen = repository.explorer.get_job_execution(failed["execution"])
        assert seen is not None and seen.status is BatchStatus.FAILED
        assert seen.job_parameters == parameters
        assert seen.step_executions[0].execution_context["numbers.read.count"] == 20
        assert seen.execution_context["batch.version"] == "5.2.6"

        done = run_jobop(blank_db_url, tmp_path, "run", "demoChunkJob", "items=30,long")
        assert done.returncode == 0, done.stderr
        with repository.engine.connect() as connection:
            restart_id, instance_id = connection.execute(
                text(
                    "SELECT JOB_EXECUTION_ID, JOB_INSTANCE_ID FROM BATCH_JOB_EXECUTION "
                    "ORDER BY JOB_EXECUTION_ID DESC"
                )
            ).first()  # type: ignore[misc]
            items = [
                row[0]
                for row in connection.execute(text("SELECT ITEM FROM DEMO_ITEMS ORDER BY ITEM"))
            ]
        assert instance_id == failed["instance"] and restart_id != failed["execution"]
        assert items == list(range(21, 31))  # resumed after the 20 items Spring had read

        # And Spring reads the restart: its reader position is still an Integer.
        (read,) = oracle.dao(blank_db_url, 5, fmt, {"do": "read", "execution": restart_id})
        assert read["status"] == "COMPLETED"
        (step,) = read["steps"]
        assert step["status"] == "COMPLETED" and step["context"]["v"]["numbers.read.count"] == {
            "t": "Integer",
            "v": "30",
        }
