"""jobctl's workload commands end to end: the installed `jobctl` against a real `jobop
serve`, on SQLite and PostgreSQL: pause holds starts in the queue in priority order,
resume runs them, a per-key limit makes a start wait saying why, `limit none` lets it run,
and refusals are one line with the documented exit code (roles included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bearer_tokens import ROLE_TOKENS, write_tokens_file
from cli_support import Jobctl, Result, run_jobctl, start_server
from test_cli_jobctl import failed, first_line_id, ok, parsed, wait_for

JOB = "demoTaskletJob"


def _start(jobctl: Jobctl, run_id: int, *extra: str, duration_ms: int = 1) -> int:
    return first_line_id(
        ok(jobctl("start", JOB, f"run.id={run_id},long", f"durationMs={duration_ms},long", *extra))
    )


def _queue(jobctl: Jobctl, *args: str) -> dict[str, Any]:
    document: dict[str, Any] = parsed(jobctl("--json", "queue", *args))
    return document


def _status_is(*statuses: str) -> Any:
    return lambda document: document["status"] in statuses


def test_pause_holds_starts_in_priority_order_and_resume_runs_them(jobctl: Jobctl) -> None:
    assert ok(jobctl("pause", JOB)).lines == [f"{JOB}: paused, 0 running, 0 waiting"]
    low = _start(jobctl, 1, "--priority", "-5")
    high = _start(jobctl, 2, "--priority=7")
    middle = _start(jobctl, 3)

    queue = _queue(jobctl, JOB)
    assert queue["total"] == 3
    assert [entry["id"] for entry in queue["executions"]] == [high, middle, low]
    assert [entry["priority"] for entry in queue["executions"]] == [7, 0, -5]
    assert {entry["waitingFor"] for entry in queue["executions"]} == {f"{JOB} is paused"}
    table = ok(jobctl("queue", "--limit", "2")).lines
    assert table[0].split() == [
        "POSITION",
        "EXECUTION",
        "JOB",
        "PRIORITY",
        "WAITING",
        "WAITING",
        "FOR",
    ]
    assert table[1].split()[:4] == ["1", str(high), JOB, "7"]
    assert table[1].endswith(f"{JOB} is paused")
    assert table[-1] == "(2 of 3 waiting shown)"
    shown = parsed(jobctl("--json", "status", str(high)))
    assert (shown["status"], shown["priority"], shown["overdue"]) == ("STARTING", 7, False)
    assert ok(jobctl("settings", JOB)).lines[0] == f"{JOB}: paused, 0 running, 3 waiting"

    resumed = parsed(jobctl("resume", JOB, "--json"))
    assert resumed["paused"] is False and resumed["override"]["paused"] is None
    for execution_id in (high, middle, low):
        wait_for(jobctl, execution_id, _status_is("COMPLETED"), "completed")
    assert ok(jobctl("queue", JOB)).lines == [f"(no start of {JOB} is waiting)"]


def test_a_per_key_limit_holds_a_start_until_it_is_cleared(jobctl: Jobctl) -> None:
    limited = ok(jobctl("limit", JOB, "1", "--key", "tenant"))
    assert limited.lines == [f"{JOB}: limit 1 per tenant, 0 running, 0 waiting"]
    first = _start(jobctl, 1, "tenant=acme", duration_ms=60_000)
    wait_for(jobctl, first, _status_is("STARTED"), "started")
    second = _start(jobctl, 2, "tenant=acme")
    other = _start(jobctl, 3, "tenant=zenith")
    wait_for(jobctl, other, _status_is("COMPLETED"), "completed")  # another key's slot
    # The first holds acme's one slot: the second waits (until the limit goes), unclaimed.
    queue = _queue(jobctl, JOB)
    assert [(e["id"], e["waitingFor"]) for e in queue["executions"]] == [
        (second, f"limit 1 of {JOB} for tenant=acme reached (1 running)")
    ]
    settings = parsed(jobctl("--json", "settings", JOB))
    assert (settings["maxConcurrent"], settings["concurrencyKey"]) == (1, "tenant")
    assert (settings["running"], settings["queued"]) == (1, 1)
    assert settings["declared"]["maxConcurrent"] is None

    cleared = parsed(jobctl("--json", "limit", JOB, "none"))
    assert cleared["override"]["maxConcurrent"] is None
    assert cleared["override"]["concurrencyKey"] is None
    wait_for(jobctl, second, _status_is("COMPLETED"), "completed")
    ok(jobctl("stop", str(first)))
    wait_for(jobctl, first, _status_is("STOPPED"), "stopped")


def test_refusals_are_one_line_with_their_exit_code(jobctl: Jobctl) -> None:
    failed(jobctl("limit", JOB, "0"), 2, "maxConcurrent must be between 1 and 1000000")
    failed(jobctl("start", JOB, "--priority", "5000"), 2, "from -1000 to 1000")
    for args in (["pause", "noSuchJob"], ["settings", "noSuchJob"], ["queue", "noSuchJob"]):
        failed(jobctl(*args), 4, "noSuchJob")
    # Nothing was changed on the way.
    settings = parsed(jobctl("--json", "settings", JOB))
    assert settings["override"]["maxConcurrent"] is None


def test_roles_decide_who_may_pause_and_who_may_limit(tmp_path: Path) -> None:
    tokens = write_tokens_file(tmp_path / "tokens.toml")
    database = tmp_path / "jobop.db"
    server = start_server(
        f"sqlite:///{database}",
        tmp_path / "serve.log",
        "--tokens-file",
        str(tokens),
        sqlite_path=database,
    )
    try:

        def as_role(role: str, *args: str) -> Result:
            return run_jobctl(server.target, "--token", ROLE_TOKENS[role], *args)

        ok(as_role("viewer", "queue"))
        ok(as_role("viewer", "settings", JOB))
        failed(as_role("viewer", "pause", JOB), 7, "not permitted")
        failed(as_role("operator", "limit", JOB, "2"), 7, "not permitted")
        ok(as_role("operator", "pause", JOB))
        ok(as_role("operator", "resume", JOB))
        ok(as_role("admin", "limit", JOB, "2"))
        failed(run_jobctl(server.target, "queue"), 6, "not authenticated")
    finally:
        assert server.stop() == 0, server.log()
