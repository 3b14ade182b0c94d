"""Rows of the BATCH_ tables to domain records and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jobop.domain import (
    BatchStatus,
    ExitStatus,
    JobExecution,
    JobInstance,
    JobParameter,
    JobParameters,
    StepExecution,
    storable_exit_status,
)

from . import contexts

if TYPE_CHECKING:
    from typing import TypeAlias

    from sqlalchemy import Row

    # A result row of any shape (Row is generic over its column types).
    AnyRow: TypeAlias = Row[*tuple[Any, ...]]


def job_instance(row: AnyRow) -> JobInstance:
    """A job instance from a BATCH_JOB_INSTANCE row."""
    m = row._mapping
    return JobInstance(
        id=m["job_instance_id"],
        job_name=m["job_name"],
        job_key=m["job_key"],
        version=m["version"] or 0,
    )


def job_execution(row: AnyRow, parameters: JobParameters) -> JobExecution:
    """A job execution from a row of `explorer.execution_query()` (its instance and
    context), and a `first_of_instance` column where the query adds one."""
    m = row._mapping
    instance = JobInstance(
        id=m["job_instance_id"],
        job_name=m["job_name"],
        job_key=m["job_key"],
        version=m["instance_version"] or 0,
    )
    return JobExecution(
        job_instance=instance,
        job_parameters=parameters,
        id=m["job_execution_id"],
        version=m["version"] or 0,
        status=BatchStatus.parse(m["status"] or "UNKNOWN"),
        exit_status=ExitStatus(m["exit_code"] or "UNKNOWN", m["exit_message"] or ""),
        create_time=m["create_time"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        last_updated=m["last_updated"],
        execution_context=contexts.load_for_display(
            m["short_context"], m["serialized_context"], f"job execution {m['job_execution_id']}"
        ),
        first_of_instance=bool(m.get("first_of_instance", False)),
        priority=m.get("priority") or 0,
        overdue=m.get("overdue") is not None,
    )


def step_execution(row: AnyRow) -> StepExecution:
    """A step execution from a step row joined with its context (columns may be NULL)."""
    m = row._mapping
    return StepExecution(
        step_name=m["step_name"],
        job_execution_id=m["job_execution_id"],
        id=m["step_execution_id"],
        version=m["version"] or 0,
        status=BatchStatus.parse(m["status"] or "UNKNOWN"),
        exit_status=ExitStatus(m["exit_code"] or "UNKNOWN", m["exit_message"] or ""),
        read_count=m["read_count"] or 0,
        write_count=m["write_count"] or 0,
        filter_count=m["filter_count"] or 0,
        commit_count=m["commit_count"] or 0,
        rollback_count=m["rollback_count"] or 0,
        read_skip_count=m["read_skip_count"] or 0,
        process_skip_count=m["process_skip_count"] or 0,
        write_skip_count=m["write_skip_count"] or 0,
        create_time=m["create_time"],
        start_time=m["start_time"],
        end_time=m["end_time"],
        last_updated=m["last_updated"],
        execution_context=contexts.load_for_display(
            m["short_context"],
            m["serialized_context"],
            f"step execution {m['step_execution_id']} ({m['step_name']})",
        ),
        node_id=m.get("node_id"),
    )


def parameter(row: AnyRow) -> tuple[str, JobParameter]:
    m = row._mapping
    return m["parameter_name"], JobParameter.from_column(
        m["parameter_type"], m["parameter_value"] or "", m["identifying"] == "Y"
    )


def parameter_rows(execution_id: int, parameters: JobParameters) -> list[dict[str, Any]]:
    return [
        {
            "job_execution_id": execution_id,
            "parameter_name": name,
            "parameter_type": p.java_type,
            "parameter_value": p.column_text(),
            "identifying": "Y" if p.identifying else "N",
        }
        for name, p in parameters.items()
    ]


def step_values(step: StepExecution, last_updated: datetime) -> dict[str, Any]:
    """The columns an update of a step execution writes (all but its identity)."""
    exit_status = storable_exit_status(step.exit_status)
    return {
        "start_time": step.start_time,
        "end_time": step.end_time,
        "status": step.status.value,
        "commit_count": step.commit_count,
        "read_count": step.read_count,
        "filter_count": step.filter_count,
        "write_count": step.write_count,
        "read_skip_count": step.read_skip_count,
        "write_skip_count": step.write_skip_count,
        "process_skip_count": step.process_skip_count,
        "rollback_count": step.rollback_count,
        "exit_code": exit_status.exit_code,
        "exit_message": exit_status.exit_description,
        "last_updated": last_updated,
    }


def group_by(rows: Iterable[AnyRow], key: str) -> Mapping[int, list[AnyRow]]:
    grouped: dict[int, list[AnyRow]] = {}
    for row in rows:
        grouped.setdefault(row._mapping[key], []).append(row)
    return grouped
