"""JobOperator: Spring Batch's JobOperator over the repository, with a bounded launcher.

`start` persists a STARTING execution and returns at once; a worker thread of the launcher
runs it (in submission order when all workers are busy). Every committed change is
announced on `events`. Thread-safe: the gRPC service calls it from a thread pool.

Roles: `all` launches and runs; `api` only persists starts, which `worker`/`all` servers
on the same database claim from JOBOP_LAUNCH_REQUEST; `worker` runs claimed executions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert, select

from jobop.batch.owner import OWNER_KEY, check_owner_gone, current_owner
from jobop.batch.registry import JobRegistry
from jobop.batch.runner import JobRunner, next_parameters
from jobop.domain import (
    JobExecution,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    JobInstance,
    JobInstanceAlreadyExists,
    JobopError,
    JobParameters,
    NoSuchJob,
    NoSuchJobExecution,
    NoSuchJobInstance,
    utcnow,
)
from jobop.domain.messages import MessageCode
from jobop.repository import JobRepository, read_connection, write_transaction
from jobop.repository.schema import launch_request

from .events import ExecutionEvents
from .launcher import Launcher
from .publishing import PublishingJobRepository
from .requests import RequestLedger

log = logging.getLogger(__name__)

ROLES = ("all", "api", "worker")

# Request ids are answered for at least this long; older ones are purged.
REQUEST_RETENTION = timedelta(days=7)
_PURGE_INTERVAL = 3600.0

# StartNextInstance computes the next parameters from the last instance; a concurrent
# call may take them first, and then we compute again.
_NEXT_INSTANCE_ATTEMPTS = 5


class OperatorShutDown(JobopError):
    """The server is shutting down and accepts no new executions."""

    reason = "SHUTTING_DOWN"


class ExecutionObserver:
    """Told when a request of this process creates an execution (on the request's thread)
    and, on the worker thread, when this process begins and ends running one (metrics,
    traces). The default observes nothing."""

    def created(self, execution: JobExecution) -> None:
        """A start or restart persisted the execution (STARTING)."""

    def running(self, execution: JobExecution) -> None:
        """The execution is about to run (still STARTING)."""

    def ended(self, execution: JobExecution) -> None:
        """The execution ended (or ended before it could start), as last saved."""


class LaunchHold:
    """Executions a request persisted, handed to the launcher only on `release()`.

    The gRPC service releases them once the response is sent: a job started at once would
    take the interpreter (the GIL) from the event loop while the loop still sends the
    response, which added most of a millisecond to every Start. Idempotent and
    thread-safe; whatever is held after release() is handed over at once.
    """

    def __init__(self, operator: JobOperator) -> None:
        self._operator = operator
        self._lock = threading.Lock()
        self._held: list[JobExecution] = []
        self._released = False

    def hold(self, execution: JobExecution) -> None:
        with self._lock:
            if not self._released:
                self._held.append(execution)
                return
        self._operator._submit(execution)

    def release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
            held, self._held = self._held, []
        self._operator._holds.discard(self)
        for execution in held:
            self._operator._submit(execution)


class JobOperator:
    def __init__(
        self,
        repository: JobRepository,
        registry: JobRegistry,
        *,
        max_concurrent_executions: int = 4,
        role: str = "all",
        events: ExecutionEvents | None = None,
        claim_interval: float = 1.0,
        runner_poll_interval: float = 0.5,
        request_wait_timeout: float = 30.0,
        observers: Sequence[ExecutionObserver] = (),
        step_listeners: Sequence[object] = (),
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        self.repository = repository
        self.explorer = repository.explorer
        self.registry = registry
        self.role = role
        self.max_concurrent_executions = max_concurrent_executions
        self.events = events or ExecutionEvents()
        self._runner_repository = PublishingJobRepository(repository.engine, self.events)
        self._owner = current_owner()
        self.observers = tuple(observers)
        self._runner = JobRunner(
            self._runner_repository,
            owner=self._owner,
            poll_interval=runner_poll_interval,
            step_listeners=step_listeners,
        )
        self._requests = RequestLedger(repository.engine, wait_timeout=request_wait_timeout)
        self._purge_requests()
        self._accepting = True
        self._launcher: Launcher | None = None
        # Holds not yet released; shutdown() releases them (see LaunchHold).
        self._holds: set[LaunchHold] = set()
        self._claimer: threading.Thread | None = None
        self._claimer_stop = threading.Event()
        self._claim_interval = claim_interval
        if role != "api":
            self._launcher = Launcher(self._run, max_concurrent_executions)
            self._claimer = threading.Thread(
                target=self._claim_loop, name="jobop-claimer", daemon=True
            )
            self._claimer.start()

    # -- launching -----------------------------------------------------------------------

    def new_hold(self) -> LaunchHold:
        """A hold for the executions of one request (pass it to start/restart/...)."""
        hold = LaunchHold(self)
        self._holds.add(hold)
        return hold

    def start(
        self,
        job_name: str,
        parameters: JobParameters,
        request_id: str | None = None,
        *,
        hold: LaunchHold | None = None,
    ) -> JobExecution:
        """Launch a new instance; JobInstanceAlreadyExists if the instance exists. With a
        `hold`, the launcher gets the execution when the hold is released."""
        self._check_accepting()
        job = self.registry.get(job_name)

        def create() -> JobExecution:
            job.validate(parameters)
            execution = self.repository.create_job_execution(
                job.name,
                parameters,
                restartable=job.restartable,
                new_instance_only=True,
                context=self._initial_context(),
            )
            self._launch(execution, hold)
            return execution

        return self._once(request_id, f"start {job.name} {parameters.job_key()}", create)

    def start_next_instance(
        self, job_name: str, request_id: str | None = None, *, hold: LaunchHold | None = None
    ) -> JobExecution:
        """Launch the instance after the last one, with the job's incrementer applied."""
        self._check_accepting()
        job = self.registry.get(job_name)

        def create() -> JobExecution:
            for attempt in range(_NEXT_INSTANCE_ATTEMPTS):
                parameters = next_parameters(job, self.explorer)
                job.validate(parameters)
                try:
                    execution = self.repository.create_job_execution(
                        job.name,
                        parameters,
                        restartable=job.restartable,
                        new_instance_only=True,
                        context=self._initial_context(),
                    )
                except JobInstanceAlreadyExists:
                    if attempt + 1 == _NEXT_INSTANCE_ATTEMPTS:
                        raise
                    continue
                self._launch(execution, hold)
                return execution
            raise AssertionError("unreachable")

        return self._once(request_id, f"next {job.name}", create)

    def restart(
        self, execution_id: int, request_id: str | None = None, *, hold: LaunchHold | None = None
    ) -> JobExecution:
        """Run a FAILED or STOPPED execution's instance again, as a new execution."""
        self._check_accepting()
        previous = self.get_job_execution(execution_id)
        job = self.registry.get(previous.job_name)

        def create() -> JobExecution:
            job.validate(previous.job_parameters)
            execution = self.repository.create_job_execution(
                job.name,
                previous.job_parameters,
                restartable=job.restartable,
                context=self._initial_context(),
            )
            self._launch(execution, hold)
            log.info(
                "Job execution %s of %s restarted as job execution %s",
                execution_id,
                job.name,
                execution.id,
                extra=MessageCode.JOB_RESTARTED.extra,
            )
            return execution

        return self._once(request_id, f"restart {execution_id}", create)

    def _once(
        self, request_id: str | None, operation: str, create: Callable[[], JobExecution]
    ) -> JobExecution:
        if request_id is None:
            return create()
        return self._requests.run_once(request_id, operation, create, self.get_job_execution)

    def _initial_context(self) -> dict[str, Any] | None:
        """A new execution's job context: the owner that its runner here will record,
        saved with the execution rather than by an update when it starts. None when
        another server runs it (api role)."""
        return {OWNER_KEY: self._owner} if self._launcher is not None else None

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise OperatorShutDown("the server is shutting down and starts no executions")

    def _launch(self, execution: JobExecution, hold: LaunchHold | None) -> None:
        self._publish(execution, created=True)
        for observer in self.observers:
            observer.created(execution)
        if self._launcher is not None and hold is not None:
            hold.hold(execution)
            return
        if self._launcher is None:
            # api role: leave it to a worker server on the same database.
            with write_transaction(self.repository.engine) as connection:
                connection.execute(
                    insert(launch_request).values(
                        job_execution_id=execution.id,
                        job_name=execution.job_name,
                        created=utcnow(),
                    )
                )
            return
        self._launcher.submit(execution)

    def _submit(self, execution: JobExecution) -> None:
        """Hand a held execution to the launcher; if it closed meanwhile (shutdown), stop
        the execution instead: STARTING -> STOPPED, restartable."""
        assert self._launcher is not None
        try:
            self._launcher.submit(execution)
        except RuntimeError:
            self._stop_quietly(execution.id)

    def _run(self, execution: JobExecution) -> None:
        """A worker thread's body: run one execution to its end."""
        job = self.registry.get(execution.job_name)
        self._runner_repository.track(execution)
        final = execution
        for observer in self.observers:
            observer.running(execution)
        try:
            final = self._runner.run(job, execution)
            # The runner returns without saving when the execution ended before it started
            # (stopped while queued), or a state read back after a conflict: announce it
            # all the same. Its own saves were announced as they committed.
            if final is not execution:
                self._publish(final)
        finally:
            self._runner_repository.forget(execution.id)
            # Reversed: an observer that opened a context in running() closes it last.
            for observer in reversed(self.observers):
                observer.ended(final)

    # -- claiming starts made by api servers --------------------------------------------

    def _claim_loop(self) -> None:
        last_purge = time.monotonic()
        while not self._claimer_stop.wait(self._claim_interval):
            try:
                self.claim_launch_requests()
            except Exception:
                log.warning("could not claim waiting executions", exc_info=True)
            if time.monotonic() - last_purge > _PURGE_INTERVAL:
                last_purge = time.monotonic()
                self._purge_requests()

    def _purge_requests(self) -> None:
        try:
            self._requests.purge(REQUEST_RETENTION)
        except Exception:
            log.warning("could not purge old request ids", exc_info=True)

    def claim_launch_requests(self) -> int:
        """Claim STARTING executions that api servers left for a worker; returns how many."""
        launcher = self._launcher
        if launcher is None or not self._accepting:
            return 0
        free = launcher.free_slots
        names = self.registry.names()
        if free <= 0 or not names:
            return 0
        with read_connection(self.repository.engine) as connection:
            candidates = list(
                connection.execute(
                    select(launch_request.c.job_execution_id)
                    .where(launch_request.c.job_name.in_(names))
                    .order_by(launch_request.c.job_execution_id)
                    .limit(free)
                ).scalars()
            )
        claimed = 0
        for execution_id in candidates:
            with write_transaction(self.repository.engine) as connection:
                won = connection.execute(
                    delete(launch_request)
                    .where(launch_request.c.job_execution_id == execution_id)
                    .returning(launch_request.c.job_execution_id)
                ).first()
            if won is None:
                continue  # another worker claimed it first
            execution = self.explorer.get_job_execution(execution_id)
            if execution is None or execution.status.value != "STARTING":
                continue  # stopped or recovered while it waited
            launcher.submit(execution)
            claimed += 1
        return claimed

    # -- controlling ---------------------------------------------------------------------

    def stop(self, execution_id: int) -> JobExecution:
        """STARTED -> STOPPING (steps end at their next chunk boundary); STARTING, never
        picked up -> STOPPED at once."""
        # The in-process fast path first: the steps stop at their next chunk boundary and a
        # running tasklet gets stop() now, without waiting for the database.
        runs_here = self._runner.request_stop(execution_id)
        try:
            execution = self.repository.request_stop(execution_id)
        except JobExecutionNotRunning:
            if not runs_here:
                raise
            # It ended between the signal and the update (usually STOPPED, by the signal).
            execution = self.get_job_execution(execution_id)
        if self._launcher is not None:
            self._launcher.remove(execution_id)
        self._publish(execution)
        log.info(
            "Stop requested for job execution %s of %s: now %s",
            execution_id,
            execution.job_name,
            execution.status.value,
            extra=MessageCode.JOB_STOP_REQUESTED.extra,
        )
        return execution

    def abandon(self, execution_id: int) -> JobExecution:
        execution = self.repository.abandon(execution_id)
        self._publish(execution)
        log.info(
            "Job execution %s of %s abandoned",
            execution_id,
            execution.job_name,
            extra=MessageCode.JOB_ABANDONED.extra,
        )
        return execution

    def recover(self, execution_id: int) -> JobExecution:
        """Mark a running execution whose owner died FAILED, so it can be restarted."""
        if self._launcher is not None and self._launcher.is_queued_or_running(execution_id):
            raise JobExecutionAlreadyRunning(
                f"job execution {execution_id} is running in this server: stop it instead"
            )
        check_owner_gone(self.get_job_execution(execution_id), own=self._owner)
        recovered = self.repository.recover(execution_id)
        with write_transaction(self.repository.engine) as connection:
            connection.execute(
                delete(launch_request).where(launch_request.c.job_execution_id == execution_id)
            )
        self._publish(recovered)
        log.info(
            "Job execution %s of %s recovered: its owner is gone, now FAILED",
            execution_id,
            recovered.job_name,
            extra=MessageCode.JOB_RECOVERED.extra,
        )
        return recovered

    def _publish(self, execution: JobExecution, *, created: bool = False) -> None:
        # Only a just-created execution is known to be exactly as committed: any other
        # was read back after the write, and another thread may have written after that.
        self.events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            execution.status,
            committed=execution if created else None,
        )

    # -- reading -------------------------------------------------------------------------

    def get_job_execution(self, execution_id: int) -> JobExecution:
        execution = self.explorer.get_job_execution(execution_id)
        if execution is None:
            raise NoSuchJobExecution(f"no job execution with id {execution_id}")
        return execution

    def get_running_executions(self, job_name: str) -> list[int]:
        ids = self.explorer.find_running_job_execution_ids(job_name)
        if not ids:
            self.check_job_known(job_name)
        return ids

    def find_running_executions(self, job_name: str | None) -> list[JobExecution]:
        return self.explorer.find_running_job_executions(job_name)

    def get_summary(self, execution_id: int) -> str:
        return self.get_job_execution(execution_id).summary()

    def get_step_execution_summaries(self, execution_id: int) -> dict[int, str]:
        execution = self.get_job_execution(execution_id)
        return {step.id: step.summary() for step in execution.step_executions}

    def get_job_names(self) -> list[str]:
        return self.registry.names()

    def get_parameters(self, execution_id: int) -> JobParameters:
        return self.explorer.get_parameters(execution_id)

    def check_job_known(self, job_name: str) -> None:
        """NoSuchJob unless the job is registered here or has instances in the repository."""
        if job_name in self.registry or self.explorer.get_job_instance_count(job_name) > 0:
            return
        raise NoSuchJob(f"no job named {job_name!r} is registered")

    def list_job_instances(self, job_name: str, start: int, count: int) -> list[JobInstance]:
        """Instances of a job, newest first."""
        instances = self.explorer.get_job_instances(job_name, start, count)
        if not instances and start == 0:
            self.check_job_known(job_name)
        return instances

    def list_job_executions(
        self,
        job_name: str | None,
        job_instance_id: int | None,
        before_id: int | None,
        limit: int,
    ) -> list[JobExecution]:
        """Executions of a job and/or instance, newest first, older than `before_id`."""
        if job_instance_id is not None:
            instance = self.explorer.get_job_instance(job_instance_id)
            if instance is None:
                raise NoSuchJobInstance(f"no job instance with id {job_instance_id}")
            if job_name is not None and instance.job_name != job_name:
                return []
        elif job_name is not None and before_id is None:
            self.check_job_known(job_name)
        return self.explorer.list_job_executions(job_name, job_instance_id, before_id, limit)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running_execution_ids(self) -> list[int]:
        return self._launcher.running_ids() if self._launcher is not None else []

    def refuse_starts(self) -> None:
        """From now on Start, StartNextInstance and Restart fail with OperatorShutDown."""
        self._accepting = False
        self._claimer_stop.set()

    def shutdown(self, grace: float) -> bool:
        """Stop every execution of this server and wait up to `grace` seconds for them to
        end STOPPED. Executions still running then are marked FAILED (restartable), since
        the process is about to exit under them. Returns whether all stopped in time."""
        self.refuse_starts()
        if self._claimer is not None:
            self._claimer.join(timeout=5)
        launcher = self._launcher
        if launcher is None:
            return True
        for hold in list(self._holds):
            hold.release()  # their executions are queued now, and drained just below
        for execution in launcher.drain():
            # Never picked up: STARTING -> STOPPED, restartable.
            self._stop_quietly(execution.id)
        for execution_id in launcher.running_ids():
            self._stop_quietly(execution_id)
        stopped = launcher.wait_idle(grace)
        if not stopped:
            for execution_id in launcher.running_ids():
                log.warning(
                    "job execution %s did not stop within %.1f s: marking it FAILED",
                    execution_id,
                    grace,
                )
                try:
                    self._publish(self.repository.recover(execution_id))
                except JobopError:
                    log.warning("could not mark job execution %s FAILED", execution_id)
        launcher.close(timeout=0 if not stopped else 5)
        if stopped:
            self._runner.close()
        return stopped

    def _stop_quietly(self, execution_id: int) -> None:
        try:
            self.stop(execution_id)
        except JobExecutionNotRunning:
            pass  # it ended meanwhile
        except Exception:
            log.warning("could not stop job execution %s", execution_id, exc_info=True)
