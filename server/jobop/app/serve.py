"""`jobop serve`: the gRPC server and the HTTP surface, their configuration and their
graceful shutdown.

Start-up: create the schema when absent, load the jobs, start the operator's workers, the
grpc.aio server and, on the same event loop, the HTTP surface (REST, SSE, dashboard,
/metrics); print `jobop serve: listening on HOST:PORT` (gRPC) and then `jobop serve: http
on HOST:PORT` on stdout.

SIGTERM or SIGINT: health turns NOT_SERVING, new starts fail with UNAVAILABLE, running
executions are asked to stop and end STOPPED at their next chunk boundary within
--stop-grace seconds (any still running then are marked FAILED, restartable), watch
streams of those executions end after their terminal snapshot and other streams end with
UNAVAILABLE, and the process exits 0. A second signal exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import math
import os
import signal
import socket
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NoReturn

from jobop_client.exit_codes import REFUSED, UNREACHABLE, USAGE
from sqlalchemy.exc import OperationalError

from jobop.app.security import (
    Security,
    SecurityConfigurationError,
    add_security_arguments,
    check_exposure,
    is_loopback,
    security_from_arguments,
)
from jobop.app.security import positive_int as _positive_int
from jobop.batch import logcontext
from jobop.batch.logcontext import BatchFormatter
from jobop.batch.registry import JobRegistry
from jobop.domain.messages import MessageCode
from jobop.operator import ROLES, JobOperator
from jobop.operator.node import DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_LEASE
from jobop.operator.relay import DEFAULT_PROGRESS_INTERVAL
from jobop.repository import JobRepository, SchemaVersionMismatch, create_engine, init_schema

if TYPE_CHECKING:
    import grpc

    from jobop.service import ServerOptions
    from jobop.service.auth import Role
    from jobop.web import Metrics
    from jobop.web.connections import ConnectionLimits

log = logging.getLogger("jobop.serve")

DEFAULT_DB_URL = "sqlite:///jobop.db"
DEFAULT_GRPC_ADDRESS = "127.0.0.1:50051"
DEFAULT_HTTP_ADDRESS = "127.0.0.1:8080"
# Slow clients: complete request headers within this, idle keep-alive at most this long.
DEFAULT_HTTP_HEADER_TIMEOUT = 10.0
DEFAULT_HTTP_IDLE_TIMEOUT = 75.0
DEFAULT_HTTP_MAX_CONNECTIONS = 1024


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of 0 or more, not {text}")
    return value


def _positive_seconds(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


_DESCRIPTION = (
    "Serve the gRPC JobOperatorService (with health checking and reflection) and, on "
    "--http-address, the REST API, the dashboard and /metrics. SIGTERM or SIGINT shuts "
    "down gracefully: running executions end STOPPED within --stop-grace."
)


def add_lease_arguments(parser: argparse.ArgumentParser) -> None:
    """--heartbeat-interval and --lease, of `jobop serve` and `jobop run`."""
    parser.add_argument(
        "--heartbeat-interval",
        metavar="SECONDS",
        type=_positive_seconds,
        default=float(_env("JOBOP_HEARTBEAT_INTERVAL", str(DEFAULT_HEARTBEAT_INTERVAL))),
        help="how often this node renews its lease in the database (default %(default)s)",
    )
    parser.add_argument(
        "--lease",
        metavar="SECONDS",
        type=_positive_seconds,
        default=float(_env("JOBOP_LEASE", str(DEFAULT_LEASE))),
        help="a node whose heartbeat is older than this is dead: a survivor marks its "
        "running executions FAILED (default %(default)s)",
    )


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        default=_env("JOBOP_DB_URL", DEFAULT_DB_URL),
        help="repository database (env JOBOP_DB_URL; default %(default)s)",
    )
    parser.add_argument(
        "--grpc-address",
        metavar="HOST:PORT",
        default=_env("JOBOP_GRPC_ADDRESS", DEFAULT_GRPC_ADDRESS),
        help="where to serve gRPC (env JOBOP_GRPC_ADDRESS; default %(default)s; port 0 picks "
        "a free port)",
    )
    parser.add_argument(
        "--http-address",
        metavar="HOST:PORT",
        default=_env("JOBOP_HTTP_ADDRESS", DEFAULT_HTTP_ADDRESS),
        help="where to serve HTTP: REST API, dashboard, /metrics (env JOBOP_HTTP_ADDRESS; "
        "default %(default)s; port 0 picks a free port; empty: no HTTP)",
    )
    parser.add_argument(
        "--http-allowed-hosts",
        metavar="NAMES",
        default=_env("JOBOP_HTTP_ALLOWED_HOSTS", ""),
        help="host names HTTP requests may name in Host besides IP addresses and localhost, "
        "comma separated, * for any (env JOBOP_HTTP_ALLOWED_HOSTS); checked when no "
        "credentials are configured or when this is given",
    )
    parser.add_argument(
        "--http-header-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=float(_env("JOBOP_HTTP_HEADER_TIMEOUT", str(DEFAULT_HTTP_HEADER_TIMEOUT))),
        help="close an HTTP connection whose request headers are not complete this long "
        "after it opened or after its next request began (default %(default)s)",
    )
    parser.add_argument(
        "--http-idle-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=float(_env("JOBOP_HTTP_IDLE_TIMEOUT", str(DEFAULT_HTTP_IDLE_TIMEOUT))),
        help="close an idle keep-alive HTTP connection after this long (default %(default)s)",
    )
    parser.add_argument(
        "--http-max-connections",
        metavar="N",
        type=_positive_int,
        default=int(_env("JOBOP_HTTP_MAX_CONNECTIONS", str(DEFAULT_HTTP_MAX_CONNECTIONS))),
        help="open HTTP connections at most; more are answered 503 (default %(default)s)",
    )
    parser.add_argument(
        "--jobs",
        metavar="MODULE",
        action="append",
        help="a module holding jobs (repeatable; env JOBOP_JOBS, comma separated); the "
        "bundled samples are always loaded. `none` alone: no job at all (a console of a "
        "repository, a Spring Batch application's say)",
    )
    parser.add_argument(
        "--max-concurrent-executions",
        metavar="N",
        type=_positive_int,
        default=int(_env("JOBOP_MAX_CONCURRENT_EXECUTIONS", "4")),
        help="worker threads running executions; more wait as STARTING (default %(default)s)",
    )
    parser.add_argument(
        "--role",
        choices=ROLES,
        default=_env("JOBOP_ROLE", "all"),
        help="api: serve only; worker: run only; all: both (default %(default)s)",
    )
    parser.add_argument(
        "--bulk-rate",
        metavar="PER_SECOND",
        type=_rate,
        # A string: argparse checks it with _rate, so a bad JOBOP_BULK_RATE is refused too.
        default=_env("JOBOP_BULK_RATE", "200"),
        help="executions per second that bulk operations act on, on this node, all "
        "operations together; 0: no limit (env JOBOP_BULK_RATE; default %(default)s)",
    )
    parser.add_argument(
        "--stop-grace",
        metavar="SECONDS",
        type=_seconds,
        default=float(_env("JOBOP_STOP_GRACE", "30")),
        help="on shutdown, how long running executions get to stop (default %(default)s)",
    )
    parser.add_argument(
        "--keepalive-time",
        metavar="SECONDS",
        type=_positive_seconds,
        default=60.0,
        help="HTTP/2 keepalive ping interval (default %(default)s)",
    )
    parser.add_argument(
        "--keepalive-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=20.0,
        help="close a connection whose keepalive ping is unanswered this long "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--max-connection-age",
        metavar="SECONDS",
        type=_seconds,
        default=0.0,
        help="close connections after this age so clients rebalance; 0: never (default)",
    )
    parser.add_argument(
        "--max-connection-age-grace",
        metavar="SECONDS",
        type=_seconds,
        default=30.0,
        help="time given to calls on a connection closed for its age (default %(default)s)",
    )
    parser.add_argument(
        "--stream-heartbeat",
        metavar="SECONDS",
        type=_positive_seconds,
        default=15.0,
        help="heartbeat interval of idle watch streams (default %(default)s; at most 30)",
    )
    parser.add_argument(
        "--watch-poll-interval",
        metavar="SECONDS",
        type=_positive_seconds,
        default=2.0,
        help="how often watch streams re-read the database for changes made by other "
        "processes (default %(default)s)",
    )
    add_lease_arguments(parser)
    parser.add_argument(
        "--handoff",
        action="store_true",
        default=_env("JOBOP_HANDOFF", "") not in ("", "0", "false"),
        help="on shutdown (PostgreSQL), leave what this node ran or had claimed for the "
        "other nodes: its stopped executions are restarted there",
    )
    parser.add_argument(
        "--progress-notify-interval",
        metavar="SECONDS",
        type=_positive_seconds,
        default=DEFAULT_PROGRESS_INTERVAL,
        help="PostgreSQL: announce an execution's progress to other nodes at most this "
        "often (status changes always at once; default %(default)s)",
    )
    parser.add_argument(
        "--request-wait-timeout",
        metavar="SECONDS",
        type=_positive_seconds,
        default=30.0,
        help="how long a retried request (same request_id) waits for its first attempt, "
        "started on another server, before failing with ABORTED (default %(default)s)",
    )
    parser.add_argument(
        "--rpc-threads",
        metavar="N",
        type=_positive_int,
        default=16,
        help="threads for the database work of RPCs (default %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default %(default)s",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        default=_env("JOBOP_LOG_FORMAT", "text"),
        help="text: one readable line per record; json: one JSON object per line "
        "(env JOBOP_LOG_FORMAT; default %(default)s)",
    )
    add_security_arguments(parser)


def add_serve_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `serve` to the `jobop` command's sub-commands (an argparse subparsers action)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve", help="run the gRPC and HTTP server", description=_DESCRIPTION
    )
    add_serve_arguments(parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jobop serve", description=_DESCRIPTION)
    add_serve_arguments(parser)
    return parser


# `--jobs none`: register no job (a console of a repository: a Spring Batch application's).
NO_JOBS = "none"


def job_registry(modules: Sequence[str]) -> JobRegistry:
    """The jobs of `--jobs`: the samples, every `jobop.jobs` entry point, then `modules`;
    none at all for `--jobs none`, which cannot be combined with modules."""
    if NO_JOBS in modules:
        if any(module != NO_JOBS for module in modules):
            raise ValueError("--jobs none registers no job: it cannot be given with job modules")
        return JobRegistry()
    return JobRegistry.default(modules)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """`jobop serve [OPTIONS]`; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.lease <= args.heartbeat_interval:
        parser.error("--lease must be longer than --heartbeat-interval")
    if args.stream_heartbeat > 30:
        parser.error("--stream-heartbeat must be at most 30 seconds (proxies close idle streams)")
    _setup_logging(args.log_level, args.log_format)
    modules = args.jobs
    if modules is None:
        modules = [m.strip() for m in os.environ.get("JOBOP_JOBS", "").split(",") if m.strip()]
    try:
        registry = job_registry(modules)
    except ImportError as error:
        return _fail(USAGE, str(error))
    except (TypeError, ValueError) as error:
        return _fail(USAGE, str(error))
    try:
        security = security_from_arguments(args)
    except SecurityConfigurationError as error:
        return _fail(USAGE, str(error))
    refusal = check_exposure(args.grpc_address, security, args.insecure)
    if refusal is None and args.http_address:
        refusal = check_exposure(args.http_address, security, args.insecure, "--http-address")
    if refusal is not None:
        return _fail(USAGE, refusal)
    try:
        check_address_free(args.grpc_address)
    except OSError as error:
        return _fail(USAGE, str(error))
    try:
        engine = create_engine(args.db, pool_size=args.rpc_threads + args.max_concurrent_executions)
    except ValueError as error:
        return _fail(USAGE, str(error))
    try:
        init_schema(engine)
    except SchemaVersionMismatch as error:
        engine.dispose()
        return _fail(REFUSED, str(error))
    except OperationalError as error:
        engine.dispose()
        log.error(
            "cannot reach the database: %s",
            error.orig,
            extra=MessageCode.DATABASE_UNAVAILABLE.extra,
        )
        return _fail(UNREACHABLE, f"cannot reach the database: {error.orig}")
    # Imported here: `jobop run` and `jobop db` build this parser and need no gRPC.
    from jobop.service import ServerOptions
    from jobop.web import Metrics, tracing_from_environment
    from jobop.web.connections import ConnectionLimits

    metrics = Metrics()
    try:
        tracing = tracing_from_environment()
    except ImportError as error:
        engine.dispose()
        return _fail(USAGE, f"OTEL_* asks for traces, but the otel extra is missing: {error}")
    except ValueError as error:
        engine.dispose()
        return _fail(USAGE, str(error))
    observers = [metrics.observer, *([tracing.observer] if tracing else [])]
    step_listeners = [metrics.step_listener, *([tracing.step_listener] if tracing else [])]
    interceptors = [*([tracing.interceptor] if tracing else []), metrics.interceptor]

    repository = JobRepository(engine)
    operator = JobOperator(
        repository,
        registry,
        max_concurrent_executions=args.max_concurrent_executions,
        role=args.role,
        request_wait_timeout=args.request_wait_timeout,
        heartbeat_interval=args.heartbeat_interval,
        lease=args.lease,
        progress_notify_interval=args.progress_notify_interval,
        observers=observers,
        step_listeners=step_listeners,
        bulk_rate=args.bulk_rate,
    )
    options = ServerOptions(
        address=args.grpc_address,
        heartbeat_interval=args.stream_heartbeat,
        poll_interval=args.watch_poll_interval,
        keepalive_time=args.keepalive_time,
        keepalive_timeout=args.keepalive_timeout,
        max_connection_age=args.max_connection_age,
        max_connection_age_grace=args.max_connection_age_grace,
        tls=security.tls,
        authenticator=security.authenticator,
        limits=security.limits,
    )
    _log_security(args.grpc_address, security)
    try:
        return asyncio.run(
            _serve(
                operator,
                options,
                args.rpc_threads,
                args.stop_grace,
                metrics,
                args.http_address,
                interceptors,
                args.handoff,
                security.metrics_role,
                _allowed_hosts(args.http_allowed_hosts, security),
                ConnectionLimits(
                    args.http_header_timeout, args.http_idle_timeout, args.http_max_connections
                ),
            )
        )
    finally:
        if tracing is not None:
            tracing.shutdown()  # flushes the spans still batched
        engine.dispose()


async def _serve(
    operator: JobOperator,
    options: ServerOptions,
    rpc_threads: int,
    stop_grace: float,
    metrics: Metrics,
    http_address: str,
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]],
    handoff: bool,
    metrics_role: Role | None,
    allowed_hosts: frozenset[str] | None,
    http_limits: ConnectionLimits,
) -> int:
    from jobop.service import create_server
    from jobop.web import HttpServer, create_app
    from jobop.web.health import grpc_readiness
    from jobop.web.origin import RequestGuard
    from jobop.web.security import HttpSecurity

    executor = ThreadPoolExecutor(max_workers=rpc_threads, thread_name_prefix="jobop-rpc")
    loop = asyncio.get_running_loop()
    serve_api = operator.role != "worker"
    http: HttpServer | None = None
    try:
        server = await create_server(
            operator, executor, options, serve_api=serve_api, interceptors=interceptors
        )
        metrics.follow_streams(lambda: server.servicer.active_streams)
        metrics.follow_node(operator.node.heartbeat_ages)
        launches = operator.repository.launches
        metrics.follow_launches(lambda: (launches.statements, launches.launches))
        operator.scheduler.add_observer(metrics.schedules)  # fires by outcome, lateness
        if http_address:
            assert server.security is not None
            # The gRPC interceptor's limit objects: one stream count and Start bucket per
            # caller, whichever surface it calls.
            security = HttpSecurity(
                options.authenticator,
                server.security.streams,
                server.security.start_rate,
                server.servicer.audit.refused,
                metrics_role,
            )
            app = create_app(
                server.servicer,
                operator,
                metrics,
                security=security,
                serve_api=serve_api,
                guard=RequestGuard(allowed_hosts),
                readiness=grpc_readiness(server.health),
            )
            # The same files as gRPC's, reloaded on change and on SIGHUP the same way.
            context = options.tls.http_context() if options.tls is not None else None
            http = HttpServer(app, http_address, http_limits, context)
            await http.start()
    except (OSError, RuntimeError, ValueError) as error:  # ValueError: TLS files
        operator.shutdown(0)
        executor.shutdown(wait=False)
        return _fail(USAGE, str(error))
    await server.server.start()
    host = options.address.rpartition(":")[0]
    print(f"jobop serve: listening on {host}:{server.port}", flush=True)
    if http is not None:
        print(f"jobop serve: http on {http.host}:{http.port}", flush=True)
        log.info("serving HTTP on %s://%s:%s/", http.scheme, http.host, http.port)
    log.info(
        "serving gRPC on %s:%s (role %s, %d workers, node %s)",
        host,
        server.port,
        operator.role,
        operator.max_concurrent_executions,
        logcontext.node_id(),
        extra=MessageCode.SERVER_STARTED.extra,
    )

    stopping = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stopping.is_set():
            log.warning("%s received again: exiting at once", signal.Signals(signum).name)
            os._exit(128 + signum)
        log.info(
            "%s received: shutting down",
            signal.Signals(signum).name,
            extra=MessageCode.SERVER_STOPPING.extra,
        )
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
    monitor = asyncio.create_task(_watch_database(operator, server, stopping))
    if options.tls is not None:
        # New handshakes get the re-read certificate; open connections keep theirs.
        loop.add_signal_handler(signal.SIGHUP, options.tls.request_reload)
    try:
        await stopping.wait()
        monitor.cancel()
        # Order matters: load balancers first stop sending, then no new work starts, then
        # the running work stops while its watchers still see it end.
        await server.health.enter_graceful_shutdown()
        operator.refuse_starts()
        stopped = await asyncio.to_thread(operator.shutdown, stop_grace, handoff=handoff)
        if not stopped:
            log.warning("some executions did not stop within %.1f s", stop_grace)
        await server.close_streams()
        if http is not None:
            await http.stop()
        await server.server.stop(grace=5.0)
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)
        executor.shutdown(wait=True, cancel_futures=True)
    log.info("shut down", extra=MessageCode.SERVER_STOPPED.extra)
    return 0


async def _watch_database(operator: JobOperator, server: Any, stopping: asyncio.Event) -> None:
    """Health follows the database: NOT_SERVING while heartbeats cannot reach it."""
    serving = True
    interval = min(1.0, operator.node.heartbeat_interval)
    while not stopping.is_set():
        await asyncio.sleep(interval)
        healthy = operator.node.healthy
        if healthy != serving and not stopping.is_set():
            serving = healthy
            log.warning(
                "database %s: health %s",
                "back" if healthy else "unreachable",
                "SERVING" if healthy else "NOT_SERVING",
            )
            await server.set_serving(healthy)


def _allowed_hosts(text: str, security: Security) -> frozenset[str] | None:
    """The Host names HTTP serves; None: not checked (credentials guard the server, and a
    rebound name cannot pass a certificate check)."""
    from jobop.web.origin import parse_allowed_hosts

    if text:
        return parse_allowed_hosts(text)
    if security.authenticator.enabled or security.tls is not None:
        return None
    return frozenset()


def check_address_free(address: str) -> None:
    """OSError naming the address when another process listens on it already.

    gRPC would report a busy port only as a raw log line of its core, so look first; the
    server's own bind (without SO_REUSEPORT) still refuses should another process win the
    port in between."""
    if address.startswith("unix:"):
        return
    host_text, _, port_text = address.rpartition(":")
    host = host_text.strip("[]") or None
    try:
        port = int(port_text)
    except ValueError:
        raise OSError(f"cannot listen on {address}: not HOST:PORT") from None
    if port == 0:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise OSError(f"cannot listen on {address}: {error.strerror}") from None
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            # As a server binds: TIME_WAIT leftovers of an earlier run are no conflict.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as error:
                # Other failures (an address family the host lacks) are gRPC's to judge.
                if error.errno == errno.EADDRINUSE:
                    raise OSError(
                        f"cannot listen on {address}: the address is already in use "
                        "(another jobop serve?)"
                    ) from None


def _log_security(address: str, security: Security) -> None:
    tls = security.tls
    transport = "plaintext" if tls is None else ("mutual TLS" if tls.mutual else "TLS")
    if security.authenticator.enabled:
        log.info("%s, callers authenticated by %s", transport, security.authenticator.describe())
        if tls is None and security.authenticator.tokens is not None and not is_loopback(address):
            log.warning("bearer tokens reach %s in plaintext: add --tls-cert, --tls-key", address)
    elif is_loopback(address):
        log.info(
            "%s, no credentials configured: loopback only, every local caller may do anything",
            transport,
        )
    else:
        log.warning(
            "%s, no credentials configured and --insecure: anyone who reaches %s may do anything",
            transport,
            address,
        )


def _fail(code: int, message: str) -> int:
    print(f"jobop serve: error: {message}", file=sys.stderr)
    return code


def _setup_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logcontext.JsonFormatter() if log_format == "json" else BatchFormatter())
    # Records made before the runner installs its record factory get the context here.
    handler.addFilter(logcontext.BatchContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


if __name__ == "__main__":
    sys.exit(serve_main())
