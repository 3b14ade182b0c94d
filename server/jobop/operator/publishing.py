"""The repository the operator's runner writes through: it announces each committed change.

The engine knows nothing of events; wrapping the repository it is given is the least
invasive way to learn of every change at the moment it is committed (execution status
updates, new step executions, chunk commits), without a round trip or a poll.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from jobop.domain import BatchStatus, JobExecution, StepExecution
from jobop.repository import JobRepository
from jobop.repository.job_repository import ChunkTransaction

from .events import ExecutionEvents


class PublishingJobRepository(JobRepository):
    """A JobRepository that publishes (execution id, version) after each committed write."""

    def __init__(self, engine: Engine, events: ExecutionEvents) -> None:
        super().__init__(engine)
        self._events = events
        self._lock = threading.Lock()
        # The execution object the runner writes through here, for the step-level
        # announcements (a StepExecution knows only its job execution's id).
        self._known: dict[int, JobExecution] = {}

    def track(self, execution: JobExecution) -> None:
        with self._lock:
            self._known[execution.id] = execution

    def forget(self, execution_id: int) -> None:
        with self._lock:
            self._known.pop(execution_id, None)

    def _announce_step(self, step: StepExecution, job_status: BatchStatus | None) -> None:
        with self._lock:
            execution = self._known.get(step.job_execution_id)
        if execution is None:
            return
        # The runner's execution is the committed state unless someone else changed the
        # job's row meanwhile (a stop): the commit read the job's status, and a snapshot
        # is only attached when it agrees.
        current = job_status is not None and job_status is execution.status
        self._events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            committed=execution if current else None,
        )

    def update_job_execution(self, execution: JobExecution) -> None:
        super().update_job_execution(execution)
        with self._lock:
            self._known[execution.id] = execution
        self._events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            execution.status,
            committed=execution,
        )

    def start_job_and_step(self, execution: JobExecution, step: StepExecution) -> bool:
        added = super().start_job_and_step(execution, step)
        with self._lock:
            self._known[execution.id] = execution
        self._events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            execution.status,
            committed=execution,
        )
        return added

    def finish_step_and_job(self, step: StepExecution, execution: JobExecution) -> None:
        super().finish_step_and_job(step, execution)
        with self._lock:
            self._known[execution.id] = execution
        self._events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            execution.status,
            committed=execution,
        )

    def add_step_execution(self, step: StepExecution) -> None:
        super().add_step_execution(step)
        self._announce_step(step, None)

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        status = super().update_step_execution(step)
        self._announce_step(step, status)
        return status

    @contextmanager
    def chunk_transaction(self, step: StepExecution) -> Iterator[ChunkTransaction]:
        with super().chunk_transaction(step) as chunk:
            yield chunk
        # Reached only when the chunk committed.
        self._announce_step(step, chunk.job_status)
