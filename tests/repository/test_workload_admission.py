"""Admission in the claim (repository.nodes + repository.workload), on SQLite and
PostgreSQL: claimers racing on one database never exceed a limit, per job or per key; a
dead node's slots are freed by its recovery; the claim and the counts read through
indexes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from jobop.domain import BatchStatus, JobParameters
from jobop.domain.workload import JobSettings
from jobop.repository import JobRepository
from jobop.repository.nodes import NodeInfo, NodeRepository
from jobop.repository.workload import WorkloadRepository

JOB = "demoTaskletJob"
ROUNDS = 20
CLAIMERS = 6


def launch(repository: JobRepository, n: int, **params: object) -> int:
    return repository.create_job_execution(
        JOB, JobParameters.of(n=n, **params), new_instance_only=True, request_launch=True
    ).id


def end(repository: JobRepository, execution_ids: list[int]) -> None:
    for execution_id in execution_ids:
        repository.request_stop(execution_id)  # claimed, never begun: STOPPED


def race(repository: JobRepository, declared: dict[str, JobSettings], launches: list) -> list[int]:
    """CLAIMERS nodes (each its own NodeRepository and connections) claim at once, again
    and again, each for 1 to 3 workers, while starts of ever higher priority arrive (each
    claimer's view of the queue differs from the others'); every execution claimed."""
    barrier = threading.Barrier(CLAIMERS + 1)
    arriving = threading.Event()

    def claim(index: int) -> list[int]:
        nodes = NodeRepository(repository.engine)
        taken: list[int] = []
        barrier.wait()
        while True:
            last = arriving.is_set()
            got = nodes.claim_launch_requests(f"n{index}", [JOB], 1 + index % 3, declared)
            taken += [e.id for e in got]
            if last:
                return taken

    with ThreadPoolExecutor(CLAIMERS) as pool:
        claims = [pool.submit(claim, index) for index in range(CLAIMERS)]
        barrier.wait()
        for make in launches:
            make()
        arriving.set()
        return [i for claim in claims for i in claim.result()]


def test_claimers_racing_never_exceed_a_limit(repository: JobRepository) -> None:
    declared = {JOB: JobSettings(max_concurrent=2)}
    n = 0
    for _ in range(ROUNDS):
        ids: list[int] = []

        def arrive(ids: list[int] = ids) -> None:
            nonlocal n
            n += 1
            ids.append(
                repository.create_job_execution(
                    JOB,
                    JobParameters.of(n=n),
                    new_instance_only=True,
                    request_launch=True,
                    priority=n,  # each new start goes first
                ).id
            )

        claimed = race(repository, declared, [arrive] * 8)
        assert len(claimed) == 2, f"{len(claimed)} claimed under a limit of 2: {claimed}"
        end(repository, claimed)
        end(repository, [i for i in ids if i not in claimed])


def test_claimers_racing_never_exceed_a_limit_per_key(repository: JobRepository) -> None:
    declared = {JOB: JobSettings(max_concurrent=1, concurrency_key="tenant")}
    n = 0
    for _ in range(ROUNDS):
        ids: list[int] = []

        def arrive(tenant: str, ids: list[int] = ids) -> None:
            nonlocal n
            n += 1
            extra = {"tenant": tenant} if tenant else {}
            ids.append(
                repository.create_job_execution(
                    JOB,
                    JobParameters.of(n=n, **extra),
                    new_instance_only=True,
                    request_launch=True,
                    priority=n,
                ).id
            )

        tenants = ("a", "b", "a", "", "b", "a", "")
        claimed = race(repository, declared, [lambda t=t: arrive(t) for t in tenants])
        keys = [repository.explorer.get_parameters(i).get("tenant") for i in claimed]
        values = sorted("" if key is None else key.value_text() for key in keys)
        assert values == ["", "a", "b"], f"one per tenant, not {values}"
        end(repository, claimed)
        end(repository, [i for i in ids if i not in claimed])


def test_a_run_time_limit_admits_by_priority_and_skips_a_pause(
    repository: JobRepository,
) -> None:
    workloads = WorkloadRepository(repository.engine)
    nodes = NodeRepository(repository.engine)
    low = launch(repository, 1)
    high = repository.create_job_execution(
        JOB, JobParameters.of(n=2), new_instance_only=True, request_launch=True, priority=9
    ).id
    workloads.change(JOB, {"paused": True}, JobSettings())
    assert nodes.claim_launch_requests("a", [JOB], 5) == []
    workloads.change(JOB, {"paused": False, "max_concurrent": 1}, JobSettings())
    assert [e.id for e in nodes.claim_launch_requests("a", [JOB], 5)] == [high]
    assert nodes.claim_launch_requests("b", [JOB], 5) == []
    assert workloads.counts([JOB]) == {JOB: (1, 1)}
    end(repository, [high])
    assert [e.id for e in nodes.claim_launch_requests("b", [JOB], 5)] == [low]


def test_a_start_of_a_governed_job_is_never_claimed_by_its_launch(
    repository: JobRepository,
) -> None:
    WorkloadRepository(repository.engine).change(JOB, {"max_concurrent": 5}, JobSettings())
    execution, claimed = repository.launch(
        JOB, JobParameters.of(n=1), new_instance_only=True, request_launch=True, claimed_by="a"
    )
    assert not claimed
    assert NodeRepository(repository.engine).find_owner(execution.id) is None
    _, claimed = repository.launch(JOB, JobParameters.of(n=2), request_launch=True, claimed_by="a")
    assert not claimed
    _, claimed = repository.launch(
        "otherJob", JobParameters.of(n=1), request_launch=True, claimed_by="a"
    )
    assert claimed


def test_a_dead_nodes_recovery_frees_its_slots(repository: JobRepository) -> None:
    from repository_lifecycle import start_execution

    declared = {JOB: JobSettings(max_concurrent=1)}
    nodes = NodeRepository(repository.engine)
    nodes.register(NodeInfo("dead", "host-a", 1, None, "all", "test", 0.01))
    nodes.register(NodeInfo("survivor", "host-a", 2, None, "all", "test", 60.0))
    held = launch(repository, 1)
    waiting = launch(repository, 2)
    (taken,) = nodes.claim_launch_requests("dead", [JOB], 3, declared)
    start_execution(repository, taken)  # it runs on the dead node
    assert nodes.claim_launch_requests("survivor", [JOB], 3, declared) == []
    recovered = nodes.recover_node("dead", "survivor", force=True)
    assert recovered is not None and recovered.failed == [held]
    assert repository.explorer.get_job_execution(held).status is BatchStatus.FAILED
    claimed = nodes.claim_launch_requests("survivor", [JOB], 3, declared)
    assert [e.id for e in claimed] == [waiting]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_claim_the_queue_and_the_counts_read_through_indexes(
    repository: JobRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    import test_index_use

    nodes = NodeRepository(repository.engine)
    workloads = WorkloadRepository(repository.engine)
    # History: starts claimed and ended, a few running, a few waiting.
    history = [launch(repository, n, tenant=str(n % 3)) for n in range(60)]
    claimed = nodes.claim_launch_requests("old", [JOB], 60)
    end(repository, [e.id for e in claimed[3:]])
    assert len(history) == 60
    for n in range(60, 65):
        launch(repository, n, tenant="x")
    keyed = {JOB: JobSettings(max_concurrent=5, concurrency_key="tenant")}
    with test_index_use.StatementRecorder(repository) as recorder:
        nodes.claim_launch_requests("a", [JOB], 2, keyed)
        nodes.claim_launch_requests("b", [JOB], 2, {JOB: JobSettings(max_concurrent=9)})
        nodes.claim_launch_requests("c", [JOB, "otherJob"], 1)
        workloads.counts([JOB])
        workloads.queue(None, 10, {JOB: "tenant"})
        workloads.slot_holders(JOB)
    # Launch requests grow with history too; the waiting ones' partial index holds only
    # the queue, so reading it whole is reading the queue, not history.
    monkeypatch.setattr(
        test_index_use, "GROWING", (*test_index_use.GROWING, "jobop_launch_request")
    )
    whole_scans = test_index_use._whole_scans

    def scans(plan: dict[str, Any], limited: bool = False) -> Iterator[str]:
        if plan.get("Index Name") == "jobop_launch_request_waiting_ix":
            plan = {**plan, "Index Cond": "the queue only"}
        return whole_scans(plan, limited)

    monkeypatch.setattr(test_index_use, "_whole_scans", scans)
    url = repository.engine.url.set(drivername="postgresql")
    scans = test_index_use._whole_table_scans(
        url.render_as_string(hide_password=False), recorder.statements
    )
    assert scans == []


def claim_start(nodes: NodeRepository, execution_id: int, job: str, declared: JobSettings) -> bool:
    return nodes.claim_starts("a", [(execution_id, job)], {job: declared}) == {execution_id}


def test_the_accepting_node_claims_a_governed_start_only_if_it_may_run_first(
    repository: JobRepository,
) -> None:
    declared = JobSettings(max_concurrent=2)
    nodes = NodeRepository(repository.engine)

    def accept(n: int, priority: int = 0) -> int:
        execution, claimed = repository.launch(
            JOB,
            JobParameters.of(n=n),
            new_instance_only=True,
            request_launch=True,
            claimed_by="a",
            priority=priority,
            governed=True,
        )
        assert not claimed  # never in the launch's own statement
        return execution.id

    first = accept(1)
    assert claim_start(nodes, first, JOB, declared)
    waiting = accept(2, priority=-1)  # could run, but waits for a worker
    later = accept(3)  # goes before it, by priority
    assert claim_start(nodes, later, JOB, declared)
    over = accept(4, priority=5)  # the limit is reached
    assert not claim_start(nodes, over, JOB, declared)
    end(repository, [first])
    behind = accept(5, priority=-5)  # a slot is free, but two wait before it
    assert not claim_start(nodes, behind, JOB, declared)
    assert claim_start(nodes, over, JOB, declared)
    WorkloadRepository(repository.engine).change(JOB, {"paused": True}, declared)
    end(repository, [later])
    assert not claim_start(nodes, waiting, JOB, declared)
    assert [e.id for e in nodes.claim_launch_requests("b", [JOB], 5, {JOB: declared})] == []


def test_starts_are_held_back_only_when_admission_refuses_them(repository: JobRepository) -> None:
    nodes = NodeRepository(repository.engine)
    one = {JOB: JobSettings(max_concurrent=1)}
    assert not nodes.held_back([JOB], one)  # nothing waits
    running = launch(repository, 1)
    assert [e.id for e in nodes.claim_launch_requests("a", [JOB], 5, one)] == [running]
    launch(repository, 2)
    assert nodes.held_back([JOB], one)  # the limit is reached
    assert not nodes.held_back([JOB], {JOB: JobSettings(max_concurrent=5)})  # it may run
    assert nodes.held_back([JOB], {JOB: JobSettings(paused=True)})
    assert not nodes.held_back([JOB], {})  # ungoverned: the claims take it as they come
