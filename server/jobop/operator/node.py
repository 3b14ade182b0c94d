"""This process as a node of the cluster: registration, heartbeat, lease and recovery.

`NodeMember` registers the process in JOBOP_NODE, renews its lease every
`heartbeat_interval` (one UPDATE, on a thread of its own: never inside a chunk's
transaction) and, on the same beat, recovers nodes whose lease ran out: exactly one
survivor marks a dead node's running executions FAILED ("owner lost: …") and hands them to
`on_recovered`. A node on this host whose process is gone is recovered at once, without
waiting for its lease: that is how a single process on SQLite recovers, at start-up, what
its predecessor left running.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from importlib import metadata

from jobop.batch import logcontext
from jobop.batch.owner import OWNER_KEY, is_alive, process_start_ticks
from jobop.domain import (
    JobExecution,
    JobExecutionAlreadyRunning,
    JobExecutionNotRunning,
    NoSuchJobExecution,
    UnreadableContext,
)
from jobop.domain.messages import MessageCode
from jobop.repository import JobRepository
from jobop.repository.nodes import (
    OWNER_LOST_PREFIX,
    NodeInfo,
    NodeRepository,
    NodeState,
    RecoveredNode,
)

log = logging.getLogger(__name__)

DEFAULT_HEARTBEAT_INTERVAL = 5.0
DEFAULT_LEASE = 15.0


def _jobop_version() -> str:
    try:
        return metadata.version("jobop")
    except metadata.PackageNotFoundError:
        return "unknown"


def node_host() -> str:
    """The host name this process registers with: JOBOP_NODE_HOST (e.g. a pod's name
    where containers share a host name), else the machine's."""
    return os.environ.get("JOBOP_NODE_HOST") or socket.gethostname()


def new_node_info(role: str, lease: float) -> NodeInfo:
    pid = os.getpid()
    return NodeInfo(
        node_id=uuid.uuid4().hex[:12],
        host=node_host(),
        pid=pid,
        process_started=process_start_ticks(pid),
        role=role,
        version=_jobop_version(),
        lease_seconds=lease,
    )


def process_gone(node: NodeState) -> bool:
    """Whether the node's process is known dead: it ran on this host and is no more."""
    if node.host != node_host() or node.host != socket.gethostname():
        return False  # another host (or a name of its own): only its lease tells
    return not is_alive({"host": node.host, "pid": node.pid, "started": node.process_started})


class NodeMember:
    """Membership of this process; thread-safe. `start()` registers, `stop()` leaves."""

    def __init__(
        self,
        nodes: NodeRepository,
        info: NodeInfo,
        *,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        on_recovered: Callable[[RecoveredNode], None] | None = None,
        on_beat: Callable[[], None] | None = None,
        recovers: bool = True,
    ) -> None:
        if heartbeat_interval <= 0 or info.lease_seconds <= heartbeat_interval:
            raise ValueError(
                f"the lease ({info.lease_seconds} s) must be longer than the heartbeat "
                f"interval ({heartbeat_interval} s)"
            )
        self.nodes = nodes
        self.info = info
        self.heartbeat_interval = heartbeat_interval
        self._on_recovered = on_recovered
        self._on_beat = on_beat
        # After an outage every node's heartbeat is old: give the others one lease to
        # renew theirs before taking any of them for dead.
        self._recover_not_before = 0.0
        # The other live nodes, as of the last heartbeat; and until when a node that just
        # announced itself counts as one before a heartbeat has seen it.
        self._peers: list[NodeState] = []
        self._joined_until = 0.0
        # False for `jobop run`: it has no operator to restart what it would recover.
        self._recovers = recovers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.healthy = True  # the last heartbeat reached the database
        # When (monotonic) the last heartbeat reached the database; and the peers' ages
        # as of the last survey, judged by the database's clock (for the metrics).
        self._beat_at = time.monotonic()
        self._peer_ages: dict[str, float] = {}
        self._surveyed_at = self._beat_at
        self._surveyed = False

    @property
    def node_id(self) -> str:
        return self.info.node_id

    def start(self) -> None:
        self.nodes.register(self.info)
        self._beat_at = time.monotonic()
        logcontext.set_node_id(self.node_id)
        # `jobop run` prints only the job's own log at INFO.
        log.log(
            logging.DEBUG if self.info.role == "run" else logging.INFO,
            "registered as node %s (%s pid %s, role %s, lease %.1f s)",
            self.node_id,
            self.info.host,
            self.info.pid,
            self.info.role,
            self.info.lease_seconds,
            extra=MessageCode.NODE_JOINED.extra,
        )
        self.survey(recover=self._recovers)
        self._thread = threading.Thread(target=self._beat, name="jobop-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop heartbeating and deregister (LEFT)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        try:
            self.nodes.deregister(self.node_id)
        except Exception:
            log.warning("could not deregister node %s", self.node_id, exc_info=True)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_interval):
            try:
                if not self.nodes.heartbeat(self.node_id):
                    log.warning(
                        "node %s was declared lost by another node (its lease ran out): "
                        "live again from now; what it ran was failed and may be restarted",
                        self.node_id,
                    )
                    self.nodes.revive(self.node_id)
                if not self.healthy:
                    log.info("heartbeats reach the database again")
                    self._recover_not_before = time.monotonic() + self.info.lease_seconds
                    # Pooled connections from before the outage are dead: start afresh
                    # rather than fail one call on each of them.
                    self.nodes.engine.dispose()
                self.healthy = True
                self._beat_at = time.monotonic()
            except Exception as error:
                if self.healthy:
                    log.warning("heartbeat failed: %s", error)
                self.healthy = False
                continue
            if self._on_beat is not None:
                try:
                    self._on_beat()
                except Exception:
                    log.warning("the work after a heartbeat failed", exc_info=True)
            recover = self._recovers and time.monotonic() >= self._recover_not_before
            try:
                self.survey(recover=recover)
            except Exception:
                log.warning("could not look at the other nodes", exc_info=True)

    @property
    def has_peers(self) -> bool:
        """Whether other nodes live (that would hear this node's announcements)."""
        return bool(self._peers) or time.monotonic() < self._joined_until

    @property
    def has_worker_peers(self) -> bool:
        """Whether other live nodes run jobs (that would claim a start left waiting)."""
        if time.monotonic() < self._joined_until:
            return True
        return any(peer.role in ("all", "worker") for peer in self._peers)

    def heartbeat_ages(self) -> dict[str, float]:
        """Seconds since each node's last successful heartbeat, by node id: this node's
        by its own clock, the other live nodes' as of the last survey (no query)."""
        now = time.monotonic()
        since_survey = now - self._surveyed_at
        ages = {peer: age + since_survey for peer, age in self._peer_ages.items()}
        ages[self.node_id] = now - self._beat_at
        return ages

    def peer_joined(self) -> None:
        """Another node announced itself: count it until a heartbeat sees it."""
        self._joined_until = time.monotonic() + 3 * self.heartbeat_interval

    def survey(self, *, recover: bool = True) -> list[RecoveredNode]:
        """Look at the other nodes (one query): note the live ones and, with `recover`,
        recover every node whose lease ran out (or whose process is gone from this
        host); what another survivor recovers first is skipped."""
        recovered: list[RecoveredNode] = []
        nodes = self.nodes.find_nodes_to_recover()
        surveyed_at = time.monotonic()
        dead = []
        peers = []
        own = next((node for node in nodes if node.node_id == self.node_id), None)
        for node in nodes:
            if node.node_id == self.node_id:
                continue
            gone = process_gone(node)
            if node.live and node.left is None and not gone:
                peers.append(node)
            else:
                dead.append((node, gone))
        self._note_peers(peers, own, surveyed_at)
        if not recover:
            return recovered
        for node, gone in dead:
            result = self.nodes.recover_node(node.node_id, self.node_id, force=gone)
            if result is None:
                continue
            log.warning(
                "%s %s: it is lost; failed executions %s, released starts %s%s",
                OWNER_LOST_PREFIX,
                result.node.describe(),
                result.failed or "none",
                result.released or "none",
                f", ended partitions {result.partitions}" if result.partitions else "",
                extra=MessageCode.NODE_LOST.extra,
            )
            recovered.append(result)
            if self._on_recovered is not None:
                self._on_recovered(result)
        return recovered

    def _note_peers(
        self, peers: list[NodeState], own: NodeState | None, surveyed_at: float
    ) -> None:
        """Keep the live peers and their heartbeat ages; log the ones that joined since
        the last survey (those live at start-up are not news)."""
        known = {peer.node_id for peer in self._peers}
        if self._surveyed:
            for peer in peers:
                if peer.node_id not in known:
                    log.info(
                        "node %s joined (%s pid %s, role %s, lease %g s)",
                        peer.node_id,
                        peer.host,
                        peer.pid,
                        peer.role,
                        peer.lease_seconds,
                        extra=MessageCode.NODE_JOINED.extra,
                    )
        self._peers = peers
        self._surveyed = True
        if own is not None:
            # Both heartbeats are the database's clock: their difference is the peer's age
            # when this node's heartbeat was stamped.
            self._peer_ages = {
                peer.node_id: max((own.last_heartbeat - peer.last_heartbeat).total_seconds(), 0.0)
                for peer in peers
            }
            self._surveyed_at = self._beat_at
        else:
            self._peer_ages = {}
            self._surveyed_at = surveyed_at


def owned_by_jobop(nodes: NodeRepository, execution: JobExecution) -> bool:
    """Whether jobop runs or ran the execution: it queued its start (a launch request) or
    a jobop runner recorded itself as its owner (`jobop.owner` in the job context). Any
    other (a Spring Batch application's) has no owner a lease would tell dead or alive."""
    try:
        recorded = OWNER_KEY in execution.execution_context
    except UnreadableContext:
        recorded = False  # jobop never writes a context it cannot read
    return recorded or nodes.has_launch_request(execution.id)


def stop_execution(
    nodes: NodeRepository, repository: JobRepository, execution_id: int
) -> JobExecution:
    """The Stop write (RPC and `jobop run --stop`): one jobop did not launch (no launch
    request: a Spring Batch application's) is stopped as Spring stops it, STARTING ->
    STOPPING, since its own launcher may be about to run it."""
    foreign = not nodes.has_launch_request(execution_id)
    return repository.request_stop(execution_id, as_spring=foreign)


def recover_execution(
    nodes: NodeRepository,
    repository: JobRepository,
    execution_id: int,
    *,
    force: bool = False,
    own_node_id: str | None = None,
) -> JobExecution:
    """The Recover rule (RPC and `jobop run --recover`). An execution jobop owns is
    failed once its owner is known dead (`check_recoverable`). One no jobop node owns is
    recovered as Spring Batch 6 recovers it, and only with `force`: the caller says its
    owner is dead, since no lease tells."""
    # With its context: `jobop.owner` names the owner process of one no node claimed.
    execution = repository.explorer.get_job_execution(execution_id)
    if execution is None:
        raise NoSuchJobExecution(f"no job execution with id {execution_id}")
    if owned_by_jobop(nodes, execution):
        message = check_recoverable(nodes, execution, own_node_id=own_node_id)
        return repository.recover(execution.id, message)
    if not execution.is_running:
        raise _not_running(execution)
    if not force:
        raise JobExecutionAlreadyRunning(
            f"job execution {execution.id} of {execution.job_name} is {execution.status.value} "
            "and no jobop node owns it (a Spring Batch application's, say): no lease tells "
            "whether its process still runs. If you know its owner is dead, pass force "
            '(jobctl recover --force, jobop run --recover ID --force, REST {"force": true}) '
            "to recover it as Spring Batch does",
            metadata={"force": "required"},
        )
    return repository.recover_unowned(execution.id)


def _not_running(execution: JobExecution) -> JobExecutionNotRunning:
    return JobExecutionNotRunning(
        f"job execution {execution.id} is {execution.status.value}, not running: "
        "there is nothing to recover"
    )


def check_recoverable(
    nodes: NodeRepository, execution: JobExecution, *, own_node_id: str | None = None
) -> str | None:
    """Raise unless an execution jobop owns may be marked FAILED by Recover: it
    must be running and its owner's lease run out (or its process gone). Returns the exit
    message naming the lost owner, or None when no node ever claimed it.

    An execution no node claimed (started before nodes existed, or by `jobop run` without
    a node) is recoverable unless its recorded owner process is alive on this host."""
    if not execution.is_running:
        raise _not_running(execution)
    owner = nodes.find_owner(execution.id)
    if owner is None:
        recorded = execution.execution_context.get(OWNER_KEY)
        if (
            isinstance(recorded, dict)
            and recorded.get("host") == socket.gethostname()
            and is_alive(recorded)
        ):
            raise JobExecutionAlreadyRunning(
                f"job execution {execution.id} is still running in process "
                f"{recorded.get('pid')} on {recorded.get('host')}"
            )
        return None
    if owner.node_id != own_node_id and owner.state == "live" and not process_gone(owner):
        raise JobExecutionAlreadyRunning(
            f"job execution {execution.id} is owned by node {owner.node_id} ({owner.host} "
            f"pid {owner.pid}), whose lease is live (last heartbeat {owner.last_seen}, lease "
            f"{owner.lease_seconds:g} s): stop it, or recover it once the lease ran out"
        )
    return f"{OWNER_LOST_PREFIX} {owner.describe()}"
