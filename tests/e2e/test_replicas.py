"""Several `jobop serve` replicas on one real PostgreSQL (and one process on SQLite): nodes
and leases, recovery of a dead owner, claimed launches, stop and watch from any replica.

Leases are short here (`--lease 3 --heartbeat-interval 0.5`) so that a dead node is found
within seconds; a live node would have to miss six heartbeats in a row to be taken for dead.
"""

from __future__ import annotations

import random
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import grpc
import pytest
from e2e_support import (
    ServerFactory,
    ServerProcess,
    error_of,
    execution,
    nonid,
    params,
    reason_of,
    start,
    status_name,
    wait_for,
    wait_terminal,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from jobop.domain import JobParameters, utcnow
from jobop.repository import JobRepository, create_engine
from jobop.repository.nodes import NodeInfo, NodeRepository
from jobop.repository.schema import launch_request
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from pgcluster import Cluster, control, start_cluster, stop_cluster
from sqlalchemy import Engine, insert, make_url, text

pytestmark = pytest.mark.slow

LEASE = 3.0
HEARTBEAT = 0.5
REPLICA = ("--lease", str(LEASE), "--heartbeat-interval", str(HEARTBEAT))
# How long PostgreSQL stays stopped in the outage test: as long as the issue asks, ten
# leases of these replicas.
OUTAGE = 30.0

T = TypeVar("T")

postgresql_only = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    yield engine
    engine.dispose()


def owner_pid(engine: Engine, execution_id: int) -> int | None:
    """The pid of the node that claimed the execution (None while nobody has)."""
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT n.PID FROM JOBOP_LAUNCH_REQUEST l JOIN JOBOP_NODE n "
                "ON n.NODE_ID = l.NODE_ID WHERE l.JOB_EXECUTION_ID = :id"
            ),
            {"id": execution_id},
        ).scalar()


def demo_items(engine: Engine) -> dict[int, int]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT ITEM, JOB_EXECUTION_ID FROM DEMO_ITEMS")).all()
    return {row[0]: row[1] for row in rows}


def clear_demo_items(engine: Engine) -> None:
    from jobop_jobs.demo_chunk import create_demo_items

    with engine.begin() as connection:
        create_demo_items(connection)
        connection.execute(text("DELETE FROM DEMO_ITEMS"))


def saved_position(engine: Engine, execution_id: int) -> int:
    """How many items the execution's step committed (its saved reader position)."""
    repository = JobRepository(engine)
    found = repository.explorer.get_job_execution(execution_id)
    assert found is not None
    if not found.step_executions:
        return 0
    return int(found.step_executions[0].execution_context.get("numbers.read.count", 0))


def assert_each_item_once(engine: Engine, count: int, runs: list[int]) -> None:
    """Items 1..count are all there, each written by the run whose range holds it: no item
    lost, and none written twice (a rewrite would take the row over for a later run)."""
    items = demo_items(engine)
    assert sorted(items) == list(range(1, count + 1))
    start_at = 0
    for run in runs:
        end = saved_position(engine, run) if run != runs[-1] else count
        written = sorted(item for item, owner in items.items() if owner == run)
        assert written == list(range(start_at + 1, end + 1)), (run, start_at, end)
        start_at = end


def kill(server: ServerProcess) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
    server.channel.close()


def chunk_params(items: int, chunk: int = 50, delay_ms: int = 2) -> dict[str, pb.JobParameter]:
    return params(items=items, chunkSize=nonid(chunk), itemDelayMs=nonid(delay_ms))


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def committed(stub: object, execution_id: int, commits: int) -> Callable[[], bool]:
    def reached() -> bool:
        current = execution(stub, execution_id)  # type: ignore[arg-type]
        return any(step.commit_count >= commits for step in current.step_executions)

    return reached


# -- recovery of a dead owner ---------------------------------------------------------------


@postgresql_only
def remote(start_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> ServerProcess:
    """A replica that registers under a host name of its own: the others cannot look at its
    pid, so only its lease tells them it died."""
    with monkeypatch.context() as patch:
        patch.setenv("JOBOP_NODE_HOST", "replica-elsewhere")
        return start_server(*REPLICA)


@postgresql_only
def test_a_killed_owner_is_failed_by_a_survivor_and_restarted_there(
    start_server: ServerFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = remote(start_server, monkeypatch), start_server(*REPLICA)
    launched = start(a.stub, "demoChunkJob", chunk_params(2000))
    wait_until(committed(b.stub, launched.id, 4))
    assert owner_pid(engine, launched.id) == a.process.pid  # A claimed its own start
    # While A lives, its lease is live: Recover is refused.
    code, reason, message = error_of(
        lambda: b.stub.Recover(pb.RecoverRequest(execution_id=launched.id))
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_EXECUTION_ALREADY_RUNNING")
    assert "lease is live" in message
    kill(a)
    killed = time.monotonic()
    failed = wait_for(b.stub, launched.id, lambda e: status_name(e.status) == "FAILED", 30)
    # Found within the lease and a heartbeat (plus a heartbeat of slack for a loaded machine).
    assert time.monotonic() - killed <= LEASE + 3 * HEARTBEAT + 2.0
    assert failed.exit_status.exit_code == "FAILED"
    assert failed.exit_status.exit_description.startswith("owner lost: node ")
    assert f"(replica-elsewhere pid {a.process.pid}) last seen " in (
        failed.exit_status.exit_description
    )
    assert failed.end_time.seconds > 0
    assert [status_name(s.status) for s in failed.step_executions] == ["FAILED"]
    restarted = b.stub.Restart(pb.RestartRequest(execution_id=launched.id)).execution
    done = wait_terminal(b.stub, restarted.id)
    assert status_name(done.status) == "COMPLETED"
    assert owner_pid(engine, restarted.id) == b.process.pid
    assert_each_item_once(engine, 2000, [launched.id, restarted.id])


@postgresql_only
def test_ten_random_kill_instants_lose_and_repeat_no_item(
    start_server: ServerFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    survivor = start_server(*REPLICA)
    chance = random.Random(8)
    items = 400
    outcomes: list[str] = []
    for round_ in range(10):
        # Every other victim on "another host": found by its lease, not by its pid.
        victim = remote(start_server, monkeypatch) if round_ % 2 else start_server(*REPLICA)
        clear_demo_items(engine)
        launched = start(
            victim.stub, "demoChunkJob", chunk_params(items, 20, 2) | params(**{"run.id": round_})
        )
        time.sleep(chance.uniform(0.0, 1.0))
        kill(victim)
        ended = wait_terminal(survivor.stub, launched.id, 30)
        runs = [launched.id]
        outcomes.append(status_name(ended.status))
        if status_name(ended.status) == "FAILED":
            assert ended.exit_status.exit_description.startswith("owner lost: node ")
            again = survivor.stub.Restart(pb.RestartRequest(execution_id=launched.id)).execution
            runs.append(again.id)
            ended = wait_terminal(survivor.stub, again.id, 30)
        assert status_name(ended.status) == "COMPLETED", (round_, ended)
        if len(runs) == 1:
            # Done before the kill, or killed before it began: put back, run by the survivor.
            assert owner_pid(engine, launched.id) in (victim.process.pid, survivor.process.pid)
        assert_each_item_once(engine, items, runs)
    assert outcomes.count("FAILED") >= 5, outcomes  # most kills hit a running execution


@postgresql_only
def test_a_job_restarted_on_owner_lost_completes_without_a_call(
    start_server: ServerFactory, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = remote(start_server, monkeypatch), start_server(*REPLICA)
    launched = start(a.stub, "e2eOwnerLostChunkJob", chunk_params(600, 20, 2))
    wait_until(committed(b.stub, launched.id, 3))
    kill(a)
    failed = wait_for(b.stub, launched.id, lambda e: status_name(e.status) == "FAILED", 30)
    assert failed.exit_status.exit_description.startswith("owner lost: node ")

    def restarted() -> list[pb.JobExecution]:
        listed = b.stub.ListJobExecutions(
            pb.ListJobExecutionsRequest(job_instance_id=launched.job_instance_id)
        ).executions
        return [e for e in listed if e.id != launched.id]

    wait_until(lambda: bool(restarted()), 10)
    (again,) = restarted()
    done = wait_terminal(b.stub, again.id)
    assert status_name(done.status) == "COMPLETED"
    assert_each_item_once(engine, 600, [launched.id, again.id])


# -- claimed launches -----------------------------------------------------------------------


@postgresql_only
def test_a_start_left_waiting_survives_the_node_that_accepted_it(
    start_server: ServerFactory, engine: Engine
) -> None:
    a = start_server(*REPLICA, "--max-concurrent-executions", "1")
    b = start_server(*REPLICA, "--max-concurrent-executions", "1")
    # Both workers busy: the next start waits for a claim.
    busy = [
        start(server.stub, "e2eSlowChunkJob", params(items=100_000 + index, itemDelayMs=nonid(5)))
        for index, server in enumerate((a, b))
    ]
    for running in busy:
        wait_for(a.stub, running.id, lambda e: status_name(e.status) == "STARTED")
    waiting = start(a.stub, "demoTaskletJob", params(durationMs=10))
    time.sleep(0.3)
    assert owner_pid(engine, waiting.id) is None
    assert status_name(execution(b.stub, waiting.id).status) == "STARTING"
    kill(a)
    b.stub.Stop(pb.StopRequest(execution_id=busy[1].id))  # B's worker becomes free
    done = wait_terminal(b.stub, waiting.id)
    assert status_name(done.status) == "COMPLETED"
    assert owner_pid(engine, waiting.id) == b.process.pid


@postgresql_only
def test_a_start_claimed_by_a_dead_node_is_run_by_another(
    start_server: ServerFactory, engine: Engine, db_url: str
) -> None:
    # A node that claimed a start and died before it began: a row whose lease ran out.
    nodes = NodeRepository(engine)
    nodes.register(NodeInfo("deadbeef0001", "elsewhere", 4242, None, "all", "test", 0.5))
    repository = JobRepository(engine)
    claimed = repository.create_job_execution(
        "demoTaskletJob",
        JobParameters.of(durationMs=10),
        new_instance_only=True,
        request_launch=True,
        claimed_by="deadbeef0001",
    )
    time.sleep(0.6)
    survivor = start_server(*REPLICA)
    done = wait_terminal(survivor.stub, claimed.id, 20)
    assert status_name(done.status) == "COMPLETED"
    assert owner_pid(engine, claimed.id) == survivor.process.pid
    (dead,) = [n for n in nodes.list_nodes() if n.node_id == "deadbeef0001"]
    assert dead.state == "lost"


@postgresql_only
def test_concurrent_starts_of_one_instance_over_three_replicas_make_one_execution(
    start_server: ServerFactory,
) -> None:
    servers = [start_server(*REPLICA) for _ in range(3)]
    parameters = params(durationMs=300)

    def attempt(index: int) -> str:
        stub = servers[index % 3].stub
        try:
            start(stub, "demoTaskletJob", parameters)
            return "OK"
        except grpc.RpcError as error:
            return reason_of(error)

    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = list(pool.map(attempt, range(60)))
    assert outcomes.count("OK") == 1, outcomes
    assert set(outcomes) <= {"OK", "JOB_INSTANCE_ALREADY_EXISTS", "JOB_EXECUTION_ALREADY_RUNNING"}
    names = (
        servers[0]
        .stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_name="demoTaskletJob"))
        .executions
    )
    assert len(names) == 1


@postgresql_only
def test_a_hundred_starts_over_three_replicas_each_run_by_one_node(
    start_server: ServerFactory, engine: Engine
) -> None:
    servers = [start_server(*REPLICA, "--max-concurrent-executions", "2") for _ in range(3)]
    pids = {server.process.pid for server in servers}

    def launch(index: int) -> int:
        stub = servers[index % 3].stub
        return start(stub, "demoTaskletJob", params(durationMs=40, n=index)).id

    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = list(pool.map(launch, range(100)))
    ends = [wait_terminal(servers[0].stub, execution_id) for execution_id in ids]
    assert {status_name(e.status) for e in ends} == {"COMPLETED"}
    runners = [owner_pid(engine, execution_id) for execution_id in ids]
    assert set(runners) <= pids
    # Each ran once: one step execution each, and its owner recorded it.
    assert all(len(e.step_executions) == 1 for e in ends)
    counts = {pid: runners.count(pid) for pid in pids}
    assert all(count >= 10 for count in counts.values()), counts


# -- stop and watch from any replica ---------------------------------------------------------


@postgresql_only
def test_stop_on_one_replica_watched_on_another(start_server: ServerFactory) -> None:
    a, b, c = (start_server(*REPLICA) for _ in range(3))
    launched = start(a.stub, "demoChunkJob", chunk_params(2000))
    messages: list[pb.WatchExecutionResponse] = []

    def follow() -> None:
        request = pb.WatchExecutionRequest(execution_id=launched.id)
        messages.extend(c.stub.WatchExecution(request, timeout=60))

    follower = threading.Thread(target=follow)
    follower.start()
    wait_until(committed(c.stub, launched.id, 8))
    stopping = b.stub.Stop(pb.StopRequest(execution_id=launched.id)).execution
    assert status_name(stopping.status) == "STOPPING"
    commits_at_stop = execution(b.stub, launched.id).step_executions[0].commit_count
    follower.join(30)
    assert not follower.is_alive()
    snapshots = [m.execution for m in messages if not m.heartbeat]
    statuses = []
    for snapshot in snapshots:
        name = status_name(snapshot.status)
        if not statuses or statuses[-1] != name:
            statuses.append(name)
    assert statuses[-3:] == ["STARTED", "STOPPING", "STOPPED"], statuses
    final = snapshots[-1]
    assert final.step_executions[0].commit_count <= commits_at_stop + 1  # within one chunk
    # Progress from A reached C as it happened: most chunk commits were seen.
    seen = {s.step_executions[0].commit_count for s in snapshots if s.step_executions}
    assert len(seen) >= final.step_executions[0].commit_count * 0.5, (seen, final)


# -- graceful drain ---------------------------------------------------------------------------


@postgresql_only
def test_sigterm_with_handoff_leaves_the_work_to_another_node(
    start_server: ServerFactory, engine: Engine
) -> None:
    a = start_server(*REPLICA, "--handoff", "--max-concurrent-executions", "1")
    b = start_server(*REPLICA, "--max-concurrent-executions", "1")
    launched = start(a.stub, "demoChunkJob", chunk_params(1500, 50, 2))
    wait_until(committed(b.stub, launched.id, 3))
    # B's worker busy, A's too: this start waits in the queue, claimed by nobody yet.
    busy = start(b.stub, "e2eSlowChunkJob", params(items=40, itemDelayMs=nonid(25)))
    wait_for(b.stub, busy.id, lambda e: status_name(e.status) == "STARTED")
    assert a.terminate() == 0
    stopped = execution(b.stub, launched.id)
    assert status_name(stopped.status) == "STOPPED"
    (a_node,) = [n for n in NodeRepository(engine).list_nodes() if n.pid == a.process.pid]
    assert a_node.state == "left"

    def handed_over() -> list[pb.JobExecution]:
        listed = b.stub.ListJobExecutions(
            pb.ListJobExecutionsRequest(job_instance_id=launched.job_instance_id)
        ).executions
        return [e for e in listed if e.id != launched.id]

    (again,) = handed_over()  # written by A before it exited
    done = wait_terminal(b.stub, again.id, 60)
    assert status_name(done.status) == "COMPLETED"
    assert owner_pid(engine, again.id) == b.process.pid
    assert_each_item_once(engine, 1500, [launched.id, again.id])


@postgresql_only
def test_a_tasklet_running_on_one_replica_stops_from_another(start_server: ServerFactory) -> None:
    a, b = start_server(*REPLICA), start_server(*REPLICA)
    launched = start(a.stub, "demoTaskletJob", params(durationMs=20_000))
    wait_for(b.stub, launched.id, lambda e: status_name(e.status) == "STARTED")
    asked = time.monotonic()
    b.stub.Stop(pb.StopRequest(execution_id=launched.id))
    stopped = wait_terminal(b.stub, launched.id, 15)
    assert status_name(stopped.status) == "STOPPED"
    assert [status_name(s.status) for s in stopped.step_executions] == ["STOPPED"]
    # A's stop poller reads the status every 0.5 s; the tasklet works in 50 ms slices.
    assert time.monotonic() - asked < 10


# -- one process on SQLite ------------------------------------------------------------------


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_single_sqlite_server_recovers_what_its_predecessor_left_running(
    start_server: ServerFactory, engine: Engine
) -> None:
    first = start_server(*REPLICA)
    launched = start(first.stub, "demoChunkJob", chunk_params(2000, 20, 2))
    wait_until(committed(first.stub, launched.id, 2))
    kill(first)
    second = start_server(*REPLICA)  # at once: no lease to wait for, the pid is gone
    failed = execution(second.stub, launched.id)
    assert status_name(failed.status) == "FAILED"
    assert failed.exit_status.exit_description.startswith("owner lost: node ")
    restarted = second.stub.Restart(pb.RestartRequest(execution_id=launched.id)).execution
    assert status_name(wait_terminal(second.stub, restarted.id).status) == "COMPLETED"
    assert_each_item_once(engine, 2000, [launched.id, restarted.id])


# -- database outages -----------------------------------------------------------------------


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A PostgreSQL cluster of this test alone: it is restarted and stopped under the
    servers, which the session's shared cluster must never be."""
    cluster = start_cluster()
    yield cluster
    stop_cluster(cluster)


def serving(server: ServerProcess) -> int:
    health = health_pb2_grpc.HealthStub(server.channel)
    try:
        return int(health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status)
    except grpc.RpcError:
        return -1


def retrying(call: Callable[[], T], within: float = 10.0) -> T:
    """`call()`, retried while it answers UNAVAILABLE (as gRPC clients retry), for at most
    `within` seconds: a pooled connection from before a restart fails one call."""
    deadline = time.monotonic() + within
    while True:
        try:
            return call()
        except grpc.RpcError as error:
            if error.code() is not grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:  # type: ignore[attr-defined]
                raise
            assert reason_of(error) == "DATABASE_UNAVAILABLE"
            time.sleep(0.1)


def run_to_completion(stub: object, launched: pb.JobExecution) -> list[int]:
    """The runs that completed `launched`'s instance: it, or it and a restart."""
    ended = retrying(lambda: wait_terminal(stub, launched.id, 60))  # type: ignore[arg-type]
    if status_name(ended.status) == "COMPLETED":
        return [launched.id]
    assert status_name(ended.status) == "FAILED", ended
    assert ended.exit_status.exit_description, ended  # says why
    request = pb.RestartRequest(execution_id=launched.id)
    again = retrying(lambda: stub.Restart(request)).execution  # type: ignore[attr-defined]
    done = wait_terminal(stub, again.id, 60)  # type: ignore[arg-type]
    assert status_name(done.status) == "COMPLETED", done
    return [launched.id, again.id]


@postgresql_only
def test_replicas_survive_a_restart_and_an_outage_of_postgresql(
    start_server: ServerFactory, own_cluster: Cluster, tmp_path: object
) -> None:
    from jobop.repository import init_schema

    db_url = own_cluster.create_database("outage")
    engine = create_engine(db_url)
    init_schema(engine)
    try:
        a = start_server(*REPLICA, db=db_url)
        b = start_server(*REPLICA, db=db_url)
        for round_, outage in enumerate(("restart", "stop")):
            clear_demo_items(engine)
            launched = start(
                a.stub, "demoChunkJob", chunk_params(1500, 50, 2) | params(**{"run.id": round_})
            )
            wait_until(committed(a.stub, launched.id, 3))
            if outage == "restart":
                control(own_cluster, "restart", "-m", "fast")
            else:
                control(own_cluster, "stop", "-m", "fast")
                wait_until(lambda: serving(a) == health_pb2.HealthCheckResponse.NOT_SERVING)
                request = pb.GetJobExecutionRequest(execution_id=launched.id)
                code, reason, _ = error_of(lambda r=request: a.stub.GetJobExecution(r))
                assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "DATABASE_UNAVAILABLE")
                time.sleep(OUTAGE)
                control(own_cluster, "start")
            back = time.monotonic()
            for server in (a, b):
                wait_until(
                    lambda s=server: serving(s) == health_pb2.HealthCheckResponse.SERVING, 10
                )
                assert server.process.poll() is None  # no replica died
            assert time.monotonic() - back <= 10
            engine.dispose()  # the test's own pooled connections died with the server
            runs = run_to_completion(b.stub, launched)
            assert_each_item_once(engine, 1500, runs)
    finally:
        engine.dispose()


@postgresql_only
def test_jobop_run_stop_is_announced_to_the_servers(
    start_server: ServerFactory, engine: Engine, db_url: str
) -> None:
    import subprocess
    import sys

    server = start_server(*REPLICA)
    launched = start(server.stub, "e2eSlowChunkJob", params(items=400, itemDelayMs=nonid(25)))
    wait_for(server.stub, launched.id, lambda e: status_name(e.status) == "STARTED")
    pooled = engine.raw_connection()
    try:
        listener = pooled.dbapi_connection
        assert listener is not None
        listener.autocommit = True  # type: ignore[attr-defined]
        listener.execute("LISTEN jobop")  # type: ignore[attr-defined]
        # The server paused, so that whatever arrives comes from `jobop run`.
        server.process.send_signal(signal.SIGSTOP)
        try:
            list(listener.notifies(timeout=0.3))  # type: ignore[attr-defined]
            command = [sys.executable, "-m", "jobop.app.cli", "run", "--stop", str(launched.id)]
            stopped = subprocess.run(
                [*command, "--db", db_url], capture_output=True, text=True, timeout=60
            )
            assert stopped.returncode == 0, stopped.stderr
            notifies = listener.notifies(timeout=5, stop_after=1)  # type: ignore[attr-defined]
            payloads = [n.payload for n in notifies]
        finally:
            server.process.send_signal(signal.SIGCONT)
    finally:
        pooled.invalidate()
    assert payloads and payloads[0].startswith(f"e {launched.id}:")
    assert status_name(wait_terminal(server.stub, launched.id).status) == "STOPPED"


@postgresql_only
def test_progress_announcements_are_coalesced(start_server: ServerFactory, engine: Engine) -> None:
    server = start_server(*REPLICA, "--progress-notify-interval", "0.2")
    start_server(*REPLICA)  # someone to announce to: a lone node announces nothing
    pooled = engine.raw_connection()
    try:
        listener = pooled.dbapi_connection
        assert listener is not None
        listener.autocommit = True  # type: ignore[attr-defined]
        listener.execute("LISTEN jobop")  # type: ignore[attr-defined]
        began = time.monotonic()
        launched = start(server.stub, "demoChunkJob", chunk_params(3000, 10, 0))
        ended = wait_terminal(server.stub, launched.id)
        took = time.monotonic() - began
        entries = [
            entry
            for notify in listener.notifies(timeout=0.5)  # type: ignore[attr-defined]
            for entry in notify.payload.split()[1:]
            if entry.startswith(f"{launched.id}:")
        ]
    finally:
        pooled.invalidate()
    commits = ended.step_executions[0].commit_count
    assert status_name(ended.status) == "COMPLETED"
    assert commits >= 300
    # STARTED and COMPLETED always; progress at most every 0.2 s, not one per commit.
    assert 2 <= len(entries) <= 2 + took / 0.2 + 1, (len(entries), commits, took)


def test_an_api_server_s_starts_are_run_by_a_server_of_role_all(
    start_server: ServerFactory, engine: Engine
) -> None:
    everything = start_server(*REPLICA)
    api = start_server(*REPLICA, "--role", "api")
    launched = start(api.stub, "demoTaskletJob", params(durationMs=10))
    assert status_name(launched.status) == "STARTING"
    done = wait_terminal(api.stub, launched.id, 30)
    assert status_name(done.status) == "COMPLETED"
    assert owner_pid(engine, launched.id) == everything.process.pid


# -- starts waiting for a node that runs jobs -------------------------------------------------

# A lease so long that its safety poll never comes within a test: only the worker's look at
# start-up (or after an outage) can claim what waits.
NO_SAFETY_POLL = ("--lease", "120", "--heartbeat-interval", "5")


def all_claimed_by(engine: Engine, ids: list[int], pid: int) -> Callable[[], bool]:
    return lambda: all(owner_pid(engine, execution_id) == pid for execution_id in ids)


def start_waiting(api: ServerProcess, count: int) -> list[int]:
    """`count` starts on an api server: they wait, STARTING, for a node to claim them."""
    launched = [
        start(api.stub, "demoTaskletJob", params(durationMs=10, n=index)) for index in range(count)
    ]
    assert {status_name(e.status) for e in launched} == {"STARTING"}
    return [e.id for e in launched]


def assert_completed(stub: object, ids: list[int]) -> None:
    ends = [wait_terminal(stub, execution_id, 60) for execution_id in ids]  # type: ignore[arg-type]
    assert [status_name(e.status) for e in ends] == ["COMPLETED"] * len(ids)


def test_a_worker_started_after_the_starts_claims_them_at_once(
    start_server: ServerFactory, engine: Engine
) -> None:
    api = start_server(*REPLICA, "--role", "api")
    waiting = start_waiting(api, 5)
    time.sleep(0.5)
    assert all(owner_pid(engine, execution_id) is None for execution_id in waiting)
    worker = start_server(*NO_SAFETY_POLL, "--role", "worker")
    wait_until(all_claimed_by(engine, waiting, worker.process.pid), 20)
    assert_completed(api.stub, waiting)


@postgresql_only
def test_a_start_waiting_without_a_notify_is_claimed_by_the_safety_poll(
    start_server: ServerFactory, engine: Engine
) -> None:
    worker = start_server(*REPLICA, "--role", "worker")  # looks every lease: 3 s
    api = start_server(*REPLICA, "--role", "api")  # to read from (a worker serves no API)
    # A start whose NOTIFY never came: its launch request written on its own.
    unannounced = JobRepository(engine).create_job_execution(
        "demoTaskletJob", JobParameters.of(durationMs=10), new_instance_only=True
    )
    with engine.begin() as connection:
        connection.execute(
            insert(launch_request).values(
                job_execution_id=unannounced.id, job_name="demoTaskletJob", created=utcnow()
            )
        )
    # Within a few leases (timings are never asserted; without the poll it would wait for
    # a NOTIFY that never comes).
    wait_until(all_claimed_by(engine, [unannounced.id], worker.process.pid), 15)
    assert_completed(api.stub, [unannounced.id])


@pytest.fixture
def cut_off_role(engine: Engine) -> Iterator[str]:
    """A login role of its own for one server, so that the test can cut that server off the
    database (no login, its sessions ended) while the others carry on."""
    role = f"jobop_cut_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'cut-off'"))
    yield role
    with engine.begin() as connection:
        connection.execute(text(f"ALTER ROLE {role} NOLOGIN"))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
            {"r": role},
        )
    wait_until(lambda: sessions_of(engine, role) == 0)
    with engine.begin() as connection:
        connection.execute(text(f"DROP ROLE {role}"))


def sessions_of(engine: Engine, role: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE usename = :r"), {"r": role}
            ).scalar_one()
        )


@postgresql_only
def test_starts_made_while_a_worker_was_cut_off_are_claimed_when_it_is_back(
    cut_off_role: str, start_server: ServerFactory, engine: Engine, db_url: str
) -> None:
    # (The role first: its servers stop before it is dropped.)
    api = start_server(*REPLICA, "--role", "api")
    as_role = make_url(db_url).set(username=cut_off_role, password="cut-off")
    worker = start_server(
        *NO_SAFETY_POLL, "--role", "worker", db=as_role.render_as_string(hide_password=False)
    )
    with engine.begin() as connection:  # the outage, for the worker alone
        connection.execute(text(f"ALTER ROLE {cut_off_role} NOLOGIN"))
        connection.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :r"),
            {"r": cut_off_role},
        )
    wait_until(lambda: sessions_of(engine, cut_off_role) == 0)
    waiting = start_waiting(api, 5)  # their NOTIFYs reach no worker
    with engine.begin() as connection:
        connection.execute(text(f"ALTER ROLE {cut_off_role} LOGIN"))
    wait_until(all_claimed_by(engine, waiting, worker.process.pid), 20)
    assert_completed(api.stub, waiting)
    assert worker.process.poll() is None
