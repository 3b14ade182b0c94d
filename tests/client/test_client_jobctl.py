"""jobctl run as a real subprocess against a real socket: output, exit codes, errors."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from client_fake_server import RunningServer
from jobop_client import jobctl
from jobop_client.proto import job_operator_pb2 as pb


def jobctl_run(
    *args: str, target: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    environment.pop("JOBOP_TARGET", None)
    if target is not None:
        environment["JOBOP_TARGET"] = target
    return subprocess.run(
        [sys.executable, "-m", "jobop_client.jobctl", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("jobctl: ")
    return lines[0]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "required: COMMAND"),
        (["start"], "required: JOB"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["start", "demoChunkJob", "items=x,long"], "'x' is not a whole number"),
        (["start", "demoChunkJob", "items"], "not of the form name=value"),
        (["start", "demoChunkJob", "a=1", "a=2"], "given more than once"),
        (
            ["status", "twelve"],
            "an execution id is a positive number up to 9223372036854775807, not 'twelve'",
        ),
        (["stop"], "either an EXECUTION_ID or --job NAME"),
        (["stop", "3", "--job", "demoChunkJob"], "either an EXECUTION_ID or --job NAME"),
        (["--timeout", "0", "jobs"], "seconds above 0"),
        (["list", "demoChunkJob", "--limit", "-1"], "0 or more"),
        (["jobs", "--bogus"], "unrecognized arguments: --bogus"),
        (["watch", "1", "--exit-codes", "/nonexistent/codes.toml"], "cannot read exit-code file"),
        (["--ca-cert", "/nonexistent/ca.pem", "jobs"], "cannot read --ca '/nonexistent"),
        (["--ca", "/nonexistent/ca.pem", "jobs"], "cannot read --ca '/nonexistent"),
        (["--cert", "/nonexistent/c.pem", "jobs"], "--cert and --key go together"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    # The target is unreachable: none of these may get as far as connecting.
    result = jobctl_run(*args, target="127.0.0.1:1")
    assert result.returncode == 2, result.stderr
    assert message in one_error_line(result)
    assert result.stdout == ""


def test_an_unreachable_server_exits_3() -> None:
    result = jobctl_run("--target", "127.0.0.1:1", "jobs")
    assert result.returncode == 3
    assert "cannot reach the jobop server at 127.0.0.1:1" in one_error_line(result)


def test_the_target_comes_from_the_environment(fake_server: RunningServer) -> None:
    result = jobctl_run("jobs", target=fake_server.target)
    assert result.returncode == 0, result.stderr
    jobs = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert jobs == ["demoChunkJob", "demoExitCodeJob", "demoTaskletJob"]
    # --target wins over the environment, before or after the sub-command.
    result = jobctl_run("jobs", "--target", "127.0.0.1:1", target=fake_server.target)
    assert result.returncode == 3


@pytest.mark.parametrize(
    "args",
    [["status", "999"], ["steps", "999"], ["start", "noSuchJob"], ["running", "noSuchJob"]],
)
def test_no_such_job_or_execution_exits_4(fake_server: RunningServer, args: list[str]) -> None:
    result = jobctl_run("--target", fake_server.target, *args)
    assert result.returncode == 4
    assert "no job" in one_error_line(result)


def test_start_prints_the_execution_id_first(fake_server: RunningServer) -> None:
    result = jobctl_run(
        "--target",
        fake_server.target,
        "start",
        "demoChunkJob",
        "items=6,long",
        "chunkSize=3,long,false",
    )
    assert result.returncode == 0, result.stderr
    execution_id = int(result.stdout.splitlines()[0])
    started = fake_server.servicer.executions[execution_id]
    assert started.parameters["items"].long_value == 6
    assert started.parameters["chunkSize"].identifying is False


def test_start_wait_follows_to_the_end(fake_server: RunningServer) -> None:
    result = jobctl_run(
        "--target", fake_server.target, "start", "demoChunkJob", "items=20,long", "--wait"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    execution_id = int(lines[0])
    assert f"execution {execution_id} demoChunkJob: STARTED" in lines
    assert any("demoChunkStep: STARTED  read 10  written 10" in line for line in lines)
    assert any("demoChunkStep: COMPLETED  read 20  written 20" in line for line in lines)
    assert lines[-1].startswith(f"execution {execution_id} COMPLETED with exit code COMPLETED")
    assert "\x1b[" not in result.stdout  # not a terminal: plain lines


def test_a_failed_job_exits_255_unless_mapped(fake_server: RunningServer, tmp_path: Path) -> None:
    result = jobctl_run(
        "--target", fake_server.target, "start", "demoExitCodeJob", "fail=true,boolean", "--wait"
    )
    assert result.returncode == 255
    assert "FAILED with exit code CUSTOM FAILED" in result.stdout
    assert "failed on purpose" in result.stdout
    execution_id = result.stdout.splitlines()[0]

    codes = tmp_path / "codes.toml"
    codes.write_text('{"CUSTOM FAILED" = 100}')
    result = jobctl_run(
        "--target", fake_server.target, "watch", execution_id, "--exit-codes", str(codes)
    )
    assert result.returncode == 100, result.stderr


def test_json_output(fake_server: RunningServer) -> None:
    result = jobctl_run(
        "--target", fake_server.target, "--json", "start", "demoChunkJob", "items=5,long", "--wait"
    )
    assert result.returncode == 0, result.stderr
    execution = json.loads(result.stdout)
    assert execution["status"] == "COMPLETED"
    assert execution["parameters"]["items"] == {"long": 5, "identifying": True}
    assert execution["stepExecutions"][0]["writeCount"] == 5

    result = jobctl_run("steps", str(execution["id"]), "--json", "--target", fake_server.target)
    steps = json.loads(result.stdout)
    assert [s["stepName"] for s in steps] == ["demoChunkStep"]

    result = jobctl_run("--json", "--target", fake_server.target, "status", str(execution["id"]))
    assert json.loads(result.stdout)["summary"].startswith(f"JobExecution: id={execution['id']}")


def test_tables(fake_server: RunningServer) -> None:
    target = ["--target", fake_server.target]
    first = jobctl_run(*target, "start", "demoChunkJob", "items=3,long", "--wait")
    second = jobctl_run(*target, "start", "demoChunkJob", "items=4,long", "label=a\\,b")
    first_id, second_id = first.stdout.split()[0], second.stdout.split()[0]

    listing = jobctl_run(*target, "list", "demoChunkJob").stdout.splitlines()
    assert listing[0].split() == [
        "ID",
        "INSTANCE",
        "STATUS",
        "EXIT",
        "CODE",
        "STARTED",
        "DURATION",
        "PARAMETERS",
    ]
    assert listing[1].split()[:3] == [second_id, second_id, "STARTING"]
    assert listing[1].endswith("items=4,long label=a\\,b")
    assert listing[2].split()[:4] == [first_id, first_id, "COMPLETED", "COMPLETED"]
    assert len(jobctl_run(*target, "list", "demoChunkJob", "--limit", "1").stdout.splitlines()) == 2

    running = jobctl_run(*target, "running", "demoChunkJob").stdout.splitlines()
    assert [line.split()[0] for line in running[1:]] == [second_id]

    steps = jobctl_run(*target, "steps", first_id).stdout.splitlines()
    assert steps[0].split()[:3] == ["ID", "STEP", "STATUS"]
    assert steps[1].split()[1:7] == ["demoChunkStep", "COMPLETED", "COMPLETED", "3", "3", "0"]

    instances = jobctl_run(*target, "list", "demoChunkJob", "--instances").stdout.splitlines()
    assert instances[0].split() == ["ID", "VERSION", "JOB", "JOB", "KEY"]
    assert len(instances) == 3

    status = jobctl_run(*target, "status", first_id)
    assert status.stdout.startswith(f"JobExecution: id={first_id}, version=")
    assert status.stdout.rstrip().endswith("status=COMPLETED")

    empty = jobctl_run(*target, "running", "demoTaskletJob")
    assert empty.returncode == 0
    assert empty.stdout.strip() == "(no running execution of demoTaskletJob)"


def test_stop_abandon_restart(fake_server: RunningServer) -> None:
    target = ["--target", fake_server.target]
    execution_id = jobctl_run(*target, "start", "demoChunkJob", "items=3,long").stdout.split()[0]
    other_id = jobctl_run(*target, "start", "demoChunkJob", "items=4,long").stdout.split()[0]

    result = jobctl_run(*target, "stop", "--job", "demoChunkJob")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"execution {execution_id}: STOPPING",
        f"execution {other_id}: STOPPING",
    ]
    assert jobctl_run(*target, "stop", "--job", "demoChunkJob").stdout.strip() == (
        "no running execution of demoChunkJob"
    )

    refused = jobctl_run(*target, "abandon", execution_id)
    assert refused.returncode == 5
    assert f"execution {execution_id} is running" in one_error_line(refused)

    result = jobctl_run(*target, "recover", execution_id)
    assert result.stdout.strip() == f"execution {execution_id}: FAILED"
    restarted = jobctl_run(*target, "restart", execution_id, "--wait")
    assert restarted.returncode == 0, restarted.stderr
    assert int(restarted.stdout.splitlines()[0]) != int(execution_id)
    assert jobctl_run(*target, "abandon", execution_id).stdout.strip() == (
        f"execution {execution_id}: ABANDONED"
    )
    not_running = jobctl_run(*target, "stop", execution_id)
    assert not_running.returncode == 5
    assert "is not running" in one_error_line(not_running)


def test_invalid_parameters_from_the_server_exit_2(fake_server: RunningServer) -> None:
    result = jobctl_run("--target", fake_server.target, "start", "demoChunkJob", "items=-1,long")
    assert result.returncode == 2
    assert "items must not be negative" in one_error_line(result)


def test_next_starts_the_next_instance(fake_server: RunningServer) -> None:
    result = jobctl_run("--target", fake_server.target, "next", "demoTaskletJob", "--wait")
    assert result.returncode == 0, result.stderr
    execution_id = int(result.stdout.splitlines()[0])
    assert fake_server.servicer.executions[execution_id].parameters["run.id"].long_value == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm")
    out = _Terminal()
    progress = jobctl._Progress(out, live=jobctl._is_tty(out))
    execution = pb.JobExecution(id=7, job_name="demoChunkJob", status=pb.BATCH_STATUS_STARTED)
    step = execution.step_executions.add(id=70, step_name="demoChunkStep")
    step.status = pb.BATCH_STATUS_STARTED
    progress.update(execution)
    step.read_count = step.write_count = 10
    progress.update(execution)
    lines = out.getvalue().split("\n")
    assert lines[0] == "\x1b[2Kexecution 7 demoChunkJob: STARTED"
    assert lines[2].startswith("\x1b[2F\x1b[2Kexecution 7")  # back up two lines, redraw
    assert lines[3] == "\x1b[2K  demoChunkStep: STARTED  read 10  written 10"
