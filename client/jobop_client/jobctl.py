"""jobctl: start, stop, restart and follow jobop jobs from the command line.

Exit codes: 0 success; with ``--wait`` and for ``watch`` the job's final exit code mapped
by ``jobop_client.exit_codes`` (COMPLETED/NOOP 0, others 255, ``--exit-codes FILE`` adds
entries); 2 usage error (including malformed or invalid job parameters); 3 the server
cannot be reached; 4 no such job, execution or instance; 5 the server refused the request
(already running, not restartable, ...); 6 not authenticated; 7 not permitted; 130
interrupted. 1 is never used on purpose.
Every error prints one line to stderr; with ``--json`` that line is a JSON object,
``{"error": {"code", "reason", "message", "metadata"}, "exitCode"}``. Names and values
from the server have their control characters escaped in tables and progress lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

import grpc

from jobop_client import catalogue, errors, executions, exit_codes, jsonform, parameters
from jobop_client import credentials as creds
from jobop_client import jobctl_filters as filters
from jobop_client.client import DEFAULT_TARGET, DEFAULT_TIMEOUT, JobOperatorClient
from jobop_client.model import format_duration as _duration
from jobop_client.proto import job_operator_pb2 as pb
from jobop_client.version import package_version

PROG = "jobctl"


class UsageError(Exception):
    """A command line that parsed but makes no sense (exit 2)."""


class _Parser(argparse.ArgumentParser):
    # Whether the command line asked for --json, so that even a usage error is JSON.
    json_errors = False

    def error(self, message: str) -> NoReturn:
        # One line instead of argparse's usage block: callers read stderr too.
        _report_error(
            exit_codes.USAGE, f"{message} (see {self.prog} --help)", as_json=self.json_errors
        )
        self.exit(exit_codes.USAGE)


def _report_error(
    exit_code: int,
    message: str,
    *,
    as_json: bool,
    error: errors.JobOperatorError | None = None,
) -> None:
    """One line on stderr: text, or with --json an object shaped like the REST API's
    errors: {"error": {"code", "reason", "message", "metadata"}, "exitCode"}."""
    if not as_json:
        print(f"{PROG}: {escape(message)}", file=sys.stderr)
        return
    body = {
        "error": {
            "code": error.code.name if error is not None else "INVALID_ARGUMENT",
            "reason": (error.reason if error is not None else None) or "USAGE",
            "message": message,
            "metadata": error.metadata if error is not None else {},
        },
        "exitCode": exit_code,
    }
    print(json.dumps(body), file=sys.stderr)


# -- command line ----------------------------------------------------------------------


# Ids are Java longs on the server (Spring's BIGINT columns).
MAX_ID = 2**63 - 1
MAX_INT32 = 2**31 - 1
# gRPC's deadlines overflow somewhere past 10**9 s; a year is more than any call needs.
MAX_TIMEOUT = 365 * 86400.0


def _shown(text: str, limit: int = 40) -> str:
    """`text` quoted for an error message, cut when long (a 5,000-digit number)."""
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _whole_number(text: str) -> int | None:
    """The value of ASCII digits (no sign, no underscores, no other scripts' digits)."""
    word = text.strip()
    # Past 4,300 digits int() refuses the text; no value that long is in range anyway.
    if not (word.isascii() and word.isdigit()) or len(word) > 4000:
        return None
    return int(word)


def _execution_id(text: str) -> int:
    value = _whole_number(text)
    if value is None or not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(
            f"an execution id is a positive number up to {MAX_ID}, not {_shown(text)}"
        )
    return value


def _positive_int(text: str) -> int:
    value = _whole_number(text)
    if value is None:
        raise argparse.ArgumentTypeError(
            f"expected a whole number of 0 or more, not {_shown(text)}"
        )
    return value


# The priorities a server accepts (its rule; checked here too for a one-line usage error).
PRIORITY_MIN, PRIORITY_MAX = -1000, 1000


def _priority(text: str) -> int:
    word = text.strip()
    digits = _whole_number(word.removeprefix("-"))
    value = None if digits is None else -digits if word.startswith("-") else digits
    if value is None or not PRIORITY_MIN <= value <= PRIORITY_MAX:
        raise argparse.ArgumentTypeError(
            f"a priority is a whole number from {PRIORITY_MIN} to {PRIORITY_MAX}, not "
            f"{_shown(text)}"
        )
    return value


def _limit(text: str) -> int | None:
    """`limit`'s N: a number of executions, or `none` (clear the run-time limit)."""
    if text.strip().lower() == "none":
        return None
    value = _whole_number(text)
    if value is None or value > MAX_INT32:  # the server's range is narrower: it says so
        raise argparse.ArgumentTypeError(
            f"expected a number of executions or none, not {_shown(text)}"
        )
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_TIMEOUT:  # also refuses NaN
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds above 0 and at most {MAX_TIMEOUT:.0f}, "
            f"not {_shown(text)}"
        )
    return value


def _global_options(with_defaults: bool) -> _Parser:
    """Options accepted before and after the sub-command.

    After it they default to SUPPRESS so that they only override what was given before.
    """

    def default(value: object) -> object:
        return value if with_defaults else argparse.SUPPRESS

    options = _Parser(add_help=False)
    group = options.add_argument_group("connection and output")
    group.add_argument(
        "--target",
        default=default(os.environ.get("JOBOP_TARGET") or DEFAULT_TARGET),
        metavar="HOST:PORT",
        help=f"the jobop server (env JOBOP_TARGET, default {DEFAULT_TARGET})",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print one JSON document instead of tables",
    )
    group.add_argument(
        "--timeout",
        type=_seconds,
        default=default(DEFAULT_TIMEOUT),
        metavar="SECONDS",
        help=f"deadline of each request (default {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--tls",
        action="store_true",
        default=default(False),
        help="connect with TLS, trusting the system's roots (implied by --ca and --cert)",
    )
    group.add_argument(
        "--ca",
        "--ca-cert",
        dest="ca",
        default=default(os.environ.get(creds.ENV_CA) or None),
        metavar="FILE",
        help=f"PEM root certificates to trust (env {creds.ENV_CA}; implies --tls)",
    )
    group.add_argument(
        "--cert",
        default=default(os.environ.get(creds.ENV_CERT) or None),
        metavar="FILE",
        help=f"PEM client certificate for mutual TLS (env {creds.ENV_CERT}; with --key)",
    )
    group.add_argument(
        "--key",
        default=default(os.environ.get(creds.ENV_KEY) or None),
        metavar="FILE",
        help=f"PEM private key of --cert (env {creds.ENV_KEY})",
    )
    group.add_argument(
        "--token",
        default=default(os.environ.get(creds.ENV_TOKEN) or None),
        help=f"bearer token sent as authorization metadata (env {creds.ENV_TOKEN})",
    )
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Start, stop, restart and follow jobop jobs.",
        parents=[_global_options(with_defaults=True)],
        epilog=(
            "PARAM is name=value[,type[,identifying]]: type string (default), long, double, "
            "date (ISO-8601) or boolean; identifying true (default) or false. "
            "Example: items=6,long chunkSize=3,long,false"
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    later = [_global_options(with_defaults=False)]

    def command(name: str, help_text: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text, parents=later)
        sub.set_defaults(run=run)
        return sub

    def follow_options(sub: argparse.ArgumentParser, wait: bool) -> None:
        if wait:
            sub.add_argument(
                "--wait",
                action="store_true",
                help="follow the execution to its end and exit with its mapped exit code",
            )
        sub.add_argument(
            "--exit-codes",
            metavar="FILE",
            help='TOML or JSON map of exit code to process exit code, e.g. {"CUSTOM FAILED": 100}',
        )

    def priority_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--priority",
            type=_priority,
            default=0,
            metavar="N",
            help=f"its place in the job's queue, {PRIORITY_MIN} to {PRIORITY_MAX} (default 0): "
            "a higher one runs first",
        )

    command("jobs", "list the jobs with their descriptions (and those not runnable here)", _jobs)
    _schedule_commands(commands, later)

    sub = command("describe", "describe a job: its steps and declared parameters", _describe)
    sub.add_argument("job", metavar="JOB")

    sub = command("start", "start a new instance of a job; prints the execution id", _start)
    sub.add_argument("job", metavar="JOB")
    sub.add_argument(
        "params", metavar="PARAM", nargs="*", default=[], help="name=value[,type[,identifying]]"
    )
    sub.add_argument("--request-id", metavar="ID", help="makes the start safe to retry")
    priority_option(sub)
    follow_options(sub, wait=True)

    sub = command("next", "start the next instance of a job (its incrementer)", _next)
    sub.add_argument("job", metavar="JOB")
    sub.add_argument("--request-id", metavar="ID", help="makes the start safe to retry")
    priority_option(sub)
    follow_options(sub, wait=True)

    sub = command("stop", "stop an execution, or every running execution of a job", _stop)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id, nargs="?")
    sub.add_argument("--job", metavar="NAME", help="stop every running execution of this job")

    sub = command("restart", "restart a FAILED or STOPPED execution", _restart)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id)
    sub.add_argument("--request-id", metavar="ID", help="makes the restart safe to retry")
    priority_option(sub)
    follow_options(sub, wait=True)

    sub = command("abandon", "mark a stopped or failed execution ABANDONED", _abandon)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id)

    sub = command("recover", "mark an execution whose process died FAILED", _recover)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id)
    sub.add_argument(
        "--force",
        action="store_true",
        help="recover an execution no jobop node owns (a Spring Batch application's): "
        "you know its process is dead",
    )

    sub = command("status", "print the summary of an execution", _status)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id)

    sub = command("steps", "list the step executions of an execution", _steps)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id)

    sub = command(
        "running", "list the running executions of a job (without JOB: of every job)", _running
    )
    sub.add_argument("job", metavar="JOB", nargs="?")
    filters.add_filter_options(sub, _since, statuses=False)

    sub = command(
        "list",
        "list the executions (or instances) of jobs, newest first (without JOB: of every job)",
        _list,
    )
    sub.add_argument("job", metavar="JOB", nargs="*")
    filters.add_filter_options(sub, _since, statuses=True)
    sub.add_argument("--oldest-first", action="store_true", help="oldest first instead")
    sub.add_argument(
        "--count", action="store_true", help="print how many executions match, not them"
    )
    sub.add_argument(
        "--limit",
        type=_positive_int,
        default=20,
        metavar="N",
        help="show at most N (default 20; 0: all)",
    )
    sub.add_argument("--instances", action="store_true", help="list job instances instead")

    sub = command("audit", "list the audit trail of control actions, newest first", _audit)
    sub.add_argument("--job", metavar="NAME", help="only the actions on this job")
    sub.add_argument(
        "--since",
        metavar="TIME",
        type=_since,
        help="only actions at or after TIME (ISO-8601, local time unless it has an offset; "
        "or a duration back from now: 30m, 2h, 7d)",
    )
    sub.add_argument(
        "--limit", type=_positive_int, default=50, metavar="N", help="at most N (default 50)"
    )

    sub = command(
        "queue",
        "list the starts waiting to run, in run order, and why each waits (without JOB: "
        "of every job)",
        _queue,
    )
    sub.add_argument("job", metavar="JOB", nargs="?")
    sub.add_argument(
        "--limit",
        type=_positive_int,
        default=0,
        metavar="N",
        help="show at most N from the head (default and most: the server's, 100 and 1000)",
    )

    sub = command("settings", "show a job's limit, key, pause and duration settings", _settings)
    sub.add_argument("job", metavar="JOB")

    sub = command("pause", "hold a job's new and waiting starts in its queue", _pause)
    sub.add_argument("job", metavar="JOB")
    sub.add_argument("--stop-running", action="store_true", help="stop its running executions too")

    sub = command("resume", "let a paused job's waiting starts run", _resume)
    sub.add_argument("job", metavar="JOB")

    # `--key` after `limit` is the concurrency key: its own copy of the connection options
    # gives up theirs (TLS's --key goes before the command, or in JOBOP_KEY).
    limit_help = "limit how many executions of a job run at once, cluster-wide"
    sub = commands.add_parser(
        "limit",
        help=limit_help,
        description=f"{limit_help}; N none clears the run-time limit and key",
        parents=[_global_options(with_defaults=False)],
        conflict_handler="resolve",
    )
    sub.set_defaults(run=_limit_command)
    sub.add_argument("job", metavar="JOB")
    sub.add_argument("limit", metavar="N", type=_limit, help="executions at once, or none")
    sub.add_argument(
        "--key",
        dest="concurrency_key",
        metavar="PARAM",
        help="the limit holds per value of this job parameter (one tenant at a time)",
    )

    sub = command("watch", "follow an execution to its end; exits with its mapped code", _watch)
    sub.add_argument("execution_id", metavar="EXECUTION_ID", type=_execution_id)
    follow_options(sub, wait=False)
    return parser


# -- commands --------------------------------------------------------------------------


class _Context:
    """What a command needs: the client, the parsed arguments and where to print."""

    def __init__(self, client: JobOperatorClient, args: argparse.Namespace, out: TextIO) -> None:
        self.client = client
        self.args = args
        self.out = out
        self.json: bool = args.json

    def print(self, text: str = "", *, lines: bool = False) -> None:
        """Print one line (`lines`: several) of text that may hold names and values from
        the server, with control characters escaped so they cannot break the output."""
        print(escape(text, keep="\n\t" if lines else ""), file=self.out, flush=True)

    def dump(self, value: object) -> None:
        json.dump(value, self.out, indent=2, allow_nan=False)
        self.out.write("\n")
        self.out.flush()


def escape(text: str, keep: str = "") -> str:
    """`text` with every character that is not printable (control characters, a newline,
    a bidi override) written as a Python escape, except those in `keep`."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() or char in keep else repr(char)[1:-1] for char in text
    )


NOT_REGISTERED = "(not registered here)"


def _jobs(ctx: _Context) -> int:
    jobs = ctx.client.describe_jobs().jobs
    if ctx.json:
        # A list of names, as before the catalogue: `describe --json` tells the rest.
        ctx.dump([job.job_name for job in jobs])
        return 0
    rows = [[job.job_name, _about(job)] for job in jobs]
    _print_table(ctx, ["JOB", "DESCRIPTION"], rows, "no job")
    return 0


def _about(job: pb.JobDescription) -> str:
    if not job.registered:
        return NOT_REGISTERED
    return job.description.splitlines()[0] if job.description else ""


def _describe(ctx: _Context) -> int:
    job = ctx.client.describe_jobs([ctx.args.job]).jobs[0]
    if ctx.json:
        ctx.dump(catalogue.job_description_to_dict(job))
        return 0
    ctx.print(job.job_name)
    if not job.registered:
        ctx.print(f"{NOT_REGISTERED}: known only from the repository; it cannot start here")
        return 0
    if job.description:
        ctx.print(job.description, lines=True)
    steps = ", ".join(f"{step.name} ({step.kind})" for step in job.steps)
    ctx.print(f"restartable: {_yes(job.restartable)}")
    ctx.print(f"incrementer: {job.incrementer or '(none)'}")
    ctx.print(f"steps: {steps}")
    ctx.print(
        "undeclared parameters: " + ("accepted" if job.allow_undeclared_parameters else "refused")
    )
    ctx.print()
    rows = [
        [
            parameter.name,
            catalogue.parameter_type_name(parameter.type),
            _yes(parameter.identifying),
            _yes(parameter.required),
            parameters.format_value(parameters.from_proto(parameter.default_value))
            if parameter.HasField("default_value")
            else "",
            parameter.description,
        ]
        for parameter in job.parameters
    ]
    headers = ["PARAMETER", "TYPE", "IDENTIFYING", "REQUIRED", "DEFAULT", "DESCRIPTION"]
    _print_table(ctx, headers, rows, "declares no parameters")
    return 0


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _start(ctx: _Context) -> int:
    execution = ctx.client.start(
        ctx.args.job, ctx.args.parsed_params, ctx.args.request_id, priority=ctx.args.priority
    )
    return _launched(ctx, execution)


def _next(ctx: _Context) -> int:
    execution = ctx.client.start_next_instance(
        ctx.args.job, ctx.args.request_id, priority=ctx.args.priority
    )
    return _launched(ctx, execution)


def _restart(ctx: _Context) -> int:
    execution = ctx.client.restart(
        ctx.args.execution_id, ctx.args.request_id, priority=ctx.args.priority
    )
    return _launched(ctx, execution)


def _launched(ctx: _Context, execution: pb.JobExecution) -> int:
    if not ctx.args.wait:
        if ctx.json:
            ctx.dump(jsonform.execution_json(execution))
        else:
            ctx.print(str(execution.id))
        return 0
    if not ctx.json:
        ctx.print(str(execution.id))  # first, on its own line, before any progress
    return _follow(ctx, execution.id)


def _watch(ctx: _Context) -> int:
    return _follow(ctx, ctx.args.execution_id)


def _follow(ctx: _Context, execution_id: int) -> int:
    progress = None if ctx.json else _Progress(ctx.out, live=_is_tty(ctx.out))
    final: pb.JobExecution | None = None
    try:
        for snapshot in ctx.client.watch_execution(execution_id):
            final = snapshot
            if progress is not None:
                progress.update(snapshot)
    except KeyboardInterrupt:
        print(
            f"{PROG}: interrupted; execution {execution_id} goes on running "
            f"({PROG} stop {execution_id} stops it)",
            file=sys.stderr,
        )
        return exit_codes.INTERRUPTED
    if final is None:  # the stream had nothing newer to say: read the final state
        final = ctx.client.get_job_execution(execution_id)
    exit_code = final.exit_status.exit_code or executions.status_name(final.status)
    if ctx.json:
        ctx.dump(jsonform.execution_json(final))
    else:
        elapsed = executions.duration(final)
        took = f" in {_duration(elapsed)}" if elapsed is not None else ""
        reason = executions.exit_reason(final.exit_status.exit_description)
        why = f": {reason}" if reason and exit_code != "COMPLETED" else ""
        ctx.print(
            f"execution {final.id} {_status_text(final)} with exit code {exit_code}{took}{why}"
        )
    return exit_codes.map_exit_code(exit_code, ctx.args.exit_code_map)


def _stop(ctx: _Context) -> int:
    if ctx.args.job is None:
        execution = ctx.client.stop(ctx.args.execution_id)
        if ctx.json:
            ctx.dump(jsonform.execution_json(execution))
        else:
            ctx.print(f"execution {execution.id}: {executions.status_name(execution.status)}")
        return 0
    stopped: list[pb.JobExecution] = []
    for execution_id in ctx.client.get_running_executions(ctx.args.job):
        try:
            stopped.append(ctx.client.stop(execution_id))
        except errors.JobExecutionNotRunningError:
            continue  # it finished between the two calls: nothing left to stop
    if ctx.json:
        ctx.dump([jsonform.execution_json(execution) for execution in stopped])
        return 0
    if not stopped:
        ctx.print(f"no running execution of {ctx.args.job}")
    for execution in stopped:
        ctx.print(f"execution {execution.id}: {executions.status_name(execution.status)}")
    return 0


def _abandon(ctx: _Context) -> int:
    return _changed(ctx, ctx.client.abandon(ctx.args.execution_id))


def _recover(ctx: _Context) -> int:
    return _changed(ctx, ctx.client.recover(ctx.args.execution_id, force=ctx.args.force))


def _changed(ctx: _Context, execution: pb.JobExecution) -> int:
    if ctx.json:
        ctx.dump(jsonform.execution_json(execution))
    else:
        ctx.print(f"execution {execution.id}: {executions.status_name(execution.status)}")
    return 0


def _status(ctx: _Context) -> int:
    summary = ctx.client.get_summary(ctx.args.execution_id)
    execution = ctx.client.get_job_execution(ctx.args.execution_id)
    if ctx.json:
        ctx.dump({**jsonform.execution_json(execution), "summary": summary})
        return 0
    description = execution.exit_status.exit_description.strip()
    if "\n" not in description:
        ctx.print(summary)  # one line already (a newline in it would be escaped)
        return 0
    # Spring's summary holds the whole exit description, a stack trace: keep the summary
    # on one line, with the line that says why, and print the description below it.
    whole = f"exitDescription={execution.exit_status.exit_description}"
    why = f"exitDescription={executions.exit_reason(description)} (exit message below)"
    ctx.print(summary.replace(whole, why, 1))
    ctx.print("exit message:")
    ctx.print("\n".join("  " + line for line in description.splitlines()), lines=True)
    return 0


def _steps(ctx: _Context) -> int:
    execution = ctx.client.get_job_execution(ctx.args.execution_id)
    if ctx.json:
        ctx.dump([jsonform.step_json(step) for step in execution.step_executions])
        return 0
    rows = [
        [
            str(step.id),
            step.step_name,
            executions.status_name(step.status),
            step.exit_status.exit_code,
            str(step.read_count),
            str(step.write_count),
            str(step.filter_count),
            str(step.read_skip_count + step.process_skip_count + step.write_skip_count),
            str(step.commit_count),
            str(step.rollback_count),
            _duration(executions.duration(step)),
            step.node_id or "-",
        ]
        for step in execution.step_executions
    ]
    headers = ["ID", "STEP", "STATUS", "EXIT CODE", "READ", "WRITTEN", "FILTERED", "SKIPPED"]
    headers += ["COMMITS", "ROLLBACKS", "DURATION", "NODE"]
    _print_table(ctx, headers, rows, f"execution {execution.id} has no step executions yet")
    return 0


def _of(ctx: _Context) -> str:
    job = ctx.args.job
    return (", ".join(job) if isinstance(job, list) else job) or "any job"


def _running(ctx: _Context) -> int:
    if filters.filtered(ctx.args):
        # One filtered listing of the running statuses instead of a call per execution.
        selection = filters.filter_from_args(ctx.args, [], running=True)
        list_page = functools.partial(ctx.client.list_job_executions, filter=selection)
        matching = _collect(list_page, ctx.args.job, None)
        _print_executions(ctx, matching, f"no running execution of {_of(ctx)} matches")
        return 0
    found = []
    # Without JOB, every job's: those only the repository knows (a Spring application's) too.
    for execution_id in ctx.client.get_running_executions(ctx.args.job or ""):
        try:
            found.append(ctx.client.get_job_execution(execution_id))
        except errors.NoSuchJobExecutionError:
            continue  # deleted in the meantime
    found.sort(key=lambda execution: execution.id, reverse=True)
    _print_executions(ctx, found, f"no running execution of {_of(ctx)}")
    return 0


def _list(ctx: _Context) -> int:
    limit = ctx.args.limit or None
    jobs: list[str] = ctx.args.job
    # One job goes as the request's job (unknown: NO_SUCH_JOB), more as the filter's.
    one = jobs[0] if len(jobs) == 1 else None
    if ctx.args.instances:
        instances = _collect(ctx.client.list_job_instances, one, limit)
        if ctx.json:
            ctx.dump([jsonform.instance_json(instance) for instance in instances])
        else:
            rows = [[str(i.id), str(i.version), i.job_name, i.job_key] for i in instances]
            headers = ["ID", "VERSION", "JOB", "JOB KEY"]
            _print_table(ctx, headers, rows, f"no instance of {_of(ctx)}")
        return 0
    # Without JOB, one list of every job's (those only the repository knows too).
    selection = filters.filter_from_args(ctx.args, jobs if one is None else [], running=False)
    if ctx.args.count:
        count = ctx.client.count_job_executions(one or "", filter=selection)
        if ctx.json:
            ctx.dump({"count": count})
        else:
            ctx.print(str(count))
        return 0
    list_page = functools.partial(
        ctx.client.list_job_executions, filter=selection, oldest_first=ctx.args.oldest_first
    )
    found = _collect(list_page, one, limit)
    _print_executions(ctx, found, f"no execution of {_of(ctx)}")
    return 0


def _collect(list_page: Callable[..., Any], job: str | None, limit: int | None) -> list[Any]:
    """The newest `limit` items (or all) of the job (None: of every job), paging through
    its list (newest first)."""
    found: list[Any] = []
    token = ""
    while limit is None or len(found) < limit:
        size = 0 if limit is None else min(limit - len(found), 1000)
        page = list_page(job or "", page_size=size, page_token=token)
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    return found[:limit]


def _print_executions(ctx: _Context, found: Sequence[pb.JobExecution], empty: str) -> None:
    if ctx.json:
        ctx.dump([jsonform.execution_json(execution) for execution in found])
        return
    rows = [
        [
            str(execution.id),
            str(execution.job_instance_id),
            _status_text(execution),
            execution.exit_status.exit_code,
            _local_time(executions.timestamp(execution, "start_time")),
            _duration(executions.duration(execution)),
            " ".join(
                parameters.format_parameter(name, value)
                for name, value in parameters.from_proto_map(execution.parameters).items()
            ),
        ]
        for execution in found
    ]
    headers = ["ID", "INSTANCE", "STATUS", "EXIT CODE", "STARTED", "DURATION", "PARAMETERS"]
    _print_table(ctx, headers, rows, empty)


def _status_text(execution: pb.JobExecution) -> str:
    """Its status, and `overdue` once it ran past its job's maximum duration."""
    return executions.status_name(execution.status) + (" overdue" if execution.overdue else "")


def _print_table(ctx: _Context, headers: list[str], rows: list[list[str]], empty: str) -> None:
    if not rows:
        ctx.print(f"({empty})")
        return
    rows = [[escape(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    for row in [headers, *rows]:
        ctx.print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


# -- schedules (docs/schedules.md) ---------------------------------------------------------

_OVERLAPS = ("skip", "queue", "allow")
_CATCH_UPS = ("none", "latest", "all")


def _schedule_commands(commands: argparse._SubParsersAction[_Parser], later: list[_Parser]) -> None:
    """`jobctl schedule ACTION …`."""
    schedule = commands.add_parser(
        "schedule",
        help="manage schedules: add, list, show, rm, pause, resume, trigger, fires, preview",
        description="Run jobs on cron schedules (docs/schedules.md).",
        parents=later,
    )
    actions = schedule.add_subparsers(dest="schedule_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, run: Callable[..., int]) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text, description=help_text, parents=later)
        sub.set_defaults(run=run)
        return sub

    sub = action("add", "create a schedule: JOB starts at each fire time of CRON", _schedule_add)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument("job", metavar="JOB")
    sub.add_argument(
        "cron", metavar="CRON", help="e.g. '0 30 2 * * MON-FRI' (seconds first), '*/5 * * * *'"
    )
    sub.add_argument(
        "params", metavar="PARAM", nargs="*", default=[], help="name=value[,type[,identifying]]"
    )
    sub.add_argument("--time-zone", metavar="ZONE", help="an IANA zone (default UTC)")
    sub.add_argument("--overlap", choices=_OVERLAPS, help="a fire due while one runs (skip)")
    sub.add_argument("--catch-up", choices=_CATCH_UPS, help="fires missed while down (latest)")
    sub.add_argument("--max-catch-up", type=_positive_int, metavar="N", help="with all (100)")
    sub.add_argument("--paused", action="store_true", help="create it paused")
    sub.add_argument("--description", metavar="TEXT")

    action("list", "list the schedules with their next fire and last outcome", _schedule_list)
    for name, help_text, run in (
        ("show", "show a schedule, its next fire times and its last fire", _schedule_show),
        ("rm", "delete a schedule (its fires' executions stay)", _schedule_rm),
        ("pause", "pause a schedule: no fires until resume", _schedule_pause),
        ("resume", "resume a paused schedule", _schedule_resume),
        ("trigger", "fire a schedule now, as an extra fire", _schedule_trigger),
    ):
        action(name, help_text, run).add_argument("name", metavar="NAME")
    sub = action("fires", "list a schedule's recorded fires, newest first", _schedule_fires)
    sub.add_argument("name", metavar="NAME")
    sub.add_argument(
        "--limit", type=_positive_int, default=20, metavar="N", help="at most N (default 20)"
    )
    sub = action("preview", "print the next fire times of CRON; stores nothing", _schedule_preview)
    sub.add_argument("cron", metavar="CRON")
    sub.add_argument("--time-zone", metavar="ZONE", help="an IANA zone (default UTC)")
    sub.add_argument(
        "--from",
        dest="after",
        metavar="TIME",
        type=_since,
        help="the fire times after TIME (ISO-8601, local unless it has an offset; default now)",
    )
    sub.add_argument(
        "--count", type=_positive_int, default=5, metavar="N", help="how many (default 5)"
    )


def _schedule_add(ctx: _Context) -> int:
    args = ctx.args
    schedule = ctx.client.create_schedule(
        args.name,
        args.job,
        args.cron,
        args.parsed_params,
        time_zone=args.time_zone,
        overlap=args.overlap,
        catch_up=args.catch_up,
        max_catch_up=args.max_catch_up,
        paused=args.paused or None,
        description=args.description,
    )
    return _schedule_shown(ctx, schedule)


def _schedule_show(ctx: _Context) -> int:
    return _schedule_shown(ctx, ctx.client.get_schedule(ctx.args.name))


def _schedule_pause(ctx: _Context) -> int:
    return _schedule_shown(ctx, ctx.client.pause_schedule(ctx.args.name))


def _schedule_resume(ctx: _Context) -> int:
    return _schedule_shown(ctx, ctx.client.resume_schedule(ctx.args.name))


def _schedule_shown(ctx: _Context, schedule: pb.Schedule) -> int:
    shown = jsonform.schedule_json(schedule)
    if ctx.json:
        ctx.dump(shown)
        return 0
    fields = [
        ("name", shown["name"]),
        ("job", shown["jobName"]),
        ("cron", shown["cron"]),
        ("time zone", shown["timeZone"]),
        ("parameters", _schedule_parameters(schedule)),
        ("overlap", shown["overlap"]),
        ("catch-up", f"{shown['catchUp']} (at most {shown['maxCatchUp']})"),
        ("paused", _yes(shown["paused"])),
        ("description", shown["description"] or "-"),
        ("last fire", _fire_text(shown["lastFire"]) if shown["lastFire"] else "-"),
    ]
    for label, value in fields:
        ctx.print(f"{label + ':':13}{value}")
    ctx.print("next fires:" + ("" if shown["nextFireTimes"] else " -"))
    for moment in shown["nextFireTimes"]:
        ctx.print(f"  {moment}")
    return 0


def _schedule_parameters(schedule: pb.Schedule) -> str:
    values = parameters.from_proto_map(schedule.parameters)
    return (
        " ".join(parameters.format_parameter(name, value) for name, value in values.items()) or "-"
    )


def _fire_text(fire: dict[str, Any]) -> str:
    """`2024-03-15T02:30:00+01:00 LAUNCHED execution 7`, `… SKIPPED (why)`."""
    text = f"{fire['fireTime']} {fire['outcome']}"
    if fire["executionId"]:
        text += f" execution {fire['executionId']}"
    if fire["reason"]:
        text += f" ({fire['reason']})"
    return text + (" [triggered]" if fire["triggered"] else "")


def _schedule_list(ctx: _Context) -> int:
    schedules = [jsonform.schedule_json(item) for item in ctx.client.list_schedules()]
    if ctx.json:
        ctx.dump(schedules)
        return 0
    rows = [
        [
            item["name"],
            item["jobName"],
            item["cron"],
            item["timeZone"],
            "paused" if item["paused"] else (item["nextFireTimes"] or ["-"])[0],
            item["lastFire"]["outcome"] if item["lastFire"] else "-",
        ]
        for item in schedules
    ]
    headers = ["NAME", "JOB", "CRON", "ZONE", "NEXT FIRE", "LAST FIRE"]
    _print_table(ctx, headers, rows, "no schedule")
    return 0


def _schedule_rm(ctx: _Context) -> int:
    ctx.client.delete_schedule(ctx.args.name)
    if ctx.json:
        ctx.dump({"deleted": ctx.args.name})
    else:
        ctx.print(f"schedule {ctx.args.name} deleted")
    return 0


def _schedule_trigger(ctx: _Context) -> int:
    fired = ctx.client.trigger_schedule(ctx.args.name)
    zone = ctx.client.get_schedule(ctx.args.name).time_zone  # the fire time in it
    fire = jsonform.schedule_fire_json(fired, zone)
    if ctx.json:
        ctx.dump(fire)
    else:
        ctx.print(_fire_text(fire))
    return 0


def _schedule_fires(ctx: _Context) -> int:
    zone = ctx.client.get_schedule(ctx.args.name).time_zone
    found: list[pb.ScheduleFire] = []
    token = ""
    while len(found) < ctx.args.limit:
        page = ctx.client.list_schedule_fires(
            ctx.args.name, page_size=min(ctx.args.limit - len(found), 1000), page_token=token
        )
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    fires = [jsonform.schedule_fire_json(fire, zone) for fire in found]
    if ctx.json:
        ctx.dump(fires)
        return 0
    rows = [
        [
            fire["fireTime"],
            fire["outcome"],
            str(fire["executionId"] or "-"),
            _yes(fire["triggered"]),
            fire["reason"] or "-",
        ]
        for fire in fires
    ]
    headers = ["FIRE TIME", "OUTCOME", "EXECUTION", "TRIGGERED", "REASON"]
    _print_table(ctx, headers, rows, "no fire recorded")
    return 0


def _schedule_preview(ctx: _Context) -> int:
    args = ctx.args
    zone = args.time_zone or "UTC"
    times = ctx.client.preview_schedule(
        args.cron, time_zone=zone, after=args.after, count=args.count
    )
    shown = [jsonform.zone_text(moment, zone) for moment in times]
    if ctx.json:
        ctx.dump({"fireTimes": shown})
    else:
        for moment in shown:
            ctx.print(str(moment))
    return 0


# -- progress --------------------------------------------------------------------------


class _Progress:
    """One line for the job and one per step execution.

    On a terminal the block is redrawn in place; otherwise a line is printed whenever it
    changes, so that logs show the progress without escape codes.
    """

    def __init__(self, out: TextIO, *, live: bool) -> None:
        self.out = out
        self.live = live
        self.drawn = 0
        self.printed: dict[str, str] = {}

    def update(self, execution: pb.JobExecution) -> None:
        lines = [("job", _job_line(execution))]
        lines += [(f"step {step.id}", _step_line(step)) for step in execution.step_executions]
        if self.live:
            width = max(shutil.get_terminal_size().columns - 1, 20)
            if self.drawn:
                self.out.write(f"\x1b[{self.drawn}F")  # back to the block's first line
            for _, line in lines:
                self.out.write("\x1b[2K" + escape(line)[:width] + "\n")
            self.drawn = len(lines)
        else:
            for key, line in lines:
                if self.printed.get(key) != line:
                    self.out.write(escape(line) + "\n")
                    self.printed[key] = line
        self.out.flush()


def _job_line(execution: pb.JobExecution) -> str:
    return f"execution {execution.id} {execution.job_name}: {_status_text(execution)}"


def _step_line(step: pb.StepExecution) -> str:
    line = (
        f"  {step.step_name}: {executions.status_name(step.status)}"
        f"  read {step.read_count}  written {step.write_count}"
    )
    skipped = step.read_skip_count + step.process_skip_count + step.write_skip_count
    if skipped:
        line += f"  skipped {skipped}"
    if step.filter_count:
        line += f"  filtered {step.filter_count}"
    elapsed = executions.duration(step)
    items = step.read_count or step.write_count
    if items and elapsed and elapsed.total_seconds() > 0:
        line += f"  {items / elapsed.total_seconds():.1f} items/s"
    return line


def _is_tty(out: TextIO) -> bool:
    try:
        return out.isatty() and os.environ.get("TERM") != "dumb"
    except ValueError:  # a closed stream
        return False


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _since(text: str) -> dt.datetime:
    """A time (ISO-8601, local unless it has an offset) or a duration back from now, in
    UTC and within what a protobuf Timestamp holds (the years 1 to 9999)."""
    word = text.strip()
    seconds = _whole_number(word[:-1]) if word[-1:] in _DURATION_UNITS else None
    if seconds is not None:
        try:
            return dt.datetime.now(dt.UTC) - dt.timedelta(
                seconds=seconds * _DURATION_UNITS[word[-1]]
            )
        except OverflowError:
            raise argparse.ArgumentTypeError(
                f"the duration {_shown(text)} reaches back before the year 1"
            ) from None
    try:
        value = dt.datetime.fromisoformat(word)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO-8601 time or a duration such as 2h, not {_shown(text)}"
        ) from None
    try:
        return (value if value.tzinfo else value.astimezone()).astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise argparse.ArgumentTypeError(
            f"the time {_shown(text)} is out of range (the years 1 to 9999 in UTC)"
        ) from None


def _arguments(text: str) -> object:
    # The server keeps the first 20,000 characters of a request's JSON: show a cut one as is.
    try:
        return json.loads(text or "{}")
    except ValueError:
        return text


def _audit(ctx: _Context) -> int:
    found: list[pb.AuditEvent] = []
    token = ""
    while len(found) < ctx.args.limit:
        page = ctx.client.list_audit_events(
            ctx.args.job or "",
            since=ctx.args.since,
            page_size=min(ctx.args.limit - len(found), 1000),
            page_token=token,
        )
        found.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    if ctx.json:
        # REST's form, with the arguments parsed rather than left as JSON text.
        ctx.dump(
            [
                {**jsonform.audit_event_json(event), "arguments": _arguments(event.arguments)}
                for event in found
            ]
        )
        return 0
    rows = [
        [
            _local_time(event.time.ToDatetime(dt.UTC)),
            event.principal,
            event.role,
            event.action,
            event.job_name or "-",
            str(event.execution_id or "-"),
            "OK" if event.succeeded else event.reason,
            event.peer,
        ]
        for event in found
    ]
    headers = ["TIME", "PRINCIPAL", "ROLE", "ACTION", "JOB", "EXECUTION", "OUTCOME", "FROM"]
    _print_table(ctx, headers, rows, "no audited action")
    return 0


# -- workload control --------------------------------------------------------------------


def _queue(ctx: _Context) -> int:
    response = ctx.client.list_queue(ctx.args.job or "", page_size=min(ctx.args.limit, 1000))
    if ctx.json:
        entries = [jsonform.queued_json(entry) for entry in response.executions]
        ctx.dump({"executions": entries, "total": response.total})
        return 0
    rows = [
        [
            str(entry.position),
            str(entry.execution_id),
            entry.job_name,
            str(entry.priority),
            _duration(dt.timedelta(seconds=entry.queued_seconds)),
            entry.waiting_for,
        ]
        for entry in response.executions
    ]
    headers = ["POSITION", "EXECUTION", "JOB", "PRIORITY", "WAITING", "WAITING FOR"]
    _print_table(ctx, headers, rows, f"no start of {_of(ctx)} is waiting")
    if response.total > len(rows):
        ctx.print(f"({len(rows)} of {response.total} waiting shown)")
    return 0


def _settings(ctx: _Context) -> int:
    (workload,) = ctx.client.get_job_settings([ctx.args.job])
    if ctx.json:
        ctx.dump(jsonform.workload_json(workload))
        return 0
    ctx.print(f"{workload.job_name}: {_load(workload)}")
    shown = jsonform.workload_json(workload)
    rows = [
        [name, _setting(shown[name]), _setting(shown["declared"][name]), _setting(value, "-")]
        for name, value in shown["override"].items()
        if name not in ("updated", "updatedBy")
    ]
    _print_table(ctx, ["SETTING", "IN FORCE", "DECLARED", "SET AT RUN TIME"], rows, "")
    override = shown["override"]
    if override["updated"]:
        changed = dt.datetime.fromisoformat(override["updated"].replace("Z", "+00:00"))
        ctx.print(f"set at run time by {override['updatedBy']} at {_local_time(changed)}")
    return 0


def _setting(value: object, unset: str = "none") -> str:
    """A setting's value in a table: yes/no, a number, a name; None as `unset`."""
    if value is None:
        return unset
    if isinstance(value, bool):
        return _yes(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _load(workload: pb.JobWorkload) -> str:
    paused = "paused, " if workload.settings.paused else ""
    return f"{paused}{workload.running} running, {workload.queued} waiting"


def _pause(ctx: _Context) -> int:
    response = ctx.client.pause_job(ctx.args.job, stop_running=ctx.args.stop_running)
    stopped = list(response.stopped_execution_ids)
    if ctx.json:
        ctx.dump({**jsonform.workload_json(response.job), "stoppedExecutionIds": stopped})
        return 0
    ctx.print(f"{response.job.job_name}: {_load(response.job)}")
    if stopped:
        ctx.print(f"stopping execution {', '.join(str(i) for i in stopped)}")
    return 0


def _resume(ctx: _Context) -> int:
    return _workload_changed(ctx, ctx.client.resume_job(ctx.args.job))


def _limit_command(ctx: _Context) -> int:
    changes: dict[str, object | None] = {"max_concurrent": ctx.args.limit}
    if ctx.args.limit is None or ctx.args.concurrency_key is not None:
        changes["concurrency_key"] = ctx.args.concurrency_key
    return _workload_changed(ctx, ctx.client.update_job_settings(ctx.args.job, changes))


def _workload_changed(ctx: _Context, workload: pb.JobWorkload) -> int:
    if ctx.json:
        ctx.dump(jsonform.workload_json(workload))
        return 0
    settings = workload.settings
    limit = "no limit"
    if settings.HasField("max_concurrent"):
        limit = f"limit {settings.max_concurrent}"
        if settings.HasField("concurrency_key"):
            limit += f" per {settings.concurrency_key}"
    ctx.print(f"{workload.job_name}: {limit}, {_load(workload)}")
    return 0


def _local_time(value: dt.datetime | None) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


# -- entry point -----------------------------------------------------------------------


# Paths are whatever bytes the system allows; every other text is sent as UTF-8.
_PATHS = ("exit_codes", "ca", "cert", "key")


def _check_text(args: argparse.Namespace) -> None:
    """Raises UsageError for text gRPC could not send: a token that is no header value,
    an empty target, a word that is not UTF-8 (Python's surrogate escapes of its bytes)."""
    if args.token and not (args.token.isascii() and args.token.isprintable()):
        # Never echoed: it is a secret.
        raise UsageError(f"--token may hold only printable ASCII (also from {creds.ENV_TOKEN})")
    for name, value in vars(args).items():
        if name in _PATHS or name == "token":
            continue
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not _is_utf8(text):
                label = "--target" if name == "target" else name.replace("_", " ")
                raise UsageError(f"{label} {_shown(text)} is not valid UTF-8")
    target = args.target
    if not target or not target.isprintable() or any(char.isspace() for char in target):
        raise UsageError(f"--target needs HOST:PORT, not {_shown(target)}")


def _is_utf8(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _prepare(args: argparse.Namespace) -> None:
    """Checks what can be checked before connecting; raises UsageError."""
    _check_text(args)
    try:
        args.parsed_params = parameters.parse_parameters(getattr(args, "params", None) or [])
    except ValueError as error:
        raise UsageError(str(error)) from None
    args.exit_code_map = None
    if getattr(args, "exit_codes", None):
        try:
            args.exit_code_map = exit_codes.load_exit_codes(args.exit_codes)
        except ValueError as error:
            raise UsageError(str(error)) from None
    if args.command == "stop" and (args.execution_id is None) == (args.job is None):
        raise UsageError("stop takes either an EXECUTION_ID or --job NAME")
    if args.command == "limit" and args.limit is None and args.concurrency_key is not None:
        raise UsageError("limit JOB none clears the key too: give --key with a number")

    listing = args.command == "list" and args.instances
    if listing and (len(args.job) > 1 or filters.filtered(args) or args.oldest_first or args.count):
        raise UsageError("list --instances takes at most one JOB and no filter")


def _credentials(args: argparse.Namespace) -> grpc.ChannelCredentials | None:
    if not (args.tls or args.ca or args.cert or args.key):
        return None
    try:
        return creds.tls_credentials(args.ca, args.cert, args.key)
    except creds.CredentialsError as error:
        raise UsageError(str(error)) from None


def _failure(error: errors.JobOperatorError, args: argparse.Namespace) -> tuple[int, str]:
    """The exit code and the one-line message for a failed call."""
    if isinstance(error, errors.JobInstanceAlreadyExistsError):
        last = error.metadata.get("job_execution_id", "EXECUTION_ID")
        return exit_codes.REFUSED, (
            f"{error}: use `{PROG} restart {last}` to run it again if it FAILED or STOPPED, "
            "or change an identifying parameter to start a new instance"
        )
    if isinstance(error, errors.ServerUnavailableError):
        return exit_codes.UNREACHABLE, f"cannot reach the jobop server at {args.target}: {error}"
    if isinstance(error, errors.DeadlineExceededError):
        return (
            exit_codes.UNREACHABLE,
            f"the jobop server at {args.target} did not answer within {args.timeout:g} s",
        )
    if isinstance(error, errors.NotFoundError):
        return exit_codes.NOT_FOUND, str(error)
    if isinstance(error, errors.UnauthenticatedError):
        return exit_codes.NOT_AUTHENTICATED, (
            f"not authenticated by {args.target}: {error} (use --token or JOBOP_TOKEN, or "
            "--cert and --key)"
        )
    if isinstance(error, errors.PermissionDeniedError):
        return exit_codes.NOT_PERMITTED, f"not permitted: {error}"
    if isinstance(
        error,
        errors.InvalidJobParametersError
        | errors.InvalidArgumentError
        | errors.RequestIdReusedError,
    ):
        field = error.metadata.get("field", "")
        if args.command == "schedule" and field and field not in str(error):
            return exit_codes.USAGE, f"{field}: {error}"  # "cron: second field '61': …"
        return exit_codes.USAGE, str(error)
    return exit_codes.REFUSED, str(error)


def run(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Runs jobctl with ``argv`` (default: the process's) and returns the exit code."""
    out = out or sys.stdout
    words = list(sys.argv[1:] if argv is None else argv)
    _Parser.json_errors = "--json" in words
    args = build_parser().parse_args(words)
    try:
        _prepare(args)
        credentials = _credentials(args)
    except UsageError as error:
        _report_error(exit_codes.USAGE, str(error), as_json=args.json)
        return exit_codes.USAGE
    client = JobOperatorClient(
        args.target,
        credentials=credentials,
        metadata=creds.token_metadata(args.token),
        timeout=args.timeout,
    )
    try:
        with client:
            code: int = args.run(_Context(client, args, out))
            return code
    except errors.JobOperatorError as error:
        code, message = _failure(error, args)
        _report_error(code, message, as_json=args.json, error=error)
        return code
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        return run(argv)
    except BrokenPipeError:
        # The reader went away (jobctl list JOB | head): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
