"""JobOperator: Spring Batch's JobOperator over the repository, with a bounded launcher.

`start` persists a STARTING execution and returns at once; a worker thread of the launcher
runs it (in submission order when all workers are busy). Every committed change is
announced on `events`. Thread-safe: the gRPC service calls it from a thread pool.

Every operator is a node (`NodeMember`: JOBOP_NODE, heartbeat, lease, recovery of dead
nodes). Each start is written with its launch request (JOBOP_LAUNCH_REQUEST). A node with a
free worker claims its own start in that same statement and runs it; otherwise the request
waits, announced by NOTIFY, for any node with a free worker (`claim_launch_requests`: FOR
UPDATE SKIP LOCKED). A node that runs jobs looks for waiting requests when it starts, when
a NOTIFY says one waits, when a worker of its own becomes free, when its LISTEN connection
comes back (what was announced meanwhile is lost), and unasked once a lease (a safety net;
every `claim_interval` while LISTEN is down or a look failed). On SQLite a server of role
`all` hands every start to its own workers, and looks for others' only once a lease.

Roles: `all` launches and runs; `api` only persists starts, which `worker`/`all` servers
on the same database claim; `worker` runs claimed executions.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jobop.batch import logcontext
from jobop.batch.catalogue import JobDescription, describe_job, describe_unregistered
from jobop.batch.job import Job
from jobop.batch.owner import OWNER_KEY, current_owner
from jobop.batch.registry import JobRegistry
from jobop.batch.runner import JobRunner, next_parameters
from jobop.batch.step import StopPoller, describe
from jobop.domain import (
    ExecutionFilter,
    JobExecution,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    JobInstance,
    JobInstanceAlreadyExists,
    JobNotRegistered,
    JobopError,
    JobParameters,
    NoSuchJob,
    NoSuchJobExecution,
    NoSuchJobInstance,
    utcnow,
)
from jobop.domain.bulk import BulkAction, BulkOperation, BulkSelection
from jobop.domain.messages import MessageCode
from jobop.domain.schedules import ScheduleFire, ScheduleSpec, ScheduleView
from jobop.domain.workload import (
    CLEAR,
    DEFAULT_PRIORITY,
    JobSettings,
    JobWorkload,
    QueuedExecution,
    SettingsOverride,
    check_priority,
)
from jobop.repository import JobRepository, NewInstance, PendingAudit, is_database_unavailable
from jobop.repository.audit import announced
from jobop.repository.engine import is_postgresql
from jobop.repository.nodes import NodeRepository, NodeState, RecoveredNode
from jobop.repository.partition_claims import PartitionClaims
from jobop.repository.workload import WorkloadRepository

from . import admission
from .bulk import DEFAULT_BULK_RATE, BulkRunner
from .events import ExecutionEvents
from .launcher import Launcher
from .node import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_LEASE,
    NodeMember,
    new_node_info,
    recover_execution,
    stop_execution,
)
from .partitions import (
    ClusterPartitionHandler,
    OperatorPartitionHandler,
    PartitionEnds,
    PartitionWorkers,
)
from .publishing import PublishingJobRepository
from .relay import DEFAULT_PROGRESS_INTERVAL, ChangeRelay
from .requests import KeyedLocks, RequestLedger
from .scheduler import Scheduler

if TYPE_CHECKING:
    from .overdue import OverdueWatcher

log = logging.getLogger(__name__)

ROLES = ("all", "api", "worker")

# Request ids are answered for at least this long; older ones are purged.
REQUEST_RETENTION = timedelta(days=7)
_PURGE_INTERVAL = 3600.0

# StartNextInstance computes the next parameters from the last instance. Calls for one job
# take turns (see start_next_instance); what still takes them first (a Start of the same
# parameters, another process on one SQLite file) makes it compute again, for this long.
_NEXT_INSTANCE_PATIENCE = 30.0


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

    def owner_lost(self, execution: JobExecution) -> None:
        """This node failed the execution because its owner node was lost (on the
        heartbeat thread)."""

    def overdue(self, execution: JobExecution) -> None:
        """The execution, running here, was just marked overdue (once per execution, on
        the overdue watcher's thread, before `ended`)."""

    def partition_ended(self, job_name: str, seconds: float) -> None:
        """A partition step's manager here saw one of its partitions end, `seconds` after
        the partition's row was marked ENDED (on the manager's thread)."""


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


@dataclass(frozen=True, slots=True)
class StartEntry:
    """One entry of `JobOperator.start_many` (StartJobs): what a Start names, and the
    action announced for its audit row (None: not audited)."""

    job_name: str
    parameters: JobParameters
    request_id: str | None = None
    priority: int = DEFAULT_PRIORITY
    announced: PendingAudit | None = None


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
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        lease: float = DEFAULT_LEASE,
        progress_notify_interval: float = DEFAULT_PROGRESS_INTERVAL,
        observers: Sequence[ExecutionObserver] = (),
        step_listeners: Sequence[object] = (),
        bulk_rate: float = DEFAULT_BULK_RATE,
    ) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        self.repository = repository
        self.explorer = repository.explorer
        self.registry = registry
        self.role = role
        self.max_concurrent_executions = max_concurrent_executions
        self.events = events or ExecutionEvents()
        self._runner_repository = PublishingJobRepository(
            repository, self.events, lambda: self.node_id
        )
        self._owner = current_owner()
        self.observers = tuple(observers)
        self._postgresql = is_postgresql(repository.engine)
        # Partition steps (operator/partitions.py): spread over the nodes that run jobs
        # on PostgreSQL, else run on threads of this process.
        self._partition_claims = PartitionClaims(repository.engine)
        self._partition_ends = PartitionEnds()
        cluster_partitions = (
            ClusterPartitionHandler(
                self._partition_claims,
                self._partition_ends,
                repository.explorer,
                node_id=lambda: self.node_id,
                job_of=self.registry.get,
                listening=lambda: self.relay is not None and self.relay.listening,
                poll_interval=runner_poll_interval,
                on_end=self._partition_end_seen,
            )
            if self._postgresql
            else None
        )
        self._runner = JobRunner(
            self._runner_repository,
            owner=self._owner,
            poll_interval=runner_poll_interval,
            step_listeners=step_listeners,
            partition_handler=OperatorPartitionHandler(
                cluster_partitions,
                lambda: self.relay is not None and self.node.has_worker_peers,
                lambda: self.node_id,
            ),
        )
        self._partition_workers: PartitionWorkers | None = None
        self._requests = RequestLedger(repository.engine, wait_timeout=request_wait_timeout)
        self._next_instance_locks = KeyedLocks()
        self.nodes = NodeRepository(repository.engine)
        self.workloads = WorkloadRepository(repository.engine)
        self._admission = admission.StartAdmission(
            lambda starts: self.nodes.claim_starts(self.node_id, starts, self._declared_settings())
        )
        # Jobs found governed (a limit or a pause) by the last claim or start here, and
        # whether starts of such jobs may wait (held back by a limit or a pause).
        self._governed_jobs: set[str] = set()
        self._held_back = True
        # Counts the announcements of waiting starts (see claim_launch_requests).
        self._waiting_signals = 0
        self._purge_requests()
        self._accepting = True
        self._launcher: Launcher | None = None
        # Holds not yet released; shutdown() releases them (see LaunchHold).
        self._holds: set[LaunchHold] = set()
        self._claimer: threading.Thread | None = None
        self._claimer_stop = threading.Event()
        self._claim_wakeup = threading.Event()
        # Whether launch requests may be waiting for a claim (a free worker then claims).
        self._maybe_waiting = True
        self._claim_interval = claim_interval
        self.node = NodeMember(
            self.nodes,
            new_node_info(role, lease),
            heartbeat_interval=heartbeat_interval,
            on_recovered=self._recovered,
            on_beat=self._after_beat,
        )
        # Bulk operations (operator/bulk.py): carried on from the end of __init__.
        self.bulk = BulkRunner(self, rate=bulk_rate)
        self._bulk_ready = False
        self.relay: ChangeRelay | None = None
        if self._postgresql:
            self.relay = ChangeRelay(
                repository.engine,
                self.events,
                progress_interval=progress_notify_interval,
                on_launch_waiting=self._launch_waiting,
                on_node_joined=lambda: self.node.peer_joined(),
                on_listening_changed=self._listening_changed,
                audience=lambda: self.node.has_peers,
            )
            self.relay.on_partitions_waiting = self._partitions_waiting
            self.relay.on_partitions_ended = self._partition_ends.announced
            self.relay.start()
        # Executions whose runner ended without saving their end (the database went away
        # under them, or refused the end): marked FAILED, with this exit message, at once
        # and then after every heartbeat until it is saved.
        self._unsaved: dict[int, str] = {}
        self._unsaved_lock = threading.Lock()
        if role != "api":
            self._launcher = Launcher(self._run, max_concurrent_executions)
            self._launcher.on_slot_free = self._slot_freed
            if self._postgresql:
                self._partition_workers = PartitionWorkers(
                    self._partition_claims,
                    self._launcher,
                    self._runner_repository,
                    node_id=lambda: self.node_id,
                    job_names=self.registry.names,
                    job_of=self.registry.get,
                    stop_poller=StopPoller(self._runner_repository, runner_poll_interval),
                    listeners=step_listeners,
                    poll_interval=runner_poll_interval,
                )
        self.node.start()
        if self.relay is not None:
            self.relay.announce_node(self.node_id)
        # Executions whose worker this node promised when it claimed their start.
        self._reserved: set[int] = set()
        # The node that runs an execution watches its duration (see overdue.py); last
        # among the observers, so the first told of an end (they are told in reverse).
        self.overdue: OverdueWatcher | None = None
        if self._launcher is not None:
            from .overdue import OverdueWatcher  # here: overdue.py imports this module

            self.overdue = OverdueWatcher(self, refresh_interval=heartbeat_interval)
            self.observers = (*self.observers, self.overdue)
        if self._launcher is not None:
            self._claimer = threading.Thread(
                target=self._claim_loop, name="jobop-claimer", daemon=True
            )
            self._claimer.start()
        # Schedules (docs/schedules.md): the API, and the firing loop where jobs run.
        self.scheduler = Scheduler(self)
        if self._launcher is not None:
            self.scheduler.start()
        # Operations of nodes gone meanwhile (this server's own before a restart).
        self._bulk_ready = True
        self._take_over_bulk(None)

    @property
    def node_id(self) -> str:
        return self.node.node_id

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
        priority: int = DEFAULT_PRIORITY,
    ) -> JobExecution:
        """Launch a new instance; JobInstanceAlreadyExists if the instance exists. With a
        `hold`, the launcher gets the execution when the hold is released. The parameters
        and the priority are checked before anything is written, and the parameters stored
        as the job declares them."""
        self._check_accepting()
        check_priority(priority)
        job = self._registered_job(job_name)
        checked = job.check_parameters(parameters)

        def create() -> JobExecution:
            return self._create(job, checked, hold, priority, new_instance=True)

        return self._once(request_id, f"start {job.name} {checked.job_key()}", create)

    def start_next_instance(
        self,
        job_name: str,
        request_id: str | None = None,
        *,
        hold: LaunchHold | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> JobExecution:
        """Launch the instance after the last one, with the job's incrementer applied."""
        self._check_accepting()
        check_priority(priority)
        job = self._registered_job(job_name)

        def create() -> JobExecution:
            # One call at a time per job, across nodes, from reading the last instance to
            # committing the next: each call gets an instance of its own.
            with self._next_instance_locks.hold(job.name), self.nodes.next_instance_lock(job.name):
                give_up = time.monotonic() + _NEXT_INSTANCE_PATIENCE
                taken: JobParameters | None = None
                while True:
                    parameters = job.check_parameters(next_parameters(job, self.explorer))
                    try:
                        return self._create(job, parameters, hold, priority, new_instance=True)
                    except JobInstanceAlreadyExists:
                        # Taken by a Start of those very parameters, or by another process
                        # on one SQLite file: someone got an instance, so compute again.
                        # The same parameters twice: an older instance holds them for good
                        # (as in Spring, the next instance is then refused).
                        if parameters == taken or time.monotonic() > give_up:
                            raise
                        taken = parameters

        return self._once(request_id, f"next {job.name}", create)

    def restart(
        self,
        execution_id: int,
        request_id: str | None = None,
        *,
        hold: LaunchHold | None = None,
        priority: int = DEFAULT_PRIORITY,
    ) -> JobExecution:
        """Run a FAILED or STOPPED execution's instance again, as a new execution."""
        self._check_accepting()
        check_priority(priority)
        previous = self.get_job_execution(execution_id)
        job = self._registered_job(previous.job_name)
        # The instance's parameters, stored unchanged (they name it), must still fit.
        job.check_parameters(previous.job_parameters)

        def create() -> JobExecution:
            execution = self._create(
                job, previous.job_parameters, hold, priority, new_instance=False
            )
            _log_about(
                execution,
                MessageCode.JOB_RESTARTED,
                "Job execution %s of %s restarted as job execution %s",
                execution_id,
                job.name,
                execution.id,
            )
            return execution

        return self._once(request_id, f"restart {execution_id}", create)

    def _registered_job(self, job_name: str) -> Job:
        """The job of that name registered here; JobNotRegistered when only the repository
        knows it (a Spring Batch application's, a job no longer deployed), else NoSuchJob."""
        if job_name not in self.registry and self.explorer.get_job_instance_count(job_name) > 0:
            raise JobNotRegistered(
                f"job {job_name!r} is known to the repository but not registered on this "
                "server: its executions can be read, stopped, abandoned and recovered here, "
                "not launched"
            )
        return self.registry.get(job_name)

    def _once(
        self, request_id: str | None, operation: str, create: Callable[[], JobExecution]
    ) -> JobExecution:
        if request_id is None:
            return create()
        return self._requests.run_once(request_id, operation, create, self.get_job_execution)

    def _create(
        self,
        job: Job,
        parameters: JobParameters,
        hold: LaunchHold | None,
        priority: int,
        *,
        new_instance: bool,
    ) -> JobExecution:
        """Write the STARTING execution with its launch request, claimed by this node when
        it has a free worker (then handed to the launcher), else left for any node. A
        governed job's start (a limit or a pause, declared or at run time) is written
        waiting; this node then claims it under the job's admission lock if it may run
        now (`_admit`), else it waits in the queue."""
        runs_here, reserved = self._claim_own_start()
        try:
            execution, claimed = self.repository.launch(
                job.name,
                parameters,
                restartable=job.restartable,
                new_instance_only=new_instance,
                # The owner its runner here will record, saved with the execution rather
                # than by an update when it starts.
                context={OWNER_KEY: self._owner} if runs_here else None,
                request_launch=True,
                claimed_by=self.node_id if runs_here else None,
                priority=priority,
                governed=job.settings.governed,
            )
        except BaseException:
            self._unreserve(reserved)
            raise
        return self._launched(job, execution, claimed, runs_here, reserved, hold)

    def _unreserve(self, reserved: bool) -> None:
        if reserved and self._launcher is not None:
            self._launcher.unreserve()

    def _launched(
        self,
        job: Job,
        execution: JobExecution,
        claimed: bool,
        runs_here: bool,
        reserved: bool,
        hold: LaunchHold | None,
    ) -> JobExecution:
        """A written start handed on: run here (at once, or when the hold is released),
        or left for any node (see _create)."""
        try:
            if runs_here and not claimed:  # governed: admitted now, or it waits
                self._governed_jobs.add(job.name)
                runs_here = self._admit(job, execution)
        except BaseException:
            self._unreserve(reserved)
            raise
        if reserved and not runs_here:
            self._unreserve(reserved)
            reserved = False
        if reserved:
            self._reserved.add(execution.id)
        # Other nodes hear of it from its `l` NOTIFY, or from its STARTED soon after.
        self._publish(execution, created=True, local=True)
        for observer in self.observers:
            observer.created(execution)
        if not runs_here:
            self._maybe_waiting = True
        elif hold is not None:
            hold.hold(execution)
        else:
            self._submit(execution)
        return execution

    def start_many(
        self, entries: Sequence[StartEntry], *, hold: LaunchHold | None = None
    ) -> list[JobExecution | Exception]:
        """StartJobs: each entry started as `start` would start it alone, and answered on
        its own (its execution or its error), in order. The entries without a request id
        are written together by the launch path's group commit (on PostgreSQL: one
        statement per batch of launches, instead of one per entry); those with one go
        through the request ledger one by one (a retried entry answers its first
        execution). Each entry's `announced` action gets its audit row with its launch."""
        self._check_accepting()
        results: list[JobExecution | Exception | None] = [None] * len(entries)
        batched: list[tuple[int, Job, JobParameters, StartEntry]] = []
        for position, entry in enumerate(entries):
            if entry.request_id is not None:
                continue
            try:
                check_priority(entry.priority)
                job = self._registered_job(entry.job_name)
                batched.append((position, job, job.check_parameters(entry.parameters), entry))
            except Exception as error:
                results[position] = error
        claims = [self._claim_own_start() for _ in batched]
        # One mapping for every launch run here: the repository serializes it once.
        context = {OWNER_KEY: self._owner}
        launches = [
            NewInstance(
                job.name,
                parameters,
                context=context if runs_here else None,
                request_launch=True,
                claimed_by=self.node_id if runs_here else None,
                priority=entry.priority,
                governed=job.settings.governed,
                announced=entry.announced,
            )
            for (_, job, parameters, entry), (runs_here, _) in zip(batched, claims, strict=True)
        ]
        try:
            written = self.repository.launch_new_instances(launches)
        except BaseException:
            for _, reserved in claims:
                self._unreserve(reserved)
            raise
        for (position, job, _, _), (runs_here, reserved), outcome in zip(
            batched, claims, written, strict=True
        ):
            if isinstance(outcome, Exception):
                self._unreserve(reserved)
                results[position] = outcome
                continue
            execution, claimed = outcome
            try:
                results[position] = self._launched(
                    job, execution, claimed, runs_here, reserved, hold
                )
            except Exception as error:
                results[position] = error
        for position, entry in enumerate(entries):
            if entry.request_id is None:
                continue
            try:
                with announced(entry.announced):
                    results[position] = self.start(
                        entry.job_name,
                        entry.parameters,
                        entry.request_id,
                        hold=hold,
                        priority=entry.priority,
                    )
            except Exception as error:
                results[position] = error
        return [result for result in results if result is not None]

    def _admit(self, job: Job, execution: JobExecution) -> bool:
        """Claim a governed job's new start for this node if admission lets it run now
        and nothing of the job waits before it; else it waits in the queue, and every node
        hears of it (it may wait for a worker only)."""
        if self._admission.admit(execution.id, job.name):
            return True
        if self.nodes.find_owner(execution.id) is None:  # a claim elsewhere took none
            self._launch_waiting([execution.id])  # this node's claimer looks too
            self._announce_waiting()
        return False

    def _claim_own_start(self) -> tuple[bool, bool]:
        """Whether this node runs the start it is accepting (decided before writing it),
        and whether that took one of its free workers (else it waits in its queue)."""
        if self._launcher is None or not self._accepting:
            return False, False
        if self._launcher.reserve():
            return True, True
        # No worker free: leave it to any node with one, unless no other node runs jobs
        # (one process on SQLite, a lone server): then it waits in this node's queue.
        return not (self._postgresql and self.node.has_worker_peers), False

    def _check_accepting(self) -> None:
        if not self._accepting:
            raise OperatorShutDown("the server is shutting down and starts no executions")

    def _submit(self, execution: JobExecution) -> None:
        """Hand an execution this node claimed to the launcher; if it closed meanwhile
        (shutdown), stop the execution instead: STARTING -> STOPPED, restartable."""
        assert self._launcher is not None
        reserved = execution.id in self._reserved
        self._reserved.discard(execution.id)
        try:
            self._launcher.submit(execution, reserved=reserved)
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
            if final.status.is_running:
                # No thread runs it any more: it must not read running.
                self._end_unsaved(execution.id, "its run ended without saving its end")
        except Exception as error:
            if is_database_unavailable(error):
                log.warning(
                    "job execution %s: the database went away under it (%s); it is marked "
                    "FAILED once the database is back",
                    execution.id,
                    error.__class__.__name__,
                )
                why = f"node {self.node_id} lost its database connection while it ran"
            else:
                log.error("job execution %s ended with an error", execution.id, exc_info=True)
                why = f"its run ended with an error ({describe(error)})"
            self._end_unsaved(execution.id, why)
        finally:
            if job.settings.governed or job.name in self._governed_jobs:
                self._governed_ended()
            self._runner_repository.forget(execution.id)
            # Reversed: an observer that opened a context in running() closes it last.
            for observer in reversed(self.observers):
                observer.ended(final)

    def _end_unsaved(self, execution_id: int, why: str) -> None:
        """Fail an execution that no thread runs any more, now, or after the next
        heartbeats if the database does not take it now."""
        with self._unsaved_lock:
            self._unsaved[execution_id] = f"failed: {why}"
        self._fail_unsaved()

    def _fail_unsaved(self) -> None:
        """After a heartbeat (the database answers): fail what was left running."""
        with self._unsaved_lock:
            pending = sorted(self._unsaved.items())
        for execution_id, message in pending:
            try:
                failed = self.repository.fail_running(execution_id, message)
            except Exception as error:
                if not is_database_unavailable(error):
                    log.warning(
                        "could not mark job execution %s FAILED; trying again after the next "
                        "heartbeat",
                        execution_id,
                        exc_info=True,
                    )
                return  # next beat
            self._publish(failed)
            with self._unsaved_lock:
                self._unsaved.pop(execution_id, None)

    # -- claiming starts made by api servers --------------------------------------------

    def _claim_poll_interval(self) -> float:
        """How long after its last look the claimer looks for waiting starts unasked."""
        if self._postgresql:
            listening = self.relay is not None and self.relay.listening
            if not listening:
                return self._claim_interval  # NOTIFYs do not arrive meanwhile
        elif self.role == "worker" or self.node.has_peers:
            return self._claim_interval  # SQLite: nothing announces other processes' starts
        # A safety net, for a start whose announcement no one heard.
        return self.node.info.lease_seconds

    def _claim_loop(self) -> None:
        last_purge = time.monotonic()
        looked_at = float("-inf")  # look at once: starts may wait from before this node
        failed = False
        while not self._claimer_stop.is_set():
            interval = self._claim_interval if failed else self._claim_poll_interval()
            due = looked_at + interval - time.monotonic()
            woken = due > 0 and self._claim_wakeup.wait(due)
            self._claim_wakeup.clear()
            if self._claimer_stop.is_set():
                return
            if not woken:
                self._maybe_waiting = True  # unasked: look whether anything waits
                if self._partition_workers is not None:
                    self._partition_workers.maybe_waiting = True
                looked_at = time.monotonic()
            try:
                # Partitions first: their jobs run already, and wait for them.
                if self._partition_workers is not None and self._accepting:
                    self._partition_workers.claim()
                self.claim_launch_requests()
            except Exception as error:
                # The database is away, most likely: look again soon, and say so once.
                if not failed:
                    log.warning(
                        "could not claim waiting executions: %s",
                        error,
                        exc_info=not is_database_unavailable(error),
                    )
                failed = True
                self._maybe_waiting = True
            else:
                if failed:
                    log.info("claiming waiting executions again")
                failed = False
            if time.monotonic() - last_purge > _PURGE_INTERVAL:
                last_purge = time.monotonic()
                self._purge_requests()

    def _purge_requests(self) -> None:
        try:
            self._requests.purge(REQUEST_RETENTION)
            self.nodes.purge(REQUEST_RETENTION.total_seconds())
        except Exception:
            log.warning("could not purge old request ids", exc_info=True)

    def _launch_waiting(self, execution_ids: list[int]) -> None:
        """A NOTIFY said launch requests wait: claim if a worker is free."""
        self._maybe_waiting = True
        self._held_back = True  # some may wait for a slot
        self._waiting_signals += 1
        self._claim_wakeup.set()

    def _slot_freed(self) -> None:
        workers = self._partition_workers
        if self._maybe_waiting or (workers is not None and workers.maybe_waiting):
            self._claim_wakeup.set()

    def _partitions_waiting(self, step_execution_ids: list[int]) -> None:
        """A `pw` NOTIFY: partitions wait for a claim (a free worker here takes some)."""
        if self._partition_workers is not None:
            self._partition_workers.maybe_waiting = True
            self._claim_wakeup.set()

    def _listening_changed(self) -> None:
        """LISTEN dropped or came back: look for what waits, and let the managers here
        read their partitions again (their ends were not heard meanwhile)."""
        if self._partition_workers is not None:
            self._partition_workers.maybe_waiting = True
        self._partition_ends.resync()
        self._launch_waiting([])

    def _partition_end_seen(self, job_name: str, seconds: float) -> None:
        """A manager here saw a partition's end, `seconds` after its row was ENDED."""
        for observer in self.observers:
            observer.partition_ended(job_name, seconds)

    def _governed_ended(self) -> None:
        """An execution of a governed job ended here: its slot is free. This node claims
        what may take it (the worker that ran it is free); when it cannot (shutting down,
        its workers taken by its own queue), every node hears of it. Unless no start of a
        governed job is known to wait: then there is nothing to claim."""
        if not self._held_back:
            return
        self._maybe_waiting = True
        launcher = self._launcher
        # Called before its worker is counted free: that worker makes one more.
        if self._accepting and launcher is not None and launcher.free_slots >= 0:
            return  # the launcher's free-worker callback wakes the claimer
        self._announce_waiting()

    def _announce_waiting(self) -> None:
        """Tell every node that starts may be claimed (a slot is free, a start waits)."""
        try:
            self.workloads.announce_waiting()
        except Exception:
            log.warning("could not announce waiting starts", exc_info=True)

    def _declared_settings(self) -> dict[str, JobSettings]:
        """What the registered jobs declare."""
        return {name: self.registry.get(name).settings for name in self.registry.names()}

    def _declared_of(self, job_name: str) -> JobSettings:
        if job_name in self.registry:
            return self.registry.get(job_name).settings
        return JobSettings()

    def _wake_claims(self) -> None:
        """Settings changed: starts held back may be admitted now."""
        self._maybe_waiting = True
        self._claim_wakeup.set()

    # -- workload control ----------------------------------------------------------------

    def get_job_workloads(self, job_names: Sequence[str] = ()) -> list[JobWorkload]:
        """Each job's settings (declared, run-time, in force), slots held and starts
        waiting. No names: every registered job and every job with run-time settings, by
        name; else the named ones in that order (NoSuchJob for a job unknown)."""
        if not job_names:
            overrides = self.workloads.get_overrides()
            names: Sequence[str] = sorted({*self.registry.names(), *overrides})
        else:
            names = list(job_names)
            overrides = self.workloads.get_overrides(names)
            for name in names:
                if name not in overrides:
                    self.check_job_known(name)
        counts = self.workloads.counts(names)
        return [
            JobWorkload(
                name,
                self._declared_of(name),
                overrides.get(name, SettingsOverride()),
                *counts[name],
            )
            for name in names
        ]

    def update_job_settings(self, job_name: str, change: dict[str, object]) -> JobWorkload:
        """Change a job's run-time settings: {field of JobSettings: value, or CLEAR for the
        declared value to hold again}. InvalidSettings (nothing written) for a value out
        of range or settings that do not fit together. Audited; in force at once on every
        node (starts held back by the old settings are claimed now if they may run)."""
        self.check_job_known(job_name)
        self.workloads.change(job_name, change, self._declared_of(job_name))
        self._wake_claims()
        return self.get_job_workloads([job_name])[0]

    def pause_job(
        self, job_name: str, *, stop_running: bool = False
    ) -> tuple[JobWorkload, list[int]]:
        """Hold the job's new and waiting starts until `resume_job`; its running
        executions go on, unless `stop_running`: then they are stopped too (their ids)."""
        workload = self.update_job_settings(job_name, {"paused": True})
        stopped: list[int] = []
        if stop_running:
            for execution_id in self.workloads.slot_holders(job_name):
                try:
                    self.stop(execution_id)
                except JobExecutionNotRunning:
                    continue  # it ended meanwhile
                stopped.append(execution_id)
            if stopped:
                workload = self.get_job_workloads([job_name])[0]
        return workload, stopped

    def resume_job(self, job_name: str) -> JobWorkload:
        """Let the job's starts run again (as its limit allows)."""
        return self.update_job_settings(job_name, {"paused": CLEAR})

    def list_queue(
        self, job_name: str | None = None, limit: int = 100
    ) -> tuple[list[QueuedExecution], int]:
        """The starts waiting for a claim (of one job, or of all), in run order: the first
        `limit`, and how many wait in all. Each says why it waits."""
        if job_name is not None:
            self.check_job_known(job_name)
        overrides = self.workloads.get_overrides()
        settings = {
            name: overrides.get(name, SettingsOverride()).over(self._declared_of(name))
            for name in {*self.registry.names(), *overrides}
        }
        keys = {name: s.concurrency_key for name, s in settings.items()}
        starts, total, held = self.workloads.queue(job_name, limit, keys)
        now = utcnow()
        return [
            QueuedExecution(
                execution_id=start.execution_id,
                job_name=start.job_name,
                priority=start.priority,
                position=position,
                queued_seconds=max(0.0, (now - start.created).total_seconds()),
                waiting_for=admission.waiting_for(
                    start.job_name,
                    settings.get(start.job_name, JobSettings()),
                    start.key_value,
                    held.get((start.job_name, start.key_value or ""), 0),
                ),
            )
            for position, start in enumerate(starts, 1)
        ], total

    def claim_launch_requests(self) -> int:
        """Claim waiting launch requests (starts left by api servers or by busy nodes,
        starts of dead nodes put back) for the free workers; returns how many."""
        launcher = self._launcher
        if launcher is None or not self._accepting or not self._maybe_waiting:
            return 0
        free = launcher.free_slots
        names = self.registry.names()
        if free <= 0 or not names:
            return 0
        # Consumed before the claim reads, so that a wake-up while it runs (a slot freed,
        # a start announced) is not lost when it ends: it sets the flags again.
        self._maybe_waiting = False
        signals = self._waiting_signals
        try:
            claimed, governed = self.nodes.claim_admitted(
                self.node_id, names, free, self._declared_settings()
            )
        except BaseException:
            self._maybe_waiting = True
            raise
        self._governed_jobs = governed
        if len(claimed) >= free:
            self._maybe_waiting = True  # more may wait than the workers took
        # Whether starts wait that only a freed slot lets run: a governed end here must
        # look for them at once (else the starts that may run are their own nodes').
        held_back = bool(governed) and self.nodes.held_back(
            sorted(governed), self._declared_settings()
        )
        # A start announced since the claim began may be one its reads missed.
        self._held_back = held_back or signals != self._waiting_signals
        started = 0
        for execution in claimed:
            try:
                launcher.submit(execution)
            except RuntimeError:
                self._stop_quietly(execution.id)  # shutting down
                continue
            started += 1
        return started

    # -- controlling ---------------------------------------------------------------------

    def stop(self, execution_id: int) -> JobExecution:
        """STARTED -> STOPPING (steps end at their next chunk boundary); STARTING, never
        picked up -> STOPPED at once."""
        # The write first: a Stop whose transaction rolls back (its audit row failed, the
        # database went away) must not stop the job anyway. Only once it has committed does
        # a run in this process get the fast path (steps stop at their next chunk boundary,
        # a running tasklet gets stop() now).
        execution = stop_execution(self.nodes, self.repository, execution_id)
        self._runner.request_stop(execution_id)
        if self._partition_workers is not None:
            self._partition_workers.request_stop(execution_id)
        if self._launcher is not None:
            self._launcher.remove(execution_id)
        self._publish(execution)
        _log_about(
            execution,
            MessageCode.JOB_STOP_REQUESTED,
            "Stop requested for job execution %s of %s: now %s",
            execution_id,
            execution.job_name,
            execution.status.value,
        )
        return execution

    def abandon(self, execution_id: int) -> JobExecution:
        execution = self.repository.abandon(execution_id)
        self._publish(execution)
        _log_about(
            execution,
            MessageCode.JOB_ABANDONED,
            "Job execution %s of %s abandoned",
            execution_id,
            execution.job_name,
        )
        return execution

    def recover(self, execution_id: int, *, force: bool = False) -> JobExecution:
        """Mark a running execution whose owner died FAILED, so it can be restarted. One no
        jobop node owns (a Spring Batch application's) only with `force`, as Spring Batch 6
        recovers it (see node.recover_execution)."""
        if self._launcher is not None and self._launcher.is_queued_or_running(execution_id):
            raise JobExecutionAlreadyRunning(
                f"job execution {execution_id} is running in this server: stop it instead"
            )
        recovered = recover_execution(
            self.nodes, self.repository, execution_id, force=force, own_node_id=self.node_id
        )
        self._publish(recovered)
        self._wake_claims()  # its slot is free (if its job is governed)
        self._announce_waiting()
        _log_about(
            recovered,
            MessageCode.JOB_RECOVERED,
            "Job execution %s of %s recovered: its owner is gone, now FAILED",
            execution_id,
            recovered.job_name,
        )
        return recovered

    def _recovered(self, result: RecoveredNode) -> None:
        """A dead node's executions were failed (or its unstarted starts put back) by
        this node: announce them, and restart those whose job asks for it."""
        for execution_id in result.failed:
            execution = self.explorer.get_job_execution(execution_id)
            if execution is None:
                continue
            with logcontext.job_context(execution.job_name, execution.id):
                log.warning(
                    "Job: [%s] %s: %s",
                    execution.job_name,
                    execution.status.value,
                    execution.exit_status.exit_description,
                    extra=MessageCode.OWNER_LOST.extra,
                )
            for observer in self.observers:
                observer.owner_lost(execution)
            self._publish(execution)
            self._restart_owner_lost(execution)
        for execution_id in result.released:
            execution = self.explorer.get_job_execution(execution_id)
            if execution is not None:
                self._publish(execution)
        if result.released:
            self._launch_waiting(result.released)
        self._take_over_bulk(result.node.node_id)

    def _after_beat(self) -> None:
        self._fail_unsaved()
        self._take_over_bulk(None)

    def _take_over_bulk(self, lost_node_id: str | None) -> None:
        """Carry on the bulk operations of a node recovered here (None: of any node gone)."""
        if not self._bulk_ready:
            return  # still starting: the end of __init__ looks
        try:
            self.bulk.take_over(lost_node_id)
        except Exception as error:
            log.warning(
                "could not take over bulk operations: %s",
                error,
                exc_info=not is_database_unavailable(error),
            )

    def _restart_owner_lost(self, execution: JobExecution) -> None:
        if execution.job_name not in self.registry or not self._accepting:
            return
        job = self.registry.get(execution.job_name)
        if job.restart_on_owner_lost <= 0:
            return
        lost = self.nodes.count_owner_lost_executions(execution.job_instance_id)
        if lost > job.restart_on_owner_lost:
            log.warning(
                "job execution %s lost its owner %d times: not restarting it again "
                "(restart_on_owner_lost=%d)",
                execution.id,
                lost,
                job.restart_on_owner_lost,
            )
            return
        try:
            restarted = self.restart(execution.id, priority=execution.priority)
        except JobopError as error:
            log.warning("could not restart job execution %s: %s", execution.id, error)
            return
        log.info(
            "job execution %s lost its owner: restarted as %s (%d of %d)",
            execution.id,
            restarted.id,
            lost,
            job.restart_on_owner_lost,
        )

    def _publish(
        self, execution: JobExecution, *, created: bool = False, local: bool = False
    ) -> None:
        # Only a just-created execution is known to be exactly as committed: any other
        # was read back after the write, and another thread may have written after that.
        self.events.publish(
            execution.id,
            execution.job_name,
            execution.version,
            execution.status,
            committed=execution if created else None,
            local=local,
        )

    # -- reading -------------------------------------------------------------------------

    def list_nodes(self, *, include_gone: bool = True) -> list[NodeState]:
        """Every node of the cluster (this one too) with its lease state, newest first:
        `NodeState.state` is live, expired (lease run out, not yet recovered), lost
        (recovered by `lost_by`) or left (a clean exit)."""
        return self.nodes.list_nodes(include_gone=include_gone)

    def get_job_execution(self, execution_id: int, *, contexts: bool = False) -> JobExecution:
        """The execution and its steps; their contexts only if asked for (they may be
        large, and only a context read returns them)."""
        execution = self.explorer.get_job_execution(execution_id, contexts=contexts)
        if execution is None:
            raise NoSuchJobExecution(f"no job execution with id {execution_id}")
        return execution

    def get_running_executions(self, job_name: str | None) -> list[int]:
        """Ids of the running executions of a job (None: of every job), ascending."""
        ids = self.explorer.find_running_job_execution_ids(job_name)
        if not ids and job_name is not None:
            self.check_job_known(job_name)
        return ids

    def find_running_executions(self, job_name: str | None) -> list[JobExecution]:
        return self.explorer.find_running_job_executions(job_name, contexts=False)

    def get_summary(self, execution_id: int) -> str:
        return self.get_job_execution(execution_id).summary()

    def get_step_execution_summaries(self, execution_id: int) -> dict[int, str]:
        execution = self.get_job_execution(execution_id)
        return {step.id: step.summary() for step in execution.step_executions}

    def get_job_names(self) -> list[str]:
        return self.registry.names()

    def describe_jobs(self, names: Sequence[str] = ()) -> list[JobDescription]:
        """The catalogue: the jobs registered here described from their definitions, and
        those only the repository knows (no definition here: not runnable). No names: every
        job, sorted by name; else the named ones in that order, NoSuchJob for a name unknown
        to both."""
        registry = self.registry
        if not names:
            names = sorted({*registry.names(), *self.explorer.get_job_names()})
        else:
            others = [name for name in names if name not in registry]
            known = set(self.explorer.get_job_names(others)) if others else set()
            unknown = [name for name in others if name not in known]
            if unknown:
                raise NoSuchJob(f"no job named {unknown[0]!r} is registered or has instances")
        return [
            describe_job(registry.get(name)) if name in registry else describe_unregistered(name)
            for name in names
        ]

    def get_parameters(self, execution_id: int) -> JobParameters:
        return self.explorer.get_parameters(execution_id)

    def check_job_known(self, job_name: str) -> None:
        """NoSuchJob unless the job is registered here or has instances in the repository."""
        if job_name in self.registry or self.explorer.get_job_instance_count(job_name) > 0:
            return
        raise NoSuchJob(f"no job named {job_name!r} is registered")

    def list_job_instances(self, job_name: str | None, start: int, count: int) -> list[JobInstance]:
        """Instances of a job (None: of every job), newest first."""
        instances = self.explorer.get_job_instances(job_name, start, count)
        if not instances and start == 0 and job_name is not None:
            self.check_job_known(job_name)
        return instances

    def list_job_executions(
        self,
        selection: ExecutionFilter,
        *,
        job_name: str | None = None,
        after_id: int | None = None,
        oldest_first: bool = False,
        limit: int = 20,
    ) -> list[JobExecution]:
        """The executions `selection` selects, newest first (or oldest first), after
        execution `after_id` in that order. An unknown instance is NoSuchJobInstance, and
        `job_name` (the one job asked for, as opposed to a filter's names) unknown to the
        registry and the repository NoSuchJob."""
        self._check_listing(selection, job_name, first_page=after_id is None)
        return self.explorer.find_job_executions(
            selection, after_id=after_id, oldest_first=oldest_first, limit=limit, contexts=False
        )

    # -- bulk operations (operator/bulk.py) ---------------------------------------------

    def start_bulk(
        self,
        action: BulkAction,
        selection: BulkSelection,
        *,
        principal: str,
        dry_run: bool = False,
    ) -> BulkOperation:
        """Accept a bulk operation: the executions `selection` selects are snapshotted
        with the operation (one transaction), which this node then carries out in the
        background, throttled (`bulk_rate`). Answers the operation as accepted (RUNNING;
        DONE at once when nothing matched). A dry run stores nothing and answers the count
        and the first ids (newest first). Audited as the action's bulk RPC (BulkStop...)
        with the selection and the count; each execution acted on as the single action.
        InvalidArgument-like errors (JobopError) for a selection that selects nothing."""
        return self.bulk.start(action, selection, principal=principal, dry_run=dry_run)

    def get_bulk_operation(self, operation_id: int) -> BulkOperation:
        """The operation as it is now; NoSuchBulkOperation if there is none."""
        return self.bulk.get(operation_id)

    def cancel_bulk_operation(self, operation_id: int, *, principal: str) -> BulkOperation:
        """Ask a running operation to end: it ends CANCELLED after the execution in hand
        (what it did stays done). Answers the operation (CANCELLED once its carrier saw the
        request, which takes a moment when another node carries it); an ended one as it
        is. Audited (CancelBulkOperation)."""
        return self.bulk.cancel(operation_id, principal=principal)

    def watch_bulk_operation(
        self, operation_id: int, *, interval: float = 0.2
    ) -> Iterator[BulkOperation]:
        """The operation now, then each change of its progress (read every `interval`
        seconds), until it is no longer RUNNING (blocking: for a thread)."""
        return self.bulk.watch(operation_id, interval=interval)

    # -- schedules (operator/scheduler.py) ----------------------------------------------

    def create_schedule(self, spec: ScheduleSpec) -> ScheduleView:
        return self.scheduler.create(spec)

    def get_schedule(self, name: str) -> ScheduleView:
        return self.scheduler.get(name)

    def list_schedules(self) -> list[ScheduleView]:
        return self.scheduler.list_views()

    def update_schedule(self, name: str, change: dict[str, object]) -> ScheduleView:
        return self.scheduler.update(name, change)

    def delete_schedule(self, name: str) -> None:
        self.scheduler.delete(name)

    def pause_schedule(self, name: str) -> ScheduleView:
        return self.scheduler.update(name, {"paused": True})

    def resume_schedule(self, name: str) -> ScheduleView:
        return self.scheduler.update(name, {"paused": False})

    def trigger_schedule(self, name: str) -> ScheduleFire:
        return self.scheduler.trigger(name)

    def list_schedule_fires(
        self, name: str, limit: int, before: datetime | None = None
    ) -> list[ScheduleFire]:
        return self.scheduler.fires(name, limit, before)

    def count_job_executions(self, selection: ExecutionFilter, *, job_name: str | None) -> int:
        """How many executions `selection` selects (checked as `list_job_executions`)."""
        self._check_listing(selection, job_name, first_page=True)
        return self.explorer.count_job_executions(selection)

    def _check_listing(
        self, selection: ExecutionFilter, job_name: str | None, *, first_page: bool
    ) -> None:
        if selection.job_instance_id is not None:
            if self.explorer.get_job_instance(selection.job_instance_id) is None:
                raise NoSuchJobInstance(f"no job instance with id {selection.job_instance_id}")
        elif job_name is not None and first_page:
            self.check_job_known(job_name)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def running_execution_ids(self) -> list[int]:
        return self._launcher.running_ids() if self._launcher is not None else []

    def refuse_starts(self) -> None:
        """From now on Start, StartNextInstance and Restart fail with OperatorShutDown."""
        self._accepting = False
        self._claimer_stop.set()
        self._claim_wakeup.set()
        self.scheduler.stop()

    def shutdown(self, grace: float, *, handoff: bool = False) -> bool:
        """Stop every execution of this server and wait up to `grace` seconds for them to
        end STOPPED. Executions still running then are marked FAILED (restartable), since
        the process is about to exit under them. Returns whether all stopped in time.

        `handoff` (PostgreSQL): starts claimed here but not begun go back to the queue,
        and each execution stopped here gets a restart waiting for another node to claim
        it, so that the work carries on elsewhere."""
        # Bulk operations first: a restart must not be refused as shutting down (they stay
        # RUNNING, for another node or this one's next start).
        self.bulk.close()
        self.refuse_starts()
        if self._claimer is not None:
            self._claimer.join(timeout=5)
        try:
            return self._stop_executions(grace, handoff=handoff and self._postgresql)
        finally:
            if self.overdue is not None:
                self.overdue.close()
            self.node.stop()
            if self.relay is not None:
                self.relay.close()

    def _stop_executions(self, grace: float, *, handoff: bool) -> bool:
        launcher = self._launcher
        if launcher is None:
            return True
        for hold in list(self._holds):
            hold.release()  # their executions are queued now, and drained just below
        for execution in launcher.drain():
            if handoff:
                self.nodes.release_claim(execution.id, self.node_id)  # another node runs it
            else:
                # Never picked up: STARTING -> STOPPED, restartable.
                self._stop_quietly(execution.id)
        running = launcher.running_ids()
        for execution_id in running:
            self._stop_quietly(execution_id)
        if self._partition_workers is not None:
            # Other nodes' jobs: their partitions here stop, and those jobs with them.
            self._partition_workers.request_stop_all()
        stopped = launcher.wait_idle(grace)
        try:
            return self._end_stopping(launcher, grace, stopped)
        finally:
            if handoff:
                for execution_id in running:
                    self._hand_off(execution_id)

    def _hand_off(self, execution_id: int) -> None:
        """A restart of an execution stopped by this node's shutdown, left for another."""
        try:
            previous = self.get_job_execution(execution_id)
            if previous.status.value not in ("STOPPED", "FAILED"):
                return  # it completed (or failed for its own reasons) before it stopped
            job = self.registry.get(previous.job_name)
            execution = self.repository.create_job_execution(
                job.name,
                previous.job_parameters,
                restartable=job.restartable,
                request_launch=True,
                priority=previous.priority,
            )
        except JobopError as error:
            log.warning("could not hand job execution %s over: %s", execution_id, error)
            return
        self._publish(execution, created=True)
        log.info("job execution %s handed over as %s", execution_id, execution.id)

    def _end_stopping(self, launcher: Launcher, grace: float, stopped: bool) -> bool:
        if not stopped:
            for execution_id in launcher.running_ids():
                log.warning(
                    "job execution %s did not stop within %.1f s: marking it FAILED",
                    execution_id,
                    grace,
                )
                try:
                    self._publish(
                        self.repository.recover(
                            execution_id,
                            f"failed: node {self.node_id} shut down before it stopped",
                        )
                    )
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


def _log_about(execution: JobExecution, code: MessageCode, message: str, *args: object) -> None:
    """An INFO record about an execution, naming its job and id in every log format."""
    with logcontext.job_context(execution.job_name, execution.id):
        log.info(message, *args, extra=code.extra)
