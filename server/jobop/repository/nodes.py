"""Nodes, leases, launch requests and claims: the SQL by which replicas share one database.

A node is a process that serves or runs jobs (`jobop serve`, `jobop run`). It registers a
row in JOBOP_NODE and heartbeats: one UPDATE that stamps the database's clock. A node is
live while its heartbeat is younger than its lease, judged by the same clock in the
statement that compares. When a node's lease has run out, exactly one survivor recovers it
(`recover_node`: the node row is locked FOR UPDATE SKIP LOCKED and marked LOST in the same
transaction, so a second survivor finds nothing left to do): its running executions and
their running steps end FAILED with "owner lost: …", and the starts it had claimed but not
begun are put back for another node to claim.

Launch requests (JOBOP_LAUNCH_REQUEST) are written with the execution (see
`JobRepository.create_job_execution`); `claim_launch_requests` takes waiting ones for a
node with free workers. A NOTIFY on `CHANNEL` announces a request that waits for a claim.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
    union_all,
    update,
)

from jobop.domain import (
    BatchStatus,
    ExitStatus,
    JobExecution,
    truncate_exit_message,
    utcnow,
)
from jobop.domain.workload import JobSettings

from .engine import is_postgresql, read_connection, write_transaction
from .explorer import load_starting_executions
from .schema import (
    RUNNING_STATUSES,
    UtcDateTime,
    job_execution,
    launch_request,
    node,
    partition,
    step_execution,
)
from .workload import (
    LOCK_JOBS,
    admission,
    announce_waiting,
    count_waiting,
    governing_override,
    lock_arguments,
    lock_jobs,
    settings_in_force,
    waiting_count,
)
from .workload import db_now as _db_now

_e, _s, _n, _l = job_execution, step_execution, node, launch_request

# The NOTIFY channel of a jobop database (NOTIFY is scoped to one database already).
CHANNEL = "jobop"

OWNER_LOST_PREFIX = "owner lost:"

# The first key of jobop's advisory locks on a job's launches (PostgreSQL's two-key form;
# the second key is the CRC-32 of the job's name: two names that share one only wait for
# each other).
_JOB_LOCK_CLASS = 0x6A6F62


@dataclass(frozen=True)
class NodeInfo:
    """What a node says of itself when it registers."""

    node_id: str
    host: str
    pid: int
    process_started: int | None
    role: str
    version: str
    lease_seconds: float


@dataclass(frozen=True)
class NodeState:
    """A node as the database sees it now; `live` judged by the database's clock."""

    node_id: str
    host: str
    pid: int
    process_started: int | None
    role: str
    version: str
    started: datetime
    last_heartbeat: datetime
    lease_seconds: float
    live: bool
    lost: datetime | None
    lost_by: str | None
    left: datetime | None
    # Filled by `list_nodes` only (None elsewhere): its running executions (STARTING,
    # STARTED, STOPPING claimed by it), and seconds since its last heartbeat by the
    # database's clock.
    running_executions: int | None = None
    heartbeat_age: float | None = None

    @property
    def state(self) -> str:
        """`live`, `expired` (lease run out, not yet recovered), `lost` or `left`."""
        if self.left is not None:
            return "left"
        if self.lost is not None:
            return "lost"
        return "live" if self.live else "expired"

    @property
    def last_seen(self) -> str:
        """The last heartbeat, ISO 8601 UTC to the millisecond."""
        return self.last_heartbeat.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    def describe(self) -> str:
        """`node ID (HOST pid PID) last seen TIME`, as the owner-lost message names it."""
        return f"node {self.node_id} ({self.host} pid {self.pid}) last seen {self.last_seen}"


@dataclass(frozen=True)
class RecoveredNode:
    """What `recover_node` did: executions failed, and starts released for others."""

    node: NodeState
    failed: list[int]
    released: list[int]
    # Partitions (worker step execution ids) it had claimed, ended by the recovery.
    partitions: list[int] = field(default_factory=list)


def _waiting_statement(bind: Engine | Connection) -> Any:
    """Up to `limit` waiting requests of the ungoverned jobs `names`, in run order: their
    (job_execution_id, priority), locked (built once: a claim follows every job a worker
    ends). A job a run-time setting governs is left to admission, even if it became
    governed since the claim read the settings."""
    waiting = (
        select(_l.c.job_execution_id, _l.c.priority)
        .where(
            _l.c.node_id.is_(None),
            _l.c.job_name.in_(bindparam("names", expanding=True)),
            ~exists().where(governing_override(_l.c.job_name)),
        )
        .order_by(_l.c.priority.desc(), _l.c.job_execution_id)
        .limit(bindparam("limit"))
    )
    if is_postgresql(bind):
        # Claimants never wait for each other: each takes rows nobody has locked.
        waiting = waiting.with_for_update(skip_locked=True, of=_l)
    return waiting


def _claim_statement(bind: Engine | Connection) -> Any:
    """Claim up to `limit` waiting requests of the ungoverned jobs `names` for `node_id`,
    in run order."""
    waiting = _waiting_statement(bind).with_only_columns(_l.c.job_execution_id)
    return (
        update(_l)
        .where(_l.c.job_execution_id.in_(waiting.scalar_subquery()))
        .values(node_id=bindparam("node_id"), claimed=_db_now(bind))
        .returning(_l.c.job_execution_id)
    )


def _governed_claim(
    node_id: str,
    settings: Mapping[str, JobSettings],
    admitting: list[str],
    free: list[str],
    limit: int,
) -> Any:
    """The claim of up to `limit` starts in run order among those admission lets run of
    the jobs `admitting` and the waiting ones of the ungoverned jobs `free` (None: none
    to look at); run under the admitting jobs' locks (see `_pipelined_claim`)."""
    parts = [admission(name, settings[name], limit).subquery() for name in admitting]
    if free:
        parts.append(
            select(_l.c.job_execution_id, _l.c.priority)
            .where(
                _l.c.node_id.is_(None),
                _l.c.job_name.in_(free),
                ~exists().where(governing_override(_l.c.job_name)),
            )
            .order_by(_l.c.priority.desc(), _l.c.job_execution_id)
            .limit(limit)
            .subquery()
        )
    if not parts:
        return None
    candidates = union_all(
        *(select(part.c.job_execution_id, part.c.priority) for part in parts)
    ).subquery()
    chosen = (
        select(candidates.c.job_execution_id)
        .order_by(candidates.c.priority.desc(), candidates.c.job_execution_id)
        .limit(limit)
    )
    return (
        update(_l)
        .where(_l.c.job_execution_id.in_(chosen), _l.c.node_id.is_(None))
        .values(node_id=node_id, claimed=func.timezone("UTC", func.now()))
        .returning(_l.c.job_execution_id)
    )


def _live(bind: Engine | Connection) -> Any:
    """Whether a node's lease still runs, by the database's clock."""
    if is_postgresql(bind):
        return _n.c.last_heartbeat + func.make_interval(
            0, 0, 0, 0, 0, 0, _n.c.lease_seconds
        ) > func.timezone("UTC", func.now())
    age = (func.julianday("now") - func.julianday(_n.c.last_heartbeat)) * 86400.0
    return age <= _n.c.lease_seconds


def _heartbeat_age(bind: Engine | Connection) -> Any:
    """Seconds since a node's last heartbeat, by the database's clock."""
    if is_postgresql(bind):
        return func.extract("epoch", func.timezone("UTC", func.now()) - _n.c.last_heartbeat)
    return (func.julianday("now") - func.julianday(_n.c.last_heartbeat)) * 86400.0


def _node_state(row: Any) -> NodeState:
    return NodeState(
        node_id=row.node_id,
        host=row.host,
        pid=int(row.pid),
        process_started=row.process_started,
        role=row.role,
        version=row.version,
        started=row.started,
        last_heartbeat=row.last_heartbeat,
        lease_seconds=float(row.lease_seconds),
        live=bool(row.live),
        lost=row.lost,
        lost_by=row.lost_by,
        left=row.left,
    )


class NodeRepository:
    """The nodes' table and the launch requests' claims; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._postgresql = is_postgresql(engine)
        self._claim = _claim_statement(engine)
        self._waiting = _waiting_statement(engine)

    # -- membership ---------------------------------------------------------------------

    def register(self, info: NodeInfo) -> None:
        with write_transaction(self.engine) as connection:
            now = _db_now(connection)
            connection.execute(
                insert(_n).values(
                    node_id=info.node_id,
                    host=info.host[:255],
                    pid=info.pid,
                    process_started=info.process_started,
                    started=now,
                    role=info.role,
                    version=info.version[:40],
                    last_heartbeat=now,
                    lease_seconds=info.lease_seconds,
                )
            )

    def heartbeat(self, node_id: str) -> bool:
        """Renew the node's lease (one statement). False if the node was declared lost
        (a survivor recovered its executions) or is unknown: the caller registers anew."""
        with write_transaction(self.engine) as connection:
            renewed = connection.execute(
                update(_n)
                .where(_n.c.node_id == node_id, _n.c.lost.is_(None), _n.c.left.is_(None))
                .values(last_heartbeat=_db_now(connection))
                .returning(_n.c.node_id)
            ).first()
        return renewed is not None

    def revive(self, node_id: str) -> None:
        """A node declared lost that still runs: live again from now, with a clean record."""
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(_n)
                .where(_n.c.node_id == node_id)
                .values(last_heartbeat=_db_now(connection), lost=None, lost_by=None, left=None)
            )

    def deregister(self, node_id: str) -> None:
        """A clean exit: the node is LEFT; what it still owned is recovered at once."""
        with write_transaction(self.engine) as connection:
            connection.execute(
                update(_n)
                .where(_n.c.node_id == node_id, _n.c.left.is_(None))
                .values(left=_db_now(connection))
            )

    def list_nodes(self, *, include_gone: bool = True) -> list[NodeState]:
        """Every node with its lease state (`NodeState.state`), newest first."""
        with read_connection(self.engine) as connection:
            query = select(
                _n, _live(connection).label("live"), _heartbeat_age(connection).label("age")
            ).order_by(_n.c.started.desc(), _n.c.node_id)
            if not include_gone:
                query = query.where(_n.c.lost.is_(None), _n.c.left.is_(None))
            nodes = [
                replace(_node_state(row), heartbeat_age=max(float(row.age), 0.0))
                for row in connection.execute(query)
            ]
            # From the running executions (a partial index), not from each node's claims,
            # which grow with its history.
            running: dict[str, int] = {
                row.node_id: int(row.running)
                for row in connection.execute(
                    select(_l.c.node_id, func.count().label("running"))
                    .join(_e, _e.c.job_execution_id == _l.c.job_execution_id)
                    .where(_e.c.status.in_(RUNNING_STATUSES), _l.c.node_id.is_not(None))
                    .group_by(_l.c.node_id)
                )
            }
        return [replace(node, running_executions=running.get(node.node_id, 0)) for node in nodes]

    def get_node(self, node_id: str) -> NodeState | None:
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(_n, _live(connection).label("live")).where(_n.c.node_id == node_id)
            ).first()
        return None if row is None else _node_state(row)

    def find_owner(self, execution_id: int) -> NodeState | None:
        """The node that claimed the execution (its owner), None if no node did."""
        with read_connection(self.engine) as connection:
            row = connection.execute(
                select(_n, _live(connection).label("live"))
                .join(_l, _l.c.node_id == _n.c.node_id)
                .where(_l.c.job_execution_id == execution_id)
            ).first()
        return None if row is None else _node_state(row)

    def has_launch_request(self, execution_id: int) -> bool:
        """Whether jobop queued the execution's start (any jobop launch writes one; a
        Spring Batch application's launch does not, so recovery never touches those)."""
        with read_connection(self.engine) as connection:
            found = connection.execute(
                select(_l.c.job_execution_id).where(_l.c.job_execution_id == execution_id)
            ).first()
        return found is not None

    def find_nodes_to_recover(self) -> list[NodeState]:
        """Nodes not yet recovered whose lease ran out, or that left while still owning a
        running execution or an unended partition (their shutdown could not end it), plus
        every live node (the caller may know that one of those on its own host is dead)."""
        with read_connection(self.engine) as connection:
            owns_running = exists().where(
                _l.c.node_id == _n.c.node_id,
                _e.c.job_execution_id == _l.c.job_execution_id,
                _e.c.status.in_(RUNNING_STATUSES),
            )
            # A partition it claimed and never ended (its shutdown could not stop it).
            holds_partition = exists().where(
                partition.c.node_id == _n.c.node_id, partition.c.ended.is_(None)
            )
            rows = connection.execute(
                select(_n, _live(connection).label("live")).where(
                    _n.c.lost.is_(None),
                    or_(_n.c.left.is_(None), owns_running, holds_partition),
                )
            ).all()
        return [_node_state(row) for row in rows]

    # -- recovery ---------------------------------------------------------------------

    def recover_node(
        self, node_id: str, survivor_id: str, *, force: bool = False
    ) -> RecoveredNode | None:
        """If the node's lease ran out (or `force`: the caller knows it is dead, e.g. its
        pid is gone on this host), mark it LOST and fail its running executions; None if
        it is live, already recovered, or another survivor is recovering it right now."""
        with write_transaction(self.engine) as connection:
            query = select(_n, _live(connection).label("live")).where(
                _n.c.node_id == node_id, _n.c.lost.is_(None)
            )
            if self._postgresql:
                # Exactly one survivor: the others skip the locked row and move on.
                query = query.with_for_update(skip_locked=True, of=_n)
            row = connection.execute(query).first()
            if row is None:
                return None
            state = _node_state(row)
            if state.live and state.left is None and not force:
                return None
            now = _db_now(connection)
            connection.execute(
                update(_n).where(_n.c.node_id == node_id).values(lost=now, lost_by=survivor_id)
            )
            owned = select(_l.c.job_execution_id).where(_l.c.node_id == node_id)
            # Claimed but never begun (still STARTING): another node may run it.
            released = list(
                connection.execute(
                    update(_l)
                    .where(
                        _l.c.node_id == node_id,
                        _l.c.job_execution_id.in_(
                            select(_e.c.job_execution_id).where(
                                _e.c.job_execution_id.in_(owned),
                                _e.c.status == BatchStatus.STARTING.value,
                            )
                        ),
                    )
                    .values(node_id=None, claimed=None)
                    .returning(_l.c.job_execution_id)
                ).scalars()
            )
            message = truncate_exit_message(f"{OWNER_LOST_PREFIX} {state.describe()}")
            failed_values: dict[str, Any] = {
                "status": BatchStatus.FAILED.value,
                "exit_code": ExitStatus.FAILED.exit_code,
                "exit_message": message,
                "last_updated": now,
            }
            # Job rows first, then step rows: the lock order of every path that updates
            # an execution and its steps.
            failed = sorted(
                connection.execute(
                    update(_e)
                    .where(
                        _e.c.job_execution_id.in_(owned),
                        _e.c.status.in_((BatchStatus.STARTED.value, BatchStatus.STOPPING.value)),
                    )
                    .values(
                        **failed_values,
                        end_time=func.coalesce(_e.c.end_time, now),
                        version=_e.c.version + 1,
                    )
                    .returning(_e.c.job_execution_id)
                ).scalars()
            )
            if failed:
                connection.execute(
                    update(_s)
                    .where(
                        _s.c.job_execution_id.in_(failed),
                        _s.c.status.in_(RUNNING_STATUSES),
                    )
                    .values(
                        **failed_values,
                        end_time=func.coalesce(_s.c.end_time, now),
                        version=_s.c.version + 1,
                    )
                )
            # The partitions it ran for managers elsewhere fail (their managers retry
            # them), and those of its own failed executions that no node claimed end.
            from . import partition_claims  # here: it imports this module's CHANNEL

            partitions = partition_claims.fail_lost_partitions(
                connection, node_id, failed_values, now
            )
            partitions += partition_claims.end_waiting_partitions(connection, failed, now)
            partition_claims.announce_ended(connection, partitions)
            if released:
                self._notify_launch(connection, released)
            elif failed:
                announce_waiting(connection)  # their slots are free
        return RecoveredNode(state, failed, sorted(released), [s for _, s in partitions])

    def count_owner_lost_executions(self, job_instance_id: int) -> int:
        """How many executions of the instance ended FAILED because their owner was lost."""
        with read_connection(self.engine) as connection:
            return int(
                connection.execute(
                    select(func.count()).where(
                        _e.c.job_instance_id == job_instance_id,
                        _e.c.status == BatchStatus.FAILED.value,
                        _e.c.exit_message.like(f"{OWNER_LOST_PREFIX}%"),
                    )
                ).scalar_one()
            )

    # -- launch requests --------------------------------------------------------------

    def claim_launch_requests(
        self,
        node_id: str,
        job_names: Sequence[str],
        limit: int,
        declared: Mapping[str, JobSettings] | None = None,
    ) -> list[JobExecution]:
        """`claim_admitted`'s executions."""
        return self.claim_admitted(node_id, job_names, limit, declared or {})[0]

    def claim_admitted(
        self,
        node_id: str,
        job_names: Sequence[str],
        limit: int,
        declared: Mapping[str, JobSettings],
    ) -> tuple[list[JobExecution], set[str]]:
        """Claim up to `limit` waiting launch requests of these jobs for `node_id`, in run
        order (priority DESC, then id), as the settings in force admit them (what each
        job `declared`, overridden at run time): the executions claimed, loaded (still
        STARTING ones only, by id), and the jobs found governed.

        A governed job (a limit or a pause) is admitted under its advisory lock, held to
        the end of this transaction: the slots counted, the starts that fit chosen and
        claimed in it, so claims racing on any number of nodes never exceed the limit.
        A paused job is skipped. The other jobs' requests are taken as before, skipping
        those another claim holds."""
        if limit <= 0 or not job_names:
            return [], set()
        with write_transaction(self.engine) as connection:
            settings = settings_in_force(connection, job_names, declared)
            governed = {name for name, value in settings.items() if value.governed}
            free = [name for name in job_names if name not in governed]
            if not governed or not self._postgresql:
                if not governed:
                    claimed = list(
                        connection.execute(
                            self._claim, {"node_id": node_id, "names": free, "limit": limit}
                        ).scalars()
                    )
                else:
                    claimed = self._claim_governed(connection, node_id, settings, free, limit)
                # A request whose execution was stopped or recovered while it waited is
                # taken off the queue all the same, and not run.
                executions = load_starting_executions(connection, claimed) if claimed else []
                return executions, governed
        # PostgreSQL, governed jobs: the locks held for the database's work only.
        admitting = sorted(name for name in governed if not settings[name].paused)
        claim = _governed_claim(node_id, settings, admitting, free, limit)
        claimed = sorted(self._pipelined_claim(admitting, claim)) if claim is not None else []
        with read_connection(self.engine) as connection:
            executions = load_starting_executions(connection, claimed) if claimed else []
        return executions, governed

    def _claim_governed(
        self,
        connection: Connection,
        node_id: str,
        settings: Mapping[str, JobSettings],
        free: list[str],
        limit: int,
    ) -> list[int]:
        admitting = sorted(
            name for name, value in settings.items() if value.governed and not value.paused
        )
        lock_jobs(connection, admitting)
        candidates = [
            (row.priority, row.job_execution_id)
            for name in admitting
            for row in connection.execute(admission(name, settings[name], limit))
        ]
        if free:
            candidates += [
                (row.priority, row.job_execution_id)
                for row in connection.execute(self._waiting, {"names": free, "limit": limit})
            ]
        chosen = [i for _, i in sorted(candidates, key=lambda c: (-c[0], c[1]))[:limit]]
        if not chosen:
            return []
        return list(
            connection.execute(
                update(_l)
                .where(_l.c.job_execution_id.in_(chosen), _l.c.node_id.is_(None))
                .values(node_id=node_id, claimed=_db_now(connection))
                .returning(_l.c.job_execution_id)
            ).scalars()
        )

    def claim_starts(
        self,
        node_id: str,
        starts: Sequence[tuple[int, str]],
        declared: Mapping[str, JobSettings],
    ) -> set[int]:
        """Claim new starts (execution id, job name) for the node that accepted them,
        each if admission lets it run now even after every start before it in run order
        (under the jobs' locks, as `claim_admitted`), all in one transaction: a limit
        never reached costs starts that arrive together this one transaction, not a trip
        through the queue each. The ids claimed."""
        if not starts:
            return set()
        jobs = sorted({job for _, job in starts})
        with read_connection(self.engine) as connection:
            # Read before the locks: a change committed meanwhile holds from the next claim.
            settings = settings_in_force(connection, jobs, declared)
        chosen: list[Any] = []
        for job in jobs:
            ids = [execution_id for execution_id, name in starts if name == job]
            if not settings[job].governed:
                chosen.append(select(_l.c.job_execution_id).where(_l.c.job_execution_id.in_(ids)))
            elif not settings[job].paused:
                admitted = admission(job, settings[job], None).subquery()
                chosen.append(
                    select(admitted.c.job_execution_id).where(admitted.c.job_execution_id.in_(ids))
                )
        if not chosen:
            return set()
        claim = (
            update(_l)
            .where(_l.c.job_execution_id.in_(union_all(*chosen)), _l.c.node_id.is_(None))
            .values(node_id=node_id, claimed=_db_now(self.engine))
            .returning(_l.c.job_execution_id)
        )
        if not self._postgresql:
            with write_transaction(self.engine) as connection:
                return set(connection.execute(claim).scalars())
        return self._pipelined_claim(jobs, claim)

    def _pipelined_claim(self, jobs: Sequence[str], claim: Any) -> set[int]:
        """The jobs' admission locks, the claim, and the commit sent at once (psycopg's
        pipeline): the claim's statement begins after the locks are held, so it counts
        every slot the previous holder took, and the locks are held for the database's
        work only, never across a round trip to this process (a busy interpreter made
        each round trip under the locks cost milliseconds, and the starts queued)."""
        compiled = claim.compile(
            dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True}
        )
        raw = self.engine.raw_connection()
        try:
            database = raw.driver_connection
            assert database is not None
            with database.pipeline():
                if jobs:
                    database.execute(LOCK_JOBS, lock_arguments(jobs))
                rows = database.execute(str(compiled), compiled.params)
                database.commit()
            return {row[0] for row in rows.fetchall()}
        except BaseException:
            raw.invalidate()
            raise
        finally:
            raw.close()

    def release_claim(self, execution_id: int, node_id: str) -> None:
        """Give a claimed, never begun execution back to the queue (e.g. a draining node)."""
        with write_transaction(self.engine) as connection:
            released = connection.execute(
                update(_l)
                .where(_l.c.job_execution_id == execution_id, _l.c.node_id == node_id)
                .values(node_id=None, claimed=None)
                .returning(_l.c.job_execution_id)
            ).first()
            if released is not None:
                self._notify_launch(connection, [execution_id])

    @contextmanager
    def next_instance_lock(self, job_name: str) -> Iterator[None]:
        """Hold, for every node, the right to launch the instance after the last one of
        `job_name`: a transaction-scoped advisory lock on PostgreSQL, on a connection kept
        for the block (released when its transaction ends, however the block ends or the
        process dies). Nothing on SQLite, where one process serves a database (its
        threads serialize in the operator)."""
        if not self._postgresql:
            yield
            return
        crc = zlib.crc32(job_name.encode("utf-8", "surrogatepass"))
        key = crc - (1 << 32) if crc >= 1 << 31 else crc  # the signed int4 PostgreSQL takes
        with self.engine.connect() as connection, connection.begin():
            connection.execute(select(func.pg_advisory_xact_lock(_JOB_LOCK_CLASS, key)))
            yield

    def held_back(self, job_names: Sequence[str], declared: Mapping[str, JobSettings]) -> bool:
        """Whether a start of these jobs waits that admission refuses now (a limit
        reached, a pause): a slot of theirs freed must be claimed at once. A start that
        may run but waits (just accepted: its node claims it) does not count."""
        with read_connection(self.engine) as connection:
            settings = settings_in_force(connection, job_names, declared)
            for job in job_names:
                if not settings[job].governed:
                    continue
                if settings[job].paused:
                    if count_waiting(connection, job):
                        return True
                    continue
                # Both counted in one statement: one snapshot (starts claimed between two
                # would read as refused).
                waiting, admitted = connection.execute(
                    select(
                        waiting_count(job).scalar_subquery(),
                        select(func.count())
                        .select_from(admission(job, settings[job], None).subquery())
                        .scalar_subquery(),
                    )
                ).one()
                if admitted < waiting:
                    return True
        return False

    def has_waiting_launch_requests(self, job_names: Sequence[str]) -> bool:
        with read_connection(self.engine) as connection:
            return (
                connection.execute(
                    select(_l.c.job_execution_id)
                    .where(_l.c.node_id.is_(None), _l.c.job_name.in_(list(job_names)))
                    .limit(1)
                ).first()
                is not None
            )

    def purge(self, older_than_seconds: float) -> int:
        """Forget launch requests of ended executions and nodes gone, older than that."""
        limit = literal(utcnow() - timedelta(seconds=older_than_seconds), UtcDateTime())
        with write_transaction(self.engine) as connection:
            ended = select(_e.c.job_execution_id).where(not_(_e.c.status.in_(RUNNING_STATUSES)))
            requests = connection.execute(
                delete(_l)
                .where(_l.c.created < limit, _l.c.job_execution_id.in_(ended))
                .returning(_l.c.job_execution_id)
            ).all()
            still_owning = exists().where(_l.c.node_id == _n.c.node_id)
            nodes = connection.execute(
                delete(_n)
                .where(
                    or_(
                        and_(_n.c.left.is_not(None), _n.c.left < limit),
                        and_(_n.c.lost.is_not(None), _n.c.lost < limit),
                    ),
                    not_(still_owning),
                )
                .returning(_n.c.node_id)
            ).all()
        return len(requests) + len(nodes)

    def _notify_launch(self, connection: Connection, execution_ids: Sequence[int]) -> None:
        if self._postgresql and execution_ids:
            # Delivered at commit, and only if the transaction commits.
            connection.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": CHANNEL, "payload": launch_payload(execution_ids)},
            )


def launch_payload(execution_ids: Sequence[int]) -> str:
    """`l ID ID ...`: launch requests waiting for a claim."""
    return "l " + " ".join(str(i) for i in execution_ids)


def insert_launch_request(
    connection: Connection,
    execution_id: int,
    job_name: str,
    now: datetime,
    claimed_by: str | None,
    priority: int = 0,
    governed: bool = False,
) -> bool:
    """The launch request of a new execution, in its creating transaction: claimed by
    `claimed_by` (the accepting node runs it itself) unless the job is governed
    (`governed`: declared; or by its run-time settings), or else waiting, and announced
    when no node was named. Whether `claimed_by` claimed it."""
    node_id: Any = literal(None if governed else claimed_by, _l.c.node_id.type)
    claimed_at: Any = literal(None if governed or claimed_by is None else now, _l.c.claimed.type)
    if claimed_by is not None and not governed:
        run_time = exists().where(governing_override(literal(job_name, _l.c.job_name.type)))
        node_id = case((run_time, None), else_=node_id)
        claimed_at = case((run_time, None), else_=claimed_at)
    written = connection.execute(
        insert(_l)
        .from_select(
            ["job_execution_id", "job_name", "created", "node_id", "claimed", "priority"],
            select(
                literal(execution_id, _l.c.job_execution_id.type),
                literal(job_name, _l.c.job_name.type),
                literal(now, _l.c.created.type),
                node_id,
                claimed_at,
                literal(priority, _l.c.priority.type),
            ),
        )
        .returning(_l.c.node_id)
    ).scalar_one()
    if claimed_by is None and is_postgresql(connection):
        connection.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": launch_payload([execution_id])},
        )
    return written is not None
