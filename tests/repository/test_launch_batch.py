"""Group commit of launches (launch_batch): launches that wait together share a statement,
and each still gets exactly its own outcome."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy.exc
from jobop.domain import JobInstanceAlreadyExists, JobParameter, JobParameters
from jobop.repository import JobRepository, create_engine
from jobop.repository.audit import AuditEvent, auditing
from jobop.repository.job_repository import NewInstance
from jobop.repository.launch_batch import Launch, LaunchBatch
from sqlalchemy import text


@pytest.fixture
def pg_repository(pg_clones: Any) -> Iterator[JobRepository]:
    """Batching is PostgreSQL's (SQLite writes one launch at a time under its lock)."""
    name = pg_clones.take()
    repo = JobRepository(create_engine(pg_clones.cluster.url(name), pool_size=40))
    yield repo
    repo.engine.dispose()
    pg_clones.cluster.drop_database(name)


def test_launches_of_one_call_sharing_a_context_each_get_their_own(
    pg_repository: JobRepository,
) -> None:
    """StartJobs hands every launch one mapping (this node's owner), serialized once: each
    launch still gets a context of its own, as saved, and a launch with another mapping
    (another owner) or an unstorable value gets what it alone would."""
    repository = pg_repository
    here = {"jobop.owner": {"host": "a", "pid": 1, "started": 7}}
    elsewhere = {"jobop.owner": {"host": "b", "pid": 2, "started": None}}
    unstorable = {"bad": object()}
    contexts = [here, here, elsewhere, unstorable, here, None, unstorable, elsewhere]
    launches = [
        NewInstance("batchJob", JobParameters.of(run=run), context=context)
        for run, context in enumerate(contexts)
    ]
    results = repository.launch_new_instances(launches)
    assert len(results) == len(contexts)
    executions = {}
    for run, (context, result) in enumerate(zip(contexts, results, strict=True)):
        if context is unstorable:
            assert isinstance(result, TypeError)  # refused as it is put
            continue
        assert not isinstance(result, Exception)
        execution, _ = result
        assert dict(execution.execution_context) == (context or {})
        assert not execution.execution_context.dirty
        saved = repository.explorer.get_job_execution(execution.id)
        assert saved is not None
        assert dict(saved.execution_context) == (context or {}), run
        executions[run] = execution
    # Contexts of one mapping are not one object: a change to one is its execution's alone.
    executions[0].execution_context["seen"] = 1
    assert executions[0].execution_context.dirty
    assert "seen" not in executions[1].execution_context
    assert not executions[4].execution_context.dirty


def _together(threads: int, each: Callable[[int], str]) -> list[str]:
    """Run `each(n)` on `threads` threads released at one moment."""
    barrier = threading.Barrier(threads)

    def run(n: int) -> str:
        barrier.wait()
        try:
            return each(n)
        except JobInstanceAlreadyExists:
            return "exists"

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(run, range(threads)))


def test_launches_of_distinct_instances_together(pg_repository: JobRepository) -> None:
    repository = pg_repository
    counter = iter(range(10_000))
    lock = threading.Lock()

    def launch(n: int) -> str:
        with lock:
            run = next(counter)
        parameters = JobParameters.of(
            run=run, note=JobParameter("x" * (run % 7), "STRING", identifying=False)
        )
        event = AuditEvent(principal=f"user{run}", role="operator", action="Start", arguments="{}")
        with auditing(event):
            execution = repository.create_job_execution(
                "batchJob",
                parameters,
                new_instance_only=True,
                context={"run": run},
                request_launch=True,
                claimed_by=None if run % 2 else "node-a",
            )
        assert execution.job_parameters == parameters
        return f"{run}:{execution.id}"

    statements_before = repository.launches.statements
    outcomes = [o for _ in range(4) for o in _together(32, launch)]
    assert "exists" not in outcomes and len(outcomes) == 128
    # Launches that waited together shared statements.
    assert repository.launches.statements - statements_before < 128
    by_execution = {int(o.split(":")[1]): int(o.split(":")[0]) for o in outcomes}
    assert len(by_execution) == 128

    with repository.engine.connect() as connection:
        # Each execution got its own parameters, context, launch request and audit row.
        for execution_id, run in by_execution.items():
            saved = repository.explorer.get_job_execution(execution_id)
            assert saved is not None
            assert saved.job_parameters == JobParameters.of(
                run=run, note=JobParameter("x" * (run % 7), "STRING", identifying=False)
            )
            assert dict(saved.execution_context) == {"run": run}
        requests = dict(
            connection.execute(
                text("select job_execution_id, node_id from jobop_launch_request")
            ).all()
        )
        audit_rows = dict(
            connection.execute(
                text("select job_execution_id, principal from jobop_audit where action = 'Start'")
            ).all()
        )
        counts = connection.execute(
            text(
                "select (select count(*) from batch_job_instance),"
                " (select count(*) from batch_job_execution),"
                " (select count(*) from batch_job_execution_params),"
                " (select count(*) from batch_job_execution_context)"
            )
        ).one()
    for execution_id, run in by_execution.items():
        assert requests[execution_id] == (None if run % 2 else "node-a")
        assert audit_rows[execution_id] == f"user{run}"
    assert tuple(counts) == (128, 128, 256, 128)


def test_one_instance_launched_many_times_at_once_is_created_once(
    pg_repository: JobRepository,
) -> None:
    repository = pg_repository

    def launch(n: int) -> str:
        # Four keys, each launched by eight threads at the same moment.
        parameters = JobParameters.of(key=n % 4)
        execution = repository.create_job_execution(
            "batchJob", parameters, new_instance_only=True, request_launch=True
        )
        return f"created {n % 4}:{execution.id}"

    outcomes = Counter(o.split(":")[0] for o in _together(32, launch))
    assert outcomes == Counter(
        {"created 0": 1, "created 1": 1, "created 2": 1, "created 3": 1, "exists": 28}
    )
    with repository.engine.connect() as connection:
        assert connection.execute(text("select count(*) from batch_job_execution")).scalar() == 4


# -- the batching itself, with a stand-in for the statement ---------------------------------


class _Statement:
    """A write that holds its first batch until every other launch has queued behind it,
    so that the second batch is all of them; launches named `bad` make a batch fail."""

    def __init__(self, others: int, error: Callable[[], Exception]) -> None:
        self.batches: list[list[str]] = []
        self._others = others
        self._error = error
        self.batch: LaunchBatch | None = None

    def __call__(self, batch: list[Launch]) -> dict[int, tuple[int, int]]:
        names = [launch.values["job_key"] for launch in batch]
        if not self.batches:
            assert self.batch is not None
            while len(self.batch._queue) < self._others:  # the others queue meanwhile
                threading.Event().wait(0.001)
        self.batches.append(names)
        if any(name.startswith("bad") for name in names):
            raise self._error()
        return {i: (100 + int(name[-2:]), 200 + int(name[-2:])) for i, name in enumerate(names)}


def _launch(key: str) -> Launch:
    return Launch(values={"job_name": "j", "job_key": key}, parameters=[], audit=None)


def _run_together(statement: _Statement, keys: list[str]) -> dict[str, object]:
    batch = LaunchBatch(statement)
    statement.batch = batch
    results: dict[str, object] = {}

    def one(key: str) -> None:
        try:
            results[key] = batch.launch(_launch(key))
        except Exception as error:
            results[key] = error

    first = threading.Thread(target=one, args=(keys[0],))
    first.start()
    while not batch._writing:  # the first launch is being written
        threading.Event().wait(0.001)
    others = [threading.Thread(target=one, args=(key,)) for key in keys[1:]]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(10)
        assert not thread.is_alive()
    return results


def test_a_lone_launch_is_written_at_once_and_those_that_queue_meanwhile_share_one_batch() -> None:
    keys = [f"k{n:02d}" for n in range(10)]
    statement = _Statement(others=9, error=lambda: ValueError("unused"))
    results = _run_together(statement, keys)
    assert statement.batches == [["k00"], [f"k{n:02d}" for n in range(1, 10)]]
    assert results == {key: (100 + int(key[-2:]), 200 + int(key[-2:])) for key in keys}


def test_a_launch_that_fails_a_batch_fails_alone() -> None:
    keys = ["k00", "k01", "bad02", "k03"]
    statement = _Statement(others=3, error=lambda: ValueError("this launch is bad"))
    results = _run_together(statement, keys)
    # The failed batch is written again launch by launch, in key order.
    assert statement.batches == [["k00"], ["bad02", "k01", "k03"], ["bad02"], ["k01"], ["k03"]]
    assert isinstance(results["bad02"], ValueError)
    assert results["k01"] == (101, 201) and results["k03"] == (103, 203)


def test_when_the_database_is_unreachable_every_launch_of_the_batch_gets_the_error() -> None:
    keys = ["k00", "k01", "bad02", "k03"]

    def unreachable() -> Exception:
        return sqlalchemy.exc.OperationalError("INSERT", {}, ConnectionError("server closed"))

    statement = _Statement(others=3, error=unreachable)
    results = _run_together(statement, keys)
    assert statement.batches == [["k00"], ["bad02", "k01", "k03"]]  # not retried one by one
    assert all(isinstance(results[key], sqlalchemy.exc.OperationalError) for key in keys[1:])
    assert results["k00"] == (100, 200)


def test_two_launches_of_one_instance_never_share_a_batch() -> None:
    keys = ["k00", "k01", "k01", "k02"]
    statement = _Statement(others=3, error=lambda: ValueError("unused"))
    _run_together(statement, keys)
    assert statement.batches == [["k00"], ["k01", "k02"], ["k01"]]
