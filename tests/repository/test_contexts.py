"""Execution contexts: in the repository's format, split at 2500 characters as Spring
splits them, written only when they changed."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pytest
from jobop.domain import (
    BatchStatus,
    ExecutionContext,
    ExitStatus,
    JobExecution,
    JobParameters,
    StepExecution,
    UnstorableContext,
)
from jobop.repository import JobRepository, StatementCounter
from jobop.repository.contexts import ContextFormat
from repository_lifecycle import finish, run_chunk, start_execution, start_step
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


def started_step(
    repository: JobRepository, context: dict[str, Any] | None = None
) -> tuple[JobExecution, StepExecution]:
    """A STARTED execution (with `context`) and its STARTED step `step1`."""
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1), context=context)
    start_execution(repository, execution)
    return execution, start_step(repository, execution, "step1")


def test_a_step_context_changed_in_place_is_saved_with_the_chunk(
    repository: JobRepository,
) -> None:
    execution, step = started_step(repository)
    step.execution_context["seen"] = [1]
    run_chunk(repository, step, 1)
    with repository.chunk_transaction(step):
        step.commit_count += 1
        step.execution_context["seen"].append(2)  # no assignment: changed in place
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    assert saved.step_executions[0].execution_context["seen"] == [1, 2]


# A file name that is not UTF-8, as os.fsdecode gives it: a lone surrogate.
FILE_NAME = os.fsdecode(b"caf\xe9.csv")


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_strings_of_any_characters_are_saved_and_read_back_as_they_were(
    repository: JobRepository, fmt: ContextFormat
) -> None:
    repository._contexts = fmt  # each format on each database
    execution, step = started_step(repository, {"file": FILE_NAME})
    values = {FILE_NAME: [FILE_NAME, "a\x00b", "\udfff\ud800"], "nan": float("nan")}
    step.execution_context["values"] = values
    run_chunk(repository, step, 1)
    execution.execution_context["nul\x00key"] = "x" * 3000 + FILE_NAME  # SERIALIZED_CONTEXT
    repository.update_job_execution(execution)
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    assert saved.execution_context["file"] == FILE_NAME
    assert saved.execution_context["nul\x00key"] == "x" * 3000 + FILE_NAME
    read = saved.step_executions[0].execution_context["values"]
    assert read[FILE_NAME] == values[FILE_NAME]
    assert math.isnan(read["nan"])
    if fmt is ContextFormat.JACKSON:
        # Escaped where UTF-8 has no form for it, as Jackson reads it into a Java String.
        assert r'"caf\udce9.csv"' in stored_step_context(repository, step.id)[0]


def test_a_value_changed_in_place_that_no_java_type_holds_is_refused_at_the_save(
    repository: JobRepository,
) -> None:
    execution, step = started_step(repository)
    run_chunk(repository, step, 1)
    step.execution_context["seen"] = [1]
    step.execution_context["seen"].append(2**80)
    with pytest.raises(
        UnstorableContext, match=r"\['seen'\]\[1\]: .* does not fit a java.lang.Long"
    ):
        run_chunk(repository, step, 1)
    execution.execution_context["map"] = {}
    execution.execution_context["map"]["x"] = object()
    with pytest.raises(UnstorableContext, match=r"\['map'\]\['x'\]: a object cannot be kept"):
        repository.update_job_execution(execution)
    # Nothing of either was written.
    saved = repository.explorer.get_job_execution(execution.id)
    assert saved is not None
    assert saved.status is BatchStatus.STARTED and "map" not in saved.execution_context
    assert dict(saved.step_executions[0].execution_context) == {"read.count": 1}


def test_fail_running_ends_the_execution_and_its_running_steps(
    repository: JobRepository,
) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    done = start_step(repository, execution, "done")
    finish(repository, done, BatchStatus.COMPLETED)
    start_step(repository, execution, "running")
    failed = repository.fail_running(execution.id, f"its end could not be saved: {FILE_NAME}")
    assert failed.status is BatchStatus.FAILED and failed.end_time is not None
    message = r"its end could not be saved: caf\udce9.csv"
    assert failed.exit_status == ExitStatus("FAILED", message)
    assert [(s.status, s.exit_status.exit_description) for s in failed.step_executions] == [
        (BatchStatus.COMPLETED, ""),
        (BatchStatus.FAILED, message),
    ]
    # An ended execution whose step still runs (its end could not be saved): the step.
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=2))
    start_execution(repository, execution)
    start_step(repository, execution, "unsaved")
    finish(repository, execution, BatchStatus.FAILED)
    failed = repository.fail_running(execution.id, "the end of a step could not be saved")
    assert failed.status is BatchStatus.FAILED
    assert failed.exit_status.exit_description == ""
    assert failed.step_executions[0].status is BatchStatus.FAILED
