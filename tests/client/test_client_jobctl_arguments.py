"""jobctl's argument parsing against hostile input: ids past a Java long, durations past
year 1, deadlines gRPC cannot hold, text that is not UTF-8. Each is one readable line and
exit 2, before any connection (the target is unreachable: none may get as far as it)."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator

import pytest
from jobop_client import jobctl
from test_client_jobctl import jobctl_run, one_error_line

UNREACHABLE = "127.0.0.1:1"
MAX_ID = 2**63 - 1


def _sub_commands() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    parser = jobctl.build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                # `schedule ACTION`: each action is a command of its own ("schedule add").
                nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                if nested:
                    yield from (
                        (f"{name} {inner}", child) for inner, child in nested[0].choices.items()
                    )
                else:
                    yield name, sub


def _arguments(dest: str) -> list[tuple[str, argparse.Action]]:
    """(sub-command, action) of every argument of every sub-command stored in `dest`."""
    return [
        (name, action)
        for name, sub in _sub_commands()
        for action in sub._actions
        if action.dest == dest
    ]


def _words(command: str, action: argparse.Action, value: str) -> list[str]:
    """A command line that gives `value` to `action` of `command` and whatever else the
    command requires (a job name, an execution id)."""
    words = ["--target", UNREACHABLE, *command.split()]
    for other in dict(_sub_commands())[command]._actions:
        if other.dest == action.dest and not action.option_strings:
            words.append(value)
        elif other.dest == "job" and not other.option_strings and other.nargs is None:
            words.append("demoChunkJob")
        elif other.dest in ("execution_id", "operation_id") or (
            other.dest == "limit" and not other.option_strings
        ):
            words.append("1")
        elif other.dest == "file" and not other.option_strings:
            words.append("starts.jsonl")  # start-many's (text is checked before it is read)
        elif other.dest in ("name", "cron") and not other.option_strings:
            words.append({"name": "nightly", "cron": "@daily"}[other.dest])
    if action.option_strings:
        words += [action.option_strings[0], value]
    return words


def usage_error(capsys: pytest.CaptureFixture[str], words: list[str]) -> str:
    """Runs jobctl in this process; asserts exit 2 with one line on stderr, returns it."""
    try:
        code = jobctl.run(words)
    except SystemExit as exit_:
        code = exit_.code  # type: ignore[assignment]
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.out == ""
    return one_error_line(subprocess.CompletedProcess(words, code, captured.out, captured.err))


# -- the three a user hit, as a user runs them -----------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "99999999999999999999"], "a positive number up to 9223372036854775807"),
        (["stop", "9223372036854775808"], "a positive number up to 9223372036854775807"),
        (["audit", "--since", "99999999d"], "reaches back before the year 1"),
    ],
)
def test_out_of_range_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    result = jobctl_run(*args, target=UNREACHABLE)
    assert result.returncode == 2, result.stderr
    assert message in one_error_line(result)
    assert result.stdout == ""


def test_the_largest_id_is_accepted() -> None:
    # It parses, so jobctl gets as far as the (unreachable) server.
    result = jobctl_run("status", str(MAX_ID), target=UNREACHABLE)
    assert result.returncode == 3, result.stderr


# -- every sub-command ------------------------------------------------------------------


IDS = _arguments("execution_id")


def test_every_command_that_takes_an_execution_id_is_checked() -> None:
    names = {name for name, _ in IDS}
    assert names == {"stop", "restart", "abandon", "recover", "status", "steps", "watch"}


@pytest.mark.parametrize(("command", "action"), IDS, ids=[name for name, _ in IDS])
@pytest.mark.parametrize(
    "value", [str(MAX_ID + 1), "9" * 40, "9" * 5000, "0", "-1", "twelve", "\u0663", "1_0", "1.5"]
)
def test_execution_ids_outside_a_java_long_are_usage_errors(
    capsys: pytest.CaptureFixture[str], command: str, action: argparse.Action, value: str
) -> None:
    line = usage_error(capsys, _words(command, action, value))
    assert "an execution id is a positive number up to 9223372036854775807" in line
    assert len(line) < 300  # the 5,000 digits are not echoed whole


@pytest.mark.parametrize(
    "since",
    [
        "99999999d",
        "9" * 30 + "s",
        "9" * 5000 + "h",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00",
        "yesterday",
        "\u0663d",
    ],
)
def test_since_outside_the_timestamp_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], since: str
) -> None:
    found = _arguments("since")  # audit's, list's, running's and the four bulk actions'
    assert len(found) == 7
    for command, action in found:
        line = usage_error(capsys, _words(command, action, since))
        assert "argument --since:" in line
        assert "_since" not in line  # not argparse's "invalid _since value"


@pytest.mark.parametrize("timeout", ["inf", "nan", "-inf", "1e12", "0", "-1"])
def test_timeouts_grpc_cannot_hold_are_usage_errors(
    capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    line = usage_error(capsys, ["--target", UNREACHABLE, f"--timeout={timeout}", "jobs"])
    assert "argument --timeout: expected a number of seconds above 0 and at most" in line


@pytest.mark.parametrize(
    "param", ["d=0001-01-01T00:00:00+14:00,date", "d=9999-12-31T23:59:59-14:00,date"]
)
def test_dates_past_the_timestamp_range_are_usage_errors(
    capsys: pytest.CaptureFixture[str], param: str
) -> None:
    line = usage_error(capsys, ["--target", UNREACHABLE, "start", "demoTaskletJob", param])
    assert "job parameter 'd':" in line
    assert "out of range" in line


def _text_arguments() -> list[tuple[str, argparse.Action]]:
    """Every argument of every sub-command that takes text as it is (no type, no choices)."""
    return [
        (name, action)
        for name, sub in _sub_commands()
        for action in sub._actions
        if action.type is None
        and action.choices is None
        and action.nargs != 0
        and action.dest not in ("help", "exit_codes", "ca", "cert", "key")
    ]


TEXT = _text_arguments()


@pytest.mark.parametrize(
    ("command", "action"), TEXT, ids=[f"{name}-{action.dest}" for name, action in TEXT]
)
def test_text_that_is_not_utf8_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], command: str, action: argparse.Action
) -> None:
    # What a non-UTF-8 byte on the command line becomes in Python (surrogateescape).
    value = "caf\udce9=1" if action.dest == "params" else "caf\udce9"
    line = usage_error(capsys, _words(command, action, value))
    if action.dest == "token":  # a secret: never echoed
        assert "--token may hold only printable ASCII" in line
        assert "caf" not in line
    else:
        assert "is not valid UTF-8" in line
        assert "caf\\udce9" in line


def test_every_text_argument_is_covered() -> None:
    covered = {(name, action.dest) for name, action in TEXT}
    assert covered >= {
        ("start", "job"),
        ("start", "params"),
        ("start", "request_id"),
        ("next", "job"),
        ("running", "job"),
        ("list", "job"),
        ("audit", "job"),
        ("stop", "job"),
        ("pause", "job"),
        ("limit", "concurrency_key"),
        ("jobs", "token"),
        ("jobs", "target"),
    }


def test_non_utf8_from_the_environment_is_a_usage_error() -> None:
    result = jobctl_run("jobs", target="caf\udce9:50051")
    assert result.returncode == 2, result.stderr
    assert "--target 'caf\\udce9:50051' is not valid UTF-8" in one_error_line(result)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--token", "a\nb", "jobs"], "--token may hold only printable ASCII"),
        (["--token", "caf\u00e9", "jobs"], "--token may hold only printable ASCII"),
        (["--target", "", "jobs"], "--target needs HOST:PORT"),
        (["--target", "a b:1", "jobs"], "--target needs HOST:PORT"),
    ],
)
def test_what_grpc_would_refuse_to_send_is_a_usage_error(args: list[str], message: str) -> None:
    # Run as a process: gRPC's C core writes its own lines to stderr if it gets these.
    result = jobctl_run(*args, target=UNREACHABLE)
    assert result.returncode == 2, result.stderr
    assert message in one_error_line(result)
