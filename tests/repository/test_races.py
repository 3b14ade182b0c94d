"""Simultaneous launches of one instance yield exactly one execution, across threads and
across processes, on both databases; the losers get a domain error, never an
IntegrityError and never a second row."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from jobop.domain import BatchStatus, JobopError, JobParameters
from jobop.repository import JobRepository, create_engine
from jobop.repository.migrations import MIGRATIONS
from race_worker import RACE_JOB, RACE_PARAMETERS
from repository_lifecycle import run_execution
from sqlalchemy import Engine, text

THREADS = 50
WORKER = Path(__file__).with_name("race_worker.py")

pytestmark = pytest.mark.slow


def race(attempts: int, attempt: Callable[[], str]) -> Counter[str]:
    """Run `attempt` in `attempts` threads released at the same instant; count outcomes."""
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def run() -> None:
        barrier.wait()
        try:
            outcomes.append(attempt())
        except JobopError as error:
            outcomes.append(type(error).__name__)
        except Exception as error:
            traceback.print_exc()  # shown by pytest if the test fails
            outcomes.append(f"unexpected {type(error).__name__}: {error}")

    threads = [threading.Thread(target=run) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(outcomes)


def created(outcomes: Counter[str]) -> list[str]:
    return [o for o in outcomes if o.startswith("created")]


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table: int(connection.execute(text(f"select count(*) from {table}")).scalar_one())
            for table in (
                "BATCH_JOB_INSTANCE",
                "BATCH_JOB_EXECUTION",
                "BATCH_JOB_EXECUTION_PARAMS",
                "BATCH_JOB_EXECUTION_CONTEXT",
            )
        }


@pytest.fixture
def race_repository(db_url: str) -> JobRepository:
    # One pooled connection per thread, opened before the race starts.
    engine = create_engine(db_url, pool_size=THREADS, max_overflow=0)
    connections = [engine.connect() for _ in range(THREADS)]
    for connection in connections:
        connection.close()
    return JobRepository(engine)


@pytest.mark.parametrize(
    ("new_instance_only", "loser_error"),
    [(False, "JobExecutionAlreadyRunning"), (True, "JobInstanceAlreadyExists")],
)
def test_race_fifty_threads_launch_one_new_instance(
    race_repository: JobRepository, new_instance_only: bool, loser_error: str
) -> None:
    parameters = JobParameters.parse(RACE_PARAMETERS)

    def launch() -> str:
        execution = race_repository.create_job_execution(
            RACE_JOB, parameters, new_instance_only=new_instance_only
        )
        return f"created {execution.id}"

    try:
        outcomes = race(THREADS, launch)
        assert len(created(outcomes)) == 1, outcomes
        assert outcomes[loser_error] == THREADS - 1, outcomes
        assert row_counts(race_repository.engine) == {
            "BATCH_JOB_INSTANCE": 1,
            "BATCH_JOB_EXECUTION": 1,
            "BATCH_JOB_EXECUTION_PARAMS": 2,
            "BATCH_JOB_EXECUTION_CONTEXT": 1,
        }
    finally:
        race_repository.engine.dispose()


def test_race_fifty_threads_restart_one_failed_instance(race_repository: JobRepository) -> None:
    parameters = JobParameters.parse(RACE_PARAMETERS)
    failed = run_execution(race_repository, RACE_JOB, parameters, status=BatchStatus.FAILED)

    def restart() -> str:
        return f"created {race_repository.create_job_execution(RACE_JOB, parameters).id}"

    try:
        outcomes = race(THREADS, restart)
        assert len(created(outcomes)) == 1, outcomes
        assert outcomes["JobExecutionAlreadyRunning"] == THREADS - 1, outcomes
        executions = race_repository.explorer.get_job_executions(failed.job_instance_id)
        assert [e.status for e in executions] == [BatchStatus.STARTING, BatchStatus.FAILED]
        assert row_counts(race_repository.engine)["BATCH_JOB_INSTANCE"] == 1
    finally:
        race_repository.engine.dispose()


def run_processes(mode: str, url: str, processes: int, threads: int) -> Counter[str]:
    """Start the worker processes, release them together, and count their outcomes."""
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, url, str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None
            line = worker.stdout.readline()
            assert line.strip() == "ready", worker.communicate(timeout=30)
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outcomes: Counter[str] = Counter()
        for worker in workers:
            out, err = worker.communicate(timeout=120)
            assert worker.returncode == 0, err
            if err:
                print(err, file=sys.stderr)  # tracebacks of unexpected errors
            outcomes.update(json.loads(out.strip().splitlines()[-1]))
        return outcomes
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()


@pytest.mark.parametrize(
    ("mode", "history", "loser_error"),
    [
        ("launch", None, "JobExecutionAlreadyRunning"),
        ("launch-new", None, "JobInstanceAlreadyExists"),
        ("launch", BatchStatus.FAILED, "JobExecutionAlreadyRunning"),
    ],
)
def test_race_two_processes_launch_one_instance(
    db_url: str, mode: str, history: BatchStatus | None, loser_error: str
) -> None:
    engine = create_engine(db_url)
    try:
        if history is not None:
            run_execution(
                JobRepository(engine),
                RACE_JOB,
                JobParameters.parse(RACE_PARAMETERS),
                status=history,
            )
        before = row_counts(engine)["BATCH_JOB_EXECUTION"]
        threads = 10
        outcomes = run_processes(mode, db_url, 2, threads)
        assert len(created(outcomes)) == 1, outcomes
        assert outcomes[loser_error] == 2 * threads - 1, outcomes
        counts = row_counts(engine)
        assert counts["BATCH_JOB_INSTANCE"] == 1
        assert counts["BATCH_JOB_EXECUTION"] == before + 1
    finally:
        engine.dispose()


def test_race_two_processes_init_one_schema(blank_db_url: str) -> None:
    outcomes = run_processes("init", blank_db_url, 2, 4)
    assert outcomes == Counter({"ok": 8}), outcomes
    engine = create_engine(blank_db_url)
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("select VERSION from JOBOP_SCHEMA_VERSION")).all()
        assert sorted(v[0] for v in versions) == [m.version for m in MIGRATIONS]
        repository = JobRepository(engine)
        assert repository.create_job_execution("afterInit", JobParameters()).id == 1
    finally:
        engine.dispose()
