"""grpc_start: how fast a real `jobop serve` answers and launches, over gRPC.

Starts a throwaway PostgreSQL cluster (tests/pgcluster.py) and a `jobop serve` subprocess
on it, then measures in the same run, from one asyncio client process:

1. the latency of an empty unary RPC (grpc.health.v1 Health/Check), p50/p99;
2. `Start` of `demoTaskletJob durationMs=0`, one at a time on an idle server: the Start
   RPC's own latency and Start -> STARTED (from sending Start until the Start response or
   a WatchExecutions stream opened beforehand shows the execution past STARTING), p50/p99;
3. no-op job throughput: `--jobs` executions of `demoTaskletJob durationMs=0`, each with
   its own `run.id`, started with bounded concurrency; jobs/s from the first Start to the
   last COMPLETED, once detecting completion with a WatchExecutions stream and once by
   polling GetRunningExecutions sparsely (no stream open);
4. on PostgreSQL, the SQL statements the server runs per launch (log_statement=all for
   `--statement-jobs` sequential jobs, the cluster's log split by backend pid).

Prints one table with the targets (Start RPC p50 within 3x the empty RPC; >= 500 jobs/s).
Timings depend on the machine's load; nothing here fails on a timing.

    .venv/bin/python -m bench.grpc_start
    .venv/bin/python -m bench.grpc_start --db sqlite
    .venv/bin/python -m bench.grpc_start --profile /tmp/jobop-server   # py-spy, see README
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import importlib.util
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import grpc.aio
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from jobop_client import AsyncJobOperatorClient
from jobop_client.proto import job_operator_pb2 as pb

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's console scripts: jobop, py-spy
JOB = "demoTaskletJob"
RUNNING = {pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING}
SERVE_TIMEOUT = 60.0
WARM_UP_STARTS = 20
TARGET_START_RATIO = 3.0
TARGET_JOBS_PER_SECOND = 500.0
TARGET_BASELINE_RATIO = 1.5
GOAL_BASELINE_RATIO = 2.5


# -- database and server processes ---------------------------------------------------------


def _load_pgcluster() -> ModuleType:
    """tests/pgcluster.py, the suite's throwaway cluster, loaded by path."""
    spec = importlib.util.spec_from_file_location("pgcluster", ROOT / "tests" / "pgcluster.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load tests/pgcluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Database:
    url: str
    kind: str
    conninfo: str | None = None  # PostgreSQL
    log_path: Path | None = None  # the cluster's log, when this run started the cluster
    sqlite_path: Path | None = None  # SQLite
    cluster: Any = None  # tests/pgcluster.Cluster, for the baseline's own database

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """One read on a connection of our own, never through the server."""
        if self.sqlite_path is not None:
            with contextlib.closing(sqlite3.connect(self.sqlite_path)) as conn:
                return conn.execute(sql).fetchall()
        assert self.conninfo is not None
        with psycopg.connect(self.conninfo) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the cluster's live processes (postmaster and children),
        when this run started the cluster; None otherwise."""
        if self.log_path is None:
            return None
        pid_file = self.log_path.parent / "data" / "postmaster.pid"  # tests/pgcluster.py
        try:
            postmaster = int(pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        total = 0.0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                pid, rest = stat.read_text().split(" ", 1)
            except OSError:
                continue  # ended meanwhile
            fields = rest.rsplit(")", 1)[1].split()
            if int(pid) == postmaster or int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def current_xid(self) -> int:
        """PostgreSQL's next transaction id: its growth counts write transactions."""
        if not self.conninfo:
            return 0
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_xact_id()::text::bigint").fetchone()
        return int(row[0]) if row else 0


@contextlib.contextmanager
def database(kind: str, pg_url: str | None, folder: Path) -> Iterator[Database]:
    if kind == "sqlite":
        path = folder / "jobop.db"
        yield Database(f"sqlite:///{path}", kind, sqlite_path=path)
        return
    pgcluster = _load_pgcluster()
    if pg_url:
        os.environ["JOBOP_TEST_PG_URL"] = pg_url  # start_cluster() then uses that server
    cluster = pgcluster.start_cluster()
    name = f"jobop_bench_grpc_{os.getpid()}"
    try:
        url = cluster.create_database(name)
        log_path = cluster.datadir / "server.log" if cluster.datadir else None
        yield Database(url, kind, cluster.conninfo(name), log_path, cluster=cluster)
    finally:
        with contextlib.suppress(Exception):
            cluster.drop_database(name)
        pgcluster.stop_cluster(cluster)


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    target: str
    log_path: Path

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far, all threads (Linux /proc)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def threads(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        return 0


@contextlib.contextmanager
def jobop_serve(
    db: Database,
    workers: int,
    folder: Path,
    log_level: str,
    name: str = "jobop-serve",
    options: Sequence[str] = (),
    new_session: bool = False,
) -> Iterator[Server]:
    """The installed `jobop serve` on a free port, SERVING; SIGTERM at the end. With
    `new_session`, in a session of its own: the kernel's autogroup scheduling then weighs
    it as a program of its own, as a service started by an init system is, rather than as
    one more process of the bench's session, whose processes share one fair share of the
    cores with every other session on a shared machine."""
    target = f"127.0.0.1:{_free_port()}"
    command = [str(BIN / "jobop"), "serve", "--db", db.url, "--grpc-address", target]
    command += ["--http-address", f"127.0.0.1:{_free_port()}"]
    command += ["--max-concurrent-executions", str(workers), "--log-level", log_level]
    command += options
    log_path = folder / f"{name}.log"
    env = {name: value for name, value in os.environ.items() if not name.startswith("JOBOP_")}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=new_session,
        )
    server = Server(process, target, log_path)
    try:
        _wait_serving(server)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        if code != 0:
            print(f"warning: jobop serve exited {code}; see {log_path}", file=sys.stderr)


def _wait_serving(server: Server) -> None:
    # Poll every 50 ms, not after gRPC's default 1 s reconnect back-off.
    options = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.max_reconnect_backoff_ms", 100)]
    deadline = time.monotonic() + SERVE_TIMEOUT
    with grpc.insecure_channel(server.target, options=options) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(f"jobop serve exited:\n{server.log_path.read_text()}")
            with contextlib.suppress(grpc.RpcError):
                response = stub.Check(health_pb2.HealthCheckRequest(), timeout=1.0)
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            time.sleep(0.05)
    raise RuntimeError(f"jobop serve not SERVING within {SERVE_TIMEOUT:g} s")


# -- what the client sees --------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


_run_ids = iter(range(int(time.time() * 1000), 1 << 62))


def new_parameters() -> dict[str, Any]:
    # A fresh run.id makes a new instance; ints travel as long parameters.
    return {"durationMs": 0, "run.id": next(_run_ids)}


class Tracker:
    """What a WatchExecutions stream showed: when each execution was first seen past
    STARTING, and when it was first seen finished."""

    def __init__(self) -> None:
        self.started: dict[int, float] = {}
        self.finished: dict[int, tuple[float, int]] = {}
        self.events = 0
        self.expected: set[int] = set()
        self.expected_count = 0
        self.all_done = asyncio.Event()
        self._done = 0
        self._waiters: dict[int, asyncio.Future[None]] = {}

    def observe(self, execution: pb.JobExecution, now: float) -> None:
        self.events += 1
        if execution.status != pb.BATCH_STATUS_STARTING:
            self.started.setdefault(execution.id, now)
        if execution.status in RUNNING or execution.id in self.finished:
            return
        self.finished[execution.id] = (now, execution.status)
        waiter = self._waiters.pop(execution.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if execution.id in self.expected:
            self._one_done()

    def expect(self, execution_id: int) -> None:
        """An execution to count towards all_done (its end may have been seen already)."""
        self.expected.add(execution_id)
        if execution_id in self.finished:
            self._one_done()

    def _one_done(self) -> None:
        self._done += 1
        if self.expected_count and self._done >= self.expected_count:
            self.all_done.set()

    async def wait_finished(self, execution_id: int, timeout: float) -> None:
        if execution_id in self.finished:
            return
        loop = asyncio.get_running_loop()
        waiter = self._waiters.setdefault(execution_id, loop.create_future())
        await asyncio.wait_for(waiter, timeout)


@contextlib.asynccontextmanager
async def watching(client: AsyncJobOperatorClient) -> AsyncIterator[Tracker]:
    """A WatchExecutions(JOB) stream feeding a Tracker for the duration of the block."""
    tracker = Tracker()

    async def follow() -> None:
        async for execution in client.watch_executions(JOB, timeout=None):
            tracker.observe(execution, time.perf_counter())

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.3)  # let the stream open before anything starts
    try:
        yield tracker
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def empty_rpc_latency(target: str, samples: int) -> list[float]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        for _ in range(max(50, samples // 10)):  # warm-up
            await stub.Check(request, timeout=10)
        latencies = []
        for _ in range(samples):
            began = time.perf_counter()
            await stub.Check(request, timeout=10)
            latencies.append(time.perf_counter() - began)
    return latencies


@dataclass
class StartLatency:
    rpc: list[float] = field(default_factory=list)
    to_started: list[float] = field(default_factory=list)
    already_started: int = 0  # the Start response itself was past STARTING
    first_seen_finished: int = 0  # the stream's first sight was already the end


async def start_latency(client: AsyncJobOperatorClient, samples: int) -> StartLatency:
    """One Start at a time, each after the previous execution ended (an idle server)."""
    result = StartLatency()
    async with watching(client) as tracker:
        for index in range(samples + WARM_UP_STARTS):
            began = time.perf_counter()
            execution = await client.start(JOB, new_parameters())
            answered = time.perf_counter()
            await tracker.wait_finished(execution.id, 60)
            if index < WARM_UP_STARTS:
                continue
            result.rpc.append(answered - began)
            if execution.status != pb.BATCH_STATUS_STARTING:
                result.already_started += 1
                result.to_started.append(answered - began)
                continue
            seen = tracker.started[execution.id]
            result.first_seen_finished += tracker.finished[execution.id][0] == seen
            result.to_started.append(seen - began)
    return result


@dataclass
class QuietStarts:
    """Starts one at a time, and the empty RPC measured alike (see quiet_start_latency)."""

    starts: list[float] = field(default_factory=list)
    empty: list[float] = field(default_factory=list)


async def quiet_start_latency(
    client: AsyncJobOperatorClient, target: str, samples: int
) -> QuietStarts:
    """The Start RPC alone, one at a time, with no stream open: after each Start, the
    execution's end is awaited by polling GetJobExecution (outside the measured call).

    Between one execution's end and the next Start, one empty RPC (Health/Check) is
    measured too: the floor of a call made as the Starts are, after a job has run on a
    server otherwise idle. On a virtual machine whose idle cores wake slowly, it is
    higher than the floor of calls back to back (empty_rpc_latency)."""
    result = QuietStarts()
    async with grpc.aio.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        for index in range(samples + WARM_UP_STARTS):
            began = time.perf_counter()
            execution = await client.start(JOB, new_parameters())
            answered = time.perf_counter()
            for _ in range(30_000):  # bounded: 60 s at most
                if (await client.get_job_execution(execution.id)).status not in RUNNING:
                    break
                await asyncio.sleep(0.002)
            empty_began = time.perf_counter()
            await health.Check(request, timeout=10)
            empty_answered = time.perf_counter()
            if index >= WARM_UP_STARTS:
                result.starts.append(answered - began)
                result.empty.append(empty_answered - empty_began)
    return result


@dataclass
class Throughput:
    jobs: int
    seconds: float  # first Start sent -> last COMPLETED seen
    start_seconds: float  # first Start sent -> last Start answered
    completed: int
    stream_events: int
    server_cpu: float
    client_cpu: float
    threads: int
    db_cpu: float | None = None  # the cluster's processes, when this run started it
    db_seconds: float | None = None  # first CREATE_TIME -> last END_TIME in the database
    write_transactions: int | None = None  # PostgreSQL

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else float("nan")


async def _start_all(
    client: AsyncJobOperatorClient,
    jobs: int,
    concurrency: int,
    on_started: Callable[[pb.JobExecution], None],
) -> tuple[list[int], float]:
    semaphore = asyncio.Semaphore(concurrency)
    ids: list[int] = []

    async def one() -> None:
        async with semaphore:
            execution = await client.start(JOB, new_parameters(), timeout=120)
        ids.append(execution.id)
        on_started(execution)

    await asyncio.gather(*(one() for _ in range(jobs)))
    return ids, time.perf_counter()


async def throughput(
    client: AsyncJobOperatorClient,
    server: Server,
    db: Database,
    args: argparse.Namespace,
    mode: str,
) -> Throughput:
    xid_before = db.current_xid()
    cpu_before = server.cpu_seconds()
    db_cpu_before = db.cpu_seconds()
    client_cpu_before = time.process_time()
    completed = -1  # unless the stream told, read from the database below
    events = 0
    if mode == "watch":
        async with watching(client) as tracker:
            tracker.expected_count = args.jobs
            began = time.perf_counter()
            ids, all_started = await _start_all(
                client, args.jobs, args.concurrency, lambda e: tracker.expect(e.id)
            )
            threads = server.threads()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tracker.all_done.wait(), args.timeout)
            ends = [tracker.finished[i] for i in ids if i in tracker.finished]
            ended = max((at for at, _ in ends), default=time.perf_counter())
            completed = sum(1 for _, status in ends if status == pb.BATCH_STATUS_COMPLETED)
            events = tracker.events
    else:
        began = time.perf_counter()
        ids, all_started = await _start_all(client, args.jobs, args.concurrency, lambda e: None)
        threads = server.threads()
        ours = set(ids)
        deadline = time.monotonic() + args.timeout
        ended = time.perf_counter()
        while time.monotonic() < deadline:
            running = ours.intersection(await client.get_running_executions(JOB))
            ended = time.perf_counter()
            if not running:
                break
            await asyncio.sleep(0.05)  # sparse: the clock stops within 50 ms of the end
    result = Throughput(
        jobs=args.jobs,
        seconds=ended - began,
        start_seconds=all_started - began,
        completed=completed,
        stream_events=events,
        server_cpu=server.cpu_seconds() - cpu_before,
        client_cpu=time.process_time() - client_cpu_before,
        threads=threads,
    )
    db_cpu_after = db.cpu_seconds()
    # (Only live processes count: a backend that ended meanwhile takes its CPU along.)
    if db_cpu_before is not None and db_cpu_after is not None and db_cpu_after > db_cpu_before:
        result.db_cpu = db_cpu_after - db_cpu_before
    if db.conninfo:
        result.write_transactions = db.current_xid() - xid_before - 1
    # The outcome and the server's own clock, from the database.
    rows = db.query(
        "SELECT status, create_time, end_time FROM batch_job_execution "
        f"WHERE job_execution_id IN ({', '.join(str(int(i)) for i in ids)})"
    )
    if result.completed < 0:
        result.completed = sum(1 for row in rows if row[0] == "COMPLETED")
    created = [_timestamp(row[1]) for row in rows if row[1] is not None]
    ended_at = [_timestamp(row[2]) for row in rows if row[2] is not None]
    if created and ended_at:
        result.db_seconds = (max(ended_at) - min(created)).total_seconds()
    return result


def _timestamp(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


# -- statements per launch (PostgreSQL) --------------------------------------------------------

_STATEMENT = re.compile(r"\[(\d+)\] LOG:  (?:statement|execute [^:]*): (.*)$")
# The first table a statement names (not a set-returning function such as unnest).
_TABLE = re.compile(
    r"\b(?:FROM|INTO|UPDATE|JOIN)\s+\"?(?!unnest\b|jsonb_to_recordset\b)([A-Za-z_]\w*)", re.I
)


@dataclass
class Statements:
    jobs: int
    total: int
    background: int  # in an idle window as long as the measured one
    by_kind: collections.Counter[str]


async def statements_per_launch(
    client: AsyncJobOperatorClient, db: Database, jobs: int
) -> Statements | None:
    """Runs `jobs` jobs one at a time with log_statement=all and counts the server's
    statements in the cluster's log (no stream open; completion read on our own
    connection, whose statements are left out by backend pid)."""
    if not db.conninfo or not db.log_path or not db.log_path.exists():
        return None
    marker = uuid.uuid4().hex
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        own_pid = int(row[0]) if row else -1
        conn.execute("ALTER SYSTEM SET log_statement = 'all'")
        conn.execute("SELECT pg_reload_conf()")
        await asyncio.sleep(0.5)  # every backend has reloaded
        try:
            conn.execute(f"SELECT 'busy-{marker}'")
            began = time.perf_counter()
            for _ in range(jobs):
                execution = await client.start(JOB, new_parameters())
                for _ in range(5000):  # bounded: 10 s per job at most
                    row = conn.execute(
                        "SELECT status FROM batch_job_execution WHERE job_execution_id = %s",
                        (execution.id,),
                    ).fetchone()
                    if row and row[0] not in ("STARTING", "STARTED", "STOPPING"):
                        break
                    await asyncio.sleep(0.002)
            measured = time.perf_counter() - began
            conn.execute(f"SELECT 'idle-{marker}'")
            await asyncio.sleep(measured)  # as long again, idle: the background rate
            conn.execute(f"SELECT 'end-{marker}'")
        finally:
            conn.execute("ALTER SYSTEM RESET log_statement")
            conn.execute("SELECT pg_reload_conf()")
    await asyncio.sleep(0.3)  # the log is written
    phase = ""
    busy: list[str] = []
    idle = 0
    log_lines: list[str] = []
    for line in db.log_path.read_text(errors="replace").splitlines():
        if line.startswith("\t") and log_lines:  # a multi-line statement goes on
            log_lines[-1] += " " + line.strip()
        else:
            log_lines.append(line)
    for line in log_lines:
        if marker in line:
            phase = line.split(f"-{marker}")[0].rsplit("'", 1)[-1]
            if phase == "end":
                break
            continue
        match = _STATEMENT.search(line)
        if not phase or not match or int(match.group(1)) == own_pid:
            continue
        if phase == "busy":
            busy.append(match.group(2))
        else:
            idle += 1
    kinds: collections.Counter[str] = collections.Counter()
    for sql in busy:
        verb = sql.split(None, 1)[0].upper() if sql.strip() else "?"
        table = _TABLE.search(sql)
        kinds[f"{verb} {table.group(1).upper()}" if table else sql[:60]] += 1
    return Statements(jobs, len(busy), idle, kinds)


# -- profiling -------------------------------------------------------------------------------


@contextlib.contextmanager
def profiling(server: Server, path: str | None, mode: str) -> Iterator[None]:
    """py-spy record of the server during the block, as collapsed stacks in `path`.

    mode "gil": only the thread holding the GIL (the budget a GIL-bound server spends);
    "active": every thread that is not idle; "wall": every thread, idle too.
    """
    if not path:
        yield
        return
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    command = [py_spy, "record", "--pid", str(server.process.pid), "--rate", "1000"]
    command += {"gil": ["--gil"], "active": [], "wall": ["--idle"]}[mode]
    command += ["--nonblocking", "--threads", "--format", "raw", "-o", path]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)  # py-spy attaches
    if process.poll() is not None:
        error = process.stderr.read().decode(errors="replace") if process.stderr else ""
        raise RuntimeError(f"py-spy failed (.venv/bin/pip install py-spy; needs ptrace): {error}")
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()


_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]*)(?::\d+)?\)$")
_PLUMBING = ("threading.py", "concurrent/", "asyncio/", "contextlib.py", "<")


def profile_summary(path: str, top: int = 25) -> str:
    """Where the samples went: by thread kind, by jobop function and by library function
    (inclusive: a function's share includes what it called)."""
    threads: collections.Counter[str] = collections.Counter()
    ours: collections.Counter[str] = collections.Counter()
    libraries: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        threads[re.sub(r"[-_]?\d+$", "", frames[0].split(": ", 1)[-1])] += samples
        seen: set[str] = set()
        for frame in frames[1:]:
            match = _FRAME.match(frame)
            if not match or match["file"].startswith(_PLUMBING):
                continue
            key = f"{match['function']} ({match['file']})"
            if key in seen:
                continue
            seen.add(key)
            mine = match["file"].startswith(("jobop/", "jobop_jobs/", "jobop_client/"))
            (ours if mine else libraries)[key] += samples
        leaf = _FRAME.match(frames[-1])
        if leaf:
            leaves[f"{leaf['function']} ({leaf['file']})"] += samples
    if not total:
        return "no samples"

    def share(counter: collections.Counter[str], count: int) -> list[str]:
        return [f"    {n / total * 100:5.1f}%  {name}" for name, n in counter.most_common(count)]

    return "\n".join(
        [
            f"{total} samples",
            "  by thread:",
            *share(threads, 8),
            "  jobop functions (inclusive):",
            *share(ours, top),
            "  library functions (inclusive):",
            *share(libraries, top),
            "  innermost frames (self):",
            *share(leaves, 12),
        ]
    )


# -- report ------------------------------------------------------------------------------------


def _ms(value: float) -> str:
    return f"{value * 1000:.2f} ms"


def _start_row(
    what: str, latencies: list[float], empty_p50: float, floor: str = "empty"
) -> tuple[str, ...]:
    p50, limit = percentile(latencies, 50), TARGET_START_RATIO * empty_p50
    met = "yes" if p50 <= limit else "NO"
    target = f"p50 <= {TARGET_START_RATIO:g}x {floor} = {_ms(limit)}"
    return (what, _ms(p50), _ms(percentile(latencies, 99)), target, met)


def report(
    args: argparse.Namespace,
    empty: list[float],
    quiet: QuietStarts,
    starts: StartLatency,
    runs: dict[str, Throughput],
    statements: Statements | None,
) -> str:
    empty_p50 = percentile(empty, 50)
    rows: list[tuple[str, ...]] = [
        ("measure", "p50", "p99", "target", "met"),
        (
            f"empty unary RPC (Health/Check, n={len(empty)})",
            _ms(empty_p50),
            _ms(percentile(empty, 99)),
            "",
            "",
        ),
        (
            f"empty unary RPC, each after a job's end (n={len(quiet.empty)})",
            _ms(percentile(quiet.empty, 50)),
            _ms(percentile(quiet.empty, 99)),
            "",
            "",
        ),
        _start_row(f"Start RPC (n={len(quiet.starts)}, one at a time)", quiet.starts, empty_p50),
        _start_row(
            "  the same Starts, against the empty RPC after a job's end",
            quiet.starts,
            percentile(quiet.empty, 50),
            "that empty",
        ),
        _start_row(
            f"Start RPC (n={len(starts.rpc)}, one at a time), a stream open", starts.rpc, empty_p50
        ),
        (
            "Start -> STARTED",
            _ms(percentile(starts.to_started, 50)),
            _ms(percentile(starts.to_started, 99)),
            "",
            "",
        ),
    ]
    for mode, run in runs.items():
        rate = run.jobs_per_second
        met = rate >= TARGET_JOBS_PER_SECOND and run.completed == run.jobs
        rows.append(
            (
                f"no-op jobs: {run.jobs} x {JOB} durationMs=0, {mode}",
                f"{rate:.0f} jobs/s",
                "",
                f">= {TARGET_JOBS_PER_SECOND:g} jobs/s",
                "yes" if met else "NO",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        f"jobop serve on {args.db}, --max-concurrent-executions {args.workers}, "
        f"{os.cpu_count()} cores shared by client, server and database; "
        f"{args.concurrency} Starts in flight; load average {args.load_before:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after",
        "",
    ]
    for index, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines += [
        "",
        f"Start responses already past STARTING: {starts.already_started}/{len(starts.rpc)}; "
        f"first seen on the stream already finished: {starts.first_seen_finished}",
    ]
    for mode, run in runs.items():
        notes = [
            f"{run.completed}/{run.jobs} COMPLETED",
            f"last Start answered at {run.start_seconds:.2f} s of {run.seconds:.2f} s",
            f"server CPU {run.server_cpu / run.jobs * 1000:.2f} ms/job "
            f"({run.server_cpu / run.seconds * 100:.0f}% of a core)",
            f"client CPU {run.client_cpu / run.jobs * 1000:.2f} ms/job",
            f"{run.threads} server threads",
        ]
        if run.db_cpu is not None:
            # What the machine spends per job in all, and the rate its cores would allow
            # if every one of them were busy with nothing else.
            total = run.server_cpu + run.client_cpu + run.db_cpu
            cores = os.cpu_count() or 1
            notes.insert(4, f"database CPU {run.db_cpu / run.jobs * 1000:.2f} ms/job")
            notes.insert(
                5,
                f"all three {total / run.jobs * 1000:.2f} ms/job, a ceiling of "
                f"{cores * run.jobs / total:.0f} jobs/s on {cores} cores",
            )
        if run.stream_events:
            notes.append(f"{run.stream_events / run.jobs:.1f} stream events/job")
        if run.db_seconds:
            notes.append(
                f"first create to last end in the database {run.jobs / run.db_seconds:.0f} jobs/s"
            )
        if run.write_transactions is not None:
            notes.append(f"{run.write_transactions / run.jobs:.1f} write transactions/job")
        lines.append(f"{mode}: " + "; ".join(notes))
    if statements:
        lines += [
            "",
            f"SQL statements per launch ({statements.jobs} jobs one at a time, no stream open, "
            f"log_statement=all): {statements.total / statements.jobs:.1f} "
            f"({statements.background} in an idle window as long)",
        ]
        for kind, count in statements.by_kind.most_common():
            lines.append(f"  {count / statements.jobs:6.2f}  {kind}")
    return "\n".join(lines)


# Past executions of the benchmark's own job, each a COMPLETED instance with a step, its
# parameter and contexts, as jobop writes them; written in one statement.
_HISTORY = """\
WITH inst AS (
    INSERT INTO batch_job_instance (version, job_name, job_key)
    SELECT 0, %(job)s, md5('history ' || g) FROM generate_series(1, %(n)s) AS g
    RETURNING job_instance_id
), exe AS (
    INSERT INTO batch_job_execution (version, job_instance_id, create_time, start_time,
        end_time, status, exit_code, exit_message, last_updated)
    SELECT 2, job_instance_id, now(), now(), now(), 'COMPLETED', 'COMPLETED', '', now()
    FROM inst
    RETURNING job_execution_id
), par AS (
    INSERT INTO batch_job_execution_params (job_execution_id, parameter_name, parameter_type,
        parameter_value, identifying)
    SELECT job_execution_id, 'history', 'java.lang.Long', job_execution_id::text, 'Y' FROM exe
), ctx AS (
    INSERT INTO batch_job_execution_context (job_execution_id, short_context)
    SELECT job_execution_id, '{}' FROM exe
), st AS (
    INSERT INTO batch_step_execution (version, step_name, job_execution_id, create_time,
        start_time, end_time, status, commit_count, read_count, filter_count, write_count,
        read_skip_count, write_skip_count, process_skip_count, rollback_count, exit_code,
        exit_message, last_updated)
    SELECT 2, 'demoTaskletStep', job_execution_id, now(), now(), now(), 'COMPLETED',
        1, 0, 0, 0, 0, 0, 0, 0, 'COMPLETED', '', now()
    FROM exe
    RETURNING step_execution_id
)
INSERT INTO batch_step_execution_context (step_execution_id, short_context)
SELECT step_execution_id, '{}' FROM st"""


def add_history(db: Database, executions: int) -> None:
    assert db.conninfo is not None
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute(_HISTORY, {"job": JOB, "n": executions})  # type: ignore[arg-type]
        # As a database that has lived with its history would be: statistics current, and
        # the new rows vacuumed (else autovacuum and the first readers' hint-bit writes
        # fall into the measurement that follows).
        conn.execute("VACUUM ANALYZE")


async def baseline(args: argparse.Namespace, db: Database) -> Any:
    """procrastinate's no-op throughput on a database of its own in the same cluster."""
    if db.cluster is None or not args.baseline_jobs:
        return None
    from bench.procrastinate_noop import noop_throughput

    name = f"jobop_bench_procrastinate_{os.getpid()}"
    db.cluster.create_database(name)
    try:
        return await noop_throughput(db.cluster.conninfo(name), args.baseline_jobs)
    finally:
        db.cluster.drop_database(name)


async def best_poll_run(
    client: AsyncJobOperatorClient, server: Server, db: Database, args: argparse.Namespace
) -> Throughput:
    runs = [await throughput(client, server, db, args, "poll") for _ in range(2)]
    return max(runs, key=lambda run: run.jobs_per_second)


async def alternated_rounds(
    args: argparse.Namespace, client: AsyncJobOperatorClient, server: Server, db: Database
) -> list[tuple[float, float]]:
    """`--rounds` pairs of one jobop poll run and one procrastinate run, which goes first
    alternating: (jobop jobs/s, procrastinate jobs/s) of each pair. On a machine whose
    speed swings, the ratio within a pair is steadier than across one run of each."""
    pairs = []
    for index in range(args.rounds):
        if index % 2 == 0:
            ours = await throughput(client, server, db, args, "poll")
            theirs = await baseline(args, db)
        else:
            theirs = await baseline(args, db)
            ours = await throughput(client, server, db, args, "poll")
        pairs.append((ours.jobs_per_second, theirs.jobs_per_second))
    return pairs


def rounds_report(pairs: list[tuple[float, float]]) -> str:
    ratios = sorted(ours / theirs for ours, theirs in pairs)
    median = statistics.median(ratios)
    met = "yes" if median >= TARGET_BASELINE_RATIO else "NO"
    lines = [f"jobop (poll) / procrastinate, {len(pairs)} alternated rounds:"]
    lines += [
        f"  round {n}: {ours:.0f} / {theirs:.0f} jobs/s = {ours / theirs:.2f}x"
        for n, (ours, theirs) in enumerate(pairs, 1)
    ]
    lines.append(
        f"  median {median:.2f}x (range {ratios[0]:.2f}-{ratios[-1]:.2f}; required >= "
        f"{TARGET_BASELINE_RATIO:g}x): {met}"
    )
    return "\n".join(lines)


def set_limit(db: Database, limit: int | None) -> None:
    """A run-time limit on the bench's job (None: clear it), as `jobctl limit` sets it,
    written in the database directly (every node reads it there at its next claim)."""
    from jobop.domain.workload import CLEAR, JobSettings
    from jobop.repository import create_engine
    from jobop.repository.workload import WorkloadRepository

    engine = create_engine(db.url)
    try:
        value = CLEAR if limit is None else limit
        WorkloadRepository(engine).change(JOB, {"max_concurrent": value}, JobSettings())
    finally:
        engine.dispose()


async def limit_rounds(
    args: argparse.Namespace, client: AsyncJobOperatorClient, server: Server, db: Database
) -> str:
    """`--limit-rounds` pairs of poll runs, one with no limit and one with a limit of
    `--max-concurrent` on the job (never reached when it is above --workers), which goes
    first alternating; the median of the pairs' ratios."""
    pairs = []
    for index in range(args.limit_rounds):
        runs: dict[bool, Throughput] = {}
        for limited in (False, True) if index % 2 == 0 else (True, False):
            set_limit(db, args.max_concurrent if limited else None)
            runs[limited] = await throughput(client, server, db, args, "poll")
        pairs.append((runs[True], runs[False]))
    set_limit(db, None)
    ratios = sorted(limited.jobs_per_second / free.jobs_per_second for limited, free in pairs)
    median = statistics.median(ratios)
    met = "yes" if median >= 0.9 else "NO"
    lines = [
        f"limit {args.max_concurrent} on {JOB} (--max-concurrent) / no limit, poll runs of "
        f"{args.jobs} jobs, {len(pairs)} alternated rounds:"
    ]
    lines += [
        f"  round {n}: {limited.jobs_per_second:.0f} / {free.jobs_per_second:.0f} jobs/s = "
        f"{limited.jobs_per_second / free.jobs_per_second:.2f} (completed "
        f"{limited.completed}/{free.completed}; server CPU {limited.server_cpu:.1f} / "
        f"{free.server_cpu:.1f} s)"
        for n, (limited, free) in enumerate(pairs, 1)
    ]
    lines.append(
        f"  median {median:.2f} (range {ratios[0]:.2f}-{ratios[-1]:.2f}; required >= 0.90): {met}"
    )
    return "\n".join(lines)


async def measure(
    args: argparse.Namespace, server: Server, db: Database
) -> tuple[str, Throughput | None]:
    """The report of the all-in-one server, and its poll run (for the split run's ratio)."""
    empty = await empty_rpc_latency(server.target, args.samples)
    profiles: list[str] = []
    async with AsyncJobOperatorClient(server.target, timeout=60) as client:
        quiet = await quiet_start_latency(client, server.target, args.start_samples)
        starts = await start_latency(client, args.start_samples)
        runs: dict[str, Throughput] = {}
        for mode in args.completion:
            path = f"{args.profile}-{mode}.txt" if args.profile else None
            with profiling(server, path, args.profile_mode):
                runs[mode] = await throughput(client, server, db, args, mode)
            if path:
                profiles.append(
                    f"py-spy ({args.profile_mode}) of the {mode} run, {path}: "
                    + profile_summary(path)
                )
        statements = None
        if args.statement_jobs:
            statements = await statements_per_launch(client, db, args.statement_jobs)
        queue = await baseline(args, db)
        sections = [report(args, empty, quiet, starts, runs, statements)]
        if args.max_concurrent:
            sections.append(await limit_rounds(args, client, server, db))
        if queue is not None:
            sections.append(baseline_report(runs, queue))
            if args.rounds > 1:
                sections.append(rounds_report(await alternated_rounds(args, client, server, db)))
        if args.history and db.conninfo:
            # Measured again just before the history goes in (the machine's speed swings
            # within minutes, and the first runs are minutes old by now), and on each side
            # the better of two runs.
            before = await best_poll_run(client, server, db, args)
            earlier = await quiet_start_latency(client, server.target, args.start_samples)
            add_history(db, args.history)
            after = await best_poll_run(client, server, db, args)
            later = await quiet_start_latency(client, server.target, args.start_samples)
            later_statements = None
            if args.statement_jobs:
                later_statements = await statements_per_launch(client, db, args.statement_jobs)
            sections.append(
                history_report(
                    args.history,
                    (before, earlier.starts, statements),
                    (after, later.starts, later_statements),
                )
            )
        single = runs.get("poll")
        if single is None and (args.replicas > 1 or args.split):
            single = await throughput(client, server, db, args, "poll")
        if args.replicas > 1 and db.conninfo:
            assert single is not None
            with contextlib.ExitStack() as stack:
                others = [
                    stack.enter_context(
                        jobop_serve(db, args.workers, args.folder, args.log_level, f"replica-{n}")
                    )
                    for n in range(2, args.replicas + 1)
                ]
                path = f"{args.profile}-replicas.txt" if args.profile else None
                with profiling(others[0], path, args.profile_mode):
                    run = await replicas_throughput([server, *others], db, args)
            sections.append(replicas_report(single, run))
            if path:
                profiles.append(
                    f"py-spy ({args.profile_mode}) of replica 2 during the replicas run, {path}: "
                    + profile_summary(path)
                )
    return "\n\n".join([*sections, *profiles]), single


@dataclass
class ReplicaRun:
    replicas: int
    jobs: int
    seconds: float
    completed: int
    server_cpu: float  # all replicas together
    notifications: int  # NOTIFY messages on the jobop channel during the run
    write_transactions: int

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else float("nan")


async def _count_notifications(conninfo: str, stop: asyncio.Event) -> int:
    """NOTIFY messages on the replicas' channel until `stop` is set."""
    from jobop.repository.nodes import CHANNEL

    count = 0
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        while not stop.is_set():
            async for _ in conn.notifies(timeout=0.1):
                count += 1
    return count


async def replicas_throughput(
    servers: list[Server],
    db: Database,
    args: argparse.Namespace,
    entry: list[Server] | None = None,
) -> ReplicaRun:
    """The poll run with the Starts spread round robin over the `entry` servers (default:
    every replica); CPU summed over all the servers."""
    assert db.conninfo is not None
    clients = [AsyncJobOperatorClient(s.target, timeout=60) for s in entry or servers]
    stop_counting = asyncio.Event()
    listening = asyncio.ensure_future(_count_notifications(db.conninfo, stop_counting))
    await asyncio.sleep(0.3)  # LISTEN is up before the first Start
    try:
        for client in clients:  # connected and warm
            await client.get_job_names()
        cpu_before = sum(server.cpu_seconds() for server in servers)
        xid_before = db.current_xid()
        semaphore = asyncio.Semaphore(args.concurrency)
        ids: list[int] = []

        async def one(index: int) -> None:
            async with semaphore:
                client = clients[index % len(clients)]
                execution = await client.start(JOB, new_parameters(), timeout=120)
            ids.append(execution.id)

        began = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(args.jobs)))
        ours = set(ids)
        ended = time.perf_counter()
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            running = ours.intersection(await clients[0].get_running_executions(JOB))
            ended = time.perf_counter()
            if not running:
                break
            await asyncio.sleep(0.05)
        server_cpu = sum(server.cpu_seconds() for server in servers) - cpu_before
        write_transactions = db.current_xid() - xid_before - 1
    finally:
        stop_counting.set()
        notifications = await listening
        for client in clients:
            await client.close()
    rows = db.query(
        "SELECT count(*) FROM batch_job_execution WHERE status = 'COMPLETED' AND "
        f"job_execution_id IN ({', '.join(str(int(i)) for i in ids)})"
    )
    return ReplicaRun(
        len(servers),
        args.jobs,
        ended - began,
        int(rows[0][0]),
        server_cpu,
        notifications,
        write_transactions,
    )


def replicas_report(single: Throughput, run: ReplicaRun) -> str:
    return "\n".join(
        [
            f"{run.replicas} replicas on one database (the same 2 cores), Starts round robin, "
            "poll:",
            f"  {run.completed}/{run.jobs} COMPLETED, {run.jobs_per_second:.0f} jobs/s = "
            f"{run.jobs_per_second / single.jobs_per_second:.2f}x one replica "
            f"({single.jobs_per_second:.0f} jobs/s); servers' CPU "
            f"{run.server_cpu / run.jobs * 1000:.2f} ms/job (one replica "
            f"{single.server_cpu / single.jobs * 1000:.2f}); "
            f"{run.notifications / run.jobs:.1f} NOTIFY messages/job; "
            f"{run.write_transactions / run.jobs:.1f} write transactions/job (one replica "
            f"{(single.write_transactions or 0) / single.jobs:.1f})",
        ]
    )


Round = tuple[Throughput, list[float], "Statements | None"]


def split_report(single: Throughput, run: ReplicaRun, workers: int, cpu: list[float]) -> str:
    api, *others = cpu
    return "\n".join(
        [
            f"one api server + {workers} worker-role server(s) on one database (the same 2 "
            "cores), Starts to the api server, each run by whichever worker claims it, poll:",
            f"  {run.completed}/{run.jobs} COMPLETED, {run.jobs_per_second:.0f} jobs/s = "
            f"{run.jobs_per_second / single.jobs_per_second:.2f}x the all-in-one server "
            f"({single.jobs_per_second:.0f} jobs/s); CPU ms/job: api {api / run.jobs * 1000:.2f}, "
            + ", ".join(f"worker {c / run.jobs * 1000:.2f}" for c in others)
            + f" (all-in-one {single.server_cpu / single.jobs * 1000:.2f}); "
            f"{run.notifications / run.jobs:.1f} NOTIFY messages/job; "
            f"{run.write_transactions / run.jobs:.1f} write transactions/job (all-in-one "
            f"{(single.write_transactions or 0) / single.jobs:.1f})",
        ]
    )


async def split_run(args: argparse.Namespace, db: Database, single: Throughput) -> str:
    """The poll run again with serving and running in separate processes: the shape of
    `--workers N` processes on a machine with more cores (each its own GIL)."""
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(
            jobop_serve(db, 1, args.folder, args.log_level, "split-api", ["--role", "api"])
        )
        workers = [
            stack.enter_context(
                jobop_serve(
                    db,
                    args.workers,
                    args.folder,
                    args.log_level,
                    f"split-worker-{n}",
                    ["--role", "worker"],
                )
            )
            for n in range(1, args.split + 1)
        ]
        servers = [api, *workers]
        before = [s.cpu_seconds() for s in servers]
        run = await replicas_throughput(servers, db, args, entry=[api])
        cpu = [s.cpu_seconds() - b for s, b in zip(servers, before, strict=True)]
    return split_report(single, run, args.split, cpu)


def history_report(executions: int, empty: Round, full: Round) -> str:
    """The same measures on the repository as it was and after `executions` more."""

    def per_launch(statements: Statements | None) -> str:
        return f"{statements.total / statements.jobs:.1f}" if statements else "-"

    rows = [
        ("measure", "as it was", f"+{executions:,} executions", "after / before"),
        (
            "no-op jobs/s (poll)",
            f"{empty[0].jobs_per_second:.0f}",
            f"{full[0].jobs_per_second:.0f}",
            f"{full[0].jobs_per_second / empty[0].jobs_per_second:.2f} (target >= 0.90)",
        ),
        (
            "Start RPC p50, one at a time",
            _ms(percentile(empty[1], 50)),
            _ms(percentile(full[1], 50)),
            f"{percentile(full[1], 50) / percentile(empty[1], 50):.2f}",
        ),
        ("SQL statements per launch", per_launch(empty[2]), per_launch(full[2]), ""),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"flat with history: {executions:,} past executions of {JOB} added", ""]
    for index, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def baseline_report(runs: dict[str, Throughput], queue: Any) -> str:
    best = max(run.jobs_per_second for run in runs.values())
    ratio = best / queue.jobs_per_second
    met = "yes" if ratio >= TARGET_BASELINE_RATIO else "NO"
    return "\n".join(
        [
            f"procrastinate {queue.jobs} no-op jobs on the same cluster (defer_async, 16 in "
            f"flight, then run_worker_async(concurrency=8, wait=False)): "
            f"{queue.jobs_per_second:.0f} jobs/s (defers done at {queue.defer_seconds:.2f} s "
            f"of {queue.seconds:.2f} s; its process's CPU "
            f"{queue.cpu_seconds / queue.jobs * 1000:.2f} ms/job)",
            f"jobop / procrastinate (jobop's better run, {best:.0f} jobs/s): {ratio:.2f}x "
            f"(required >= {TARGET_BASELINE_RATIO:g}x, goal >= {GOAL_BASELINE_RATIO:g}x): {met}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.grpc_start",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--pg-url", help="use this PostgreSQL server (superuser URL)")
    parser.add_argument(
        "--workers",
        type=int,
        default=2 * (os.cpu_count() or 1),
        help="the server's --max-concurrent-executions (default: 2 per core)",
    )
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per throughput run")
    parser.add_argument("--concurrency", type=int, default=64, help="Starts in flight")
    parser.add_argument("--samples", type=int, default=2000, help="empty RPCs to time")
    parser.add_argument("--start-samples", type=int, default=300, help="Starts to time")
    parser.add_argument(
        "--completion",
        nargs="+",
        choices=["watch", "poll"],
        default=["watch", "poll"],
        help="how throughput runs detect completion (default: one run of each)",
    )
    parser.add_argument(
        "--statement-jobs",
        type=int,
        default=20,
        help="jobs run with log_statement=all to count statements (PostgreSQL; 0: skip)",
    )
    parser.add_argument(
        "--baseline-jobs",
        type=int,
        default=1000,
        help="no-op jobs through procrastinate on the same cluster (PostgreSQL; 0: skip)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        metavar="K",
        help="then K more poll runs, each paired with a procrastinate run (alternating which "
        "goes first), and the median of the pairs' ratios",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        help="then add this many past executions (e.g. 100000) and measure again",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="then run the poll run again on this many replicas of one database (PostgreSQL)",
    )
    parser.add_argument(
        "--split",
        type=int,
        default=0,
        metavar="N",
        help="then run it on one --role api server and N --role worker servers (PostgreSQL)",
    )
    parser.add_argument(
        "--max-concurrent",
        type=int,
        default=0,
        metavar="N",
        help="then compare poll runs with a run-time limit of N on the job (above --workers: "
        "never reached) and with none, in alternated rounds",
    )
    parser.add_argument(
        "--limit-rounds", type=int, default=3, metavar="K", help="rounds of --max-concurrent"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="per throughput run (s)")
    parser.add_argument("--log-level", default="INFO", help="the server's --log-level")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="py-spy record the server during each throughput run into PREFIX-MODE.txt "
        "(collapsed stacks) and print a summary",
    )
    parser.add_argument(
        "--profile-mode", choices=["gil", "active", "wall"], default="gil", help="(default gil)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    args.load_before = os.getloadavg()[0]  # the figures mean little on a busy machine

    folder = Path(tempfile.mkdtemp(prefix="jobop-bench-grpc-"))
    args.folder = folder
    try:
        with (
            database(args.db, args.pg_url, folder) as db,
            jobop_serve(db, args.workers, folder, args.log_level) as server,
        ):
            report, single = asyncio.run(measure(args, server, db))
            print(report)
            if args.split and db.conninfo and single is not None:
                server.process.send_signal(signal.SIGTERM)  # not a worker of the split run
                server.process.wait(60)
                print("\n" + asyncio.run(split_run(args, db, single)))
    finally:
        if args.keep:
            print(f"(server log and database in {folder})")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
