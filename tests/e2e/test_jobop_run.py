"""`jobop run` as a user runs it: real subprocesses against SQLite and PostgreSQL; exit
codes, stops from another process and by signal, a SIGKILLed run recovered and restarted."""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jobop.domain import BatchStatus, JobExecution, JobParameters
from jobop.repository import JobRepository, create_engine
from sqlalchemy import text

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "jobop.app.cli"]


@pytest.fixture
def repo(db_url: str) -> Iterator[JobRepository]:
    repository = JobRepository(create_engine(db_url))
    yield repository
    repository.engine.dispose()


@pytest.fixture
def jobop(db_url: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, db: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*CLI, *args]
        if db:
            command += ["--db", db_url]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=_env()
        )

    return run


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("JOBOP_DB_URL", None)
    env.pop("JOBOP_JOBS", None)
    return env


def spawn(db_url: str, tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "run", *args, "--db", db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=_env(),
    )


def demo_items(repo: JobRepository) -> dict[int, int]:
    with repo.engine.connect() as connection:
        rows = connection.execute(text("SELECT ITEM, JOB_EXECUTION_ID FROM DEMO_ITEMS")).all()
    return {row[0]: row[1] for row in rows}


def wait_for_commits(repo: JobRepository, job_name: str, commits: int) -> JobExecution:
    """The running execution of `job_name`, once its step committed `commits` chunks."""
    deadline = time.monotonic() + 60
    while True:
        assert time.monotonic() < deadline, f"{job_name} did not reach {commits} commits"
        for running in repo.explorer.find_running_job_executions(job_name):
            execution = repo.explorer.get_job_execution(running.id)
            assert execution is not None
            steps = execution.step_executions
            if steps and steps[0].commit_count >= commits:
                return execution
        time.sleep(0.02)


def final(repo: JobRepository, execution_id: int) -> JobExecution:
    execution = repo.explorer.get_job_execution(execution_id)
    assert execution is not None
    return execution


def last_execution(repo: JobRepository, job_name: str) -> JobExecution:
    instance = repo.explorer.get_last_job_instance(job_name)
    assert instance is not None
    execution = repo.explorer.get_last_job_execution(instance)
    assert execution is not None
    return execution


# -- exit codes and usage ------------------------------------------------------------------


def test_completed_failed_and_restarted(jobop: Callable[..., Any], repo: JobRepository) -> None:
    done = jobop("run", "demoChunkJob", "items=4,long")
    assert done.returncode == 0, done.stderr
    assert "status=COMPLETED" in done.stdout
    assert "[demoChunkJob #1 demoChunkStep]" in done.stderr  # the log carries the context
    assert "exit code [COMPLETED]" in done.stderr

    failed = jobop("run", "demoChunkJob", "items=6", "chunkSize=3", "failAtItem=5")
    assert failed.returncode == 255
    first = last_execution(repo, "demoChunkJob")
    assert first.status is BatchStatus.FAILED
    assert {item for item, eid in demo_items(repo).items() if eid == first.id} == {1, 2, 3}

    again = jobop("run", "demoChunkJob", "items=6", "chunkSize=3", "failAtItem=5")
    assert again.returncode == 0, again.stderr
    second = last_execution(repo, "demoChunkJob")
    assert second.status is BatchStatus.COMPLETED
    assert second.job_instance_id == first.job_instance_id
    items = demo_items(repo)
    assert sorted(items) == [1, 2, 3, 4, 5, 6]
    assert [items[i] for i in range(1, 7)] == [first.id] * 3 + [second.id] * 3
    assert len(repo.explorer.get_job_executions(first.job_instance_id)) == 2

    complete = jobop("run", "demoChunkJob", "items=6", "chunkSize=3", "failAtItem=5")
    assert complete.returncode == 5
    assert "already complete" in complete.stderr


def test_custom_exit_codes_from_a_file(
    jobop: Callable[..., Any], repo: JobRepository, tmp_path: Path
) -> None:
    toml = tmp_path / "codes.toml"
    toml.write_text('{"CUSTOM FAILED" = 100}\n')
    as_json = tmp_path / "codes.json"
    as_json.write_text(json.dumps({"CUSTOM FAILED": 101}))
    mapped = jobop("run", "demoExitCodeJob", "fail=true", "--exit-codes", str(toml))
    assert mapped.returncode == 100, mapped.stderr
    assert last_execution(repo, "demoExitCodeJob").exit_status.exit_code == "CUSTOM FAILED"
    unmapped = jobop("run", "demoExitCodeJob", "fail=true", "--next")
    assert unmapped.returncode == 255
    from_json = jobop("run", "demoExitCodeJob", "fail=true", "--next", "--exit-codes", str(as_json))
    assert from_json.returncode == 101
    ok = jobop("run", "demoExitCodeJob", "fail=false")
    assert ok.returncode == 0


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "name a JOB"),
        (("nope",), 4, "no job named 'nope'"),
        (("demoChunkJob", "items=x"), 2, "invalid items ('x' is not a whole number)"),
        (("demoChunkJob", "itemz=7"), 2, "unknown itemz (declared: items, chunkSize"),
        (("demoExitCodeJob", "fail=maybe", "--next"), 2, "invalid fail ('maybe' is not a"),
        (("demoChunkJob", "=1"), 2, ""),
        (("--stop", "999"), 4, "no job execution with id 999"),
        (("--restart", "999"), 4, "no job execution with id 999"),
        (("--abandon", "999"), 4, "no job execution with id 999"),
        (("--recover", "999"), 4, "no job execution with id 999"),
        (("--stop", "1", "--abandon", "1"), 2, "cannot be combined"),
        (("--restart", "1", "--next"), 2, "takes an execution id"),
        (("--stop", "x"), 2, "an execution id is a positive number"),
        (("--stop", "99999999999999999999"), 2, "up to 9223372036854775807"),
        (("--recover", "9223372036854775808"), 2, "up to 9223372036854775807"),
        (("--abandon", "0"), 2, "an execution id is a positive number"),
        (("demoChunkJob", "--exit-codes", "/nonexistent/codes.toml"), 2, "cannot read"),
        (("demoChunkJob", "--jobs", "no_such_module_anywhere"), 2, "no module named"),
        (("demoChunkJob", "--jobs", "none", "--jobs", "x"), 2, "cannot be given with job modules"),
        (("demoChunkJob", "--jobs", "none"), 4, "no job named 'demoChunkJob'"),
    ],
)
def test_usage_errors(
    jobop: Callable[..., Any], args: tuple[str, ...], code: int, message: str
) -> None:
    result = jobop("run", *args)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr  # one readable line, no traceback
    assert message in lines[0]


def test_next_and_restart_and_abandon(jobop: Callable[..., Any], repo: JobRepository) -> None:
    assert jobop("run", "demoTaskletJob", "--next", "durationMs=10,long").returncode == 0
    assert jobop("run", "demoTaskletJob", "--next").returncode == 0
    last = last_execution(repo, "demoTaskletJob")
    assert last.job_parameters["run.id"].value == 2
    assert last.job_parameters["durationMs"].value == 10  # carried over by the incrementer

    failed = jobop("run", "demoChunkJob", "items=3", "failAtItem=2")
    assert failed.returncode == 255
    failed_id = last_execution(repo, "demoChunkJob").id
    restarted = jobop("run", "--restart", str(failed_id))
    assert restarted.returncode == 0, restarted.stderr
    assert last_execution(repo, "demoChunkJob").status is BatchStatus.COMPLETED
    refused = jobop("run", "--restart", str(failed_id))
    assert refused.returncode == 5

    assert jobop("run", "demoChunkJob", "items=2", "failAtItem=1").returncode == 255
    to_abandon = last_execution(repo, "demoChunkJob").id
    abandoned = jobop("run", "--abandon", str(to_abandon))
    assert abandoned.returncode == 0, abandoned.stderr
    assert "status=ABANDONED" in abandoned.stdout
    assert jobop("run", "demoChunkJob", "items=2", "failAtItem=1").returncode == 5
    assert jobop("run", "--stop", str(to_abandon)).returncode == 5
    assert jobop("run", "--recover", str(to_abandon)).returncode == 5
    assert jobop("run", "--stop", "999").returncode == 4

    # Direct database actions are in the audit trail, the OS user as principal.
    with repo.engine.connect() as connection:
        rows = list(connection.execute(text("SELECT * FROM jobop_audit ORDER BY audit_id")))
    user = f"os:{getpass.getuser()}"
    assert [
        (r.action, r.principal, r.role, r.succeeded, r.job_execution_id, r.reason) for r in rows
    ] == [
        ("Abandon", user, None, "Y", to_abandon, None),
        ("Stop", user, None, "N", to_abandon, "JOB_EXECUTION_NOT_RUNNING"),
        ("Recover", user, None, "N", to_abandon, rows[2].reason),
        ("Stop", user, None, "N", 999, "NO_SUCH_JOB_EXECUTION"),
    ]
    assert rows[2].reason and all(r.peer == "local:jobop run" and r.node for r in rows)
    assert rows[0].job_name == "demoChunkJob"


def test_jobs_from_a_module(jobop: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "my_jobs.py").write_text(
        "from jobop.batch import Job, RepeatStatus, TaskletStep\n"
        "hello = Job('helloJob', [TaskletStep('hello', lambda c, k: RepeatStatus.FINISHED)])\n"
    )
    env_result = subprocess.run(
        [*CLI, "run", "helloJob", "--db", f"sqlite:///{tmp_path / 'own.db'}", "--jobs", "my_jobs"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**_env(), "PYTHONPATH": str(tmp_path)},
    )
    assert env_result.returncode == 0, env_result.stderr


def test_db_init_and_upgrade(blank_db_url: str, tmp_path: Path) -> None:
    for action in ("init", "upgrade", "init"):
        result = subprocess.run(
            [*CLI, "db", action, "--db", blank_db_url],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env=_env(),
        )
        assert result.returncode == 0, result.stderr
    bad = subprocess.run(
        [*CLI, "db", "init", "--db", "mysql://nowhere/x"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert bad.returncode == 2
    assert "unsupported database URL" in bad.stderr


def test_the_default_database_is_jobop_db_in_the_working_directory(tmp_path: Path) -> None:
    result = subprocess.run(
        [*CLI, "run", "demoTaskletJob", "durationMs=1,long"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=_env(),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "jobop.db").exists()


# -- stops and crashes ---------------------------------------------------------------------

# 40 s of work that the tests below interrupt after a chunk or two: far more than a busy
# machine (a parallel run) takes to start the interrupting process, so the job never ends
# first. The delay is not identifying: a restart of the same instance runs the rest at once.
ITEMS = 400
SLOW = ("demoChunkJob", f"items={ITEMS}", "chunkSize=4", "itemDelayMs=100,long,false")
REST = ("demoChunkJob", f"items={ITEMS}", "chunkSize=4", "itemDelayMs=0,long,false")


def test_stop_from_a_second_process(
    db_url: str, tmp_path: Path, jobop: Callable[..., Any], repo: JobRepository
) -> None:
    first = spawn(db_url, tmp_path, *SLOW)
    try:
        running = wait_for_commits(repo, "demoChunkJob", 1)
        stop = jobop("run", "--stop", str(running.id))
        assert stop.returncode == 0, stop.stderr
        assert "status=STOPPING" in stop.stdout
        _, stderr = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 255, stderr
    stopped = final(repo, running.id)
    assert stopped.status is BatchStatus.STOPPED
    assert stopped.exit_status.exit_code == "STOPPED"
    step = stopped.step_executions[0]
    assert step.status is BatchStatus.STOPPED
    assert step.read_count < ITEMS  # it stopped at a chunk boundary, not at the end
    restart = jobop("run", *REST)
    assert restart.returncode == 0, restart.stderr
    _assert_each_item_once(repo, ITEMS, stopped)


def test_sigterm_stops_at_the_next_chunk(
    db_url: str, tmp_path: Path, jobop: Callable[..., Any], repo: JobRepository
) -> None:
    process = spawn(db_url, tmp_path, *SLOW)
    try:
        running = wait_for_commits(repo, "demoChunkJob", 1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 255, stderr
    assert "SIGTERM received" in stderr
    stopped = final(repo, running.id)
    assert stopped.status is BatchStatus.STOPPED
    assert jobop("run", *REST).returncode == 0
    _assert_each_item_once(repo, ITEMS, stopped)


def test_a_killed_run_is_recovered_then_restarted(
    db_url: str, tmp_path: Path, jobop: Callable[..., Any], repo: JobRepository
) -> None:
    process = spawn(db_url, tmp_path, *SLOW)
    try:
        running = wait_for_commits(repo, "demoChunkJob", 2)
        refused = jobop("run", "--recover", str(running.id))
        assert refused.returncode == 5
        assert "whose lease is live" in refused.stderr
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        process.kill()
        process.communicate()
    assert final(repo, running.id).status is BatchStatus.STARTED  # what a crash leaves
    assert jobop("run", *SLOW).returncode == 5  # still "running": refused
    recovered = jobop("run", "--recover", str(running.id))
    assert recovered.returncode == 0, recovered.stderr
    failed = final(repo, running.id)
    assert failed.status is BatchStatus.FAILED
    assert failed.step_executions[0].status is BatchStatus.FAILED
    restart = jobop("run", *REST)
    assert restart.returncode == 0, restart.stderr
    _assert_each_item_once(repo, ITEMS, failed)


def _assert_each_item_once(repo: JobRepository, count: int, interrupted: JobExecution) -> None:
    """Items up to the interrupted execution's saved position were written by it, the rest
    by the restart: no item lost, none written twice (a rewrite would take the row over)."""
    items = demo_items(repo)
    assert sorted(items) == list(range(1, count + 1))
    saved = interrupted.step_executions[0].execution_context["numbers.read.count"]
    assert 0 < saved < count
    restart = last_execution(repo, "demoChunkJob")
    assert restart.status is BatchStatus.COMPLETED
    assert restart.step_executions[0].read_count == count - saved
    assert {items[i] for i in range(1, saved + 1)} == {interrupted.id}
    assert {items[i] for i in range(saved + 1, count + 1)} == {restart.id}


def test_stop_and_recover_of_an_execution_no_node_owns(
    jobop: Callable[..., Any], repo: JobRepository
) -> None:
    # As a Spring Batch application's launch leaves it: no launch request, no owner.
    starting = repo.create_job_execution("springJob", JobParameters.of(n=1))
    stopped = jobop("run", "--stop", str(starting.id))
    assert stopped.returncode == 0, stopped.stderr
    assert "status=STOPPING" in stopped.stdout  # as Spring's stop: its launcher runs it
    running = repo.create_job_execution("springJob", JobParameters.of(n=2))
    refused = jobop("run", "--recover", str(running.id))
    assert refused.returncode == 5 and "--force" in refused.stderr, refused.stderr
    recovered = jobop("run", "--recover", str(running.id), "--force")
    assert recovered.returncode == 0, recovered.stderr
    assert "status=FAILED" in recovered.stdout
    after = repo.explorer.get_job_execution(running.id)
    assert after is not None and after.execution_context["batch.recovered"] is True
