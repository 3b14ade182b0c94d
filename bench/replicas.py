"""Two `jobop serve` replicas on one PostgreSQL: how fast a change on A reaches a stream on B.

    .venv/bin/python -m bench.replicas                 # 200 no-op jobs, 30 slow chunks
    .venv/bin/python -m bench.replicas --jobs 50       # a quick run

Measured in the same run (see bench/README.md):
1. the raw NOTIFY round trip between two psycopg connections (the floor);
2. commit on A -> event on a WatchExecutions stream on B, for the final status of no-op
   jobs (demoTaskletJob durationMs=0) run on A one at a time;
3. commit on A -> event on a WatchExecution stream on B, for chunk commits spaced beyond
   the progress interval (demoChunkJob chunkSize=5 itemDelayMs=30);
4. NOTIFY messages on the jobop channel per no-op execution and per chunk commit (a fast
   demoChunkJob: 2,000 items in chunks of 10), counted by a LISTEN connection of our own.

"Commit on A" is the row's LAST_UPDATED, which A stamps just before its commit (one clock:
both servers run on this machine), so the figure includes the commit itself.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import psycopg
from jobop_client import parameters as client_parameters
from jobop_client.proto import job_operator_pb2 as pb
from jobop_client.proto import job_operator_pb2_grpc as pb_grpc

from bench.grpc_start import Database, Server, database, jobop_serve, percentile

TARGET_P99_MS = 50.0
CHANNEL = "jobop"


def _params(**values: object) -> dict[str, pb.JobParameter]:
    return client_parameters.to_proto_map(values)  # type: ignore[arg-type]


def _nonid(value: object) -> client_parameters.Parameter:
    return client_parameters.Parameter(value, identifying=False)  # type: ignore[arg-type]


def _ms_since(stamp: datetime, received: float) -> float:
    return (received - stamp.replace(tzinfo=UTC).timestamp()) * 1000


class ChannelCounter:
    """Counts the NOTIFY messages on the jobop channel, by kind (`e`, `l`)."""

    def __init__(self, conninfo: str) -> None:
        self._connection = psycopg.connect(conninfo, autocommit=True)
        self._connection.execute(f"LISTEN {CHANNEL}")
        self.counts: dict[str, int] = {}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for notify in self._connection.notifies(timeout=0.2):
                kind = notify.payload.split(" ", 1)[0]
                with self._lock:
                    self.counts[kind] = self.counts.get(kind, 0) + 1

    def take(self) -> dict[str, int]:
        time.sleep(0.3)  # let the last ones arrive
        with self._lock:
            counts, self.counts = self.counts, {}
        return counts

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._connection.close()


def raw_notify_round_trip(conninfo: str, samples: int) -> list[float]:
    """ms from a NOTIFY's send to its arrival on another connection's LISTEN."""
    with (
        psycopg.connect(conninfo, autocommit=True) as listener,
        psycopg.connect(conninfo, autocommit=True) as sender,
    ):
        listener.execute("LISTEN bench_raw")
        times = []
        for index in range(samples):
            began = time.perf_counter()
            sender.execute(f"NOTIFY bench_raw, '{index}'")
            for _ in listener.notifies(timeout=5, stop_after=1):
                times.append((time.perf_counter() - began) * 1000)
        return times


@contextlib.contextmanager
def _stub(server: Server) -> Iterator[pb_grpc.JobOperatorServiceStub]:
    with grpc.insecure_channel(server.target) as channel:
        yield pb_grpc.JobOperatorServiceStub(channel)


def final_status_latency(
    a: pb_grpc.JobOperatorServiceStub, b: pb_grpc.JobOperatorServiceStub, jobs: int
) -> list[float]:
    """ms from the commit of each no-op job's COMPLETED on A to its event on B's stream."""
    latencies: list[float] = []
    done: dict[int, threading.Event] = {}
    lock = threading.Lock()
    stream = b.WatchExecutions(pb.WatchExecutionsRequest(job_name="demoTaskletJob"))

    def follow() -> None:
        with contextlib.suppress(grpc.RpcError):
            for message in stream:
                received = time.time()
                if message.heartbeat or message.execution.status != pb.BATCH_STATUS_COMPLETED:
                    continue
                with lock:
                    event = done.get(message.execution.id)
                if event is not None and not event.is_set():
                    stamp = message.execution.last_updated.ToDatetime()
                    latencies.append(_ms_since(stamp, received))
                    event.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    time.sleep(0.5)  # the stream is open
    base = int(time.time() * 1000)
    for index in range(jobs):
        event = threading.Event()
        started = a.Start(
            pb.StartRequest(
                job_name="demoTaskletJob", parameters=_params(durationMs=0, run=base + index)
            )
        ).execution
        with lock:
            done[started.id] = event
        if not event.wait(10):
            print(f"warning: execution {started.id} never seen COMPLETED on B")
    stream.cancel()
    return latencies


def progress_latency(
    a: pb_grpc.JobOperatorServiceStub, b: pb_grpc.JobOperatorServiceStub, chunks: int
) -> list[float]:
    """ms from each chunk commit on A to its event on B, chunks 150 ms apart."""
    launched = a.Start(
        pb.StartRequest(
            job_name="demoChunkJob",
            parameters=_params(
                items=chunks * 5,
                chunkSize=_nonid(5),
                itemDelayMs=_nonid(30),
                **{"run.id": time.time_ns()},
            ),
        )
    ).execution
    latencies = []
    seen = 0
    for message in b.WatchExecution(pb.WatchExecutionRequest(execution_id=launched.id)):
        received = time.time()
        if message.heartbeat or not message.execution.step_executions:
            continue
        step = message.execution.step_executions[0]
        if step.commit_count > seen and step.status == pb.BATCH_STATUS_STARTED:
            seen = step.commit_count
            latencies.append(_ms_since(step.last_updated.ToDatetime(), received))
    return latencies


def messages_per_no_op(
    a: pb_grpc.JobOperatorServiceStub, counter: ChannelCounter, jobs: int
) -> dict[str, int]:
    counter.take()
    base = int(time.time() * 1000)
    ids = [
        a.Start(
            pb.StartRequest(job_name="demoTaskletJob", parameters=_params(durationMs=0, n=base + i))
        ).execution.id
        for i in range(jobs)
    ]
    _wait_ended(a, ids)
    return counter.take()


def messages_per_chunk(
    a: pb_grpc.JobOperatorServiceStub, counter: ChannelCounter
) -> tuple[dict[str, int], int]:
    counter.take()
    launched = a.Start(
        pb.StartRequest(
            job_name="demoChunkJob",
            parameters=_params(items=2000, chunkSize=_nonid(10), **{"run.id": time.time_ns()}),
        )
    ).execution
    _wait_ended(a, [launched.id])
    final = a.GetJobExecution(pb.GetJobExecutionRequest(execution_id=launched.id)).execution
    return counter.take(), final.step_executions[0].commit_count


def _wait_ended(stub: pb_grpc.JobOperatorServiceStub, ids: list[int]) -> None:
    running = {pb.BATCH_STATUS_STARTING, pb.BATCH_STATUS_STARTED, pb.BATCH_STATUS_STOPPING}
    for execution_id in ids:
        while True:
            current = stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=execution_id))
            if current.execution.status not in running:
                break
            time.sleep(0.01)


def _row(name: str, values: list[float], target: str = "", met: str = "") -> str:
    p50 = f"{percentile(values, 50):.2f} ms"
    p99 = f"{percentile(values, 99):.2f} ms"
    return f"{name:<58} {p50:>10} {p99:>10}  {len(values):>5}  {target:<18} {met}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=200, help="no-op jobs for the latency")
    parser.add_argument("--chunks", type=int, default=30, help="slow chunks for the latency")
    parser.add_argument("--notify-samples", type=int, default=500)
    parser.add_argument("--pg-url", help="a superuser URL of a server to use")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jobop-bench-") as folder:
        root = Path(folder)
        (root / "a").mkdir()
        (root / "b").mkdir()
        db: Database
        with database("postgresql", args.pg_url, root) as db:
            assert db.conninfo is not None
            raw = raw_notify_round_trip(db.conninfo, args.notify_samples)
            with (
                jobop_serve(db, 4, root / "a", "WARNING") as server_a,
                jobop_serve(db, 4, root / "b", "WARNING") as server_b,
                _stub(server_a) as a,
                _stub(server_b) as b,
            ):
                counter = ChannelCounter(db.conninfo)
                try:
                    transitions = final_status_latency(a, b, args.jobs)
                    progress = progress_latency(a, b, args.chunks)
                    no_op = messages_per_no_op(a, counter, 100)
                    chunk_messages, commits = messages_per_chunk(a, counter)
                finally:
                    counter.close()
    header = f"{'measure':<58} {'p50':>10} {'p99':>10}  {'n':>5}  {'target':<18} met"
    print("two jobop serve replicas (A runs, B streams) on one PostgreSQL, this machine")
    print()
    print(header)
    print("-" * len(header))
    print(_row("raw NOTIFY -> LISTEN round trip (psycopg, two connections)", raw))
    worst = percentile(transitions, 99)
    print(
        _row(
            "commit on A -> event on B: final status of a no-op job",
            transitions,
            f"p99 <= {TARGET_P99_MS:g} ms",
            "yes" if worst <= TARGET_P99_MS else "NO",
        )
    )
    print(
        _row(
            "commit on A -> event on B: chunk commit (150 ms apart)",
            progress,
            f"p99 <= {TARGET_P99_MS:g} ms",
            "yes" if percentile(progress, 99) <= TARGET_P99_MS else "NO",
        )
    )
    print()
    print(
        f"NOTIFY per no-op execution: {no_op.get('e', 0) / 100:.2f} change messages "
        f"+ {no_op.get('l', 0) / 100:.2f} launch messages (100 jobs started on A one after "
        "another, 4 workers each)"
    )
    print(
        f"NOTIFY per chunk commit: {chunk_messages.get('e', 0) / max(commits, 1):.3f} "
        f"({chunk_messages.get('e', 0)} messages for {commits} commits of 10 items, "
        "progress coalesced to 100 ms)"
    )


if __name__ == "__main__":
    main()
