"""Partitions spread over the nodes of a PostgreSQL cluster (docs/partitions.md).

Manager side: `ClusterPartitionHandler` adds the worker step executions waiting (announced
`pw`), and waits for their ends: a `pe` NOTIFY wakes it (`PartitionEnds`, fed by the
relay), and it polls the rows only while LISTEN is down. While some of its partitions wait
for a claim it takes one at a time itself (on a thread, the manager waiting on), so that a
job whose manager holds a worker always progresses, even when every worker of the cluster
holds a manager.
A partition that ended FAILED because its node was lost is added again (the same name, the
failed one's last committed context, ATTEMPT + 1) up to the step's `partition_retries`;
one that ended STOPPED while the job was not stopping (its node shut down) is added again
likewise, for another node to take over. A
stop (this node's, or the job STOPPING by any node's) ends the partitions no node claimed
STOPPED; those running elsewhere see the job's status at their next chunk commit.

Worker side: `PartitionWorkers` claims waiting partitions of the jobs registered here with
the launcher's free workers (woken by `pw`, by a free worker, and on the claimer's poll)
and runs each with `execute_partition` on a worker, with a stop signal that this node's
Stop sets at once and that the runner's stop poller sets when another node stops the job.

`OperatorPartitionHandler` is what the operator hands its runner: the cluster's handler on
PostgreSQL while other nodes run jobs, else the partitions run on threads of this process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from jobop.batch import logcontext
from jobop.batch.partition import (
    LocalPartitionHandler,
    PartitionStep,
    add_counts,
    execute_partition,
)
from jobop.batch.step import StepRun, StopPoller, StopSignal
from jobop.domain import BatchStatus, ExecutionEndedElsewhere, StepExecution
from jobop.repository.nodes import OWNER_LOST_PREFIX
from jobop.repository.partition_claims import (
    ClaimedPartition,
    PartitionClaims,
    PartitionEnd,
    release_claims,
)

from .launcher import Launcher, Task

if TYPE_CHECKING:
    from jobop.batch.job import Job
    from jobop.batch.store import JobStore
    from jobop.repository import JobExplorer

log = logging.getLogger(__name__)

# How often a waiting manager reads its job's status (a stop requested on another node)
# and, while LISTEN is down, its partitions' rows.
DEFAULT_MANAGER_POLL = 0.5


class PartitionEnds:
    """The `pe` announcements this node's managers wait for; thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._watched: set[int] = set()
        self._ended: set[int] = set()

    def watch(self, step_execution_ids: Iterable[int]) -> None:
        with self._cond:
            self._watched.update(step_execution_ids)

    def unwatch(self, step_execution_ids: Iterable[int]) -> None:
        with self._cond:
            for step_id in step_execution_ids:
                self._watched.discard(step_id)
                self._ended.discard(step_id)

    def announced(self, step_execution_ids: Iterable[int]) -> None:
        """A `pe` NOTIFY arrived (the listener's thread)."""
        with self._cond:
            found = [step_id for step_id in step_execution_ids if step_id in self._watched]
            if found:
                self._ended.update(found)
                self._cond.notify_all()

    def resync(self) -> None:
        """LISTEN (re)connected: what ended meanwhile was not heard; every manager reads
        all its partitions once."""
        with self._cond:
            self._ended.update(self._watched)
            self._cond.notify_all()

    def take(self, step_execution_ids: Iterable[int], timeout: float) -> list[int]:
        """Those of these partitions announced ended, waiting up to `timeout` for one."""
        wanted = set(step_execution_ids)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = wanted & self._ended
                if found:
                    self._ended -= found
                    return sorted(found)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)


class ClusterPartitionHandler:
    """The manager side on a cluster (see the module's doc); one per operator."""

    def __init__(
        self,
        claims: PartitionClaims,
        ends: PartitionEnds,
        explorer: JobExplorer,
        *,
        node_id: Callable[[], str],
        job_of: Callable[[str], Job],
        listening: Callable[[], bool],
        poll_interval: float = DEFAULT_MANAGER_POLL,
        on_end: Callable[[str, float], None] | None = None,
    ) -> None:
        self._claims = claims
        self._ends = ends
        self._explorer = explorer
        self._node_id = node_id
        self._job_of = job_of
        self._listening = listening
        self.poll_interval = poll_interval
        self._on_end = on_end

    def handle(
        self,
        step: PartitionStep,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        run: StepRun,
    ) -> list[StepExecution]:
        if not workers:
            return []
        execution = run.job_execution
        run.repository.add_partitions(manager, workers, node_id=None)
        execution.step_executions.extend(workers)
        pending = {worker.id: worker for worker in workers}
        final: dict[str, int] = {}  # partition step name -> its last step execution id
        superseded: list[int] = []  # attempts that ran again as a new step execution
        self._ends.watch(pending)
        try:
            self._wait(step, manager, run, pending, final, superseded)
        except BaseException:
            # The manager gives up (its job ended elsewhere, the database went away): what
            # no node claimed never runs; its rows end now if they can.
            with contextlib.suppress(Exception):
                self._claims.end_unclaimed(list(pending), BatchStatus.FAILED)
            raise
        finally:
            self._ends.unwatch([*pending, *final.values()])
        # What a lost (or handed over) attempt committed was read and written in this
        # manager's execution: counted, as its retry resumed after it; its status is not.
        for step_id in superseded:
            attempt = self._explorer.get_step_execution(execution.id, step_id)
            if attempt is not None:
                add_counts(manager, attempt)
        return self._reread(run, final)

    def _wait(
        self,
        step: PartitionStep,
        manager: StepExecution,
        run: StepRun,
        pending: dict[int, StepExecution],
        final: dict[str, int],
        superseded: list[int],
    ) -> None:
        execution = run.job_execution
        job = self._job_of(execution.job_name)
        stopping = stop_handled = False
        may_claim = True  # some of its partitions may wait for a claim
        # Their rows are read once first: a partition may have been claimed and ended (its
        # `pe` announced) between add_partitions' commit and the watch, and not been heard.
        read_all = True
        # The partition this node's manager runs itself, on a thread of its own so that
        # the manager sees the other partitions' ends meanwhile; and what it raised.
        own: threading.Thread | None = None
        ended_elsewhere: list[ExecutionEndedElsewhere] = []
        checked_at = float("-inf")  # when the job's status was last read
        lost: dict[str, int] = defaultdict(int)  # partition name -> times lost with a node
        while pending:
            # The job's status (a stop requested on another node) once a poll interval,
            # not at every end: ends are seen sooner.
            if not stopping and time.monotonic() - checked_at >= self.poll_interval:
                checked_at = time.monotonic()
                stopping = self._stop_requested(run)
            elif not stopping:
                stopping = run.stop.is_set()
            if stopping and not stop_handled:
                stop_handled = True
                self._claims.end_unclaimed(list(pending), BatchStatus.STOPPED)
                read_all = True
            can_claim = may_claim and not stopping and (own is None or not own.is_alive())
            if can_claim:
                # The worker its manager holds would idle: it runs a partition no node took.
                claimed = self._claims.claim_partitions(
                    self._node_id(), [execution.job_name], 1, job_execution_id=execution.id
                )
                if claimed:
                    own = threading.Thread(
                        target=self._run_here,
                        args=(job, claimed[0], run, ended_elsewhere),
                        name=_own_name(claimed[0].worker.id),
                        daemon=True,
                    )
                    own.start()
                else:
                    may_claim = False
            if read_all or not self._listening():
                ended_ids = list(pending)
                if not read_all:
                    self._ends.take(pending, self.poll_interval)  # a NOTIFY may still come
                read_all = False
            else:
                ended_ids = self._ends.take(pending, self.poll_interval)
                if not ended_ids:
                    continue
            for end in self._claims.read_partition_ends(ended_ids):
                if end.ended is None:
                    continue
                pending.pop(end.step_execution_id, None)
                if own is not None and own.name == _own_name(end.step_execution_id):
                    own.join()  # it has ended its partition: free for the next one
                if (
                    end.ended_ago is not None
                    and end.node_id != self._node_id()  # another node's, announced
                    and self._on_end is not None
                ):
                    self._on_end(execution.job_name, end.ended_ago)
                if not stopping and self._retryable(end, step, run, lost[end.step_name]):
                    if end.status is BatchStatus.FAILED:
                        lost[end.step_name] += 1
                    retry = self._retry(end, step, manager, run)
                    superseded.append(end.step_execution_id)
                    pending[retry.id] = retry
                    self._ends.watch([retry.id])
                    may_claim = True
                    read_all = True  # as at the start: its end may precede the watch
                    continue
                final[end.step_name] = end.step_execution_id
        if own is not None:
            own.join()
        if ended_elsewhere:
            raise ended_elsewhere[0]

    def _stop_requested(self, run: StepRun) -> bool:
        if run.stop.is_set():
            return True
        status = run.repository.get_job_statuses([run.job_execution.id]).get(run.job_execution.id)
        return status is not BatchStatus.STARTED

    def _retryable(self, end: PartitionEnd, step: PartitionStep, run: StepRun, lost: int) -> bool:
        """Its node was lost (recovery failed it) and it may run again: it was lost `lost`
        times before, fewer than `partition_retries`; or its node shut down (it stopped
        while the job was not stopping): another node takes it over, as a shutdown hands
        its own executions over (this does not count as a loss)."""
        if end.status is BatchStatus.FAILED:
            if not end.exit_message.startswith(OWNER_LOST_PREFIX):
                return False
            if lost >= step.partition_retries:
                return False
        elif end.status is not BatchStatus.STOPPED:
            return False
        return not self._stop_requested(run)

    def _retry(
        self, end: PartitionEnd, step: PartitionStep, manager: StepExecution, run: StepRun
    ) -> StepExecution:
        """A new step execution of the lost partition, from its last commit, waiting."""
        execution = run.job_execution
        failed = self._explorer.get_step_execution(execution.id, end.step_execution_id)
        assert failed is not None
        retry = StepExecution(failed.step_name, execution.id)
        retry.execution_context = failed.execution_context.copy()
        run.repository.add_partitions(manager, [retry], node_id=None, attempt=end.attempt + 1)
        execution.step_executions.append(retry)
        log.warning(
            "partition %s (step execution %s) %s node %s: running it again as step "
            "execution %s (attempt %d)",
            end.step_name,
            end.step_execution_id,
            "was lost with" if end.status is BatchStatus.FAILED else "stopped with the shutdown of",
            end.node_id,
            retry.id,
            end.attempt + 1,
        )
        return retry

    def _run_here(
        self,
        job: Job,
        claimed: ClaimedPartition,
        run: StepRun,
        ended_elsewhere: list[ExecutionEndedElsewhere],
    ) -> None:
        try:
            execute_partition(
                job,
                claimed.worker,
                run.job_execution,
                run.repository,
                run.stop,
                listeners=run.listeners,
                poll_interval=run.poll_interval,
                stop_poller=run.stop_poller,
                job_parameters=run.job_parameters,
            )
        except ExecutionEndedElsewhere as error:
            ended_elsewhere.append(error)
        except Exception:
            log.error("partition %s ended with an error", claimed.worker.step_name, exc_info=True)

    def _reread(self, run: StepRun, final: dict[str, int]) -> list[StepExecution]:
        """The final worker step executions as committed, in place of the objects the
        job execution holds."""
        execution = run.job_execution
        ended = []
        for step_id in sorted(final.values()):
            found = self._explorer.get_step_execution(execution.id, step_id)
            if found is not None:
                ended.append(found)
        by_id = {step.id: step for step in ended}
        execution.step_executions = [by_id.get(s.id, s) for s in execution.step_executions]
        return ended


def _own_name(step_execution_id: int) -> str:
    """The name of the thread on which a manager runs one of its partitions itself."""
    return f"jobop-partition-{step_execution_id}"


class OperatorPartitionHandler:
    """The runner's handler: the cluster's when `spread()` (PostgreSQL, other nodes run
    jobs), else threads of this process."""

    def __init__(
        self,
        cluster: ClusterPartitionHandler | None,
        spread: Callable[[], bool],
        node_id: Callable[[], str],
    ) -> None:
        self.cluster = cluster
        self._spread = spread
        self._node_id = node_id

    def handle(
        self,
        step: PartitionStep,
        manager: StepExecution,
        workers: Sequence[StepExecution],
        run: StepRun,
    ) -> list[StepExecution]:
        if self.cluster is not None and self._spread():
            return self.cluster.handle(step, manager, workers, run)
        local = LocalPartitionHandler(node_id=self._node_id())
        return local.handle(step, manager, workers, run)


class PartitionWorkers:
    """The worker side (see the module's doc); one per operator that runs jobs."""

    def __init__(
        self,
        claims: PartitionClaims,
        launcher: Launcher,
        store: JobStore,
        *,
        node_id: Callable[[], str],
        job_names: Callable[[], Sequence[str]],
        job_of: Callable[[str], Job],
        stop_poller: StopPoller,
        listeners: Sequence[object] = (),
        poll_interval: float = 0.5,
    ) -> None:
        self._claims = claims
        self._launcher = launcher
        self._store = store
        self._node_id = node_id
        self._job_names = job_names
        self._job_of = job_of
        self._stop_poller = stop_poller
        self._listeners = tuple(listeners)
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._signals: dict[int, list[StopSignal]] = {}  # job execution id -> its workers'
        # Whether partitions may wait for a claim (a `pw` NOTIFY, a poll).
        self.maybe_waiting = True

    def claim(self) -> int:
        """Claim waiting partitions for the free workers and queue them; how many."""
        if not self.maybe_waiting:
            return 0
        names = self._job_names()
        if not names:
            return 0
        reserved = 0
        while self._launcher.reserve():
            reserved += 1
        if not reserved:
            return 0
        self.maybe_waiting = False
        claimed: list[ClaimedPartition] = []
        try:
            claimed = self._claims.claim_partitions(self._node_id(), names, reserved)
        except BaseException:
            self.maybe_waiting = True
            raise
        finally:
            for _ in range(reserved - len(claimed)):
                self._launcher.unreserve()
        if len(claimed) >= reserved:
            self.maybe_waiting = True  # more may wait than the workers took
        for found in claimed:
            self._submit(found)
        return len(claimed)

    def _submit(self, found: ClaimedPartition) -> None:
        worker = found.worker
        signal = StopSignal()

        def cancel() -> None:
            try:
                release_claims(self._claims.engine, [worker.id], self._node_id())
            except Exception:
                log.warning("could not give partition %s back", worker.id, exc_info=True)

        task = Task(
            f"partition {worker.step_name} (step execution {worker.id})",
            lambda: self._run(found, signal),
            cancel,
        )
        try:
            self._launcher.submit_task(task, reserved=True)
        except RuntimeError:
            cancel()  # shutting down

    def _run(self, found: ClaimedPartition, signal: StopSignal) -> None:
        execution = found.job_execution
        with self._lock:
            self._signals.setdefault(execution.id, []).append(signal)
        unwatch = self._stop_poller.watch(execution.id, signal)
        try:
            with logcontext.job_context(execution.job_name, execution.id):
                log.info(
                    "running partition %s of job execution %s (attempt %d)",
                    found.worker.step_name,
                    execution.id,
                    found.attempt,
                )
            execute_partition(
                self._job_of(execution.job_name),
                found.worker,
                execution,
                self._store,
                signal,
                listeners=self._listeners,
                poll_interval=self._poll_interval,
                stop_poller=self._stop_poller,
            )
        except ExecutionEndedElsewhere:
            log.info(
                "partition %s stopped: job execution %s ended elsewhere",
                found.worker.step_name,
                execution.id,
            )
        finally:
            unwatch()
            with self._lock:
                signals = self._signals.get(execution.id, [])
                if signal in signals:
                    signals.remove(signal)
                if not signals:
                    self._signals.pop(execution.id, None)

    def request_stop(self, execution_id: int) -> bool:
        """This node's fast path of a stop: its partitions of the job stop at their next
        chunk boundary. False if none runs here."""
        with self._lock:
            signals = list(self._signals.get(execution_id, ()))
        for signal in signals:
            signal.set()
        return bool(signals)

    def request_stop_all(self) -> None:
        with self._lock:
            signals = [signal for group in self._signals.values() for signal in group]
        for signal in signals:
            signal.set()
