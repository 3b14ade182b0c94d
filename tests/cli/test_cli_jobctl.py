"""jobctl end to end: the installed `jobctl` as a subprocess against a real `jobop serve`,
on SQLite and on PostgreSQL (the `jobop_server` fixture is parametrized over both).

Each test gets a fresh database: demoChunkJob writes the items 1..N to DEMO_ITEMS, whose
primary key is ITEM alone, so two instances in one database would collide.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cli_support import Jobctl, JobopServer, Result, free_port, run_jobctl

SAMPLE_JOBS = ["demoChunkJob", "demoExitCodeJob", "demoPartitionedJob", "demoTaskletJob"]
POLL_TIMEOUT = 30.0

# -- helpers ---------------------------------------------------------------------------


def ok(result: Result) -> Result:
    assert result.returncode == 0, str(result)
    assert result.stderr == "", str(result)
    return result


def failed(result: Result, code: int, *fragments: str) -> Result:
    """Asserts exit `code`, nothing on stdout and one readable line on stderr."""
    assert result.returncode == code, str(result)
    assert result.stdout == "", str(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, str(result)
    assert lines[0].startswith("jobctl: "), str(result)
    assert "Traceback" not in result.stderr, str(result)
    for fragment in fragments:
        assert fragment in lines[0], str(result)
    return result


def parsed(result: Result) -> Any:
    ok(result)
    return json.loads(result.stdout)


def first_line_id(result: Result) -> int:
    """`start`/`next`/`restart` print the new execution id on its own line first."""
    assert result.lines, str(result)
    first = result.lines[0]
    assert first.isdigit(), f"first line is not an execution id: {first!r}\n{result}"
    return int(first)


def status(jobctl: Jobctl, execution_id: int) -> dict[str, Any]:
    document: dict[str, Any] = parsed(jobctl("--json", "status", str(execution_id)))
    return document


def wait_for(jobctl: Jobctl, execution_id: int, predicate: Any, what: str) -> dict[str, Any]:
    """Polls `jobctl --json status` until `predicate(document)` (bounded)."""
    deadline = time.monotonic() + POLL_TIMEOUT
    while True:
        document = status(jobctl, execution_id)
        if predicate(document):
            return document
        if time.monotonic() > deadline:
            raise AssertionError(f"execution {execution_id} never {what}: {document}")
        time.sleep(0.1)


def demo_items(server: JobopServer) -> tuple[int, int, int, int]:
    """(rows, distinct items, min item, max item) of DEMO_ITEMS."""
    tables = server.query(
        "SELECT name FROM sqlite_master WHERE name = 'demo_items'"
        if server.sqlite_path
        else "SELECT table_name FROM information_schema.tables WHERE table_name = 'demo_items'"
    )
    if not tables:  # created by the first chunk that commits
        return (0, 0, 0, 0)
    rows = server.query(
        "SELECT COUNT(*), COUNT(DISTINCT item), MIN(item), MAX(item) FROM demo_items"
    )
    count, distinct, low, high = rows[0]
    return int(count), int(distinct), int(low or 0), int(high or 0)


def the_step(document: dict[str, Any], name: str) -> dict[str, Any]:
    steps = [step for step in document["stepExecutions"] if step["stepName"] == name]
    assert len(steps) == 1, document
    return steps[0]


# -- listing ---------------------------------------------------------------------------


def test_jobs_lists_the_samples(shared_jobctl: Jobctl) -> None:
    jobctl = shared_jobctl
    result = ok(jobctl("jobs"))
    assert set(SAMPLE_JOBS) <= {line.split()[0] for line in result.lines[1:]}, str(result)
    assert parsed(jobctl("--json", "jobs")) == sorted(parsed(jobctl("jobs", "--json")))
    assert set(SAMPLE_JOBS) <= set(parsed(jobctl("--json", "jobs")))


# -- start --wait and exit codes ---------------------------------------------------------


def test_start_wait_completes_and_prints_the_id_first(
    jobctl: Jobctl, jobop_server: JobopServer
) -> None:
    result = ok(jobctl("start", "demoChunkJob", "items=20", "--wait"))
    execution_id = first_line_id(result)
    assert result.lines[-1].startswith(
        f"execution {execution_id} COMPLETED with exit code COMPLETED"
    ), str(result)

    document = status(jobctl, execution_id)
    assert document["status"] == "COMPLETED"
    assert document["exitStatus"]["exitCode"] == "COMPLETED"
    assert document["summary"].startswith(f"JobExecution: id={execution_id}, ")
    assert "status=COMPLETED" in document["summary"]
    step = the_step(document, "demoChunkStep")
    assert (step["readCount"], step["writeCount"]) == (20, 20)
    assert demo_items(jobop_server) == (20, 20, 1, 20)

    summary = ok(jobctl("status", str(execution_id)))
    assert summary.lines[0].startswith(f"JobExecution: id={execution_id}, "), str(summary)

    steps = ok(jobctl("steps", str(execution_id)))
    assert steps.lines[0].split()[:3] == ["ID", "STEP", "STATUS"], str(steps)
    row = steps.lines[1].split()
    assert row[1:6] == ["demoChunkStep", "COMPLETED", "COMPLETED", "20", "20"], str(steps)
    step_documents = parsed(jobctl("--json", "steps", str(execution_id)))
    assert [s["stepName"] for s in step_documents] == ["demoChunkStep"]
    assert step_documents[0]["writeCount"] == 20

    # The same identifying parameters name an existing instance: refused, not restarted.
    failed(jobctl("start", "demoChunkJob", "items=20"), 5)


def test_start_json_output_parses(jobctl: Jobctl) -> None:
    started = parsed(jobctl("--json", "start", "demoExitCodeJob"))
    assert started["jobName"] == "demoExitCodeJob"
    assert started["status"] in ("STARTING", "STARTED", "COMPLETED"), started
    final = parsed(jobctl("--json", "watch", str(started["id"])))
    assert final["id"] == started["id"]
    assert final["status"] == "COMPLETED"

    waited = parsed(jobctl("--json", "start", "demoExitCodeJob", "fail=false,boolean", "--wait"))
    assert waited["status"] == "COMPLETED", waited
    fail = waited["parameters"]["fail"]
    assert fail == {"boolean": False, "identifying": True}


def test_failing_chunk_job_exits_255_and_restart_wait_completes(
    jobctl: Jobctl, jobop_server: JobopServer
) -> None:
    result = jobctl("start", "demoChunkJob", "items=20", "failAtItem=5", "--wait")
    assert result.returncode == 255, str(result)
    execution_id = first_line_id(result)
    # The line says why, as the exception said it.
    final = [line for line in result.lines if line.startswith(f"execution {execution_id} ")]
    assert final[-1].startswith(f"execution {execution_id} FAILED with exit code FAILED in ")
    reason = "jobop_jobs.demo_chunk.DemoFailure: failAtItem=5: failing as asked"
    assert f"ms: {reason} (first execution only)" in final[-1], str(result)
    assert "Traceback" not in result.stdout

    document = status(jobctl, execution_id)
    assert document["status"] == "FAILED"
    # Spring's order: the exception first, then where it was raised.
    description = document["exitStatus"]["exitDescription"]
    assert description.startswith(f"{reason} (first execution only)\nTraceback"), description
    # Spring's summary on one line (the exception's line in place of the description),
    # then the whole exit message below it.
    text_status = ok(jobctl("status", str(execution_id))).lines
    summary = text_status[0]
    assert summary.startswith(f"JobExecution: id={execution_id}, "), text_status
    assert f"exitDescription={reason} (first execution only) (exit message below), " in summary
    assert "jobParameters=[" in summary and summary.endswith("]"), text_status
    assert text_status[1] == "exit message:", text_status
    assert text_status[2:] == ["  " + line for line in description.splitlines()], text_status
    step = the_step(document, "demoChunkStep")
    assert (step["status"], step["writeCount"], step["rollbackCount"]) == ("FAILED", 0, 1)
    assert demo_items(jobop_server)[0] == 0  # the failed chunk rolled back

    restarted = ok(jobctl("restart", str(execution_id), "--wait"))
    new_id = first_line_id(restarted)
    assert new_id != execution_id
    document = status(jobctl, new_id)
    assert (document["status"], document["jobInstanceId"]) == (
        "COMPLETED",
        status(jobctl, execution_id)["jobInstanceId"],
    )
    assert the_step(document, "demoChunkStep")["writeCount"] == 20
    assert demo_items(jobop_server) == (20, 20, 1, 20)

    # The instance is complete now: restarting it again is refused (exit 5).
    failed(jobctl("restart", str(execution_id)), 5)


def test_custom_exit_code_is_mapped_by_the_exit_codes_file(jobctl: Jobctl, tmp_path: Path) -> None:
    toml = tmp_path / "exit-codes.toml"
    toml.write_text('{"CUSTOM FAILED" = 100}\n')
    result = jobctl("start", "demoExitCodeJob", "fail=true", "--wait", "--exit-codes", str(toml))
    assert result.returncode == 100, str(result)
    execution_id = first_line_id(result)
    assert "with exit code CUSTOM FAILED" in result.stdout, str(result)

    # watch maps the same way; without the file the custom code is 255.
    assert jobctl("watch", str(execution_id), "--exit-codes", str(toml)).returncode == 100
    plain = jobctl("watch", str(execution_id))
    assert plain.returncode == 255, str(plain)
    as_json = tmp_path / "exit-codes.json"
    as_json.write_text('{"CUSTOM FAILED": 42}')
    assert jobctl("watch", str(execution_id), "--exit-codes", str(as_json)).returncode == 42

    step = the_step(status(jobctl, execution_id), "demoExitCodeStep")
    assert step["exitStatus"]["exitCode"] == "CUSTOM STEP FAILED"

    bad = tmp_path / "bad.toml"
    bad.write_text('{"CUSTOM FAILED" = "high"}')
    failed(jobctl("watch", str(execution_id), "--exit-codes", str(bad)), 2, "bad.toml")


# -- stop, running, abandon, restart -----------------------------------------------------


def test_stop_then_abandon(jobctl: Jobctl) -> None:
    execution_id = first_line_id(ok(jobctl("start", "demoTaskletJob", "durationMs=60000")))
    wait_for(jobctl, execution_id, lambda d: d["status"] == "STARTED", "STARTED")

    running = ok(jobctl("running", "demoTaskletJob"))
    assert running.lines[0].split()[:3] == ["ID", "INSTANCE", "STATUS"], str(running)
    assert [line.split()[0] for line in running.lines[1:]] == [str(execution_id)], str(running)
    assert [e["id"] for e in parsed(jobctl("--json", "running", "demoTaskletJob"))] == [
        execution_id
    ]

    # A running execution cannot be abandoned: stop it first.
    failed(jobctl("abandon", str(execution_id)), 5, "STARTED")
    stopped = ok(jobctl("stop", str(execution_id)))
    assert stopped.lines in (
        [f"execution {execution_id}: STOPPING"],
        [f"execution {execution_id}: STOPPED"],
    ), str(stopped)
    watched = jobctl("watch", str(execution_id), timeout=60)
    assert watched.returncode == 255, str(watched)
    assert f"execution {execution_id} STOPPED with exit code STOPPED" in watched.stdout

    assert ok(jobctl("running", "demoTaskletJob")).lines == [
        "(no running execution of demoTaskletJob)"
    ]
    failed(jobctl("stop", str(execution_id)), 5)

    abandoned = parsed(jobctl("--json", "abandon", str(execution_id)))
    assert (abandoned["id"], abandoned["status"]) == (execution_id, "ABANDONED")
    assert status(jobctl, execution_id)["status"] == "ABANDONED"
    assert jobctl("watch", str(execution_id)).returncode == 255
    failed(jobctl("restart", str(execution_id)), 5)


def test_stop_job_stops_every_running_execution(jobctl: Jobctl) -> None:
    ids = {
        first_line_id(ok(jobctl("start", "demoTaskletJob", f"durationMs={duration}")))
        for duration in (60000, 60001)
    }
    for execution_id in ids:
        wait_for(jobctl, execution_id, lambda d: d["status"] == "STARTED", "STARTED")
    # A running execution of another job is left alone.
    other = first_line_id(ok(jobctl("start", "demoChunkJob", "items=100", "itemDelayMs=20")))

    stopped = parsed(jobctl("--json", "stop", "--job", "demoTaskletJob"))
    assert {e["id"] for e in stopped} == ids
    # STOPPED when the tasklet's stop hook won the race with the response.
    assert {e["status"] for e in stopped} <= {"STOPPING", "STOPPED"}, stopped
    for execution_id in ids:
        assert jobctl("watch", str(execution_id), timeout=60).returncode == 255
        assert status(jobctl, execution_id)["status"] == "STOPPED"
    assert ok(jobctl("stop", "--job", "demoTaskletJob")).lines == [
        "no running execution of demoTaskletJob"
    ]
    assert (
        ok(jobctl("watch", str(other), timeout=60))
        .lines[-1]
        .startswith(f"execution {other} COMPLETED")
    )


def test_stopped_chunk_job_restarts_where_it_stopped(
    jobctl: Jobctl, jobop_server: JobopServer
) -> None:
    execution_id = first_line_id(
        ok(jobctl("start", "demoChunkJob", "items=60", "itemDelayMs=50,long,false", "chunkSize=5"))
    )
    wait_for(
        jobctl,
        execution_id,
        lambda d: any(s["commitCount"] >= 1 for s in d["stepExecutions"]),
        "committed a chunk",
    )
    ok(jobctl("stop", "--job", "demoChunkJob"))
    assert jobctl("watch", str(execution_id), timeout=60).returncode == 255
    first = status(jobctl, execution_id)
    assert first["status"] == "STOPPED", first
    written = the_step(first, "demoChunkStep")["writeCount"]
    assert 0 < written < 60, first
    assert demo_items(jobop_server) == (written, written, 1, written)

    restarted = ok(jobctl("restart", str(execution_id), "--wait", timeout=60))
    new_id = first_line_id(restarted)
    assert restarted.lines[-1].startswith(f"execution {new_id} COMPLETED"), str(restarted)
    step = the_step(status(jobctl, new_id), "demoChunkStep")
    # It resumed from the saved position: only the rest was read, and every item is there once.
    assert step["readCount"] == 60 - written, step
    assert demo_items(jobop_server) == (60, 60, 1, 60)


# -- next, list, watch --------------------------------------------------------------------


def test_next_wait_and_list(jobctl: Jobctl) -> None:
    first = ok(jobctl("next", "demoExitCodeJob", "--wait"))
    second = ok(jobctl("next", "demoExitCodeJob", "--wait"))
    ids = [first_line_id(first), first_line_id(second)]
    assert ids[0] != ids[1]
    run_ids = [status(jobctl, i)["parameters"]["run.id"] for i in ids]
    assert all(set(p) == {"long", "identifying"} for p in run_ids), run_ids
    assert run_ids[1]["long"] > run_ids[0]["long"], run_ids

    table = ok(jobctl("list", "demoExitCodeJob"))
    assert table.lines[0].split()[:4] == ["ID", "INSTANCE", "STATUS", "EXIT"], str(table)
    assert [line.split()[0] for line in table.lines[1:]] == [str(ids[1]), str(ids[0])]
    assert "run.id=" in table.lines[1], str(table)

    listed = parsed(jobctl("--json", "list", "demoExitCodeJob"))
    assert [e["id"] for e in listed] == [ids[1], ids[0]]  # newest first
    assert {e["status"] for e in listed} == {"COMPLETED"}
    assert [
        e["id"] for e in parsed(jobctl("--json", "list", "demoExitCodeJob", "--limit", "1"))
    ] == [ids[1]]
    instances = parsed(jobctl("--json", "list", "demoExitCodeJob", "--instances"))
    assert len(instances) == 2 and all(i["jobName"] == "demoExitCodeJob" for i in instances)
    assert ok(jobctl("list", "demoTaskletJob")).lines == ["(no execution of demoTaskletJob)"]


def test_watch_follows_progress_to_the_end(jobctl: Jobctl) -> None:
    execution_id = first_line_id(
        ok(jobctl("start", "demoChunkJob", "items=40", "itemDelayMs=50,long,false", "chunkSize=5"))
    )
    result = ok(jobctl("watch", str(execution_id), timeout=60))
    assert result.lines[-1].startswith(
        f"execution {execution_id} COMPLETED with exit code COMPLETED"
    ), str(result)
    reads = [
        int(line.split("read ")[1].split()[0])
        for line in result.lines
        if line.strip().startswith("demoChunkStep:")
    ]
    assert reads == sorted(reads), str(result)
    assert reads[-1] == 40, str(result)
    # Progress arrived while it ran, not only at the end.
    assert len([r for r in reads if 0 < r < 40]) >= 2, str(result)

    # Watching a finished execution returns its final state at once.
    again = ok(jobctl("watch", str(execution_id)))
    assert again.lines[-1] == result.lines[-1]
    final = parsed(jobctl("--json", "watch", str(execution_id)))
    assert (final["status"], the_step(final, "demoChunkStep")["readCount"]) == ("COMPLETED", 40)


def test_request_id_makes_start_idempotent(jobctl: Jobctl) -> None:
    first = ok(jobctl("start", "demoExitCodeJob", "--request-id", "cli-test-1"))
    again = ok(jobctl("start", "demoExitCodeJob", "--request-id", "cli-test-1"))
    assert first_line_id(first) == first_line_id(again)


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["start", "noSuchJob"],
        ["start", "noSuchJob", "--wait"],
        ["next", "noSuchJob"],
        ["running", "noSuchJob"],
        ["list", "noSuchJob"],
        ["stop", "--job", "noSuchJob"],
    ],
)
def test_unknown_job_exits_4(shared_jobctl: Jobctl, args: list[str]) -> None:
    failed(shared_jobctl(*args), 4, "noSuchJob")


@pytest.mark.parametrize(
    "command", ["status", "steps", "stop", "restart", "abandon", "watch", "recover"]
)
def test_unknown_execution_exits_4(shared_jobctl: Jobctl, command: str) -> None:
    failed(shared_jobctl(command, "987654321"), 4, "987654321")


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        (["items"], "items"),
        (["=5"], "=5"),
        (["items=x,long"], "items"),
        (["items=5,int"], "items"),
        (["items=5,long,maybe"], "items"),
        (["when=yesterday,date"], "when"),
        (["items=abc"], "items"),  # well-formed, refused by the job's validator
        (["chunkSize=0,long,false"], "chunkSize"),
    ],
)
def test_bad_parameters_exit_2(shared_jobctl: Jobctl, params: list[str], fragment: str) -> None:
    failed(shared_jobctl("start", "demoChunkJob", *params), 2, fragment)


@pytest.mark.parametrize(
    "args",
    [
        ["stop"],
        ["stop", "1", "--job", "demoChunkJob"],
        ["status", "abc"],
        ["nosuchcommand"],
        ["start"],
        ["start", "demoChunkJob", "--exit-codes", "/nonexistent/codes.toml", "--wait"],
    ],
)
def test_usage_errors_exit_2(shared_jobctl: Jobctl, args: list[str]) -> None:
    failed(shared_jobctl(*args), 2)


@pytest.mark.parametrize(
    "args",
    [
        ["jobs"],
        ["start", "demoChunkJob", "--wait"],
        ["status", "1"],
        ["watch", "1"],
        ["stop", "--job", "demoChunkJob"],
    ],
)
def test_unreachable_server_exits_3(args: list[str]) -> None:
    target = f"127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    failed(run_jobctl(target, *args, timeout=60), 3, target)
    assert time.monotonic() - started < 30


def test_small_things_a_user_hit(jobctl: Jobctl) -> None:
    # A duplicate start says what to do instead.
    first = first_line_id(ok(jobctl("start", "demoTaskletJob", "durationMs=1,long", "--wait")))
    duplicate = failed(jobctl("start", "demoTaskletJob", "durationMs=1,long"), 5)
    assert f"jobctl restart {first}" in duplicate.stderr
    assert "identifying parameter" in duplicate.stderr

    # Errors under --json are one JSON object on stderr.
    result = jobctl("--json", "status", "999999")
    assert (result.returncode, result.stdout) == (4, ""), str(result)
    error = json.loads(result.stderr)
    assert error["exitCode"] == 4
    assert (error["error"]["code"], error["error"]["reason"]) == (
        "NOT_FOUND",
        "NO_SUCH_JOB_EXECUTION",
    )
    usage = jobctl("--json", "status", "nope")
    assert usage.returncode == 2
    assert json.loads(usage.stderr)["error"]["reason"] == "USAGE"

    # NaN and infinities are proto3 JSON's strings, so the output is JSON.
    started = parsed(
        jobctl(
            "--json",
            "start",
            "demoTaskletJob",
            "durationMs=2,long",
            "x=nan,double",
            "y=-inf,double,false",
        )
    )
    assert started["parameters"]["x"]["double"] == "nan"
    assert started["parameters"]["y"]["double"] == "-inf"

    # Control characters in names and values are escaped in tables, one row per line.
    ok(jobctl("start", "demoTaskletJob", "durationMs=3,long", "note=two\nlines\x1b[31m"))
    table = ok(jobctl("list", "demoTaskletJob")).stdout
    assert "\x1b" not in table
    assert "two\\nlines\\x1b[31m" in table
    assert len(table.splitlines()) == 1 + 3  # the header and one line per execution

    # Without a job name, list and running cover every job.
    chunk = first_line_id(
        ok(jobctl("start", "demoChunkJob", "items=400,long", "itemDelayMs=20,long,false"))
    )
    wait_for(jobctl, chunk, lambda d: d["status"] == "STARTED", "started")
    time.sleep(1.5)
    running = ok(jobctl("running")).stdout.splitlines()
    assert running[0].split()[:3] == ["ID", "INSTANCE", "STATUS"]
    (row,) = [line for line in running[1:] if line.split()[0] == str(chunk)]
    # DURATION is now - start for a running execution, not start to its last update.
    duration = row.split()[6]
    assert duration.endswith("s") and not duration.endswith("ms"), row
    everything = ok(jobctl("list")).stdout
    assert "demoChunkJob" not in everything  # (the table shows ids, statuses, parameters)
    ids = [int(line.split()[0]) for line in everything.splitlines()[1:]]
    assert ids == sorted(ids, reverse=True) and chunk in ids and first in ids
    ok(jobctl("stop", str(chunk)))
