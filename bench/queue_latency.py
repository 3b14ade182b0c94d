"""queue_latency: from the commit that frees a slot to the claim of the next queued start.

    .venv/bin/python -m bench.queue_latency                     # 200 queued starts per phase
    .venv/bin/python -m bench.queue_latency --starts 50         # a quick run

On a throwaway PostgreSQL cluster (tests/pgcluster.py, or `--pg-url`), three phases, each
with its own `jobop serve` processes on the same database and `--starts` queued starts of
`demoTaskletJob durationMs=--work-ms` behind a holder (a long execution that takes the only
slot; the starts are sent while it runs, then it is stopped, and the queue drains one by
one):

1. **baseline, no limit**: one `jobop serve --max-concurrent-executions 1`, no job limit:
   each start waits for the node's only worker, as before issue 21 (the node claims each
   start as it accepts it and queues it for its worker, so this phase has no claim to
   time: compare its end -> next STARTED with the others');
2. **limit 1, one replica**: one `jobop serve` with 4 workers, demoTaskletJob limited to
   1 at run time (UpdateJobSettings): each start waits for the job's slot;
3. **limit 1, `--replicas` replicas**: the same across N `jobop serve` on one database,
   the starts sent round robin: the slot freed on one node is claimed by any, woken by
   NOTIFY.

For each successive pair (k, k+1) in claim order, the latency runs from the statement that
writes k's END_TIME (its commit frees the slot) to the statement that claims k+1, both
stamped with the database's clock_timestamp() by triggers this bench adds (STAMPS). A pair
counts only if k+1 was queued before k ended. Also printed: k's END_TIME -> k+1's CLAIMED
column (which holds now(), the start of the claiming transaction, so it reads lower), and
k's END_TIME -> k+1's START_TIME (the slot freed -> the next one running; END_TIME and
START_TIME are stamped by the nodes, to the millisecond, all on this machine's clock), and
an empty RPC's latency as the floor of any call. Nothing fails on a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from jobop_client import JobOperatorClient
from jobop_client.proto import job_operator_pb2 as pb

from bench.grpc_start import Database, Server, _timestamp, database, jobop_serve, percentile

JOB = "demoTaskletJob"
TARGET_P99_MS = 50.0
WORKERS = 4
ENDED = {
    pb.BATCH_STATUS_COMPLETED,
    pb.BATCH_STATUS_STOPPED,
    pb.BATCH_STATUS_FAILED,
    pb.BATCH_STATUS_ABANDONED,
}


@dataclass
class Phase:
    name: str
    claim_ms: list[float]  # k's end -> k+1's claim, both stamped by the database (STAMPS)
    column_ms: list[float]  # k's END_TIME -> k+1's CLAIMED (its transaction's start)
    running_ms: list[float]  # k's END_TIME -> k+1's START_TIME
    cross_node_ms: list[float]  # end -> claim of the pairs claimed by another node
    skipped: int  # pairs where k+1 was not queued yet when k ended
    # False for the baseline: its node claims every start as it accepts it and queues it
    # for its own worker, so there the wait ends at START_TIME, not at a claim.
    limited: bool = True


def _ms(later: Any, earlier: Any) -> float:
    return (_timestamp(later) - _timestamp(earlier)).total_seconds() * 1000


def _wait_ended(client: JobOperatorClient, ids: Sequence[int], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    for execution_id in ids:
        while client.get_job_execution(execution_id).status not in ENDED:
            if time.monotonic() > deadline:
                raise RuntimeError(f"execution {execution_id} did not end")
            time.sleep(0.05)


def drain(db: Database, clients: Sequence[JobOperatorClient], starts: int, work_ms: int) -> Phase:
    """A holder takes the slot, `starts` starts queue behind it (round robin over the
    clients), the holder is stopped, the queue drains; the pairs read from the database."""
    first = clients[0]
    holder = first.start(JOB, {"durationMs": 600_000, "run.id": time.time_ns()}).id
    while first.get_job_execution(holder).status == pb.BATCH_STATUS_STARTING:
        time.sleep(0.02)
    base = time.time_ns()
    ids = [
        clients[index % len(clients)].start(JOB, {"durationMs": work_ms, "run.id": base + index}).id
        for index in range(starts)
    ]
    first.stop(holder)
    _wait_ended(first, [holder, *ids])
    rows = db.query(
        "SELECT e.START_TIME, e.END_TIME, l.CREATED, l.CLAIMED, l.NODE_ID, ended.AT, claim.AT "
        "FROM BATCH_JOB_EXECUTION e "
        "JOIN JOBOP_LAUNCH_REQUEST l ON l.JOB_EXECUTION_ID = e.JOB_EXECUTION_ID "
        "JOIN BENCH_STAMP ended ON ended.JOB_EXECUTION_ID = e.JOB_EXECUTION_ID "
        "AND ended.EVENT = 'end' "
        "JOIN BENCH_STAMP claim ON claim.JOB_EXECUTION_ID = e.JOB_EXECUTION_ID "
        "AND claim.EVENT = 'claim' "
        f"WHERE e.JOB_EXECUTION_ID IN ({', '.join(str(i) for i in [holder, *ids])}) "
        "ORDER BY claim.AT"
    )
    phase = Phase("", [], [], [], [], 0)
    for previous, following in itertools.pairwise(rows):
        _, end_time, _, _, node, ended, _ = previous
        start_time, _, created, claimed, claimer, _, claim = following
        if _timestamp(created) >= _timestamp(end_time):
            phase.skipped += 1
            continue
        phase.claim_ms.append(_ms(claim, ended))
        phase.column_ms.append(_ms(claimed, end_time))
        phase.running_ms.append(_ms(start_time, end_time))
        if node != claimer:
            phase.cross_node_ms.append(phase.claim_ms[-1])
    return phase


# Stamps of the database's clock (clock_timestamp(): the moment the statement writes the
# row, not its transaction's start) when a launch request is claimed and when an execution
# gets its END_TIME; a rolled-back claim leaves none. Each pair's latency runs from the
# statement that ends k (its commit follows at once) to the statement that claims k+1
# (taken once the claim's admission saw that commit).
STAMPS = """
CREATE TABLE IF NOT EXISTS bench_stamp (job_execution_id bigint, event text, at timestamp);
CREATE OR REPLACE FUNCTION bench_stamp_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.node_id IS NOT NULL AND (TG_OP = 'INSERT' OR OLD.node_id IS NULL) THEN
    INSERT INTO bench_stamp VALUES (NEW.job_execution_id, 'claim', clock_timestamp());
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bench_stamp_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.end_time IS NOT NULL AND OLD.end_time IS NULL THEN
    INSERT INTO bench_stamp VALUES (NEW.job_execution_id, 'end', clock_timestamp());
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER bench_claim AFTER INSERT OR UPDATE ON jobop_launch_request
  FOR EACH ROW EXECUTE FUNCTION bench_stamp_claim();
CREATE OR REPLACE TRIGGER bench_end AFTER UPDATE ON batch_job_execution
  FOR EACH ROW EXECUTE FUNCTION bench_stamp_end();
"""


def add_stamps(db: Database) -> None:
    assert db.conninfo is not None
    with psycopg.connect(db.conninfo) as connection:
        connection.execute(STAMPS)


def empty_rpc_ms(server: Server, samples: int) -> list[float]:
    with grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest()
        health.Check(request)
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            health.Check(request)
            times.append((time.perf_counter() - began) * 1000)
    return times


@contextlib.contextmanager
def servers(
    db: Database, folder: Path, name: str, count: int, workers: int
) -> Iterator[list[JobOperatorClient]]:
    with contextlib.ExitStack() as stack:
        made = [
            stack.enter_context(
                jobop_serve(
                    db,
                    workers,
                    folder,
                    "WARNING",
                    f"{name}-{index}",
                    # Announce to each other as the replicas of a cluster do.
                    ("--lease", "10", "--heartbeat-interval", "2"),
                )
            )
            for index in range(count)
        ]
        clients = [stack.enter_context(JobOperatorClient(s.target)) for s in made]
        yield clients


def _row(name: str, values: list[float]) -> str:
    cells = [f"{percentile(values, q):>8.2f}" for q in (50, 90, 99)]
    top = max(values, default=float("nan"))
    return f"{name:<62} {' '.join(cells)} {top:>8.2f} {len(values):>5}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--starts", type=int, default=200, help="queued starts per phase")
    parser.add_argument("--replicas", type=int, default=3, help="replicas of the last phase")
    parser.add_argument("--work-ms", type=int, default=10, help="each execution's durationMs")
    parser.add_argument("--rpc-samples", type=int, default=300)
    parser.add_argument("--pg-url", help="a superuser URL of a server to use")
    args = parser.parse_args(argv)
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="jobop-bench-") as folder:
        root = Path(folder)
        with database("postgresql", args.pg_url, root) as db:
            with servers(db, root, "baseline", 1, 1) as clients:
                add_stamps(db)  # the schema is there now
                phase = drain(db, clients, args.starts, args.work_ms)
                phase.name = "baseline: no limit, 1 node with 1 worker"
                phase.limited = False
                phases.append(phase)
            with servers(db, root, "single", 1, WORKERS) as clients:
                clients[0].update_job_settings(JOB, {"max_concurrent": 1})
                phase = drain(db, clients, args.starts, args.work_ms)
                phase.name = f"limit 1, 1 node with {WORKERS} workers"
                phases.append(phase)
            with servers(db, root, "replica", args.replicas, WORKERS) as clients:
                phase = drain(db, clients, args.starts, args.work_ms)
                phase.name = f"limit 1, {args.replicas} nodes with {WORKERS} workers each"
                phases.append(phase)
                with jobop_serve(db, WORKERS, root, "WARNING", "rpc") as server:
                    rpc = empty_rpc_ms(server, args.rpc_samples)
    print(
        f"slot freed -> next queued start claimed, demoTaskletJob durationMs={args.work_ms}, "
        f"{args.starts} queued starts per phase, PostgreSQL, this machine"
    )
    print()
    header = f"{'measure (ms)':<62} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'n':>5}"
    print(header)
    print("-" * len(header))
    for phase in phases:
        if phase.limited:
            print(_row(f"{phase.name}: end -> claim", phase.claim_ms))
            if phase.cross_node_ms:
                print(_row("  of which claimed by another node (NOTIFY)", phase.cross_node_ms))
            print(_row("  END_TIME -> CLAIMED column (claim's transaction start)", phase.column_ms))
        print(_row(f"{phase.name}: end -> next STARTED", phase.running_ms))
    print(_row("empty RPC (Health/Check), back to back", rpc))
    print()
    for phase in phases:
        if not phase.limited:
            print(f"{phase.name}: claimed as accepted, queued for the node's worker")
            continue
        note = f"{len(phase.cross_node_ms)} of {len(phase.claim_ms)} claims on another node"
        early = sum(1 for ms in phase.claim_ms if ms < 0)
        note += f", {early} claimed before the previous one ended (a broken limit)"
        if phase.skipped:
            note += f", {phase.skipped} pairs left out (not queued yet when the slot freed)"
        print(f"{phase.name}: {note}")
    last = phases[-1].claim_ms
    met = "yes" if percentile(last, 99) <= TARGET_P99_MS else "NO"
    print(f"target: p99 end -> claim across replicas <= {TARGET_P99_MS:g} ms: {met}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
