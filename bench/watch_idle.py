"""watch_idle: what open, idle WatchExecutions streams cost a real `jobop serve`.

Starts `jobop serve` on a fresh SQLite file (or `--db URL`), opens `--streams`
WatchExecutions streams (spread over `--channels` connections) with nothing running, holds
them `--hold` seconds (past the 30 s at which streams used to die), measures the server's
CPU while they idle, then starts one job and counts the streams that saw it. Prints:

- streams still open after the hold, and how the others ended (status codes);
- the server's CPU while idle (CPU seconds per wall second: 1.0 = one core);
- streams that received the started job's event.

    .venv/bin/python -m bench.watch_idle                       # 1,000 streams, SQLite
    .venv/bin/python -m bench.watch_idle --streams 200 --hold 10
    .venv/bin/python -m bench.watch_idle --db postgresql://postgres@localhost/jobop

Timings depend on the machine's load; nothing here fails on a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc

BIN = Path(sys.executable).parent
JOB = "demoTaskletJob"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Streams:
    def __init__(self, address: str, count: int, channels: int) -> None:
        self.channels = [grpc.aio.insecure_channel(address) for _ in range(channels)]
        self.count = count
        self.outcomes: list[str | None] = [None] * count
        self.seen: list[set[int]] = [set() for _ in range(count)]
        self.tasks: list[asyncio.Task[None]] = []
        self.calls: list[
            grpc.aio.UnaryStreamCall[pb.WatchExecutionsRequest, pb.WatchExecutionsResponse]
        ] = []

    def open(self) -> None:
        for index in range(self.count):
            stub = pb_grpc.JobOperatorServiceStub(self.channels[index % len(self.channels)])
            call = stub.WatchExecutions(pb.WatchExecutionsRequest())
            self.calls.append(call)
            self.tasks.append(asyncio.create_task(self._follow(index, call)))

    async def _follow(
        self,
        index: int,
        call: grpc.aio.UnaryStreamCall[pb.WatchExecutionsRequest, pb.WatchExecutionsResponse],
    ) -> None:
        try:
            async for message in call:
                if not message.heartbeat:
                    self.seen[index].add(message.execution.id)
            self.outcomes[index] = "OK"
        except asyncio.CancelledError:
            self.outcomes[index] = "cancelled here"
        except grpc.aio.AioRpcError as error:
            self.outcomes[index] = error.code().name

    def open_count(self) -> int:
        return sum(1 for outcome in self.outcomes if outcome is None)

    async def close(self) -> None:
        for call in self.calls:
            call.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for channel in self.channels:
            await channel.close()


async def _measure(args: argparse.Namespace, address: str, pid: int) -> None:
    streams = Streams(address, args.streams, args.channels)
    opened = time.monotonic()
    streams.open()
    await asyncio.sleep(args.settle)
    cpu_before, wall_before = _cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(args.hold - args.settle)
    idle_cpu = (_cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before)
    held = time.monotonic() - opened
    still_open = streams.open_count()
    ended = collections.Counter(o for o in streams.outcomes if o is not None)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        started = await stub.Start(pb.StartRequest(job_name=JOB))
    execution_id = started.execution.id
    deadline = time.monotonic() + args.event_timeout
    while time.monotonic() < deadline:
        if all(
            execution_id in seen
            for seen, o in zip(streams.seen, streams.outcomes, strict=True)
            if o is None
        ):
            break
        await asyncio.sleep(0.1)
    got_event = sum(1 for seen in streams.seen if execution_id in seen)
    await streams.close()
    print(f"{'streams opened':<40}{args.streams:>10}")
    print(f"{'held for (s)':<40}{held:>10.1f}")
    print(f"{'still open after the hold':<40}{still_open:>10}")
    for code, count in sorted(ended.items()):
        print(f"{'  ended ' + code:<40}{count:>10}")
    print(f"{'server CPU while idle (cores)':<40}{idle_cpu:>10.3f}")
    print(f"{'streams that saw the next job':<40}{got_event:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--hold", type=float, default=45.0, help="seconds streams are held")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring CPU")
    parser.add_argument("--event-timeout", type=float, default=60.0)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--rpc-threads", type=int, help="`jobop serve --rpc-threads`")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or f"sqlite:///{folder}/jobop.db"
        command = [str(BIN / "jobop"), "serve", "--db", db, "--grpc-address", "127.0.0.1:0"]
        command += ["--http-address", "", "--max-streams-per-caller", str(args.streams + 10)]
        if args.rpc_threads:
            command += ["--rpc-threads", str(args.rpc_threads)]
        log = Path(folder) / "serve.log"
        with log.open("w") as log_file:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log_file, text=True)
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if "listening on" not in line:
                raise SystemExit(f"jobop serve did not start: {line!r}\n{log.read_text()}")
            asyncio.run(_measure(args, line.strip().rsplit(" ", 1)[-1], process.pid))
        finally:
            process.terminate()
            process.wait(60)


if __name__ == "__main__":
    main()
