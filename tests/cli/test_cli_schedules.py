"""`jobctl schedule …` end to end: the installed jobctl against a real `jobop serve`, on
SQLite and PostgreSQL: add, list, show, pause, resume, trigger, fires, rm, preview, with
`--json`, and one readable line for each refusal."""

from __future__ import annotations

import json

from cli_support import Jobctl, Result

YEARLY = "0 0 0 1 1 *"


def ok(result: Result) -> Result:
    assert result.returncode == 0 and result.stderr == "", str(result)
    return result


def failed(result: Result, code: int, *fragments: str) -> None:
    assert result.returncode == code and result.stdout == "", str(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jobctl: "), str(result)
    assert all(fragment in lines[0] for fragment in fragments), str(result)


def test_schedule_commands(jobctl: Jobctl) -> None:
    added = ok(
        jobctl(
            "schedule",
            "add",
            "nightly",
            "demoTaskletJob",
            "0 30 2 * * *",
            "durationMs=1,long",
            "--time-zone",
            "Europe/Berlin",
            "--overlap",
            "allow",
            "--catch-up",
            "none",
            "--description",
            "every night",
        )
    )
    assert "job:         demoTaskletJob" in added.lines
    assert "time zone:   Europe/Berlin" in added.lines
    assert "overlap:     allow" in added.lines and "catch-up:    none (at most 100)" in added.lines
    assert "parameters:  durationMs=1,long" in added.lines
    next_fires = added.lines[added.lines.index("next fires:") + 1 :]
    assert len(next_fires) == 5 and all(line.endswith(("+01:00", "+02:00")) for line in next_fires)

    listed = ok(jobctl("schedule", "list")).lines
    assert listed[0].split() == ["NAME", "JOB", "CRON", "ZONE", "NEXT", "FIRE", "LAST", "FIRE"]
    assert listed[1].startswith("nightly") and listed[1].rstrip().endswith("-")
    shown = json.loads(ok(jobctl("schedule", "show", "nightly", "--json")).stdout)
    assert (shown["name"], shown["catchUp"], shown["lastFire"]) == ("nightly", "none", None)

    paused = json.loads(ok(jobctl("schedule", "pause", "nightly", "--json")).stdout)
    assert paused["paused"] is True
    assert "paused" in ok(jobctl("schedule", "list")).lines[1]
    assert "paused:      no" in ok(jobctl("schedule", "resume", "nightly")).lines

    fired = ok(jobctl("schedule", "trigger", "nightly")).stdout
    assert " LAUNCHED execution " in fired and fired.rstrip().endswith("[triggered]")
    execution_id = int(fired.split(" execution ")[1].split()[0])
    fires = json.loads(ok(jobctl("schedule", "fires", "nightly", "--json")).stdout)
    assert [(fire["outcome"], fire["executionId"]) for fire in fires] == [
        ("LAUNCHED", execution_id)
    ]
    table = ok(jobctl("schedule", "fires", "nightly")).lines
    assert table[0].split()[:3] == ["FIRE", "TIME", "OUTCOME"] and str(execution_id) in table[1]

    assert ok(jobctl("schedule", "rm", "nightly")).stdout == "schedule nightly deleted\n"
    assert ok(jobctl("schedule", "list")).stdout == "(no schedule)\n"


def test_schedule_preview(jobctl: Jobctl) -> None:
    shown = ok(
        jobctl(
            "schedule",
            "preview",
            "0 30 2 * * *",
            "--time-zone",
            "Europe/Berlin",
            "--from",
            "2026-03-28T00:00:00Z",
            "--count",
            "3",
        )
    )
    assert shown.lines == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
    ]
    as_json = json.loads(ok(jobctl("schedule", "preview", "*/15 * * * *", "--json")).stdout)
    assert len(as_json["fireTimes"]) == 5
    assert ok(jobctl("schedule", "list")).stdout == "(no schedule)\n"


def test_schedule_refusals_are_one_readable_line(jobctl: Jobctl) -> None:
    failed(jobctl("schedule", "add", "s", "demoTaskletJob", "61 * * * * *"), 2, "cron")
    failed(
        jobctl("schedule", "add", "s", "demoTaskletJob", YEARLY, "--time-zone", "Moon/Base"),
        2,
        "Moon/Base",
    )
    failed(jobctl("schedule", "add", "s", "noSuchJob", YEARLY), 4, "noSuchJob")
    failed(jobctl("schedule", "add", "s", "demoTaskletJob", YEARLY, "--overlap", "no"), 2)
    ok(jobctl("schedule", "add", "s", "demoTaskletJob", YEARLY))
    failed(jobctl("schedule", "add", "s", "demoTaskletJob", YEARLY), 5, "s")
    failed(jobctl("schedule", "show", "nope"), 4, "nope")
    failed(jobctl("schedule", "preview", "bad cron"), 2, "cron")
    refused = jobctl("schedule", "show", "nope", "--json")
    assert refused.returncode == 4
    assert json.loads(refused.stderr)["error"]["reason"] == "NO_SUCH_SCHEDULE"
