"""ExecutionContext change tracking and the summary formats of executions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jobop.domain import (
    EXIT_MESSAGE_LENGTH,
    BatchStatus,
    ExecutionContext,
    ExitStatus,
    JavaInteger,
    JobExecution,
    JobInstance,
    JobParameters,
    StepExecution,
    truncate_exit_message,
)


def test_a_new_or_loaded_context_is_clean() -> None:
    assert not ExecutionContext().dirty
    loaded = ExecutionContext({"position": 3})
    assert not loaded.dirty and loaded["position"] == 3
    assert ExecutionContext() == {}


def test_changes_make_a_context_dirty() -> None:
    context = ExecutionContext({"position": 3})
    context["position"] = 3
    assert not context.dirty  # the same value is no change
    context["position"] = 4
    assert context.dirty
    context.dirty = False
    del context["position"]
    assert context.dirty and len(context) == 0


def test_a_value_of_another_type_is_a_change() -> None:
    context = ExecutionContext({"flag": 1, "ratio": 1})
    context["flag"] = True
    assert context.dirty
    context.dirty = False
    context["ratio"] = 1.0
    assert context.dirty
    assert type(context["flag"]) is bool and type(context["ratio"]) is float


def test_values_must_have_a_java_type() -> None:
    context = ExecutionContext()
    with pytest.raises(TypeError, match=r"'when'.*a set cannot be kept"):
        context["when"] = {1, 2}
    with pytest.raises(TypeError, match=r"does not fit a java\.lang\.Long"):
        context["big"] = 2**63
    with pytest.raises(TypeError, match="reserved"):
        context["@class"] = "x"  # the type member of Jackson's typed JSON
    with pytest.raises(TypeError, match="reserved"):
        context["nested"] = {"@class": "x"}
    assert not context.dirty and "when" not in context and "big" not in context
    context["at"] = datetime.now(UTC)  # a java.util.Date
    assert context.dirty


def test_an_int_put_over_an_integer_stays_an_integer() -> None:
    context = ExecutionContext({"reader.read.count": JavaInteger(3)})
    context["reader.read.count"] = 4
    assert type(context["reader.read.count"]) is JavaInteger and context.dirty
    context["reader.read.count"] = 2**40  # too large for an Integer: a Long
    assert type(context["reader.read.count"]) is int


def test_copies_are_independent() -> None:
    context = ExecutionContext({"b": [1, {"c": None}], "a": "é"})
    copy = context.copy()
    copy["b"] = []
    assert context["b"] == [1, {"c": None}] and copy.dirty and not context.dirty


def make_job_execution() -> JobExecution:
    return JobExecution(
        job_instance=JobInstance(id=4, job_name="demoChunkJob", job_key="k"),
        job_parameters=JobParameters.of(items=6),
        id=7,
        version=2,
        status=BatchStatus.COMPLETED,
        exit_status=ExitStatus.COMPLETED,
        start_time=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        end_time=datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC),
        last_updated=datetime(2024, 1, 2, 3, 4, 6, tzinfo=UTC),
    )


def test_job_execution_summary_format() -> None:
    assert make_job_execution().summary() == (
        "JobExecution: id=7, version=2, startTime=2024-01-02T03:04:05+00:00, "
        "endTime=2024-01-02T03:04:06+00:00, lastUpdated=2024-01-02T03:04:06+00:00, "
        "status=COMPLETED, exitStatus=exitCode=COMPLETED;exitDescription=, "
        "job=[JobInstance: id=4, version=0, Job=[demoChunkJob]], "
        "jobParameters=[{'items':'{value=6, type=class java.lang.Long, identifying=true}'}]"
    )
    unstarted = JobExecution(JobInstance(1, "j"), JobParameters())
    assert "startTime=null, endTime=null, lastUpdated=null, status=STARTING" in str(unstarted)


def test_step_execution_summary_format() -> None:
    step = StepExecution(
        "demoChunkStep",
        7,
        id=9,
        version=3,
        status=BatchStatus.COMPLETED,
        exit_status=ExitStatus.COMPLETED,
        read_count=6,
        write_count=5,
        filter_count=1,
        commit_count=2,
        rollback_count=1,
        read_skip_count=1,
        process_skip_count=2,
        write_skip_count=3,
    )
    assert step.summary() == (
        "StepExecution: id=9, version=3, name=demoChunkStep, status=COMPLETED, "
        "exitStatus=COMPLETED, readCount=6, filterCount=1, writeCount=5, readSkipCount=1, "
        "writeSkipCount=3, processSkipCount=2, commitCount=2, rollbackCount=1"
    )
    assert step.skip_count == 6


def test_job_execution_finds_its_latest_step() -> None:
    execution = make_job_execution()
    first, second = StepExecution("load", 7, id=1), StepExecution("load", 7, id=2)
    execution.step_executions = [first, StepExecution("report", 7, id=3), second]
    assert execution.step("load") is second and execution.step("missing") is None
    assert execution.job_name == "demoChunkJob" and execution.job_instance_id == 4
    assert not execution.is_running


def test_long_exit_messages_keep_head_and_tail() -> None:
    assert truncate_exit_message("short") == "short"
    message = "Traceback\n" + "x" * 5000 + "\nValueError: bad item 7"
    truncated = truncate_exit_message(message)
    assert len(truncated) == EXIT_MESSAGE_LENGTH
    assert truncated.startswith("Traceback\n") and truncated.endswith("ValueError: bad item 7")


def test_a_value_changed_in_place_makes_the_context_dirty() -> None:
    context = ExecutionContext({"seen": [1], "totals": {"a": 1}})
    assert not context.dirty
    context["seen"].append(2)
    assert context.dirty
    context.dirty = False  # saved
    context["totals"]["a"] += 1
    assert context.dirty
    copy = context.copy()  # as dirty as its original, and independent of it
    assert copy.dirty
    context.dirty = False
    assert not context.dirty and copy.dirty


def test_a_put_after_the_values_were_handed_to_the_repository_stays_unsaved() -> None:
    # The repository takes the values (storable_values), writes them, then marks the
    # context saved: a put made in between was not written and keeps the context dirty,
    # for scalar values too (no snapshot is compared for those).
    context = ExecutionContext({"count": 1, "name": "a"})
    context["count"] = 2
    context.storable_values()
    context["name"] = "b"
    context.dirty = False
    assert context.dirty
    context.storable_values()
    context.dirty = False
    assert not context.dirty
    del context["name"]
    assert context.dirty
    context.storable_values()
    context.dirty = False
    assert not context.dirty and dict(context) == {"count": 2}
