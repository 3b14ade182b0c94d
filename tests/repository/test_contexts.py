"""Execution contexts: in the repository's format, split at 2500 characters as Spring
splits them, written only when they changed."""

from __future__ import annotations

import json

import pytest
from jobop.domain import ExecutionContext, JobParameters
from jobop.repository import JobRepository, StatementCounter
from repository_lifecycle import run_chunk, start_execution, start_step
from sqlalchemy import text


def stored_step_context(repository: JobRepository, step_id: int) -> tuple[str, str | None]:
    with repository.engine.connect() as connection:
        row = connection.execute(
            text(
                "select SHORT_CONTEXT, SERIALIZED_CONTEXT from BATCH_STEP_EXECUTION_CONTEXT "
                "where STEP_EXECUTION_ID = :id"
            ),
            {"id": step_id},
        ).one()
    return row[0], row[1]


def stored_text(repository: JobRepository, context: ExecutionContext) -> str:
    return repository.settings.context_format.serialize(dict(context))


def context_of_length(repository: JobRepository, length: int) -> ExecutionContext:
    context = ExecutionContext()
    context["data"] = ""
    context["data"] = "x" * (length - len(stored_text(repository, context)))
    assert len(stored_text(repository, context)) == length
    return context


@pytest.mark.parametrize("length", [2, 2499, 2500])
def test_a_short_context_fits_in_short_context(repository: JobRepository, length: int) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    step = start_step(repository, execution, "step1")
    context = ExecutionContext() if length == 2 else context_of_length(repository, length)
    step.execution_context = context
    step.execution_context.dirty = True
    repository.update_step_execution(step)
    short, serialized = stored_step_context(repository, step.id)
    assert (short, serialized) == (stored_text(repository, context), None)
    assert json.loads(short) == {"@class": "java.util.HashMap", **dict(context)}


@pytest.mark.parametrize("length", [2501, 100_000])
def test_a_long_context_goes_whole_to_serialized_context(
    repository: JobRepository, length: int
) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    step = start_step(repository, execution, "step1")
    step.execution_context = context_of_length(repository, length)
    step.execution_context.dirty = True
    repository.update_step_execution(step)
    short, serialized = stored_step_context(repository, step.id)
    assert serialized == stored_text(repository, step.execution_context)
    # Spring cuts 8 characters short of the limit and appends " ...".
    assert len(short) == 2496 and short.endswith(" ...")
    assert serialized.startswith(short[: -len(" ...")])
    loaded = repository.explorer.get_step_execution(execution.id, step.id)
    assert loaded is not None and dict(loaded.execution_context) == dict(step.execution_context)


def test_a_long_job_context_round_trips(repository: JobRepository) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    execution.execution_context = context_of_length(repository, 5000)
    execution.execution_context["nested"] = {"list": [1, 2.5, None, True], "text": "é€"}
    repository.update_job_execution(execution)
    loaded = repository.explorer.get_job_execution(execution.id)
    assert loaded is not None
    assert dict(loaded.execution_context) == dict(execution.execution_context)


def test_contexts_are_written_only_when_dirty(repository: JobRepository) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    step = start_step(repository, execution, "step1")
    with StatementCounter(repository.engine) as counter:
        step.read_count = 1
        repository.update_step_execution(step)
        execution.execution_context["unchanged"] = None
        execution.execution_context.dirty = False
        start_execution(repository, execution)
    assert counter.matching("_context") == []
    with StatementCounter(repository.engine) as counter:
        step.execution_context["position"] = 1
        repository.update_step_execution(step)
        execution.execution_context["phase"] = "load"
        repository.update_job_execution(execution)
    assert len(counter.matching("batch_step_execution_context")) == 1
    assert len(counter.matching("batch_job_execution_context")) == 1
    assert not step.execution_context.dirty and not execution.execution_context.dirty
    # Putting a value equal to the saved one is no change.
    step.execution_context["position"] = 1
    assert not step.execution_context.dirty


def test_a_restarted_step_resumes_from_the_last_saved_context(repository: JobRepository) -> None:
    first = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    step = start_step(repository, first, "load")
    step.execution_context["position"] = 30
    repository.update_step_execution(step)
    last = repository.get_last_step_execution(first.job_instance_id, "load")
    assert last is not None and last.id == step.id
    assert dict(last.execution_context) == {"position": 30}


def test_a_step_context_changed_in_place_is_saved_with_the_chunk(
    repository: JobRepository,
) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    step = start_step(repository, execution, "step1")
    step.execution_context["seen"] = [1]
    run_chunk(repository, step, 1)
    with repository.chunk_transaction(step):
        step.commit_count += 1
        step.execution_context["seen"].append(2)  # no assignment: changed in place
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    assert saved.step_executions[0].execution_context["seen"] == [1, 2]
