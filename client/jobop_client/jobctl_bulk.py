"""jobctl's bulk commands: `bulk stop|abandon|restart|recover` over the executions the
`list` filters (or `--id`s) select, as one operation on the server; `bulk show` and
`bulk cancel` of an operation by id (docs/cli.md, docs/operations.md).

Exit codes beyond jobctl's own: 8 the operation ended CANCELLED or with executions it could
not act on (`failed` > 0), 9 the confirmation was declined (or stdin had no answer).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from jobop_client import exit_codes, jsonform
from jobop_client import jobctl_filters as filters
from jobop_client.client import bulk_running
from jobop_client.proto import job_operator_pb2 as pb
from jobop_client.terminal import is_tty

ACTIONS = {
    "stop": "stop the running executions selected",
    "abandon": "abandon the stopped or failed executions selected (admin role)",
    "restart": "restart the FAILED or STOPPED executions selected",
    "recover": "mark the selected executions whose process died FAILED",
}
# How many of a dry run's first ids are shown.
SHOWN_IDS = 10
# How many refusals of the operation are printed at its end.
SHOWN_ERRORS = 5


def add_bulk_commands(
    commands: Any,
    later: Sequence[argparse.ArgumentParser],
    when: Callable[[str], dt.datetime],
    execution_id: Callable[[str], int],
) -> None:
    """`jobctl bulk ACTION …` under `commands` (the parser's subparsers)."""
    bulk = commands.add_parser(
        "bulk",
        help="stop, abandon, restart or recover many executions by filter or id",
        description="Act on the executions a filter (or --id) selects, as one operation "
        "that runs on the server (docs/operations.md).",
        parents=list(later),
    )
    actions = bulk.add_subparsers(dest="bulk_command", metavar="ACTION", required=True)
    for name, help_text in ACTIONS.items():
        sub = actions.add_parser(name, help=help_text, description=help_text, parents=list(later))
        sub.set_defaults(run=run_action)
        sub.add_argument(
            "job", metavar="JOB", nargs="*", help="only these jobs' executions (default: any)"
        )
        filters.add_filter_options(sub, when, statuses=True)
        sub.add_argument(
            "--id",
            dest="ids",
            type=execution_id,
            action="append",
            default=[],
            metavar="EXECUTION_ID",
            help="this execution (repeatable); with filters: those of them the filters select",
        )
        sub.add_argument(
            "--dry-run", action="store_true", help="print the count and the first ids; no change"
        )
        sub.add_argument("--yes", action="store_true", help="do not ask for confirmation")
        if name == "recover":
            sub.add_argument(
                "--force",
                action="store_true",
                help="recover executions no jobop node owns too (you know they are dead)",
            )
    for name, help_text, run in (
        ("show", "print a bulk operation's progress", run_show),
        ("cancel", "cancel a running bulk operation (what it did stays done)", run_cancel),
    ):
        sub = actions.add_parser(name, help=help_text, description=help_text, parents=list(later))
        sub.set_defaults(run=run)
        sub.add_argument("operation_id", metavar="OPERATION_ID", type=execution_id)


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with a bulk command line (before connecting), or None."""
    if args.bulk_command not in ACTIONS:
        return None
    if not (args.job or args.ids or filters.filtered(args)):
        return (
            f"bulk {args.bulk_command} needs a JOB, a filter or --id "
            "(it never acts on every execution unasked)"
        )
    return None


def _selection(args: argparse.Namespace) -> pb.ExecutionFilter | None:
    if not (args.job or filters.filtered(args)):
        return None  # ids alone
    return filters.filter_from_args(args, args.job, running=False)


def run_action(ctx: Any) -> int:
    args = ctx.args
    action = args.bulk_command
    call = getattr(ctx.client, f"bulk_{action}")
    options: dict[str, Any] = {"ids": args.ids}
    if action == "recover":
        options["force"] = args.force
    selection = _selection(args)
    if args.dry_run or not args.yes:
        preview: pb.BulkOperation = call(selection, dry_run=True, **options)
        if args.dry_run:
            if ctx.json:
                ctx.dump(jsonform.bulk_operation_json(preview))
            else:
                ctx.print(_matched_line(preview))
            return 0
        if preview.matched == 0:
            if ctx.json:
                ctx.dump(jsonform.bulk_operation_json(preview))
            else:
                ctx.print("no execution matches: nothing to do")
            return 0
        if not _confirmed(f"{action} {_matched_line(preview)}? [y/N] "):
            print("jobctl: nothing done", file=sys.stderr)
            return exit_codes.DECLINED
    operation: pb.BulkOperation = call(selection, **options)
    if not ctx.json:
        ctx.print(f"bulk operation {operation.id}: {action} {operation.matched} executions")
    final = _follow(ctx, operation)
    if ctx.json:
        ctx.dump(jsonform.bulk_operation_json(final))
    else:
        _print_end(ctx, final)
    return outcome(final)


def outcome(operation: pb.BulkOperation) -> int:
    """0 when the operation ended DONE with every execution acted on, else INCOMPLETE."""
    done = operation.state == pb.BULK_OPERATION_STATE_DONE and operation.failed == 0
    return 0 if done else exit_codes.INCOMPLETE


def _matched_line(operation: pb.BulkOperation) -> str:
    ids = list(operation.execution_ids[:SHOWN_IDS])
    shown = ", ".join(str(i) for i in ids)
    more = " …" if operation.matched > len(ids) else ""
    noun = "execution" if operation.matched == 1 else "executions"
    first = f" (first: {shown}{more})" if ids else ""
    return f"{operation.matched} {noun}{first}"


def _confirmed(question: str) -> bool:
    print(question, end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if not answer.endswith("\n"):
        print(file=sys.stderr)  # EOF: end the prompt's line
    return answer.strip().lower() in ("y", "yes")


def _follow(ctx: Any, operation: pb.BulkOperation) -> pb.BulkOperation:
    """The operation's progress until it ends: a bar on a terminal, a line per change
    otherwise (none with --json). Ctrl-C leaves it running on the server."""
    progress = BulkProgress(ctx.out, live=is_tty(ctx.out), quiet=ctx.json)
    latest = operation
    progress.update(latest)
    try:
        for update in ctx.client.watch_bulk_operation(operation.id):
            latest = update
            progress.update(latest)
    except KeyboardInterrupt:
        progress.finish()
        print(
            f"jobctl: bulk operation {operation.id} goes on on the server "
            f"(jobctl bulk show {operation.id}; jobctl bulk cancel {operation.id})",
            file=sys.stderr,
        )
        raise
    progress.finish()
    return latest


def _print_end(ctx: Any, operation: pb.BulkOperation) -> None:
    state = jsonform.enum_name(pb.BulkOperationState, operation.state, "BULK_OPERATION_STATE_")
    ctx.print(
        f"bulk operation {operation.id} {state}: {operation.done} done, {operation.failed} "
        f"failed of {operation.matched}"
    )
    for error in operation.errors[:SHOWN_ERRORS]:
        ctx.print(f"  execution {error.execution_id}: {error.reason}: {error.message}")
    if operation.failed > len(operation.errors[:SHOWN_ERRORS]):
        ctx.print("  (the audit trail has every refusal: jobctl audit)")


def run_show(ctx: Any) -> int:
    return _shown(ctx, ctx.client.get_bulk_operation(ctx.args.operation_id))


def run_cancel(ctx: Any) -> int:
    return _shown(ctx, ctx.client.cancel_bulk_operation(ctx.args.operation_id))


def _shown(ctx: Any, operation: pb.BulkOperation) -> int:
    if ctx.json:
        ctx.dump(jsonform.bulk_operation_json(operation))
    else:
        ctx.print(describe(operation))
    return 0


def describe(operation: pb.BulkOperation) -> str:
    """One line: `bulk operation 7 STOP RUNNING: 40 done, 1 failed of 100 (node n1, by ci)`."""
    body = jsonform.bulk_operation_json(operation)
    by = f", by {body['principal']}" if body["principal"] else ""
    node = f" (node {body['nodeId']}{by})" if body["nodeId"] else ""
    return (
        f"bulk operation {body['id']} {body['action']} {body['state']}: {body['done']} done, "
        f"{body['failed']} failed of {body['matched']}{node}"
    )


class BulkProgress:
    """A progress bar redrawn in place on a terminal; elsewhere one line per change."""

    def __init__(self, out: TextIO, *, live: bool, quiet: bool = False) -> None:
        self.out = out
        self.live = live
        self.quiet = quiet
        self.last = ""
        self.drawn = False

    def update(self, operation: pb.BulkOperation) -> None:
        if self.quiet:
            return
        handled = operation.done + operation.failed
        state = jsonform.enum_name(pb.BulkOperationState, operation.state, "BULK_OPERATION_STATE_")
        line = (
            f"{handled}/{operation.matched}  done {operation.done}  failed {operation.failed}"
            f"  {state}"
        )
        if line == self.last:
            return
        self.last = line
        if self.live:
            width = max(min(shutil.get_terminal_size().columns - len(line) - 4, 40), 10)
            filled = width * handled // operation.matched if operation.matched else width
            bar = "#" * filled + "-" * (width - filled)
            self.out.write(f"\r\x1b[2K[{bar}] {line}")
            self.drawn = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self.live and self.drawn:
            self.out.write("\n")
            self.out.flush()
            self.drawn = False


__all__ = ["add_bulk_commands", "bulk_running", "check", "outcome"]
