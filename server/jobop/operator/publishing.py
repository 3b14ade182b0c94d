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
        # Job name and last saved version of each execution written through here, for the
        # step-level announcements (a StepExecution knows only its job execution's id).
        self._known: dict[int, tuple[str, int]] = {}

    def track(self, execution: JobExecution) -> None:
        with self._lock:
            self._known[execution.id] = (execution.job_name, execution.version)

    def forget(self, execution_id: int) -> None:
        with self._lock:
            self._known.pop(execution_id, None)

    def _announce_step(self, step: StepExecution) -> None:
        with self._lock:
            known = self._known.get(step.job_execution_id)
        if known is not None:
            self._events.publish(step.job_execution_id, known[0], known[1])

    def update_job_execution(self, execution: JobExecution) -> None:
        super().update_job_execution(execution)
        with self._lock:
            self._known[execution.id] = (execution.job_name, execution.version)
        self._events.publish(execution.id, execution.job_name, execution.version, execution.status)

    def add_step_execution(self, step: StepExecution) -> None:
        super().add_step_execution(step)
        self._announce_step(step)

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        status = super().update_step_execution(step)
        self._announce_step(step)
        return status

    @contextmanager
    def chunk_transaction(self, step: StepExecution) -> Iterator[ChunkTransaction]:
        with super().chunk_transaction(step) as chunk:
            yield chunk
        # Reached only when the chunk committed.
        self._announce_step(step)
