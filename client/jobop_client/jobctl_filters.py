"""jobctl's execution filters (`list`, `running`): the options and the ExecutionFilter
message they make."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable

from jobop_client.listing import execution_filter, status_value
from jobop_client.proto import job_operator_pb2 as pb

_RUNNING = ("STARTING", "STARTED", "STOPPING")


def _status(text: str) -> list[str]:
    names = [word for word in text.split(",") if word.strip()]
    for name in names:
        try:
            status_value(name)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return names


def _parameter(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def add_filter_options(
    sub: argparse.ArgumentParser, when: Callable[[str], dt.datetime], *, statuses: bool
) -> None:
    """The filters; `when` parses a time (or a duration back from now)."""
    group = sub.add_argument_group("filters (every one given must hold)")
    if statuses:
        group.add_argument(
            "--status",
            type=_status,
            action="append",
            default=[],
            metavar="STATUS[,STATUS]",
            help="only these statuses (FAILED, STOPPED, COMPLETED, ...); repeatable",
        )
    group.add_argument(
        "--exit-code", action="append", default=[], metavar="CODE", help="only this exit code"
    )
    times = "TIME (ISO-8601, local unless it has an offset; or a duration back: 30m, 2h, 7d)"
    group.add_argument("--since", type=when, metavar="TIME", help=f"created at or after {times}")
    group.add_argument("--until", type=when, metavar="TIME", help="created before TIME")
    for event in ("started", "ended"):
        group.add_argument(
            f"--{event}-since", type=when, metavar="TIME", help=f"{event} at or after TIME"
        )
        group.add_argument(
            f"--{event}-until", type=when, metavar="TIME", help=f"{event} before TIME"
        )
    group.add_argument(
        "--param",
        type=_parameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="holding this parameter value (as stored: 7 for a long); repeatable",
    )
    group.add_argument("--node", metavar="NODE_ID", help="owned by this node (jobctl nodes)")
    overdue = group.add_mutually_exclusive_group()
    overdue.add_argument(
        "--overdue", dest="overdue", action="store_const", const=True, help="only overdue ones"
    )
    overdue.add_argument(
        "--not-overdue", dest="overdue", action="store_const", const=False, help="no overdue ones"
    )


def filter_from_args(
    args: argparse.Namespace, jobs: list[str], *, running: bool
) -> pb.ExecutionFilter:
    """The filter of the parsed options, of these `jobs` (none: every job), and with
    `running` of the running statuses only."""
    statuses = list(_RUNNING) if running else [s for group in args.status for s in group]
    return execution_filter(
        job_names=jobs,
        statuses=statuses,
        exit_codes=args.exit_code,
        since=args.since,
        until=args.until,
        started_since=args.started_since,
        started_until=args.started_until,
        ended_since=args.ended_since,
        ended_until=args.ended_until,
        parameters=args.param,
        node_id=args.node or "",
        overdue=args.overdue,
    )


def filtered(args: argparse.Namespace) -> bool:
    """Whether any filter option was given."""
    names = ["exit_code", "since", "until", "started_since", "started_until", "ended_since"]
    names += ["ended_until", "param", "node"]
    given = any(getattr(args, name) for name in names) or args.overdue is not None
    return given or bool(getattr(args, "status", None))
