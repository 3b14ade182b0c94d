"""Partitioned steps: a manager step splits its work into partitions, each run by a worker
step execution of its own (Spring Batch's PartitionStep, SimpleStepExecutionSplitter and
DefaultStepExecutionAggregator).

    load = ChunkStep("loadRange", reader=step_scope(lambda ctx: RangeReader(
        ctx.execution_context["minValue"], ctx.execution_context["maxValue"])), writer=...)
    job = Job("importJob", [PartitionStep("import", step=load,
                                          partitioner=RangePartitioner(1, 1_000_000))])

The partitioner names the partitions and the values each worker's execution context starts
with; every partition becomes a step execution named `<workerStep>:<partitionName>` of the
same job execution (e.g. `loadRange:partition0`), whose step-scoped components read those
values through `StepContext.execution_context`. The manager keeps the grid size in its own
context under Spring's key `SimpleStepExecutionSplitter.GRID_SIZE`: a restart splits the
same way, resumes every partition that did not complete from its last commit, and runs no
completed one again. The manager ends with the workers' counters summed and the worst of
their statuses; a failed partition fails it (and the job) once every partition has ended.

Where the workers run is a PartitionHandler's business: `LocalPartitionHandler` runs them
on threads of this process, each with its own transactions; the operator hands the runner a
handler that spreads them over the nodes of a PostgreSQL cluster. Either way a worker runs
through `execute_partition`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from jobop.domain import (
    BatchStatus,
    ExecutionContext,
    ExecutionEndedElsewhere,
    ExitStatus,
    JobExecution,
    JobInterrupted,
    JobParameters,
    JobRestartNotAllowed,
    StepExecution,
    utcnow,
)

from . import logcontext
from .item import ItemStream
from .listeners import StepHooks
from .step import (
    STOP_REQUESTED,
    Step,
    StepContext,
    StepRun,
    StepScoped,
    StopPoller,
    StopSignal,
    mark_unknown,
    resolve,
)
from .store import WriteThrough

if TYPE_CHECKING:
    from .job import Job
    from .store import JobStore

log = logging.getLogger(__name__)

# Spring's key (SimpleStepExecutionSplitter.class.getSimpleName() + ".GRID_SIZE") in the
# manager's execution context: the grid size of its first execution, kept on restart.
GRID_SIZE_KEY = "SimpleStepExecutionSplitter.GRID_SIZE"
# Between the worker step's name and the partition's (Spring's STEP_NAME_SEPARATOR).
SEPARATOR = ":"
# The node id column's width (JOBOP_PARTITION.NODE_ID).
NODE_ID_LENGTH = 40

UNSUCCESSFUL = "Partition handler returned an unsuccessful step"


def is_partition_manager(step_execution: StepExecution) -> bool:
    """Whether the step execution is a partition step's manager: its counters are its
    partitions' summed, so whoever counts items from the partitions skips it."""
    return GRID_SIZE_KEY in step_execution.execution_context


class PartitionFailed(Exception):
    """A partition did not succeed: the manager step fails (Spring's JobExecutionException
    with the same message)."""


class Partitioner(Protocol):
    def partition(self, grid_size: int) -> Mapping[str, Mapping[str, Any]]:
        """Partition name -> the values its worker's execution context starts with."""
        ...


class RangePartitioner:
    """Splits `[min_value, max_value]` (inclusive) into contiguous ranges named partition0,
    partition1, ...: contexts `{"minValue": first, "maxValue": last}` (Spring's sample
    ColumnRangePartitioner). Each partition gets `count // grid_size` values, the last one
    the remainder too; a range of fewer values than the grid size gets one partition per
    value, an empty range (max < min) none."""

    def __init__(self, min_value: int, max_value: int) -> None:
        for name, value in (("min_value", min_value), ("max_value", max_value)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, not {value!r}")
        self.min_value = min_value
        self.max_value = max_value

    def __repr__(self) -> str:
        return f"RangePartitioner({self.min_value}, {self.max_value})"

    def partition(self, grid_size: int) -> dict[str, dict[str, Any]]:
        _check_grid_size(grid_size)
        count = self.max_value - self.min_value + 1
        if count <= 0:
            return {}
        parts = min(grid_size, count)
        size = count // parts
        result: dict[str, dict[str, Any]] = {}
        for index in range(parts):
            first = self.min_value + index * size
            last = self.max_value if index == parts - 1 else first + size - 1
            result[f"partition{index}"] = {"minValue": first, "maxValue": last}
        return result


def _check_grid_size(grid_size: object) -> int:
    if not isinstance(grid_size, int) or isinstance(grid_size, bool) or grid_size < 1:
        raise ValueError(f"the grid size must be an int of at least 1, not {grid_size!r}")
    return grid_size


class PartitionHandler(Protocol):
    def handle(
        self,
        step: PartitionStep,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        run: StepRun,
    ) -> list[StepExecution]:
        """Run the worker step executions (not yet added) to their end, wherever; return
        them in their final state. A stop (run.stop set, or the job STOPPING) stops them
        at their chunk boundaries; returns once every worker has ended."""
        ...


# How many partitions a LocalPartitionHandler runs at once unless told: threads spread
# waiting (the database, I/O), and a thousand of them would only contend.
DEFAULT_THREADS = 16


class LocalPartitionHandler:
    """Runs the partitions on threads of this process (at most `threads` at once; None:
    DEFAULT_THREADS), each worker with its own transactions; the others wait for a thread.
    The partition rows record `node_id` (default: this process's node id, as its log
    records name it)."""

    def __init__(self, threads: int | None = None, *, node_id: str | None = None) -> None:
        if threads is not None and (not isinstance(threads, int) or threads < 1):
            raise ValueError(f"threads must be at least 1 (or None), not {threads!r}")
        self.threads = threads
        self.node_id = node_id

    def __repr__(self) -> str:
        return f"LocalPartitionHandler(threads={self.threads})"

    def handle(
        self,
        step: PartitionStep,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        run: StepRun,
    ) -> list[StepExecution]:
        if not workers:
            return []
        node_id = (self.node_id or logcontext.node_id())[:NODE_ID_LENGTH]
        run.repository.add_partitions(manager, workers, node_id=node_id)
        run.job_execution.step_executions.extend(workers)
        threads = min(self.threads or DEFAULT_THREADS, len(workers))
        job_name = run.job_execution.job_name
        failures: list[BaseException] = []
        with ThreadPoolExecutor(threads, thread_name_prefix=f"jobop-{step.name}") as pool:
            futures: list[Future[StepExecution]] = [
                pool.submit(
                    _run_worker,
                    step.step,
                    worker,
                    run.job_execution,
                    run.repository,
                    run.stop,
                    job_name=job_name,
                    listeners=run.listeners,
                    poll_interval=run.poll_interval,
                    stop_poller=run.stop_poller,
                    job_parameters=run.job_parameters,
                )
                for worker in workers
            ]
            for future in futures:
                try:
                    future.result()
                except BaseException as error:
                    failures.append(error)
        if failures:
            # The job ended elsewhere (abandoned, recovered) comes first: the runner's
            # answer to it is to end the run; anything else as it came.
            ended = [f for f in failures if isinstance(f, ExecutionEndedElsewhere)]
            raise (ended or failures)[0]
        return list(workers)


class PartitionStep(Step):
    """The manager of a partitioned step: splits, hands the workers to a handler, and
    aggregates them (see the module's doc).

    `step`: the worker step (a ChunkStep or TaskletStep, not itself one of the job's
    steps). `partitioner`: a Partitioner, or `step_scope(...)` building one per manager
    execution. `grid_size`: how many partitions to ask for (an int, or a function of the
    manager's StepContext, e.g. reading a job parameter). `partition_retries`: how many
    times a partition whose node died is run again within the same job execution (by the
    cluster's handler). `handler`: where the workers run (None: the runner's, else local
    threads).
    """

    def __init__(
        self,
        name: str,
        *,
        step: Step,
        partitioner: Partitioner | StepScoped[Partitioner],
        grid_size: int | Callable[[StepContext], int] = 4,
        partition_retries: int = 1,
        handler: PartitionHandler | None = None,
        listeners: Sequence[object] = (),
        allow_start_if_complete: bool = False,
        start_limit: int | None = None,
    ) -> None:
        super().__init__(
            name,
            listeners=listeners,
            allow_start_if_complete=allow_start_if_complete,
            start_limit=start_limit,
        )
        if not isinstance(step, Step) or isinstance(step, PartitionStep):
            raise TypeError(
                f"partition step {name!r}: the worker step must be a Step, not {step!r}"
            )
        if not isinstance(partitioner, StepScoped) and not callable(
            getattr(partitioner, "partition", None)
        ):
            raise TypeError(
                f"partition step {name!r}: {partitioner!r} has no partition(grid_size) method"
            )
        if not callable(grid_size):
            _check_grid_size(grid_size)
        if not isinstance(partition_retries, int) or partition_retries < 0:
            raise ValueError(f"partition_retries must be at least 0, not {partition_retries!r}")
        self.step = step
        self.partitioner = partitioner
        self.grid_size = grid_size
        self.partition_retries = partition_retries
        self.handler = handler

    def worker_name(self, partition_name: str) -> str:
        return f"{self.step.name}{SEPARATOR}{partition_name}"

    def owns(self, step_name: str) -> bool:
        """Whether `step_name` names one of this step's partitions."""
        return step_name.startswith(self.step.name + SEPARATOR)

    def components(self, context: StepContext) -> list[object]:
        partitioner = resolve(self.partitioner, context)
        if not callable(getattr(partitioner, "partition", None)):
            raise TypeError(
                f"partition step {self.name!r}: {partitioner!r} has no partition(grid_size) method"
            )
        return [partitioner]

    def do_execute(
        self,
        step_execution: StepExecution,
        context: StepContext,
        components: list[object],
        hooks: StepHooks,
        streams: list[ItemStream],
        run: StepRun,
    ) -> None:
        partitioner: Partitioner = components[0]  # type: ignore[assignment]
        workers = self.split(step_execution, context, partitioner, run)
        if run.stop.is_set():
            raise JobInterrupted(STOP_REQUESTED)
        handler = self.handler or run.partition_handler or LocalPartitionHandler()
        ended = handler.handle(self, step_execution, workers, run) if workers else []
        aggregate(step_execution, ended)
        if step_execution.status.is_unsuccessful:
            raise PartitionFailed(UNSUCCESSFUL)
        if step_execution.status in (BatchStatus.STOPPING, BatchStatus.STOPPED):
            raise JobInterrupted(STOP_REQUESTED)

    def split(
        self,
        manager: StepExecution,
        context: StepContext,
        partitioner: Partitioner,
        run: StepRun,
    ) -> list[StepExecution]:
        """The worker step executions to run (Spring's SimpleStepExecutionSplitter): one
        per partition, except those whose last execution in this job instance COMPLETED
        (unless the step may start again when complete); an unfinished one resumes with
        its last execution's context. The grid size is saved in the manager's context
        before anything runs, so that a restart splits the same way."""
        manager_context = manager.execution_context
        saved = manager_context.get(GRID_SIZE_KEY)
        if saved is None:
            wanted = self.grid_size(context) if callable(self.grid_size) else self.grid_size
            grid_size = _check_grid_size(wanted)
            manager_context[GRID_SIZE_KEY] = grid_size
        else:
            grid_size = int(saved)
        # The manager (and the grid size) saved before any worker exists.
        run.writes.flush()
        if run.repository.update_step_execution(manager) in (
            BatchStatus.STOPPING,
            BatchStatus.STOPPED,
        ):
            raise JobInterrupted(STOP_REQUESTED)
        contexts = partitioner.partition(grid_size)
        execution = run.job_execution
        again = self.allow_start_if_complete or self.step.allow_start_if_complete
        workers: list[StepExecution] = []
        for partition_name, values in contexts.items():
            name = self.worker_name(partition_name)
            last = None
            if not execution.first_of_instance:
                last = run.repository.get_last_step_execution(execution.job_instance_id, name)
            worker = StepExecution(name, execution.id)
            if last is None:
                worker.execution_context = ExecutionContext(dict(values))
            elif last.status is BatchStatus.UNKNOWN:
                raise JobRestartNotAllowed(
                    f"Cannot restart step [{name}] from UNKNOWN status: its outcome was never "
                    "saved; abandon the execution or fix the step's status first"
                )
            elif last.status is BatchStatus.COMPLETED:
                if not again:
                    log.info("Partition already complete: %s", last.summary())
                    continue
                worker.execution_context = ExecutionContext(dict(values))
            else:
                worker.execution_context = last.execution_context.copy()
            workers.append(worker)
        return workers


def aggregate(result: StepExecution, executions: Iterable[StepExecution]) -> None:
    """Spring's DefaultStepExecutionAggregator: the workers' counters summed into `result`,
    its status the worst of theirs (at least COMPLETED), its exit status and-ed with
    theirs."""
    result.status = max(result.status, BatchStatus.COMPLETED)
    for execution in executions:
        result.status = max(result.status, execution.status)
        result.exit_status = result.exit_status.and_(execution.exit_status)
        add_counts(result, execution)


def add_counts(result: StepExecution, execution: StepExecution) -> None:
    """The counters of `execution` added to `result`'s (its status left alone)."""
    result.read_count += execution.read_count
    result.write_count += execution.write_count
    result.filter_count += execution.filter_count
    result.commit_count += execution.commit_count
    result.rollback_count += execution.rollback_count
    result.read_skip_count += execution.read_skip_count
    result.process_skip_count += execution.process_skip_count
    result.write_skip_count += execution.write_skip_count


def partition_step_of(job: Job, step_name: str) -> PartitionStep:
    """The partition step of `job` whose worker `step_name` (`<workerStep>:<partition>`)
    is; LookupError if none."""
    for step in job.steps:
        if isinstance(step, PartitionStep) and step.owns(step_name):
            return step
    raise LookupError(f"job {job.name!r} has no partition step with a worker {step_name!r}")


def execute_partition(
    job: Job,
    worker: StepExecution,
    job_execution: JobExecution,
    store: JobStore,
    stop: StopSignal,
    *,
    listeners: Sequence[object] = (),
    poll_interval: float = 0.5,
    stop_poller: StopPoller | None = None,
    job_parameters: JobParameters | None = None,
) -> StepExecution:
    """Run one worker step execution of one of `job`'s partition steps (already added by
    the manager, found by its name's `<workerStep>:` prefix) to its end on this thread,
    persisting as any step does (its own transactions); marks its JOBOP_PARTITION row
    ended (`store.end_partition`). Returns the worker in its final state; raises
    ExecutionEndedElsewhere when the job execution was ended elsewhere meanwhile (its row
    is marked ended all the same)."""
    step = partition_step_of(job, worker.step_name)
    if job_parameters is None:
        job_parameters = job.parameters_for_code(job_execution.job_parameters)
    return _run_worker(
        step.step,
        worker,
        job_execution,
        store,
        stop,
        job_name=job.name,
        listeners=listeners,
        poll_interval=poll_interval,
        stop_poller=stop_poller,
        job_parameters=job_parameters,
    )


def _run_worker(
    step: Step,
    worker: StepExecution,
    job_execution: JobExecution,
    store: JobStore,
    stop: StopSignal,
    *,
    job_name: str,
    listeners: Sequence[object],
    poll_interval: float,
    stop_poller: StopPoller | None,
    job_parameters: JobParameters | None,
) -> StepExecution:
    run = StepRun(
        store,
        WriteThrough(store, job_execution),
        job_execution,
        stop,
        poll_interval,
        stop_poller=stop_poller,
        listeners=tuple(listeners),
        job_parameters=job_parameters,
    )
    with logcontext.job_context(job_name, job_execution.id):
        try:
            worker.status = BatchStatus.STARTED
            worker.start_time = utcnow()
            try:
                # Spring's AbstractStep saves STARTED before the step's work begins.
                job_status = store.update_step_execution(worker)
            except ExecutionEndedElsewhere:
                raise
            except Exception:
                mark_unknown(worker)
                log.error("Could not start partition %s", worker.step_name, exc_info=True)
                return worker
            if job_status in (BatchStatus.STOPPING, BatchStatus.STOPPED):
                stop_before_start(worker)
                store.update_step_execution(worker)
                return worker
            try:
                step.execute(worker, run)
            except ExecutionEndedElsewhere:
                raise
            except Exception:
                # The end could not be saved: the worker reads UNKNOWN (Step.execute).
                log.debug("Partition %s ended unsaved", worker.step_name, exc_info=True)
            return worker
        finally:
            _end_row(store, worker)


def stop_before_start(worker: StepExecution) -> None:
    worker.status = BatchStatus.STOPPED
    worker.exit_status = ExitStatus.STOPPED.add_exit_description(
        f"JobInterrupted: {STOP_REQUESTED}"
    )
    worker.end_time = utcnow()


def _end_row(store: JobStore, worker: StepExecution) -> None:
    try:
        store.end_partition(worker)
    except Exception:
        log.error("Could not mark partition %s ended", worker.step_name, exc_info=True)
