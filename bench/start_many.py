"""start_many: no-op jobs launched in batches, jobop's StartJobs against procrastinate.

Starts a throwaway PostgreSQL cluster (tests/pgcluster.py, or `--pg-url`) and a `jobop
serve` subprocess on it (running 8 jobs at once, as procrastinate's worker does), then,
side by side in one run, `--rounds` pairs (which goes first alternating):

- **jobop**: `--jobs` executions of `demoTaskletJob durationMs=0` (each its own `run.id`)
  through `StartJobs`, `--batch` entries a call, one call after the other; jobs/s from the
  first call sent until every execution has ended (read from the database every 20 ms
  once the calls are answered, on a connection of the bench's own), every one of them
  checked COMPLETED;
- **procrastinate**: the same number of no-op tasks deferred with `batch_defer_async`,
  `--batch` a call, then one worker `run_worker_async(concurrency=8, wait=False)` until
  the queue is empty, on a database of its own in the same cluster.

Prints a table: each pair's jobs/s and ratio, their median, the target (>= 1.5x) and goal
(2.5x); the server's CPU per job and the time to answer the calls.

    .venv/bin/python -m bench.start_many
    .venv/bin/python -m bench.start_many --rounds 5 --workers 4   # 2 per core
    .venv/bin/python -m bench.start_many --profile /tmp/jobop-start-many   # py-spy

Needs the bench extra: `.venv/bin/pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from jobop_client import AsyncJobOperatorClient, JobStart
from jobop_client.proto import job_operator_pb2 as pb

from bench.grpc_start import (
    GOAL_BASELINE_RATIO,
    JOB,
    TARGET_BASELINE_RATIO,
    Database,
    Server,
    database,
    jobop_serve,
    new_parameters,
    profile_summary,
    profiling,
)
from bench.procrastinate_noop import WORKER_CONCURRENCY, QueueThroughput, noop_throughput

POLL_INTERVAL = 0.02


@dataclass
class Run:
    jobs: int
    seconds: float  # first StartJobs sent -> every execution COMPLETED
    start_seconds: float  # first StartJobs sent -> last answered
    server_cpu: float
    # The run's CPU in all (server, this process, the cluster's processes): what the
    # machine spends per job whatever else runs on it; None when the cluster is not ours.
    total_cpu: float | None = None

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else float("nan")


async def start_many(
    client: AsyncJobOperatorClient, server: Server, db: Database, args: Any
) -> Run:
    cpu_before = server.cpu_seconds()
    own_before = time.process_time()
    db_before = db.cpu_seconds()
    ids: list[int] = []
    began = time.perf_counter()
    for first in range(0, args.jobs, args.batch):
        count = min(args.batch, args.jobs - first)
        starts = [JobStart(JOB, new_parameters()) for _ in range(count)]
        for outcome in await client.start_jobs(starts, timeout=120):
            if not isinstance(outcome, pb.JobExecution):
                raise RuntimeError(f"an entry was refused: {outcome!r}")
            ids.append(outcome.id)
    answered = time.perf_counter()
    # Read from the database on a connection of the bench's own, so that watching costs
    # the server nothing (procrastinate's worker knows its end for free, in-process).
    ended_query = (
        "SELECT count(*) FROM batch_job_execution WHERE end_time IS NOT NULL "
        f"AND job_execution_id IN ({', '.join(str(int(i)) for i in ids)})"
    )
    deadline = time.monotonic() + args.timeout
    with psycopg.connect(db.conninfo, autocommit=True) as connection:
        while time.monotonic() < deadline:
            row = connection.execute(ended_query).fetchone()  # type: ignore[arg-type]
            if row is not None and row[0] == len(ids):
                break
            await asyncio.sleep(POLL_INTERVAL)
    ended = time.perf_counter()
    rows = db.query(
        "SELECT count(*) FROM batch_job_execution WHERE status = 'COMPLETED' "
        f"AND job_execution_id IN ({', '.join(str(int(i)) for i in ids)})"
    )
    if rows[0][0] != args.jobs:
        raise RuntimeError(f"{rows[0][0]} of {args.jobs} executions COMPLETED")
    server_cpu = server.cpu_seconds() - cpu_before
    run = Run(args.jobs, ended - began, answered - began, server_cpu)
    db_after = db.cpu_seconds()
    if db_before is not None and db_after is not None:
        run.total_cpu = server_cpu + time.process_time() - own_before + db_after - db_before
    return run


@dataclass
class Baseline:
    queue: QueueThroughput
    total_cpu: float | None  # this process (client and worker) and the cluster's

    @property
    def jobs_per_second(self) -> float:
        return self.queue.jobs_per_second


async def procrastinate(args: Any, db: Database) -> Baseline:
    name = f"jobop_bench_procrastinate_{os.getpid()}"
    db.cluster.create_database(name)
    try:
        queue = await noop_throughput(
            db.cluster.conninfo(name), args.jobs, batch=args.batch, db_cpu=db.cpu_seconds
        )
    finally:
        db.cluster.drop_database(name)
    total = None
    if queue.db_cpu_seconds is not None:
        total = queue.cpu_seconds + queue.db_cpu_seconds
    return Baseline(queue, total)


async def measure(args: Any, server: Server, db: Database) -> str:
    pairs: list[tuple[Run, Baseline]] = []
    async with AsyncJobOperatorClient(server.target) as client:
        # Warm-up (connections, the first imports of the job's code), not measured.
        await client.start_jobs([JobStart(JOB, new_parameters()) for _ in range(args.batch)])
        await asyncio.sleep(1.0)
        for index in range(args.rounds):
            if index % 2 == 0:
                with profiling(server, _profile_path(args, index), "gil"):
                    ours = await start_many(client, server, db, args)
                theirs = await procrastinate(args, db)
            else:
                theirs = await procrastinate(args, db)
                ours = await start_many(client, server, db, args)
            pairs.append((ours, theirs))
    return report(args, pairs)


def _profile_path(args: Any, index: int) -> str | None:
    return f"{args.profile}-gil.txt" if args.profile and index == 0 else None


def _per_job(seconds: float | None, jobs: int) -> str:
    return "-" if seconds is None else f"{seconds / jobs * 1000:.2f} ms"


def report(args: Any, pairs: list[tuple[Run, Baseline]]) -> str:
    ratios = [ours.jobs_per_second / theirs.jobs_per_second for ours, theirs in pairs]
    median = statistics.median(ratios)
    header = (
        "round",
        "jobop jobs/s",
        "calls answered",
        "server CPU/job",
        "all CPU/job",
        "procr. jobs/s",
        "procr. all CPU/job",
        "ratio",
    )
    rows = [header]
    for number, ((ours, theirs), ratio) in enumerate(zip(pairs, ratios, strict=True), 1):
        rows.append(
            (
                str(number),
                f"{ours.jobs_per_second:.0f}",
                f"{ours.start_seconds:.2f} s of {ours.seconds:.2f} s",
                f"{ours.server_cpu / ours.jobs * 1000:.2f} ms",
                _per_job(ours.total_cpu, ours.jobs),
                f"{theirs.jobs_per_second:.0f}",
                _per_job(theirs.total_cpu, theirs.queue.jobs),
                f"{ratio:.2f}x",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines = [
        f"{args.jobs} no-op jobs, batches of {args.batch}: jobop StartJobs (server "
        f"--max-concurrent-executions {args.workers}) vs procrastinate batch_defer_async + "
        "run_worker_async(concurrency=8, wait=False), same PostgreSQL cluster",
        "",
    ]
    for number, row in enumerate(rows):
        lines.append("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    met = "yes" if median >= TARGET_BASELINE_RATIO else "NO"
    goal = "yes" if median >= GOAL_BASELINE_RATIO else "no"
    lines += [
        "",
        f"median ratio jobop / procrastinate: {median:.2f}x (range {min(ratios):.2f}-"
        f"{max(ratios):.2f}); target >= {TARGET_BASELINE_RATIO:g}x: {met}; goal >= "
        f"{GOAL_BASELINE_RATIO:g}x: {goal}",
        f"load average before the run: {args.load_before:.2f} on {os.cpu_count()} cores",
        "all CPU/job: the run's CPU on every process that took part (jobop: the server, "
        "this client and the cluster; procrastinate: its process and the cluster), per "
        "job: what each costs the machine, however busy it is",
    ]
    if args.profile:
        lines += ["", f"server profile of round 1 (py-spy, GIL holder), {args.profile}-gil.txt:"]
        lines.append(profile_summary(f"{args.profile}-gil.txt"))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.start_many",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--pg-url", help="use this PostgreSQL server (superuser URL)")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per run")
    parser.add_argument("--batch", type=int, default=100, help="entries per call (<= 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of runs (alternated)")
    parser.add_argument(
        "--workers",
        type=int,
        default=WORKER_CONCURRENCY,
        help="the server's --max-concurrent-executions (default: procrastinate's worker "
        f"concurrency, {WORKER_CONCURRENCY}: both sides run as many jobs at once)",
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="per run (s)")
    parser.add_argument("--log-level", default="WARNING", help="the server's --log-level")
    parser.add_argument(
        "--profile", metavar="PREFIX", help="py-spy record the server in round 1 (GIL holder)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    args.load_before = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="jobop-bench-start-many-"))
    try:
        with (
            database("postgresql", args.pg_url, folder) as db,
            jobop_serve(db, args.workers, folder, args.log_level) as server,
        ):
            print(asyncio.run(measure(args, server, db)))
    finally:
        if args.keep:
            print(f"(server log in {folder})")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
