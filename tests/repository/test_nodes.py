"""JOBOP_NODE and the claims of JOBOP_LAUNCH_REQUEST, on SQLite and PostgreSQL: leases judged
by the database's clock, exactly one survivor per dead node, no start claimed twice."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from jobop.domain import BatchStatus, JobParameters
from jobop.repository import JobRepository, StatementCounter
from jobop.repository.nodes import NodeInfo, NodeRepository
from repository_lifecycle import start_execution, start_step


def info(node_id: str, lease: float = 60.0) -> NodeInfo:
    return NodeInfo(node_id, "host-a", 1234, 99, "all", "test", lease)


def launch(repository: JobRepository, n: int, claimed_by: str | None) -> int:
    return repository.create_job_execution(
        "demoTaskletJob",
        JobParameters.of(n=n),
        new_instance_only=True,
        request_launch=True,
        claimed_by=claimed_by,
    ).id


def test_a_heartbeat_is_one_statement_and_keeps_the_lease(repository: JobRepository) -> None:
    nodes = NodeRepository(repository.engine)
    nodes.register(info("n1", lease=0.4))
    with StatementCounter(repository.engine) as counter:
        assert nodes.heartbeat("n1")
    assert counter.count == 1
    (state,) = nodes.list_nodes()
    assert (state.node_id, state.state, state.host, state.pid) == ("n1", "live", "host-a", 1234)
    time.sleep(0.6)
    (state,) = nodes.list_nodes()
    assert state.state == "expired"
    assert nodes.heartbeat("n1")
    assert nodes.get_node("n1") is not None
    assert nodes.list_nodes()[0].state == "live"
    nodes.deregister("n1")
    assert nodes.list_nodes()[0].state == "left"
    assert not nodes.heartbeat("n1")  # a node that left renews nothing


def test_a_live_node_is_not_recovered(repository: JobRepository) -> None:
    nodes = NodeRepository(repository.engine)
    nodes.register(info("n1"))
    assert nodes.recover_node("n1", "survivor") is None
    assert nodes.list_nodes()[0].state == "live"


def test_a_dead_nodes_executions_fail_and_its_unstarted_starts_go_back(
    repository: JobRepository,
) -> None:
    nodes = NodeRepository(repository.engine)
    nodes.register(info("dead", lease=0.3))
    running = repository.explorer.get_job_execution(launch(repository, 1, "dead"))
    assert running is not None
    start_execution(repository, running)
    step = start_step(repository, running, "demoTaskletStep")
    step.status = BatchStatus.STARTED
    repository.update_step_execution(step)
    unstarted = launch(repository, 2, "dead")
    time.sleep(0.5)
    result = nodes.recover_node("dead", "survivor")
    assert result is not None
    assert (result.failed, result.released) == ([running.id], [unstarted])
    failed = repository.explorer.get_job_execution(running.id)
    assert failed is not None
    assert failed.status is BatchStatus.FAILED
    assert failed.exit_status.exit_code == "FAILED"
    assert failed.exit_status.exit_description.startswith(
        "owner lost: node dead (host-a pid 1234) last seen "
    )
    assert failed.end_time is not None
    assert [s.status for s in failed.step_executions] == [BatchStatus.FAILED]
    assert nodes.count_owner_lost_executions(failed.job_instance_id) == 1
    # The unstarted one waits for a claim again.
    assert nodes.find_owner(unstarted) is None
    (claimed,) = nodes.claim_launch_requests("survivor", ["demoTaskletJob"], 5)
    assert claimed.id == unstarted
    assert claimed.first_of_instance  # its runner need not look for earlier steps
    owner = nodes.find_owner(unstarted)
    assert owner is None or owner.node_id == "survivor"  # survivor never registered here
    (dead,) = nodes.list_nodes()
    assert (dead.state, dead.lost_by) == ("lost", "survivor")
    assert nodes.recover_node("dead", "another") is None  # done once


def test_survivors_racing_recover_a_dead_node_exactly_once(repository: JobRepository) -> None:
    nodes = NodeRepository(repository.engine)
    nodes.register(info("dead", lease=0.2))
    for n in range(5):
        execution = repository.explorer.get_job_execution(launch(repository, n, "dead"))
        assert execution is not None
        start_execution(repository, execution)
    time.sleep(0.4)
    barrier = threading.Barrier(6)

    def survive(index: int) -> list[int]:
        barrier.wait()
        result = NodeRepository(repository.engine).recover_node("dead", f"s{index}")
        return [] if result is None else result.failed

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(survive, range(6)))
    assert sorted(len(failed) for failed in outcomes) == [0, 0, 0, 0, 0, 5]


def test_claimants_racing_never_take_a_start_twice(repository: JobRepository) -> None:
    ids = [launch(repository, n, None) for n in range(40)]
    barrier = threading.Barrier(4)

    def claim(index: int) -> list[int]:
        barrier.wait()
        nodes = NodeRepository(repository.engine)
        taken: list[int] = []
        while True:
            got = nodes.claim_launch_requests(f"c{index}", ["demoTaskletJob"], 3)
            if not got:
                return taken
            taken += [execution.id for execution in got]

    with ThreadPoolExecutor(4) as pool:
        claimed = [i for got in pool.map(claim, range(4)) for i in got]
    assert sorted(claimed) == ids


def test_a_claim_loads_what_it_took_in_its_own_transaction(repository: JobRepository) -> None:
    first = launch(repository, 1, None)
    # A restart: its instance ran before, so its runner must look for earlier steps.
    ran = repository.explorer.get_job_execution(launch(repository, 2, "gone"))
    assert ran is not None
    start_execution(repository, ran)
    ran.status, ran.end_time = BatchStatus.FAILED, ran.start_time
    repository.update_job_execution(ran)
    restart = repository.create_job_execution(
        "demoTaskletJob", JobParameters.of(n=2), request_launch=True
    )
    nodes = NodeRepository(repository.engine)
    with StatementCounter(repository.engine) as counter:
        claimed = nodes.claim_launch_requests("c", ["demoTaskletJob"], 5)
    # The jobs' run-time settings, the claim, then the executions, their parameters and
    # their steps: one load for all.
    assert counter.count == 5
    assert [(e.id, e.status, e.first_of_instance) for e in claimed] == [
        (first, BatchStatus.STARTING, True),
        (restart.id, BatchStatus.STARTING, False),
    ]
    assert [e.job_parameters.long("n") for e in claimed] == [1, 2]
    assert nodes.claim_launch_requests("d", ["demoTaskletJob"], 5) == []


def test_a_stopped_start_is_taken_off_the_queue_and_not_run(repository: JobRepository) -> None:
    waiting = launch(repository, 1, None)
    repository.request_stop(waiting)  # STARTING -> STOPPED
    nodes = NodeRepository(repository.engine)
    assert nodes.claim_launch_requests("c", ["demoTaskletJob"], 5) == []
    assert not nodes.has_waiting_launch_requests(["demoTaskletJob"])


def test_a_dead_nodes_recovery_never_touches_an_execution_no_node_owns(
    repository: JobRepository,
) -> None:
    # A Spring Batch application's running execution (no launch request, no owner) beside
    # a dead node's own: recovering the node fails its execution only.
    nodes = NodeRepository(repository.engine)
    nodes.register(info("dead", lease=0.3))
    owned = repository.explorer.get_job_execution(launch(repository, 1, "dead"))
    foreign = repository.create_job_execution("springJob", JobParameters.of(n=1))
    for execution in (owned, foreign):
        assert execution is not None
        start_execution(repository, execution)
        start_step(repository, execution, "step")
    assert owned is not None and not nodes.has_launch_request(foreign.id)
    time.sleep(0.5)
    result = nodes.recover_node("dead", "survivor")
    assert result is not None and result.failed == [owned.id]
    untouched = repository.explorer.get_job_execution(foreign.id)
    assert untouched is not None and untouched.version == foreign.version
    assert untouched.status is BatchStatus.STARTED
    assert [s.status for s in untouched.step_executions] == [BatchStatus.STARTED]
