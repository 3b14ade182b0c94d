"""Steps: the lifecycle every step shares (Spring's AbstractStep) and the TaskletStep.

A step runs on the job's worker thread. Components that hold per-execution state (readers,
writers, tasklets that read job parameters) are declared with `step_scope(factory)` and
built anew for every step execution, so one Job definition serves concurrent executions.
"""

from __future__ import annotations

import contextlib
import enum
import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from jobop.domain import (
    BatchStatus,
    ExecutionContext,
    ExecutionEndedElsewhere,
    ExitStatus,
    JobExecution,
    JobInterrupted,
    JobParameters,
    StepExecution,
    messages,
    storable_exit_message,
    storable_exit_status,
    utcnow,
)
from jobop.domain.messages import MessageCode

from . import logcontext
from .item import ItemStream, accepts, is_stream
from .listeners import STEP_HOOKS, StepHooks, call_after_step, check_listeners, is_listener

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from .partition import PartitionHandler
    from .store import ChunkTransaction, JobStore, UnitOfWork

log = logging.getLogger(__name__)

T = TypeVar("T")

# Step and job names are stored in VARCHAR(100) columns.
NAME_LENGTH = 100

STOP_REQUESTED = "stop requested"
STOP_BEFORE_START = "stop requested before the job started"


class StopSignal:
    """The in-process stop flag of one job execution, with callbacks (a tasklet's stop())."""

    __slots__ = ("_callbacks", "_event", "_lock")

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], object]] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._event.wait(timeout)

    def set(self) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._event.set()
            callbacks = list(self._callbacks)
        for callback in callbacks:
            _call_stop(callback)

    def on_set(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call `callback` when the signal is set (now, if it already is); returns an
        unsubscribe function."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._callbacks.append(callback)
        if already:
            _call_stop(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)

        return unsubscribe


def _call_stop(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:
        log.exception("stop callback %r failed", callback)


@dataclass(slots=True, eq=False)
class StepContext:
    """What step-scoped factories receive: the executions the step runs in."""

    step_execution: StepExecution
    job_execution: JobExecution
    stop_signal: StopSignal = field(default_factory=StopSignal)
    # The parameters job code reads (the declared defaults filled in); None: the stored.
    parameters: JobParameters | None = None

    @property
    def job_parameters(self) -> JobParameters:
        if self.parameters is not None:
            return self.parameters
        return self.job_execution.job_parameters

    @property
    def job_name(self) -> str:
        return self.job_execution.job_name

    @property
    def step_name(self) -> str:
        return self.step_execution.step_name

    @property
    def execution_context(self) -> ExecutionContext:
        """The step's execution context (saved with every chunk)."""
        return self.step_execution.execution_context

    @property
    def job_execution_context(self) -> ExecutionContext:
        return self.job_execution.execution_context

    @property
    def stop_requested(self) -> bool:
        return self.stop_signal.is_set()


@dataclass(slots=True, eq=False)
class ChunkContext:
    """What a tasklet (and a chunk listener) gets for each chunk of its step.

    `connection` is the chunk transaction's connection while a tasklet call runs, or while
    a chunk step's chunk transaction is open (its writer and skip listeners are called
    then); None outside it. One ChunkContext serves all the chunks of a step execution: a
    listener may keep the one its `before_chunk` gets. `attributes` live as long as the
    step execution.
    """

    step_context: StepContext
    attributes: dict[str, Any] = field(default_factory=dict)
    # Begins the chunk's transaction on first use: a tasklet that never touches the database
    # holds no lock while it works (SQLite has one write lock for everybody, stop requests
    # included).
    connect: Callable[[], Connection] | None = field(default=None, repr=False)

    @property
    def connection(self) -> Connection | None:
        return None if self.connect is None else self.connect()

    @property
    def step_execution(self) -> StepExecution:
        return self.step_context.step_execution

    @property
    def job_execution(self) -> JobExecution:
        return self.step_context.job_execution

    @property
    def job_parameters(self) -> JobParameters:
        return self.step_context.job_parameters

    @property
    def stop_requested(self) -> bool:
        return self.step_context.stop_signal.is_set()


class StepScoped(Generic[T]):
    """A component built by `factory` for each step execution (Spring's @StepScope)."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[StepContext], T]) -> None:
        if not callable(factory):
            raise TypeError("step_scope needs a callable taking the StepContext")
        self.factory = factory

    def __repr__(self) -> str:
        return f"step_scope({self.factory!r})"


def step_scope(factory: Callable[[StepContext], T]) -> StepScoped[T]:
    """Declare a component that is built per step execution, e.g.
    `reader=step_scope(lambda ctx: RangeReader(ctx.job_parameters.long("items")))`."""
    return StepScoped(factory)


def resolve(component: T | StepScoped[T], context: StepContext) -> T:
    if isinstance(component, StepScoped):
        built: T = component.factory(context)
        return built
    return component


class RepeatStatus(enum.Enum):
    CONTINUABLE = "CONTINUABLE"
    FINISHED = "FINISHED"


@dataclass(slots=True)
class StepContribution:
    """What one tasklet call (or chunk) adds to its step's counters, applied on commit."""

    read_count: int = 0
    write_count: int = 0
    filter_count: int = 0
    read_skip_count: int = 0
    process_skip_count: int = 0
    write_skip_count: int = 0
    exit_status: ExitStatus = ExitStatus.EXECUTING

    def apply_to(self, step: StepExecution) -> None:
        step.read_count += self.read_count
        step.write_count += self.write_count
        step.filter_count += self.filter_count
        step.read_skip_count += self.read_skip_count
        step.process_skip_count += self.process_skip_count
        step.write_skip_count += self.write_skip_count
        step.exit_status = step.exit_status.and_(self.exit_status)


@dataclass(slots=True)
class StepRun:
    """What the job runner hands a step: where to persist and how to notice a stop."""

    repository: JobStore
    # The run's unit of work: where the step's end is saved (chunks commit on their own).
    writes: UnitOfWork
    job_execution: JobExecution
    stop: StopSignal
    # How often a stoppable tasklet's watcher polls the job status (another process's stop).
    poll_interval: float = 0.5
    # The runner's shared poller of those statuses (None: one is made for this run).
    stop_poller: StopPoller | None = None
    # Listeners of every step the runner runs (metrics), after the step's own.
    listeners: tuple[object, ...] = ()
    # The job parameters as job code reads them (Job.parameters_for_code); None: stored.
    job_parameters: JobParameters | None = None
    # Where partition steps without a handler of their own run their partitions (None:
    # on threads of this process).
    partition_handler: PartitionHandler | None = None


class ExecutionSnapshot:
    """A step execution's persisted state before a chunk, to restore if the chunk's commit
    fails: its counters, version and execution context must again match the database."""

    __slots__ = ("context", "counters", "version")

    def __init__(self, step: StepExecution, with_context: bool) -> None:
        self.counters = (
            step.read_count,
            step.write_count,
            step.filter_count,
            step.commit_count,
            step.rollback_count,
            step.read_skip_count,
            step.process_skip_count,
            step.write_skip_count,
            step.exit_status,
        )
        self.version = step.version
        self.context: ExecutionContext | None = None
        if with_context:
            self.context = step.execution_context.copy()

    def restore(self, step: StepExecution) -> None:
        (
            step.read_count,
            step.write_count,
            step.filter_count,
            step.commit_count,
            step.rollback_count,
            step.read_skip_count,
            step.process_skip_count,
            step.write_skip_count,
            step.exit_status,
        ) = self.counters
        step.version = self.version
        if self.context is not None:
            step.execution_context = self.context


def describe(error: BaseException) -> str:
    """`Type: message` of an exception, whatever its `__str__` does."""
    return traceback.format_exception_only(error)[-1].rstrip()


def exit_status_for(error: BaseException) -> ExitStatus:
    """Spring's default exit status for a step or job that ended with `error`."""
    if isinstance(error, JobInterrupted):
        return ExitStatus.STOPPED.add_exit_description(f"{type(error).__name__}: {error}")
    # As Spring writes a stack trace: the exception first, where it was raised after.
    text = describe(error) + "\n" + "".join(traceback.format_exception(error)).rstrip()
    return ExitStatus.FAILED.add_exit_description(storable_exit_message(text))


def fail_if_unstorable(
    context: ExecutionContext, status: BatchStatus, exit_status: ExitStatus, owner: str
) -> tuple[BatchStatus, ExitStatus]:
    """The status and exit status to save at the end of `owner` (a step or job): FAILED,
    saying why, if its context holds values that no Java type holds (changed in place
    after they were put), which are then dropped so that the rest of it and the end can
    be saved. As they were, otherwise."""
    dropped = context.drop_unstorable() if context.dirty else []
    if not dropped:
        return status, exit_status
    why = f"the execution context of {owner} cannot hold: {'; '.join(dropped)}"
    log.error("%s; saved without them", why)
    failed = ExitStatus.FAILED.add_exit_description(f"UnstorableContext: {why}")
    return max(status, BatchStatus.FAILED), exit_status.and_(failed)


class Step:
    """A named unit of work with Spring's restart rules and listener lifecycle.

    `allow_start_if_complete`: run again on restart even after it COMPLETED.
    `start_limit`: how many executions of this step one job instance may have (None: no
    limit); one more fails the job with StartLimitExceeded.
    """

    def __init__(
        self,
        name: str,
        *,
        listeners: Sequence[object] = (),
        allow_start_if_complete: bool = False,
        start_limit: int | None = None,
    ) -> None:
        if not name or len(name) > NAME_LENGTH:
            raise ValueError(f"a step name needs 1 to {NAME_LENGTH} characters: {name!r}")
        if start_limit is not None and start_limit < 1:
            raise ValueError("start_limit must be at least 1 (or None for no limit)")
        self.name = name
        self.listeners = tuple(listeners)
        check_listeners(f"step {name!r}", self.listeners, STEP_HOOKS)
        self.allow_start_if_complete = allow_start_if_complete
        self.start_limit = start_limit
        # The hooks of this step's listeners and the last run's (the runner's, the same
        # tuple for every run), sorted once rather than at each execution.
        self._hooks: tuple[tuple[object, ...], tuple[object, ...], StepHooks] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def _listener_hooks(self, run_listeners: tuple[object, ...]) -> StepHooks:
        cached = self._hooks
        if cached is not None and cached[0] is self.listeners and cached[1] is run_listeners:
            return cached[2]
        hooks = StepHooks([*self.listeners, *run_listeners])
        self._hooks = (self.listeners, run_listeners, hooks)
        return hooks

    def components(self, context: StepContext) -> list[object]:
        """Build this execution's components (readers, writers, tasklet...), in the order
        `do_execute` expects them; None for an absent optional one."""
        raise NotImplementedError

    def do_execute(
        self,
        step_execution: StepExecution,
        context: StepContext,
        components: list[object],
        hooks: StepHooks,
        streams: list[ItemStream],
        run: StepRun,
    ) -> None:
        """The step's work; raises JobInterrupted to stop, anything else to fail."""
        raise NotImplementedError

    def execute(self, step_execution: StepExecution, run: StepRun) -> BatchStatus:
        """Run the step to its end and persist it; returns the job's status as the final
        update read it (STOPPING when a stop was requested meanwhile)."""
        # (A partition's records name the partition: `<workerStep>:<partitionName>`.)
        with logcontext.step_context(step_execution.step_name):
            return self._execute(step_execution, run)

    def _execute(self, step_execution: StepExecution, run: StepRun) -> BatchStatus:
        context = StepContext(step_execution, run.job_execution, run.stop, run.job_parameters)
        hooks = self._listener_hooks(run.listeners)
        opened: list[ItemStream] = []
        exit_status = ExitStatus.EXECUTING
        interrupted: BaseException | None = None
        ended: ExecutionEndedElsewhere | None = None
        log.info("Executing step: [%s]", self.name, extra=MessageCode.STEP_STARTED.extra)
        started = utcnow()
        try:
            components = self.components(context)
            unique = _unique(components)
            extra = [c for c in unique if is_listener(c)]
            if extra:
                hooks = StepHooks([*self.listeners, *extra, *run.listeners])
            streams: list[ItemStream] = [c for c in unique if is_stream(c)]  # type: ignore[misc]
            for hook in hooks.before_step:
                hook(step_execution)
            for stream in streams:
                stream.open(step_execution.execution_context)
                opened.append(stream)
            self.do_execute(step_execution, context, components, hooks, streams, run)
            exit_status = ExitStatus.COMPLETED.and_(step_execution.exit_status)
            step_execution.status = BatchStatus.COMPLETED
        except ExecutionEndedElsewhere as error:
            ended = error
        except JobInterrupted as error:
            step_execution.status = BatchStatus.STOPPED
            exit_status = exit_status.and_(exit_status_for(error))
            log.info("Step [%s] stopped: %s", self.name, error)
        except Exception as error:
            step_execution.status = BatchStatus.FAILED
            exit_status = exit_status.and_(exit_status_for(error))
            log.error("Encountered an error executing step %s", self.name, exc_info=True)
        except BaseException as error:
            # KeyboardInterrupt, SystemExit: save the step as FAILED, then let it propagate.
            step_execution.status = BatchStatus.FAILED
            exit_status = exit_status.and_(exit_status_for(error))
            interrupted = error
        finally:
            close_error = _close(opened)
            if close_error is not None and step_execution.status is BatchStatus.COMPLETED:
                # A stream that cannot close (e.g. flush its file) fails the step.
                step_execution.status = BatchStatus.FAILED
                exit_status = exit_status.and_(exit_status_for(close_error))
        if ended is not None:
            # Abandoned or recovered meanwhile: the repository says how it ended.
            log.info("Step [%s] ends here: %s", self.name, ended)
            raise ended
        step_execution.exit_status = exit_status.and_(step_execution.exit_status)
        step_execution.status, exit_status = fail_if_unstorable(
            step_execution.execution_context,
            step_execution.status,
            call_after_step(hooks.after_step, step_execution),
            f"step {self.name}",
        )
        step_execution.exit_status = storable_exit_status(exit_status)
        step_execution.end_time = utcnow()
        try:
            job_status = run.writes.update_step_execution(step_execution)
        except Exception:
            # Spring's rule: the outcome could not be saved, so nobody knows it.
            mark_unknown(step_execution)
            log.error("Could not save the end of step %s", self.name, exc_info=True)
            raise
        elapsed = step_execution.end_time - (step_execution.start_time or started)
        log.info(
            "Step: [%s] executed in %.3fs with status %s and exit code %s",
            self.name,
            elapsed.total_seconds(),
            step_execution.status.value,
            step_execution.exit_status.exit_code,
            extra=messages.step_ended(step_execution.status.value).extra,
        )
        if interrupted is not None:
            raise interrupted
        return job_status


def mark_unknown(step_execution: StepExecution) -> None:
    """A step whose end could not be saved: nobody knows its outcome."""
    step_execution.status = BatchStatus.UNKNOWN
    step_execution.exit_status = step_execution.exit_status.and_(ExitStatus.UNKNOWN)


def _unique(components: list[object]) -> list[object]:
    seen: set[int] = set()
    unique: list[object] = []
    for component in components:
        if component is not None and id(component) not in seen:
            seen.add(id(component))
            unique.append(component)
    return unique


def _close(streams: list[ItemStream]) -> Exception | None:
    first: Exception | None = None
    for stream in reversed(streams):
        try:
            stream.close()
        except Exception as error:
            log.error("Could not close %r", stream, exc_info=True)
            first = first or error
    return first


Tasklet = Callable[[StepContribution, ChunkContext], "RepeatStatus | None"]
"""Called repeatedly, each call in its own transaction, until it returns FINISHED (or None).

A tasklet object with a `stop()` method is stoppable: stop() is called from another thread
when a stop is requested, and the tasklet should return soon after.
"""


def check_tasklet(step: str, tasklet: object) -> None:
    """TypeError, naming the step and the tasklet, for one that cannot be called as
    tasklet(contribution, chunk_context)."""
    usage = "a tasklet is called as tasklet(contribution, chunk_context)"
    if inspect.isclass(tasklet):
        raise TypeError(
            f"step {step!r}: tasklet {tasklet!r} is a class: pass an instance of it, or "
            f"step_scope(lambda context: {tasklet.__name__}(...)); {usage}"
        )
    if not callable(tasklet):
        raise TypeError(f"step {step!r}: tasklet {tasklet!r} is not callable; {usage}")
    if not accepts(tasklet, ("contribution", "chunk_context")):
        raise TypeError(f"step {step!r}: tasklet {tasklet!r} cannot take two arguments; {usage}")


class TaskletStep(Step):
    """A step that calls a tasklet until it is finished."""

    def __init__(
        self,
        name: str,
        tasklet: Tasklet | StepScoped[Tasklet],
        *,
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
        if not isinstance(tasklet, StepScoped):
            check_tasklet(name, tasklet)
        self.tasklet = tasklet

    def components(self, context: StepContext) -> list[object]:
        tasklet = resolve(self.tasklet, context)
        check_tasklet(self.name, tasklet)
        return [tasklet]

    def do_execute(
        self,
        step_execution: StepExecution,
        context: StepContext,
        components: list[object],
        hooks: StepHooks,
        streams: list[ItemStream],
        run: StepRun,
    ) -> None:
        tasklet: Tasklet = components[0]  # type: ignore[assignment]
        stop = getattr(tasklet, "stop", None)
        if not callable(stop):
            self._repeat(tasklet, step_execution, context, hooks, streams, run)
            return
        # A stoppable tasklet may run long between commits: watch for a stop requested by
        # another process (one shared poller for all of them), and pass any stop on to the
        # tasklet at once.
        unsubscribe = run.stop.on_set(stop)
        poller = run.stop_poller
        if poller is None:
            poller = run.stop_poller = StopPoller(run.repository, run.poll_interval)
        unwatch = poller.watch(run.job_execution.id, run.stop)
        try:
            self._repeat(tasklet, step_execution, context, hooks, streams, run)
        finally:
            unwatch()
            unsubscribe()

    def _repeat(
        self,
        tasklet: Tasklet,
        step_execution: StepExecution,
        context: StepContext,
        hooks: StepHooks,
        streams: list[ItemStream],
        run: StepRun,
    ) -> None:
        repository = run.repository
        chunk_context = ChunkContext(context)
        job_status: BatchStatus = BatchStatus.STARTED
        while True:
            if run.stop.is_set() or job_status is BatchStatus.STOPPING:
                raise JobInterrupted(STOP_REQUESTED)
            for hook in hooks.before_chunk:
                hook(chunk_context)
            contribution = StepContribution()
            snapshot = ExecutionSnapshot(step_execution, with_context=True)
            try:
                with ExitStack() as stack:
                    transaction = _LazyTransaction(repository, step_execution, stack)
                    chunk_context.connect = transaction.connection
                    result = tasklet(contribution, chunk_context)
                    contribution.apply_to(step_execution)
                    step_execution.commit_count += 1
                    for stream in streams:
                        stream.update(step_execution.execution_context)
                finished = result is None or result is RepeatStatus.FINISHED
                job_status = transaction.commit(run.writes if finished else None)
            except Exception as error:
                snapshot.restore(step_execution)
                # Spring applies the contribution even when the chunk rolls back.
                contribution.apply_to(step_execution)
                step_execution.rollback_count += 1
                for hook in hooks.after_chunk_error:
                    hook(chunk_context, error)
                raise
            finally:
                chunk_context.connect = None
            for hook in hooks.after_chunk:
                hook(chunk_context)
            # Checked even after FINISHED: a stopped tasklet may report FINISHED.
            if run.stop.is_set() or job_status is BatchStatus.STOPPING:
                raise JobInterrupted(STOP_REQUESTED)
            if result is None or result is RepeatStatus.FINISHED:
                return


class _LazyTransaction:
    """The chunk transaction of one tasklet call, begun on first use within `stack`."""

    __slots__ = ("_repository", "_stack", "_step", "_tx")

    def __init__(self, repository: JobStore, step: StepExecution, stack: ExitStack) -> None:
        self._repository = repository
        self._step = step
        self._stack = stack
        self._tx: ChunkTransaction | None = None

    def connection(self) -> Connection:
        if self._tx is None:
            self._tx = self._stack.enter_context(self._repository.chunk_transaction(self._step))
        return self._tx.connection

    def commit(self, last: UnitOfWork | None = None) -> BatchStatus:
        """Save the step (after `stack` closed) and return the job's status as read then.

        A tasklet that never asked for the connection wrote nothing of ours: its counters
        and context are saved alone, in one statement on PostgreSQL, or, for its last
        call (`last`: the run's writes), handed to the unit of work to save with the
        step's end."""
        if self._tx is None:
            if last is not None:
                return last.save_last_commit(self._step)
            return self._repository.update_step_execution(self._step)
        return self._tx.job_status or BatchStatus.UNKNOWN


class StopPoller:
    """Notices stops requested by another process for the executions that run stoppable
    tasklets here: one daemon thread polls all their statuses in one query every
    `interval` seconds and sets the StopSignal of each one found STOPPING or STOPPED. The
    thread starts with the first watched execution and ends after `idle_exit` seconds
    without any."""

    def __init__(
        self, repository: JobStore, interval: float = 0.5, *, idle_exit: float = 5.0
    ) -> None:
        self.repository = repository
        self.interval = interval
        self.idle_exit = idle_exit
        self._cond = threading.Condition()
        # execution id -> its signals (normally one; a list keeps nested runs apart)
        self._watched: dict[int, list[StopSignal]] = {}
        self._thread: threading.Thread | None = None
        self._closed = False

    def watch(self, execution_id: int, signal: StopSignal) -> Callable[[], None]:
        """Watch the execution until the returned function is called."""
        with self._cond:
            self._watched.setdefault(execution_id, []).append(signal)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop,
                    name="jobop-stop-poller",
                    daemon=True,
                )
                self._thread.start()
            else:
                self._cond.notify()

        def unwatch() -> None:
            with self._cond:
                signals = self._watched.get(execution_id)
                if signals is not None:
                    with contextlib.suppress(ValueError):
                        signals.remove(signal)
                    if not signals:
                        del self._watched[execution_id]

        return unwatch

    def close(self, timeout: float = 5.0) -> None:
        """End the thread as soon as nothing is watched, instead of after `idle_exit`."""
        with self._cond:
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._watched:
                    if not self._closed:
                        self._cond.wait(self.idle_exit)
                    if not self._watched:
                        self._thread = None
                        return
            time.sleep(self.interval)
            with self._cond:
                ids = list(self._watched)
            if not ids:
                continue
            try:
                statuses = self.repository.get_job_statuses(ids)
            except Exception:
                log.warning("Could not poll the job status", exc_info=True)
                continue
            for execution_id, status in statuses.items():
                if status not in (BatchStatus.STOPPING, BatchStatus.STOPPED):
                    continue
                with self._cond:
                    signals = list(self._watched.get(execution_id, ()))
                for signal in signals:
                    if not signal.is_set():
                        log.info("Stop requested: stopping the tasklet of %s", execution_id)
                        signal.set()
