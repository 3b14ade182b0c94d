"""Workload control in the JobOperator, on SQLite and PostgreSQL: run-time settings over
declared ones (audited), priority on every launch, limits per job and per key, the queue in
run order and why each start waits, pause and resume, a queued start stopped never runs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from jobop.batch import Job, JobRegistry, TaskletStep, step_scope
from jobop.domain import BatchStatus, ExecutionFilter, JobParameters, NoSuchJob
from jobop.domain.workload import CLEAR, InvalidSettings, JobSettings
from jobop.operator import JobOperator
from jobop.repository import AuditEvent, AuditTrail, JobRepository, create_engine
from jobop.repository.audit import auditing
from jobop_jobs import demo_tasklet

JOB = "demoTaskletJob"
LONG = 60_000  # ms: runs until stopped

# Declares one at a time per tenant; works for durationMs as demoTaskletJob does.
LIMITED = Job(
    "limitedJob",
    [
        TaskletStep(
            "limitedStep",
            step_scope(lambda c: demo_tasklet.SlicedWork(c.job_parameters.long("durationMs"))),
        )
    ],
    max_concurrent=1,
    concurrency_key="tenant",
)


@pytest.fixture
def operator(db_url: str) -> Iterator[JobOperator]:
    engine = create_engine(db_url)
    registry = JobRegistry.default([])
    registry.register(LIMITED)
    operator = JobOperator(JobRepository(engine), registry, max_concurrent_executions=6)
    try:
        yield operator
    finally:
        operator.shutdown(5.0)
        engine.dispose()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def status(operator: JobOperator, execution_id: int) -> BatchStatus:
    return operator.get_job_execution(execution_id).status


def start(operator: JobOperator, n: int, priority: int = 0, job: str = JOB, **params: object):
    return operator.start(
        job, JobParameters.of(durationMs=LONG, n=n, **params), priority=priority
    ).id


def started(operator: JobOperator, *ids: int) -> None:
    wait_for(lambda: all(status(operator, i) is BatchStatus.STARTED for i in ids), f"{ids} STARTED")


def stop_all(operator: JobOperator, ids: list[int]) -> None:
    for execution_id in ids:
        if status(operator, execution_id).is_running:
            operator.stop(execution_id)
    wait_for(lambda: not any(status(operator, i).is_running for i in ids), "all ended")


def test_settings_change_over_declared_audited_and_cleared(operator: JobOperator) -> None:
    (limited,) = operator.get_job_workloads(["limitedJob"])
    assert limited.settings == JobSettings(max_concurrent=1, concurrency_key="tenant")
    assert limited.override.empty and (limited.running, limited.queued) == (0, 0)
    event = AuditEvent("alice", "admin", "UpdateJobSettings", '{"maxConcurrent": 3}')
    with auditing(event):
        changed = operator.update_job_settings("limitedJob", {"max_concurrent": 3})
    assert changed.settings.max_concurrent == 3
    assert changed.override.max_concurrent == 3 and changed.override.updated_by == "alice"
    assert changed.declared.max_concurrent == 1
    (row,) = AuditTrail(operator.repository.engine).list_events(job_name="limitedJob")
    assert (row.action, row.principal, row.execution_id, row.succeeded) == (
        "UpdateJobSettings",
        "alice",
        None,
        True,
    )
    cleared = operator.update_job_settings("limitedJob", {"max_concurrent": CLEAR})
    assert cleared.settings.max_concurrent == 1  # the declared value holds again
    every = [w.job_name for w in operator.get_job_workloads()]
    assert every == sorted(every) and {"limitedJob", JOB} <= set(every)


def test_bad_settings_and_priorities_write_nothing(operator: JobOperator) -> None:
    with pytest.raises(InvalidSettings) as refused:
        operator.update_job_settings(JOB, {"concurrency_key": "tenant"})  # no limit
    assert refused.value.field == "concurrencyKey"
    with pytest.raises(InvalidSettings):
        operator.update_job_settings(JOB, {"max_concurrent": 0})
    assert operator.get_job_workloads([JOB])[0].override.empty
    for bad in (1001, -1001):
        with pytest.raises(InvalidSettings) as refused:
            operator.start(JOB, JobParameters.of(durationMs=0), priority=bad)
        assert refused.value.field == "priority"
        with pytest.raises(InvalidSettings):
            operator.start_next_instance(JOB, priority=bad)
    assert operator.list_job_executions(ExecutionFilter(), job_name=JOB, limit=10) == []
    with pytest.raises(NoSuchJob):
        operator.update_job_settings("noSuchJob", {"paused": True})
    with pytest.raises(NoSuchJob):
        operator.get_job_workloads(["noSuchJob"])


def test_priority_is_stored_with_every_launch(operator: JobOperator) -> None:
    first = operator.start(JOB, JobParameters.of(durationMs=LONG), priority=7)
    assert first.priority == 7
    assert operator.get_job_execution(first.id).priority == 7
    nxt = operator.start_next_instance(JOB, priority=-3)
    assert operator.get_job_execution(nxt.id).priority == -3
    stop_all(operator, [first.id, nxt.id])
    again = operator.restart(first.id, priority=1000)
    assert again.priority == 1000 and operator.get_job_execution(again.id).priority == 1000
    stop_all(operator, [again.id])


def test_a_limit_holds_and_the_queue_runs_by_priority_then_age(operator: JobOperator) -> None:
    operator.update_job_settings(JOB, {"max_concurrent": 1})
    running = start(operator, 1)
    started(operator, running)
    low = start(operator, 2)
    high = start(operator, 3, priority=5)
    high_later = start(operator, 4, priority=5)
    queue, total = operator.list_queue(JOB)
    assert total == 3
    assert [(q.execution_id, q.position, q.priority) for q in queue] == [
        (high, 1, 5),
        (high_later, 2, 5),
        (low, 3, 0),
    ]
    assert {q.waiting_for for q in queue} == {f"limit 1 of {JOB} reached (1 running)"}
    (workload,) = operator.get_job_workloads([JOB])
    assert (workload.running, workload.queued) == (1, 3)
    order = []
    for expected in (high, high_later, low):
        previous = running
        operator.stop(previous)
        started(operator, expected)
        order.append(expected)
        assert all(
            status(operator, i) is BatchStatus.STARTING
            for i in (high, high_later, low)
            if i not in order
        )
        running = expected
    stop_all(operator, [running])
    assert operator.list_queue(JOB) == ([], 0)


def test_a_key_limits_each_value_apart(operator: JobOperator) -> None:
    a1 = start(operator, 1, job="limitedJob", tenant="a")
    b1 = start(operator, 2, job="limitedJob", tenant="b")
    a2 = start(operator, 3, job="limitedJob", tenant="a")
    none = start(operator, 4, job="limitedJob")  # no tenant: the empty value's slot
    started(operator, a1, b1, none)
    queue, total = operator.list_queue("limitedJob")
    assert total == 1 and [q.execution_id for q in queue] == [a2]
    assert queue[0].waiting_for == "limit 1 of limitedJob for tenant=a reached (1 running)"
    # A run-time value over the declared one: two per tenant.
    operator.update_job_settings("limitedJob", {"max_concurrent": 2})
    started(operator, a2)
    stop_all(operator, [a1, b1, a2, none])


def test_pause_holds_starts_and_resume_runs_them(operator: JobOperator) -> None:
    running = start(operator, 1)
    started(operator, running)
    workload, stopped = operator.pause_job(JOB)
    assert workload.settings.paused and stopped == []
    held = start(operator, 2)
    queue, _ = operator.list_queue()
    assert [(q.execution_id, q.waiting_for) for q in queue] == [(held, f"{JOB} is paused")]
    time.sleep(0.3)  # a claim may look meanwhile; it must leave it
    assert status(operator, held) is BatchStatus.STARTING
    assert status(operator, running) is BatchStatus.STARTED  # running ones go on
    assert not operator.resume_job(JOB).settings.paused
    started(operator, held)
    _, stopped = operator.pause_job(JOB, stop_running=True)
    assert sorted(stopped) == sorted([running, held])
    wait_for(lambda: not status(operator, held).is_running, "stopped")


def test_a_queued_start_stopped_or_abandoned_never_runs(operator: JobOperator) -> None:
    operator.update_job_settings(JOB, {"max_concurrent": 1})
    running = start(operator, 1)
    started(operator, running)
    queued = start(operator, 2)
    paused_one = start(operator, 3)
    assert operator.stop(queued).status is BatchStatus.STOPPED
    operator.pause_job(JOB)
    operator.stop(paused_one)
    operator.abandon(paused_one)
    assert operator.list_queue(JOB) == ([], 0)
    operator.resume_job(JOB)
    operator.update_job_settings(JOB, {"max_concurrent": CLEAR})
    stop_all(operator, [running])
    time.sleep(0.3)
    assert status(operator, queued) is BatchStatus.STOPPED
    assert status(operator, paused_one) is BatchStatus.ABANDONED
    assert operator.get_job_execution(queued).start_time is None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_nodes_on_one_database_share_a_limit_and_hear_of_changes(db_url: str) -> None:
    engines = [create_engine(db_url) for _ in range(3)]
    nodes = [
        JobOperator(JobRepository(engine), JobRegistry.default([]), max_concurrent_executions=3)
        for engine in engines
    ]
    try:
        first = nodes[0]
        first.update_job_settings(JOB, {"max_concurrent": 2})
        ids = [start(nodes[n % 3], n) for n in range(6)]

        def running() -> list[int]:
            return [i for i in ids if status(first, i) is BatchStatus.STARTED]

        wait_for(lambda: len(running()) == 2, "two running")
        for _ in range(2):  # each stop frees a slot that a node claims
            assert len(running()) <= 2
            stopping = running()[0]
            nodes[1].stop(stopping)
            wait_for(lambda s=stopping: not status(first, s).is_running, "stopped")
            wait_for(lambda: len(running()) == 2, "two running again")
        # A pause on one node holds the others' claims; a resume there wakes them.
        nodes[2].pause_job(JOB, stop_running=True)
        wait_for(lambda: running() == [], "stopped by the pause")
        time.sleep(0.3)
        assert running() == []
        waiting = [i for i in ids if status(first, i) is BatchStatus.STARTING]
        assert len(waiting) == 2
        nodes[2].update_job_settings(JOB, {"max_concurrent": CLEAR})
        nodes[1].resume_job(JOB)
        started(first, *waiting)
    finally:
        for node in nodes:
            node.shutdown(5.0)
        for engine in engines:
            engine.dispose()
