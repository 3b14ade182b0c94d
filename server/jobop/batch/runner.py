"""Running jobs: JobRunner runs a created execution to its end; JobLauncher creates and runs.

The runner follows Spring Batch's SimpleJobLauncher/AbstractJob/SimpleStepHandler: mark
STARTED, call the job listeners, walk the flow (skipping completed and abandoned steps,
enforcing start limits, resuming an unfinished step from its saved context), then save the
final status. A stop is noticed at chunk boundaries through the job status each chunk
commit returns, or at once through the in-process StopSignal (`request_stop`).

Its writes are Spring's plain calls, in Spring's order, made to the run's unit of work
(`repository.unit_of_work`): the repository decides which of them it saves together.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from jobop.domain import (
    BatchStatus,
    ConcurrentModification,
    ExecutionEndedElsewhere,
    ExitStatus,
    JobExecution,
    JobExecutionAlreadyRunning,
    JobInterrupted,
    JobParameters,
    JobParametersNotFound,
    JobRestartNotAllowed,
    StartLimitExceeded,
    StepExecution,
    messages,
    storable_exit_status,
    utcnow,
)
from jobop.domain.messages import MessageCode

from . import logcontext
from .job import End, Job
from .listeners import hooks
from .owner import OWNER_KEY, current_owner
from .step import (
    STOP_BEFORE_START,
    STOP_REQUESTED,
    Step,
    StepRun,
    StopPoller,
    StopSignal,
    describe,
    exit_status_for,
    fail_if_unstorable,
)

if TYPE_CHECKING:
    from .partition import PartitionHandler
    from .store import JobExplorerView, JobStore, UnitOfWork

log = logging.getLogger(__name__)

NOOP_DESCRIPTION = "All steps already completed or no steps configured for this job."


class JobRunner:
    """Runs job executions on the calling thread; thread-safe, one per process is enough.

    `owner` is recorded in each execution's job ExecutionContext under `jobop.owner`
    (default: this host, pid and process start time) so that a dead owner can be told
    apart from a live one. `step_listeners` listen to every step of every job it runs.
    """

    def __init__(
        self,
        repository: JobStore,
        *,
        owner: Mapping[str, Any] | None = None,
        poll_interval: float = 0.5,
        step_listeners: Sequence[object] = (),
        partition_handler: PartitionHandler | None = None,
    ) -> None:
        self.repository = repository
        self.step_listeners = tuple(step_listeners)
        # Where partition steps run their partitions (None: threads of this process).
        self.partition_handler = partition_handler
        self.owner = dict(owner) if owner is not None else current_owner()
        self.poll_interval = poll_interval
        self._running: dict[int, StopSignal] = {}
        self._lock = threading.Lock()
        self._stop_poller = StopPoller(repository, poll_interval)
        logcontext.install()

    def close(self) -> None:
        """Release the runner's background thread (the stop poller) once idle."""
        self._stop_poller.close()

    def run(
        self, job: Job, execution: JobExecution, *, stop_signal: StopSignal | None = None
    ) -> JobExecution:
        """Run a STARTING execution (from `repository.create_job_execution`) to its end.

        Returns the execution in its final state. If it was stopped or otherwise finished
        before it could start, returns it as the repository has it. `stop_signal` lets the
        caller request a stop before the execution id is known (e.g. a signal handler).
        """
        if execution.status is not BatchStatus.STARTING:
            raise ValueError(
                f"job execution {execution.id} is {execution.status.value}, not STARTING"
            )
        signal = stop_signal or StopSignal()
        with self._lock:
            if execution.id in self._running:
                raise JobExecutionAlreadyRunning(f"job execution {execution.id} is running")
            self._running[execution.id] = signal
        try:
            with logcontext.job_context(job.name, execution.id):
                return self._run(job, execution, signal)
        finally:
            with self._lock:
                del self._running[execution.id]

    def request_stop(self, execution_id: int) -> bool:
        """In-process fast path of a stop: the execution's steps stop at their next chunk
        boundary and a running stoppable tasklet gets `stop()` now. Persisting STOPPING
        (`repository.request_stop`) is the caller's business. False if it does not run here.
        """
        with self._lock:
            signal = self._running.get(execution_id)
        if signal is None:
            return False
        signal.set()
        return True

    def request_stop_all(self) -> list[int]:
        with self._lock:
            running = list(self._running.items())
        for _, signal in running:
            signal.set()
        return [execution_id for execution_id, _ in running]

    def running_execution_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._running)

    def _run(self, job: Job, execution: JobExecution, signal: StopSignal) -> JobExecution:
        # The repository decides which of these writes it saves together (see its
        # unit_of_work); here they are Spring's, in Spring's order.
        writes = self.repository.unit_of_work(execution, job)
        execution.start_time = utcnow()
        execution.status = BatchStatus.STARTED
        execution.execution_context[OWNER_KEY] = self.owner
        try:
            writes.update_job_execution(execution)
        except ExecutionEndedElsewhere as error:
            return self._ended_elsewhere(job, execution, error)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "Job: [%s] launched with the following parameters: [%s]",
                job.name,
                execution.job_parameters.masked(),
                extra=MessageCode.JOB_STARTED.extra,
            )
        started = time.monotonic()
        steps_before = len(execution.step_executions)
        failure: BaseException | None = None
        run = StepRun(
            self.repository,
            writes,
            execution,
            signal,
            self.poll_interval,
            stop_poller=self._stop_poller,
            listeners=self.step_listeners,
            partition_handler=self.partition_handler,
        )
        try:
            before = hooks(job.listeners, "before_job")
            if before:
                writes.flush()  # the listeners see the execution as saved
            if signal.is_set() or execution.status is BatchStatus.STOPPING:
                raise JobInterrupted(STOP_BEFORE_START)
            run.job_parameters = job.parameters_for_code(execution.job_parameters)
            if before:
                with _as_job_code_sees(execution, run.job_parameters) as seen:
                    for hook in before:
                        hook(seen)
                if execution.execution_context.dirty:
                    writes.update_job_execution(execution)
            self._walk(job, execution, run)
        except ExecutionEndedElsewhere as error:
            return self._ended_elsewhere(job, execution, error)
        except JobInterrupted as error:
            execution.status = BatchStatus.STOPPED
            execution.exit_status = exit_status_for(error)
            log.info("Job %s stopped: %s", job.name, error)
        except Exception as error:
            execution.status = BatchStatus.FAILED
            execution.exit_status = exit_status_for(error)
            log.error("Encountered an error executing job %s", job.name, exc_info=True)
        except BaseException as error:
            # KeyboardInterrupt, SystemExit: record the end, then let it propagate.
            execution.status = BatchStatus.FAILED
            execution.exit_status = exit_status_for(error)
            failure = error
        if execution.status.is_running:
            # A flow never ends in a running state; never leave one behind.
            execution.status = BatchStatus.FAILED
        if (
            execution.status <= BatchStatus.STOPPED
            and len(execution.step_executions) == steps_before
        ):
            execution.exit_status = execution.exit_status.and_(
                ExitStatus.NOOP.add_exit_description(NOOP_DESCRIPTION)
            )
        final = self._finish(job, execution, started, writes, run.job_parameters)
        if failure is not None:
            raise failure
        return final

    def _finish(
        self,
        job: Job,
        execution: JobExecution,
        started: float,
        writes: UnitOfWork,
        parameters: JobParameters | None,
    ) -> JobExecution:
        execution.end_time = utcnow()
        try:
            after = hooks(job.listeners, "after_job")
            if after:
                writes.flush()  # the listeners see the execution as saved
            if after:
                with _as_job_code_sees(execution, parameters) as seen:
                    for hook in reversed(after):
                        try:
                            hook(seen)
                        except Exception:
                            log.exception("after_job listener %r failed", hook)
            execution.status, exit_status = fail_if_unstorable(
                execution.execution_context,
                execution.status,
                execution.exit_status,
                f"job {job.name}",
            )
            execution.exit_status = storable_exit_status(exit_status)
            writes.update_job_execution(execution)
        except ExecutionEndedElsewhere as error:
            return self._ended_elsewhere(job, execution, error)
        except ConcurrentModification:
            log.error("Job execution %s was changed by someone else meanwhile", execution.id)
            current = self.repository.explorer.get_job_execution(execution.id)
            if current is not None:
                execution = current
        except Exception as error:
            # Refused for a reason nobody foresaw: no thread runs it any more, so it is
            # written FAILED anew, alone (if that fails too, the caller keeps trying).
            log.error("Could not save the end of job execution %s", execution.id, exc_info=True)
            execution = self._fail_running(execution, error)
        else:
            if any(step.status is BatchStatus.UNKNOWN for step in execution.step_executions):
                # A step whose end could not be saved still reads STARTED.
                execution = self._fail_running(execution, None)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "Job: [%s] completed with the following parameters: [%s] and the following "
                "status: [%s] and exit code [%s] in %.3fs",
                job.name,
                execution.job_parameters.masked(),
                execution.status.value,
                execution.exit_status.exit_code,
                time.monotonic() - started,
                extra=messages.job_ended(execution.status.value).extra,
            )
        return execution

    def _fail_running(self, execution: JobExecution, error: Exception | None) -> JobExecution:
        """What `repository.fail_running` leaves of an execution whose end (`error`: the
        job's; None: a step's) could not be saved."""
        if error is None:
            what = "the end of a step could not be saved (see the job's exit message)"
        else:
            what = f"its end could not be saved ({describe(error)})"
        message = (
            f"{what}; it ended {execution.status.value} with exit code "
            f"{execution.exit_status.exit_code}: {execution.exit_status.exit_description}"
        )
        return self.repository.fail_running(execution.id, message)

    def _ended_elsewhere(
        self, job: Job, execution: JobExecution, error: ExecutionEndedElsewhere
    ) -> JobExecution:
        """Another caller ended the execution while it ran (abandon, recover): an expected
        race, so one line, and the execution as the repository has it."""
        log.info(
            "Job %s: execution %s was %s elsewhere; its run here ends",
            job.name,
            execution.id,
            error.status,
            extra=messages.job_ended(error.status).extra,
        )
        current = self.repository.explorer.get_job_execution(execution.id)
        return current if current is not None else execution

    def _walk(self, job: Job, execution: JobExecution, run: StepRun) -> None:
        step = job.steps[0]
        job_status = BatchStatus.STARTED
        while True:
            step_execution, saved = self._handle_step(job, step, execution, run)
            if saved is not None:  # it ran now, and its end read the job's status
                job_status = saved
                if step_execution.status in (BatchStatus.STOPPED, BatchStatus.STOPPING):
                    execution.status = BatchStatus.STOPPED
                    execution.exit_status = step_execution.exit_status
                    return
            if saved is None and step_execution.status is BatchStatus.ABANDONED:
                # ABANDONED means "skip this step on restart": go on as if it completed.
                target = job.next_target(step, BatchStatus.COMPLETED, "COMPLETED")
            else:
                target = job.next_target(
                    step, step_execution.status, step_execution.exit_status.exit_code
                )
            if isinstance(target, End):
                execution.status = target.status
                execution.exit_status = ExitStatus(
                    target.exit_code, step_execution.exit_status.exit_description
                )
                return
            if run.stop.is_set() or job_status in (BatchStatus.STOPPING, BatchStatus.STOPPED):
                raise JobInterrupted(STOP_REQUESTED)
            step = job.step(target)

    def _handle_step(
        self, job: Job, step: Step, execution: JobExecution, run: StepRun
    ) -> tuple[StepExecution, BatchStatus | None]:
        """Run `step` unless the restart rules skip it; returns its (last) execution and,
        if it ran now, the job's status as its end was saved (None: skipped)."""
        instance_id = execution.job_instance_id
        last: StepExecution | None = None
        if not execution.first_of_instance:
            # (A first execution of its instance has no earlier step executions.)
            last = self.repository.get_last_step_execution(instance_id, step.name)
            if last is not None and last.job_execution_id == execution.id:
                last = None  # a flow looping back to a step runs it afresh
        if last is not None:
            if last.status is BatchStatus.UNKNOWN:
                raise JobRestartNotAllowed(
                    f"Cannot restart step [{step.name}] from UNKNOWN status: its outcome "
                    "was never saved; abandon the execution or fix the step's status first"
                )
            if (
                last.status is BatchStatus.COMPLETED and not step.allow_start_if_complete
            ) or last.status is BatchStatus.ABANDONED:
                log.info(
                    "Step already complete or not restartable, so no action to execute: %s",
                    last.summary(),
                )
                return last, None
        if step.start_limit is not None:
            if execution.first_of_instance:
                count = sum(1 for s in execution.step_executions if s.step_name == step.name)
            else:
                count = self.repository.count_step_executions(instance_id, step.name)
            if count >= step.start_limit:
                raise StartLimitExceeded(
                    f"Maximum start limit exceeded for step: {step.name} "
                    f"StartMax: {step.start_limit}"
                )
        step_execution = StepExecution(step.name, execution.id)
        if last is not None and last.status is not BatchStatus.COMPLETED:
            # Resume where the unfinished step left off (readers jump to their position).
            step_execution.execution_context = last.execution_context.copy()
        step_execution.status = BatchStatus.STARTED
        step_execution.start_time = utcnow()
        run.writes.add_step_execution(step_execution)
        return step_execution, step.execute(step_execution, run)


@contextmanager
def _as_job_code_sees(
    execution: JobExecution, parameters: JobParameters | None
) -> Iterator[JobExecution]:
    """The execution as job listeners get it: its parameters with the declared defaults
    (`parameters`; None: the stored ones), everything else the execution's own. The
    execution itself keeps the stored parameters (events and the API show them), so the
    listeners get a copy whose changes (exit status, context) are taken back after."""
    if parameters is None or parameters is execution.job_parameters:
        yield execution
        return
    seen = dataclasses.replace(execution, job_parameters=parameters)
    try:
        yield seen
    finally:
        for field in dataclasses.fields(JobExecution):
            if field.name != "job_parameters":
                setattr(execution, field.name, getattr(seen, field.name))


class JobLauncher:
    """Validate, create the execution (JobLauncher.run semantics), and run it here."""

    def __init__(
        self,
        repository: JobStore,
        runner: JobRunner | None = None,
        *,
        node_id: str | None = None,
    ) -> None:
        self.repository = repository
        self.runner = runner or JobRunner(repository)
        # The node this process registered as: its executions record it as their owner.
        self.node_id = node_id

    def create_execution(
        self,
        job: Job,
        parameters: JobParameters | None = None,
        *,
        new_instance_only: bool = False,
        restart: bool = False,
    ) -> JobExecution:
        """A STARTING execution of `job`: a new instance, or a restart of a FAILED or
        STOPPED one with the same identifying parameters. The parameters are checked, and
        stored as the job declares them (`Job.check_parameters`); with `restart` they are
        an instance's stored ones: checked, and stored unchanged since they name it."""
        parameters = parameters if parameters is not None else JobParameters()
        checked = job.check_parameters(parameters)
        return self.repository.create_job_execution(
            job.name,
            parameters if restart else checked,
            restartable=job.restartable,
            new_instance_only=new_instance_only,
            request_launch=self.node_id is not None,
            claimed_by=self.node_id,
        )

    def launch(
        self,
        job: Job,
        parameters: JobParameters | None = None,
        *,
        new_instance_only: bool = False,
        restart: bool = False,
        stop_signal: StopSignal | None = None,
    ) -> JobExecution:
        execution = self.create_execution(
            job, parameters, new_instance_only=new_instance_only, restart=restart
        )
        return self.runner.run(job, execution, stop_signal=stop_signal)

    def next_parameters(self, job: Job, overrides: JobParameters | None = None) -> JobParameters:
        return next_parameters(job, self.repository.explorer, overrides)


def next_parameters(
    job: Job, explorer: JobExplorerView, overrides: JobParameters | None = None
) -> JobParameters:
    """Spring's getNextJobParameters: the incrementer applied to the last instance's
    parameters (none for a first instance), then `overrides` on top."""
    if job.incrementer is None:
        raise JobParametersNotFound(f"job {job.name!r} has no parameters incrementer")
    previous: JobParameters | None = None
    instance = explorer.get_last_job_instance(job.name)
    if instance is not None:
        last = explorer.get_last_job_execution(instance)
        if last is not None:
            previous = last.job_parameters
    parameters = job.incrementer.get_next(previous)
    return parameters.merged(overrides) if overrides else parameters
