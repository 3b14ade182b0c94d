"""The repository the operator's runner writes through: it announces each committed change.

The engine knows nothing of events; wrapping the repository it is given (a `JobStore`) is
the least invasive way to learn of every change at the moment it is committed (execution
status updates, new step executions, chunk commits), without a round trip or a poll. Every
call is passed on unchanged; the announcements follow the calls that committed. A run's
unit of work writes through this wrapper too (the writes it holds back are announced when
they are written, a merged write once).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from jobop.batch.store import ChunkTransaction, JobExplorerView, PartitionRecord
from jobop.domain import BatchStatus, JobExecution, JobParameters, StepExecution
from jobop.repository.unit_of_work import ExecutionUnitOfWork, MergingStore

from .events import ExecutionEvents

if TYPE_CHECKING:
    from jobop.batch.job import Job


class PublishingJobRepository:
    """A JobStore that publishes (execution id, version) after each committed write of the
    store it wraps (a repository with the unit of work's merged writes)."""

    def __init__(
        self,
        store: MergingStore,
        events: ExecutionEvents,
        node_id: Callable[[], str | None] = lambda: None,
    ) -> None:
        self._store = store
        self._events = events
        # The node that runs what is written here: each step execution added is marked with
        # it, so that published snapshots name the node as the explorer's reads do.
        self._node_id = node_id
        self._lock = threading.Lock()
        # The execution object the runner writes through here, for the step-level
        # announcements (a StepExecution knows only its job execution's id).
        self._known: dict[int, JobExecution] = {}

    @property
    def explorer(self) -> JobExplorerView:
        return self._store.explorer

    def track(self, execution: JobExecution) -> None:
        with self._lock:
            self._known[execution.id] = execution

    def forget(self, execution_id: int) -> None:
        with self._lock:
            self._known.pop(execution_id, None)

    def _announce_job(self, execution: JobExecution) -> None:
        with self._lock:
            self._known[execution.id] = execution
        self._events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            execution.status,
            committed=execution,
        )

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

    # -- writes, announced ------------------------------------------------------------

    def unit_of_work(self, execution: JobExecution, job: Job) -> ExecutionUnitOfWork:
        return ExecutionUnitOfWork(self, execution, job)

    def update_job_execution(self, execution: JobExecution) -> None:
        self._store.update_job_execution(execution)
        self._announce_job(execution)

    def _mark_node(self, step: StepExecution) -> None:
        if step.node_id is None:
            step.node_id = self._node_id()

    def start_job_and_step(self, execution: JobExecution, step: StepExecution) -> bool:
        self._mark_node(step)
        added = self._store.start_job_and_step(execution, step)
        self._announce_job(execution)
        return added

    def finish_step_and_job(self, step: StepExecution, execution: JobExecution) -> None:
        self._store.finish_step_and_job(step, execution)
        self._announce_job(execution)

    def add_step_execution(self, step: StepExecution) -> None:
        self._mark_node(step)
        self._store.add_step_execution(step)
        self._announce_step(step, None)

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        status = self._store.update_step_execution(step)
        self._announce_step(step, status)
        return status

    def fail_running(self, execution_id: int, message: str) -> JobExecution:
        execution = self._store.fail_running(execution_id, message)
        self._announce_job(execution)
        return execution

    def add_partitions(
        self,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        *,
        node_id: str | None,
        attempt: int = 1,
    ) -> None:
        self._store.add_partitions(manager, workers, node_id=node_id, attempt=attempt)
        for worker in workers:
            self._announce_step(worker, None)

    def end_partition(self, worker: StepExecution) -> None:
        self._store.end_partition(worker)

    @contextmanager
    def chunk_transaction(self, step: StepExecution) -> Iterator[ChunkTransaction]:
        with self._store.chunk_transaction(step) as chunk:
            yield chunk
        # Reached only when the chunk committed.
        self._announce_step(step, chunk.job_status)

    # -- passed on as they are --------------------------------------------------------

    def create_job_execution(
        self,
        job_name: str,
        parameters: JobParameters,
        *,
        restartable: bool = True,
        new_instance_only: bool = False,
        context: Mapping[str, Any] | None = None,
        request_launch: bool = False,
        claimed_by: str | None = None,
    ) -> JobExecution:
        return self._store.create_job_execution(
            job_name,
            parameters,
            restartable=restartable,
            new_instance_only=new_instance_only,
            context=context,
            request_launch=request_launch,
            claimed_by=claimed_by,
        )

    def get_job_statuses(self, execution_ids: Sequence[int]) -> dict[int, BatchStatus]:
        return self._store.get_job_statuses(execution_ids)

    def get_last_step_execution(self, job_instance_id: int, step_name: str) -> StepExecution | None:
        return self._store.get_last_step_execution(job_instance_id, step_name)

    def count_step_executions(self, job_instance_id: int, step_name: str) -> int:
        return self._store.count_step_executions(job_instance_id, step_name)

    def request_stop(self, execution_id: int) -> JobExecution:
        return self._store.request_stop(execution_id)

    def get_partitions(self, job_execution_id: int) -> list[PartitionRecord]:
        return self._store.get_partitions(job_execution_id)
