"""The `jobop` command: `jobop db init|upgrade`, `jobop run` and `jobop serve` (app/serve.py).

`jobop run JOB [PARAM ...]` runs one job synchronously against the repository, like Spring
Batch's CommandLineJobRunner, and exits with the mapped exit code (docs/cli.md). SIGTERM or
SIGINT asks the running job to stop at its next chunk boundary (a second one interrupts).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

from jobop_client.exit_codes import (
    INTERRUPTED,
    NOT_FOUND,
    REFUSED,
    UNREACHABLE,
    USAGE,
    load_exit_codes,
    map_exit_code,
)
from jobop_client.version import package_version
from sqlalchemy.exc import OperationalError

from jobop.app.serve import add_lease_arguments, add_serve_parser, job_registry, serve_main
from jobop.batch import JobLauncher, JobRegistry, JobRunner, StopSignal, next_parameters
from jobop.batch.logcontext import BatchFormatter
from jobop.domain import (
    LONG_MAX,
    InvalidJobParameters,
    JobExecution,
    JobopError,
    JobParameters,
    JobParametersNotFound,
    NoSuchJob,
    NoSuchJobExecution,
    NoSuchJobInstance,
)
from jobop.operator.node import NodeMember, new_node_info, recover_execution, stop_execution
from jobop.repository import (
    AuditEvent,
    AuditTrail,
    ContextFormat,
    JobRepository,
    RepositoryConfigurationError,
    SchemaVersionMismatch,
    create_engine,
    init_schema,
    rekey,
    upgrade_schema,
)
from jobop.repository.audit import auditing
from jobop.repository.engine import is_postgresql
from jobop.repository.nodes import NodeRepository
from jobop.repository.notify import Announcer, pack

log = logging.getLogger("jobop.run")

DEFAULT_DB_URL = "sqlite:///jobop.db"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One readable line and exit 2, as argparse does, without the usage dump's noise.
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def _execution_id(text: str) -> int:
    """An execution id as the repository holds one: a Java long above 0."""
    word = text.strip()
    # isdigit first: int() refuses (with a traceback-worthy error) texts of 4,300+ digits.
    value = int(word) if word.isascii() and word.isdigit() and len(word) < 30 else 0
    if not 1 <= value <= LONG_MAX:
        raise argparse.ArgumentTypeError(
            f"an execution id is a positive number up to {LONG_MAX}, not {text[:40]!r}"
        )
    return value


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=os.environ.get("JOBOP_DB_URL", DEFAULT_DB_URL),
        help="repository database (env JOBOP_DB_URL; default %(default)s)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jobop", description="Run and serve Spring Batch-style jobs.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    db = commands.add_parser("db", help="create or migrate the repository schema")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=_Parser)
    db_commands.required = True
    init = db_commands.add_parser("init", help="create the schema")
    _db_option(init)
    init.add_argument(
        "--context-format",
        choices=[f.value for f in ContextFormat],
        help="how execution contexts are written, recorded in the repository: jackson "
        "(Spring's Jackson2ExecutionContextStringSerializer; the default) or java (Spring's "
        "default Base64 Java serialization)",
    )
    init.add_argument(
        "--spring-schema",
        type=int,
        choices=[5, 6],
        help="the Spring Batch schema version to create (default 5, or what Spring's own "
        "scripts already created)",
    )
    rekey = db_commands.add_parser(
        "rekey", help="recompute job instances' JOB_KEY by Spring Batch's rules"
    )
    _db_option(rekey)
    rekey.add_argument(
        "--dry-run", action="store_true", help="report what would change, change nothing"
    )
    init.add_argument(
        "--time-zone",
        metavar="ZONE",
        help="the zone TIMESTAMP columns hold times in, recorded in the repository (an IANA "
        "name; default UTC): the zone of the Spring Batch applications' JVMs",
    )
    upgrade = db_commands.add_parser("upgrade", help="migrate the schema")
    _db_option(upgrade)
    upgrade.add_argument(
        "--spring-schema",
        type=int,
        choices=[5, 6],
        help="also migrate the Spring Batch schema to this version (5 to 6, as Spring's "
        "migration script does)",
    )

    _add_run_arguments(
        commands.add_parser("run", help="run one job in this process", description=_RUN_DESCRIPTION)
    )

    add_serve_parser(commands)
    return parser


_RUN_DESCRIPTION = (
    "Run JOB with PARAMs (name=value[,type[,identifying]]) and exit with the mapped exit "
    "code. Launching with the identifying parameters of a FAILED or STOPPED instance "
    "restarts it."
)


def _add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("job", metavar="JOB", nargs="?", help="the job's name")
    run.add_argument("params", metavar="PARAM", nargs="*", help="name=value[,type[,identifying]]")
    _db_option(run)
    run.add_argument(
        "--jobs",
        metavar="MODULE",
        action="append",
        help="a module holding jobs (repeatable; env JOBOP_JOBS, comma separated); "
        "the bundled samples are always loaded (`none` alone: no job)",
    )
    run.add_argument("--next", action="store_true", help="apply the job's incrementer")
    for option, text in (
        ("--restart", "restart this FAILED or STOPPED execution"),
        ("--stop", "ask this running execution to stop"),
        ("--abandon", "abandon this stopped or failed execution"),
        ("--recover", "mark this execution, whose process died, FAILED"),
    ):
        run.add_argument(option, metavar="EXECUTION_ID", type=_execution_id, help=text)
    run.add_argument(
        "--force",
        action="store_true",
        help="with --recover: recover an execution no jobop node owns (a Spring Batch "
        "application's), whose owner you know is dead",
    )
    run.add_argument("--exit-codes", metavar="FILE", help="exit code map (TOML or JSON)")
    add_lease_arguments(run)
    run.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default %(default)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["serve"]:
        return serve_main(arguments[1:])
    if arguments[:1] == ["run"]:
        # Options may follow the parameters (`jobop run JOB a=1 --next`): parse intermixed,
        # which argparse cannot do below a sub-command.
        run = _Parser(prog="jobop run", description=_RUN_DESCRIPTION)
        _add_run_arguments(run)
        return _run(run, run.parse_intermixed_args(arguments[1:]))
    args = build_parser().parse_args(arguments)
    return _db(args)


def _fail(code: int, message: str) -> int:
    print(f"jobop: error: {message}", file=sys.stderr)
    return code


def _db(args: argparse.Namespace) -> int:
    try:
        engine = create_engine(args.db)
    except ValueError as error:
        return _fail(USAGE, str(error))
    try:
        if args.db_command == "init":
            context_format = args.context_format and ContextFormat(args.context_format)
            settings = init_schema(
                engine,
                context_format=context_format,
                spring_schema=args.spring_schema,
                time_zone=args.time_zone,
            )
            print(
                f"schema ready at {_safe_url(args.db)} (Spring Batch {settings.spring_schema} "
                f"schema, contexts as {settings.context_format.value}, times in "
                f"{settings.time_zone})"
            )
        elif args.db_command == "rekey":
            report = rekey(engine, dry_run=args.dry_run)
            verb = "would change" if args.dry_run else "changed"
            for instance_id, old, new in report.changed:
                print(f"instance {instance_id}: {old} -> {new}")
            print(
                f"{len(report.changed)} job keys {verb}, {report.unchanged} already right"
                + (
                    f", {len(report.skipped)} kept (parameter types jobop does not know: "
                    f"instances {', '.join(map(str, report.skipped))})"
                    if report.skipped
                    else ""
                )
            )
        else:
            version = upgrade_schema(engine, spring_schema=args.spring_schema)
            print(f"schema at version {version} at {_safe_url(args.db)}")
    except (SchemaVersionMismatch, RepositoryConfigurationError) as error:
        return _fail(REFUSED, str(error))
    except OperationalError as error:
        return _fail(UNREACHABLE, f"cannot reach the database: {error.orig}")
    finally:
        engine.dispose()
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(BatchFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    operations = [
        name
        for name in ("restart", "stop", "abandon", "recover")
        if getattr(args, name) is not None
    ]
    if len(operations) > 1:
        parser.error(f"--{operations[0]} and --{operations[1]} cannot be combined")
    operation = operations[0] if operations else None
    if operation is None and not args.job:
        parser.error("name a JOB, or use --restart, --stop, --abandon or --recover")
    if args.lease <= args.heartbeat_interval:
        parser.error("--lease must be longer than --heartbeat-interval")
    if operation is not None and (args.job or args.params or args.next):
        parser.error(f"--{operation} takes an execution id and no JOB, PARAM or --next")
    _setup_logging(args.log_level)
    try:
        overrides = load_exit_codes(args.exit_codes) if args.exit_codes else None
    except ValueError as error:
        return _fail(USAGE, str(error))
    try:
        repository = JobRepository.from_url(args.db, create_schema=True)
    except ValueError as error:
        return _fail(USAGE, str(error))
    except SchemaVersionMismatch as error:
        return _fail(REFUSED, str(error))
    except OperationalError as error:
        return _fail(UNREACHABLE, f"cannot reach the database: {error.orig}")
    try:
        if operation == "stop":
            nodes = NodeRepository(repository.engine)
            stopped = _audited(
                repository, "Stop", args.stop, lambda i: stop_execution(nodes, repository, i)
            )
            _print(_announced(repository, stopped))
            return 0
        if operation == "abandon":
            abandoned = _audited(repository, "Abandon", args.abandon, repository.abandon)
            _print(_announced(repository, abandoned))
            return 0
        if operation == "recover":
            recovered = _audited(
                repository,
                "Recover",
                args.recover,
                lambda i: _recover(repository, i, force=args.force),
            )
            _print(_announced(repository, recovered))
            return 0
        registry = _registry(args.jobs)
        execution = _launch(repository, registry, args)
    except (NoSuchJob, NoSuchJobExecution, NoSuchJobInstance) as error:
        return _fail(NOT_FOUND, str(error))
    except (InvalidJobParameters, JobParametersNotFound) as error:
        return _fail(USAGE, str(error))
    except JobopError as error:
        return _fail(REFUSED, str(error))
    except _ModuleError as error:
        return _fail(USAGE, str(error))
    except KeyboardInterrupt:
        return _fail(INTERRUPTED, "interrupted")
    finally:
        repository.engine.dispose()
    _print(execution)
    return map_exit_code(execution.exit_status.exit_code, overrides)


def _print(execution: JobExecution) -> None:
    print(execution.summary(), flush=True)


class _ModuleError(Exception):
    pass


def _registry(modules: list[str] | None) -> JobRegistry:
    if modules is None:
        modules = [m.strip() for m in os.environ.get("JOBOP_JOBS", "").split(",") if m.strip()]
    try:
        return job_registry(modules)
    except ImportError as error:
        raise _ModuleError(str(error)) from error
    except (TypeError, ValueError) as error:
        raise _ModuleError(str(error)) from error


def _launch(
    repository: JobRepository, registry: JobRegistry, args: argparse.Namespace
) -> JobExecution:
    if args.restart is not None:
        previous = repository.explorer.get_job_execution(args.restart)
        if previous is None:
            raise NoSuchJobExecution(f"no job execution with id {args.restart}")
        job = registry.get(previous.job_name)
        parameters = previous.job_parameters
    else:
        job = registry.get(args.job)
        parameters = JobParameters.parse(args.params)
        if args.next:
            parameters = next_parameters(job, repository.explorer, parameters)
    # A node like a server's, so that a survivor fails its execution should it die.
    member = NodeMember(
        NodeRepository(repository.engine),
        new_node_info("run", args.lease),
        heartbeat_interval=args.heartbeat_interval,
        recovers=False,
    )
    member.start()
    try:
        launcher = JobLauncher(repository, JobRunner(repository), node_id=member.node_id)
        stop = StopSignal()
        with _stop_on_signals(stop):
            return launcher.launch(
                job, parameters, restart=args.restart is not None, stop_signal=stop
            )
    finally:
        member.stop()


@contextmanager
def _stop_on_signals(stop: StopSignal) -> Iterator[None]:
    """The first SIGTERM/SIGINT asks the job to stop; a second one interrupts at once."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.warning("%s received: stopping at the next chunk boundary", signal.Signals(signum).name)
        stop.set()

    numbers = (signal.SIGTERM, signal.SIGINT)
    previous = [signal.signal(number, handler) for number in numbers]
    try:
        yield
    finally:
        for number, old in zip(numbers, previous, strict=True):
            signal.signal(number, old)


def _announced(repository: JobRepository, execution: JobExecution) -> JobExecution:
    """Tell the servers on the same PostgreSQL database (their watchers re-read it)."""
    if is_postgresql(repository.engine):
        announcer = Announcer(repository.engine)
        announcer.send(pack([f"{execution.id}:{execution.version}"], "e"))
        announcer.close()
    return execution


def _audited(
    repository: JobRepository,
    action: str,
    execution_id: int,
    body: Callable[[int], JobExecution],
) -> JobExecution:
    """A control action made on the database directly, in the audit trail as the server's
    are: the OS user as principal (no role: no server checked one), the success row in the
    action's own transaction, a failure row of its own."""
    event = AuditEvent(
        principal=f"os:{_os_user()}",
        role=None,
        action=action,
        arguments=json.dumps({"executionId": execution_id}),
        peer="local:jobop run",
        node=socket.gethostname(),
        execution_id=execution_id,
    )
    trail = AuditTrail(repository.engine)
    with auditing(event) as pending:
        try:
            execution = body(execution_id)
        except JobopError as error:
            trail.record(event.failed(error.reason, str(error)))
            raise
    if not pending.written:
        trail.record(event)  # nothing to write (it had just ended): still recorded
    log.info(
        "AUDIT-OK %s by %s from %s: execution %s", action, event.principal, event.peer, execution_id
    )
    return execution


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (containers)
        return str(os.getuid())


def _recover(repository: JobRepository, execution_id: int, *, force: bool) -> JobExecution:
    # The same rule as the Recover RPC's: refused while the owner's lease is live.
    return recover_execution(
        NodeRepository(repository.engine), repository, execution_id, force=force
    )


if __name__ == "__main__":
    sys.exit(main())
