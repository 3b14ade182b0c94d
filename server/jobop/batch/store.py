"""The job repository as the engine sees it: the interface that `jobop.repository`'s
JobRepository implements (SQLite and PostgreSQL), and that a wrapper such as the
operator's publishing repository, or an in-memory repository for unit tests, can
implement as well. Spring Batch's JobRepository interface plays the same part.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from jobop.domain import BatchStatus, JobExecution, JobInstance, JobParameters, StepExecution

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from .job import Job

# Execution option naming a read-only connection: on SQLite the repository's engines then
# start no transaction on it (each SELECT reads the latest committed state, as autocommit
# does on PostgreSQL), so a reader never takes the write lock a chunk may hold.
READ_ONLY = "jobop_read_only"


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads that holds no lock and no transaction open between statements
    (the repository's reads, and readers such as `SqlItemReader`)."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            # Client-side in psycopg: saves the BEGIN and ROLLBACK round trips.
            connection.execution_options(isolation_level="AUTOCOMMIT")
        else:
            connection.execution_options(**{READ_ONLY: True})
        yield connection


@dataclass
class ChunkTransaction:
    """One chunk's transaction: writers that write to the repository's database use
    `connection`, so their rows commit together with the step's counters and context."""

    connection: Connection
    # The owning job execution's status as the chunk committed (set on normal exit).
    job_status: BatchStatus | None = None


@dataclass(frozen=True, slots=True)
class PartitionRecord:
    """One JOBOP_PARTITION row: a worker step execution of a partition step, where it runs.

    `node_id` None and `ended` None: waiting for a node to claim it; `node_id` set: the node
    that runs (or ran) it; `ended` set: its step execution has ended."""

    step_execution_id: int
    job_execution_id: int
    manager_step_execution_id: int
    step_name: str
    attempt: int
    created: datetime
    node_id: str | None
    claimed: datetime | None
    ended: datetime | None


class JobExplorerView(Protocol):
    """The reads the engine makes."""

    def get_job_execution(self, execution_id: int) -> JobExecution | None: ...

    def get_last_job_instance(self, job_name: str) -> JobInstance | None: ...

    def get_last_job_execution(self, instance: JobInstance | int) -> JobExecution | None: ...


class JobStore(Protocol):
    """What the runner, the steps and the launcher need of a job repository."""

    @property
    def explorer(self) -> JobExplorerView: ...

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
    ) -> JobExecution: ...

    def update_job_execution(self, execution: JobExecution) -> None: ...

    def unit_of_work(self, execution: JobExecution, job: Job) -> UnitOfWork:
        """Where the runner writes one run of `execution` of `job`. A store without
        merged writes returns `WriteThrough(self, execution)`."""
        ...

    def get_job_statuses(self, execution_ids: Sequence[int]) -> dict[int, BatchStatus]: ...

    def add_step_execution(self, step: StepExecution) -> None: ...

    def update_step_execution(self, step: StepExecution) -> BatchStatus: ...

    def chunk_transaction(
        self, step: StepExecution
    ) -> AbstractContextManager[ChunkTransaction]: ...

    def get_last_step_execution(
        self, job_instance_id: int, step_name: str
    ) -> StepExecution | None: ...

    def count_step_executions(self, job_instance_id: int, step_name: str) -> int: ...

    def request_stop(self, execution_id: int) -> JobExecution: ...

    def fail_running(self, execution_id: int, message: str) -> JobExecution:
        """The end a run could not save, written anew on its own: the execution, if it
        still runs, and its running steps, FAILED with exit message `message`."""
        ...

    def add_partitions(
        self,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        *,
        node_id: str | None,
        attempt: int = 1,
    ) -> None:
        """Add the worker step executions of the partition step execution `manager` (their
        BATCH_STEP_EXECUTION and context rows; ids and versions set on the objects) and a
        JOBOP_PARTITION row each, in one transaction. `node_id` set: claimed by that node
        at once; None: waiting for a node to claim them (announced on PostgreSQL)."""
        ...

    def end_partition(self, worker: StepExecution) -> None:
        """Mark the partition row of the worker step execution ended (announced on
        PostgreSQL in the same transaction)."""
        ...

    def get_partitions(self, job_execution_id: int) -> list[PartitionRecord]:
        """The partition rows of a job execution, in step execution id order."""
        ...


class UnitOfWork(Protocol):
    """The writes of one run of a job execution, handed over in Spring Batch's order:
    update the job execution (STARTED), add a step execution, update it (its end), ...,
    update the job execution (its end). An implementation may hold a write back and save
    it later with another one; `flush` saves whatever it holds. Either way the caller's
    objects read as saved (id, version, merged stop) once a write that needed them returns.
    """

    def update_job_execution(self, execution: JobExecution) -> None: ...

    def add_step_execution(self, step: StepExecution) -> None:
        """Add `step` and append it to its job execution's `step_executions`. Raises
        JobInterrupted, adding nothing, if a stop requested meanwhile was merged instead."""
        ...

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        """Save `step`; returns its job's status as last read (STOPPING: stop)."""
        ...

    def save_last_commit(self, step: StepExecution) -> BatchStatus:
        """Save the last commit of `step` (its counters and context) when that commit
        carried nothing else (a finished tasklet that wrote nothing in its transaction);
        returns its job's status as last read. The step's end follows."""
        ...

    def flush(self) -> None:
        """Save what is held now: code that may look at the repository runs next."""
        ...


class WriteThrough:
    """The unit of work that holds nothing: each call is the store's, at once."""

    __slots__ = ("_execution", "_store")

    def __init__(self, store: JobStore, execution: JobExecution) -> None:
        self._store = store
        self._execution = execution

    def update_job_execution(self, execution: JobExecution) -> None:
        self._store.update_job_execution(execution)

    def add_step_execution(self, step: StepExecution) -> None:
        self._store.add_step_execution(step)
        self._execution.step_executions.append(step)

    def update_step_execution(self, step: StepExecution) -> BatchStatus:
        return self._store.update_step_execution(step)

    def save_last_commit(self, step: StepExecution) -> BatchStatus:
        return self._store.update_step_execution(step)

    def flush(self) -> None:
        """Nothing is held."""
