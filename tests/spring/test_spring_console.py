"""jobop as a console of a Spring Batch application's database: Spring's own schema script,
rows written by a real JVM replaying Spring's DAO statements, and a real `jobop serve --jobs
none` (no job of its own). Its jobs' executions are listed; a running one is stopped and
Spring's step, polling its job's status as `JobRepository.update(StepExecution)` does, ends
it STOPPED; a dead application's execution is never recovered automatically (not even when
a jobop node dies and is recovered), and is recovered as Spring 6 does only with force."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli_support import JobopServer, run_jobctl, start_server
from jobop.domain import JobParameters
from spring_oracle import Oracle, SpringApplication, launch, run_spring_script

SPRING_5 = "5.2.6"
JOB = "springImportJob"
# Spring Batch 5's default serializer (Java serialization in Base64), where jobop's own
# default is Jackson: what jobop writes into the application's contexts stays readable.
FMT = "java"
REFUSED = 5


def wait(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def jobctl_json(server: JobopServer, *args: str) -> Any:
    done = run_jobctl(server.target, "--json", *args)
    assert done.returncode == 0, done
    return json.loads(done.stdout)


def refusal(server: JobopServer, *args: str) -> dict[str, Any]:
    done = run_jobctl(server.target, "--json", *args)
    assert done.returncode == REFUSED, done
    error: dict[str, Any] = json.loads(done.stderr)["error"]
    return error


def status(server: JobopServer, execution_id: int) -> str:
    shown = jobctl_json(server, "status", str(execution_id))
    return str(shown["status"])


def test_a_spring_applications_database_served_as_a_console(
    oracle: Oracle, blank_db_url: str, tmp_path: Path
) -> None:
    run_spring_script(blank_db_url, SPRING_5)
    (completed,) = oracle.dao(
        blank_db_url, 5, FMT, launch(JOB, JobParameters.of(run=0), step="importStep")
    )
    console = start_server(
        blank_db_url,
        tmp_path / "console.log",
        "--jobs",
        "none",
        "--lease",
        "2",
        "--heartbeat-interval",
        "0.5",
    )
    applications: list[SpringApplication] = []
    try:
        stopped_app = oracle.run_until_stopped(
            blank_db_url, JOB, JobParameters.of(run=1), step="importStep", fmt=FMT
        )
        applications.append(stopped_app)
        to_stop = stopped_app.wait_running()
        dead_app = oracle.run_until_stopped(
            blank_db_url, JOB, JobParameters.of(run=2), step="importStep", fmt=FMT
        )
        applications.append(dead_app)
        dead = dead_app.wait_running()
        dead_app.kill()  # the Spring application dies: its rows stay STARTED

        # Listed without a job name: every job's executions, the running ones.
        listed = [e["id"] for e in jobctl_json(console, "list")]
        assert listed == [dead, to_stop, completed["execution"]]
        running = [e["id"] for e in jobctl_json(console, "running")]
        assert running == [dead, to_stop]
        assert "importStep" in run_jobctl(console.target, "steps", str(to_stop)).stdout
        # Not runnable here: the console registered no job.
        assert refusal(console, "start", JOB, "run=3,long")["reason"] == "JOB_NOT_REGISTERED"
        assert refusal(console, "restart", str(dead))["reason"] == "JOB_NOT_REGISTERED"

        # Stop: STOPPING, which Spring's step sees at its next chunk boundary.
        stopping = jobctl_json(console, "stop", str(to_stop))
        assert stopping["status"] == "STOPPING"
        answer = stopped_app.answer()
        assert answer["execution"] == to_stop and answer["sawStatus"] == "STOPPING"
        assert status(console, to_stop) == "STOPPED"
        steps = jobctl_json(console, "steps", str(to_stop))
        assert [s["status"] for s in steps] == ["STOPPED"]

        # A jobop node dies and is recovered: the dead Spring application's execution is
        # none of its business.
        dead_version = jobctl_json(console, "status", str(dead))["version"]
        worker = start_server(
            blank_db_url, tmp_path / "worker.log", "--lease", "2", "--heartbeat-interval", "0.5"
        )
        try:
            started = run_jobctl(worker.target, "start", "demoTaskletJob", "durationMs=600000,long")
            assert started.returncode == 0, started
            owned = int(started.lines[0])
            wait(lambda: status(console, owned) == "STARTED", "the worker's execution to run")
        finally:
            worker.process.kill()
            worker.process.wait()
        wait(lambda: status(console, owned) == "FAILED", "the console to recover the worker")
        assert "owner lost" in run_jobctl(console.target, "status", str(owned)).stdout
        still = jobctl_json(console, "status", str(dead))
        assert (still["status"], still["version"]) == ("STARTED", dead_version)

        # Recover: refused without force (no lease tells), then as Spring 6 recovers it.
        refused = refusal(console, "recover", str(dead))
        assert refused["reason"] == "JOB_EXECUTION_ALREADY_RUNNING"
        assert "force" in refused["message"]
        assert jobctl_json(console, "recover", str(dead), "--force")["status"] == "FAILED"
        (read,) = oracle.dao(blank_db_url, 5, FMT, {"do": "read", "execution": dead})
        assert read["status"] == "FAILED"
        assert read["context"]["v"] == {
            "batch.version": {"t": "String", "v": "5.2.6"},
            "batch.recovered": {"t": "Boolean", "v": "true"},
        }
        (step,) = read["steps"]
        assert step["status"] == "FAILED"
        assert step["context"]["v"]["batch.recovered"] == {"t": "Boolean", "v": "true"}
        # Abandon works as for jobop's own executions.
        assert jobctl_json(console, "abandon", str(dead))["status"] == "ABANDONED"
    finally:
        for application in applications:
            if application.process.poll() is None:
                application.kill()
        assert console.stop() == 0, console.log()
