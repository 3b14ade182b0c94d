"""What one RPC costs the server: CPU per call, on the event loop and on the other threads,
user and system, beside an empty RPC measured in the same run.

    .venv/bin/python -m bench.rpc_cost                  # 3,000 calls of each, 16 in flight
    .venv/bin/python -m bench.rpc_cost --calls 1000 --concurrency 1

Starts a throwaway PostgreSQL cluster (or uses `--pg-url`) and a `jobop serve --role api`
on it: the server answers and writes launches but runs no job, so a Start's figure is the
Start alone. For each RPC it sends `--calls` calls (after a warm-up) from one asyncio
client process with `--concurrency` in flight and reads the server's threads in
`/proc/PID/task/*/stat` before and after: the event loop's thread (the process's main
thread, where grpc.aio and the interceptors run) and all the others (the RPC thread pool
that runs the bodies, grpc's own threads, the LISTEN thread). The RPCs: Health/Check (the
empty RPC), GetJobNames (the thread hop and the interceptors, no database), GetJobExecution
(one explorer read), Start (`demoTaskletJob durationMs=0`, each with its own run.id).

See bench/README.md. Prints a table; never fails on a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc

from bench.grpc_start import Server, database, jobop_serve

Call = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class ThreadTimes:
    """Clock ticks of the server's threads, as seconds: (user, system) of the event loop's
    thread and of all the others."""

    loop: tuple[float, float]
    others: tuple[float, float]

    @classmethod
    def read(cls, pid: int) -> ThreadTimes:
        tick = os.sysconf("SC_CLK_TCK")
        loop = [0.0, 0.0]
        others = [0.0, 0.0]
        for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended meanwhile
            into = loop if stat.parent.name == str(pid) else others
            into[0] += int(fields[11]) / tick
            into[1] += int(fields[12]) / tick
        return cls((loop[0], loop[1]), (others[0], others[1]))


@dataclass(frozen=True)
class Cost:
    rpc: str
    calls: int
    seconds: float
    before: ThreadTimes
    after: ThreadTimes

    def per_call(self, part: str, index: int | None = None) -> float:
        """Milliseconds of CPU per call: `part` is loop or others; index 0 user, 1 system,
        None both."""
        first, second = getattr(self.before, part), getattr(self.after, part)
        indices = (0, 1) if index is None else (index,)
        return sum(second[i] - first[i] for i in indices) / self.calls * 1000

    @property
    def total(self) -> float:
        return self.per_call("loop") + self.per_call("others")


async def _drive(call: Call, calls: int, concurrency: int) -> float:
    remaining = iter(range(calls))

    async def one_lane() -> None:
        for _ in remaining:
            await call()

    began = time.perf_counter()
    await asyncio.gather(*(one_lane() for _ in range(concurrency)))
    return time.perf_counter() - began


async def measure(server: Server, calls: int, concurrency: int, warm_up: int) -> list[Cost]:
    async with grpc.aio.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        operator = pb_grpc.JobOperatorServiceStub(channel)
        runs = itertools.count()

        def start_request() -> pb.StartRequest:
            request = pb.StartRequest(job_name="demoTaskletJob")
            request.parameters["run.id"].string_value = f"cost-{next(runs)}"
            request.parameters["durationMs"].string_value = "0"
            return request

        first = await operator.Start(start_request())
        rpcs: dict[str, Call] = {
            "Health/Check (empty)": lambda: health.Check(health_pb2.HealthCheckRequest()),
            "GetJobNames": lambda: operator.GetJobNames(pb.GetJobNamesRequest()),
            "GetJobExecution": lambda: operator.GetJobExecution(
                pb.GetJobExecutionRequest(execution_id=first.execution.id)
            ),
            "Start": lambda: operator.Start(start_request()),
        }
        costs = []
        for name, call in rpcs.items():
            await _drive(call, warm_up, concurrency)
            before = ThreadTimes.read(server.process.pid)
            seconds = await _drive(call, calls, concurrency)
            after = ThreadTimes.read(server.process.pid)
            costs.append(Cost(name, calls, seconds, before, after))
        return costs


def table(costs: list[Cost], concurrency: int) -> str:
    empty = costs[0].total
    header = (
        f"{'RPC':22s}  {'calls/s':>8s}  {'server CPU':>10s}  {'x empty':>7s}  "
        f"{'loop':>6s}  {'others':>6s}  {'of it sys':>9s}"
    )
    lines = [
        f"server CPU per call in ms, {concurrency} in flight (loop: the event loop's thread; "
        "others: every other thread; sys: system time of both)",
        "",
        header,
        "-" * len(header),
    ]
    for cost in costs:
        system = cost.per_call("loop", 1) + cost.per_call("others", 1)
        lines.append(
            f"{cost.rpc:22s}  {cost.calls / cost.seconds:8.0f}  {cost.total:10.3f}  "
            f"{cost.total / empty if empty else float('nan'):7.1f}  "
            f"{cost.per_call('loop'):6.3f}  {cost.per_call('others'):6.3f}  {system:9.3f}"
        )
    lines.append("")
    lines.append(
        "CPU is read in clock ticks (10 ms): with fewer than ~1,000 calls the figures are coarse."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rpc_cost", description=__doc__)
    parser.add_argument("--pg-url", help="use this PostgreSQL server (superuser URL)")
    parser.add_argument("--calls", type=int, default=3000, help="calls of each RPC")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight")
    parser.add_argument("--warm-up", type=int, default=300, help="calls before measuring")
    parser.add_argument("--log-level", default="INFO", help="the server's --log-level")
    parser.add_argument("--rpc-threads", type=int, help="the server's --rpc-threads")
    args = parser.parse_args(argv)
    options = ["--role", "api"]
    if args.rpc_threads:
        options += ["--rpc-threads", str(args.rpc_threads)]
    with tempfile.TemporaryDirectory(prefix="jobop-rpc-cost-") as name:
        folder = Path(name)
        with (
            database("postgresql", args.pg_url, folder) as db,
            jobop_serve(db, 1, folder, args.log_level, options=options) as server,
        ):
            costs = asyncio.run(measure(server, args.calls, args.concurrency, args.warm_up))
    print(f"jobop serve {' '.join(options)} on postgresql; load average {os.getloadavg()[0]:.1f}")
    print(table(costs, args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
