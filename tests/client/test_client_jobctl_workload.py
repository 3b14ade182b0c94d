"""jobctl's workload commands (queue, settings, pause, resume, limit, --priority) as a
real subprocess against the in-memory server: what they send, print and exit with."""

from __future__ import annotations

import json

import pytest
from client_fake_server import RunningServer
from jobop_client.proto import job_operator_pb2 as pb
from test_client_jobctl import jobctl_run, one_error_line

JOB = "demoTaskletJob"


def test_priority_on_start_next_and_restart(fake_server: RunningServer) -> None:
    target = fake_server.target
    started = jobctl_run("start", JOB, "run.id=1,long", "--priority", "-7", "--json", target=target)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["priority"] == -7
    following = jobctl_run("next", JOB, "--priority=1000", target=target)
    assert following.returncode == 0, following.stderr
    execution_id = int(json.loads(started.stdout)["id"])
    fake_server.servicer.executions[execution_id].status = pb.BATCH_STATUS_STOPPED
    restarted = jobctl_run("restart", str(execution_id), "--priority", "3", target=target)
    assert restarted.returncode == 0, restarted.stderr
    servicer = fake_server.servicer
    assert [r.priority for r in servicer.requests("Start")] == [-7]
    assert [r.priority for r in servicer.requests("StartNextInstance")] == [1000]
    assert [r.priority for r in servicer.requests("Restart")] == [3]
    # The default is 0.
    assert jobctl_run("start", JOB, "run.id=5,long", target=target).returncode == 0
    assert servicer.requests("Start")[-1].priority == 0


@pytest.mark.parametrize("value", ["1001", "-1001", "high", "1.5", "99999999999"])
def test_a_priority_out_of_range_is_a_usage_error(fake_server: RunningServer, value: str) -> None:
    result = jobctl_run("start", JOB, f"--priority={value}", target=fake_server.target)
    assert result.returncode == 2
    assert "a priority is a whole number from -1000 to 1000" in one_error_line(result)
    assert fake_server.servicer.requests("Start") == []


def test_pause_queue_and_resume(fake_server: RunningServer) -> None:
    target = fake_server.target
    running = jobctl_run("start", JOB, "run.id=1,long", target=target)
    running_id = int(running.stdout)
    fake_server.servicer.executions[running_id].status = pb.BATCH_STATUS_STARTED

    paused = jobctl_run("pause", JOB, "--stop-running", target=target)
    assert paused.returncode == 0, paused.stderr
    assert paused.stdout.splitlines() == [
        f"{JOB}: paused, 1 running, 0 waiting",  # STOPPING holds its slot
        f"stopping execution {running_id}",
    ]
    assert fake_server.servicer.requests("PauseJob")[-1].stop_running
    low = int(jobctl_run("start", JOB, "run.id=2,long", target=target).stdout)
    high = int(jobctl_run("start", JOB, "run.id=3,long", "--priority", "5", target=target).stdout)

    table = jobctl_run("queue", JOB, target=target)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "POSITION",
        "EXECUTION",
        "JOB",
        "PRIORITY",
        "WAITING",
        "WAITING",
        "FOR",
    ]
    assert lines[1].split() == ["1", str(high), JOB, "5", "12.5s", JOB, "is", "paused"]
    assert lines[2].split()[:4] == ["2", str(low), JOB, "0"]
    assert len(lines) == 3

    head = jobctl_run("queue", "--limit", "1", target=target)
    assert head.stdout.splitlines()[-1] == "(1 of 2 waiting shown)"
    assert fake_server.servicer.requests("ListQueue")[-1].page_size == 1
    document = json.loads(jobctl_run("queue", JOB, "--json", target=target).stdout)
    assert document["total"] == 2
    assert [entry["id"] for entry in document["executions"]] == [high, low]
    assert document["executions"][0]["waitingFor"] == f"{JOB} is paused"

    resumed = jobctl_run("resume", JOB, "--json", target=target)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["paused"] is False
    empty = jobctl_run("queue", target=target)
    assert empty.stdout.strip() == "(no start of any job is waiting)"


def test_limit_and_settings(fake_server: RunningServer) -> None:
    target = fake_server.target
    limited = jobctl_run("limit", JOB, "2", "--key", "tenant", target=target)
    assert limited.returncode == 0, limited.stderr
    assert limited.stdout.strip() == f"{JOB}: limit 2 per tenant, 0 running, 0 waiting"
    request = fake_server.servicer.requests("UpdateJobSettings")[-1]
    assert list(request.update_mask.paths) == ["max_concurrent", "concurrency_key"]
    assert (request.settings.max_concurrent, request.settings.concurrency_key) == (2, "tenant")

    # Without --key only the limit changes.
    jobctl_run("limit", JOB, "3", target=target)
    request = fake_server.servicer.requests("UpdateJobSettings")[-1]
    assert list(request.update_mask.paths) == ["max_concurrent"]

    shown = jobctl_run("settings", JOB, target=target)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{JOB}: 0 running, 0 waiting"
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:7]}
    assert rows["maxConcurrent"] == ["3", "none", "3"]
    assert rows["concurrencyKey"] == ["tenant", "none", "tenant"]
    assert rows["paused"] == ["no", "no", "-"]
    assert lines[7].startswith("set at run time by admin-user at ")
    document = json.loads(jobctl_run("settings", JOB, "--json", target=target).stdout)
    assert (document["maxConcurrent"], document["override"]["concurrencyKey"]) == (3, "tenant")
    assert document["declared"]["maxConcurrent"] is None

    # `none` clears the run-time limit and key both.
    cleared = jobctl_run("limit", JOB, "none", "--json", target=target)
    assert cleared.returncode == 0, cleared.stderr
    request = fake_server.servicer.requests("UpdateJobSettings")[-1]
    assert list(request.update_mask.paths) == ["max_concurrent", "concurrency_key"]
    assert not request.settings.HasField("max_concurrent")
    assert json.loads(cleared.stdout)["override"]["maxConcurrent"] is None
    assert jobctl_run("limit", JOB, "NONE", target=target).stdout.strip() == (
        f"{JOB}: no limit, 0 running, 0 waiting"
    )


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["limit", JOB, "0"], 2, "maxConcurrent must be between 1 and 1000000, not 0"),
        (["limit", JOB, "two"], 2, "expected a number of executions or none, not 'two'"),
        (["limit", JOB, "-1"], 2, "expected a number of executions or none"),
        (["limit", JOB, "none", "--key", "tenant"], 2, "clears the key too"),
        (["limit", JOB], 2, "required: N"),
        (["pause"], 2, "required: JOB"),
        (["pause", "nope"], 4, "no job named 'nope'"),
        (["resume", "nope"], 4, "no job named 'nope'"),
        (["settings", "nope"], 4, "no job named 'nope'"),
        (["queue", "nope"], 4, "no job named 'nope'"),
        (["limit", "nope", "1"], 4, "no job named 'nope'"),
    ],
)
def test_errors_are_one_line_with_the_documented_exit_code(
    fake_server: RunningServer, args: list[str], code: int, fragment: str
) -> None:
    result = jobctl_run(*args, target=fake_server.target)
    assert result.returncode == code, result.stderr
    assert fragment in one_error_line(result)
    as_json = jobctl_run(*args, "--json", target=fake_server.target)
    assert as_json.returncode == code
    assert json.loads(as_json.stderr)["exitCode"] == code


def test_limit_takes_its_key_after_the_command_and_tls_key_before_it(
    fake_server: RunningServer,
) -> None:
    # TLS's --key before the command still means the client key (a missing file here).
    result = jobctl_run("--key", "/nonexistent/k.pem", "limit", JOB, "1", target=fake_server.target)
    assert result.returncode == 2
    assert "--key" in one_error_line(result)
    assert fake_server.servicer.requests("UpdateJobSettings") == []


def test_an_overdue_execution_says_so_in_progress_lists_and_the_final_line(
    fake_server: RunningServer,
) -> None:
    target = fake_server.target
    execution_id = int(jobctl_run("start", "demoChunkJob", "items=4,long", target=target).stdout)
    fake_server.servicer.executions[execution_id].overdue = True  # as the running node marks it
    watched = jobctl_run("watch", str(execution_id), target=target)
    assert watched.returncode == 0, watched.stderr
    lines = watched.stdout.splitlines()
    assert f"execution {execution_id} demoChunkJob: STARTED overdue" in lines
    assert lines[-1].startswith(f"execution {execution_id} COMPLETED overdue with exit code")
    listed = jobctl_run("list", "demoChunkJob", target=target).stdout.splitlines()
    assert listed[1].split()[2:4] == ["COMPLETED", "overdue"]
