"""partitions: a CPU-bound partitioned job on one worker process and on two, the partition
step's overhead on one node, and partition end -> the manager seeing it.

    .venv/bin/python -m bench.partitions                  # ~10 s per scaling run
    .venv/bin/python -m bench.partitions --items 20000 --overhead-items 10000 --latency-jobs 30

On a throwaway PostgreSQL cluster (tests/pgcluster.py, or `--pg-url`), one database, in
the same run:

1. **overhead, one node**: one `jobop serve` (role all, alone on the database: partitions
   run on its own threads) runs, `--rounds` times each, alternating which goes first, the
   same items through a plain chunk step (`benchPlainChunkJob`, bench/partition_jobs.py:
   demoPartitionedJob's reader, processor and writer in one ChunkStep, same chunk size)
   and through demoPartitionedJob with 1 partition and with `--partitions`; items/s from
   the execution's START_TIME to its END_TIME, the best round of each, and the median of
   the rounds' own ratios (target: the partitioned job within 5 %);
2. **scaling**: one `jobop serve --role api` takes the starts; first one `--role worker`
   process, then two, run demoPartitionedJob (`--partitions` partitions of `--items`
   items, `--cpu-work-us` of pure-Python work per item, `--workers` threads per worker
   process), `--scaling-rounds` pairs; items/s each and the ratio (target >= 1.6), the
   workers' CPU per item; under the table, the CPU each process used during the runs in
   cores (CPU seconds / wall seconds): the workers (and their runnable threads), the api
   node, PostgreSQL, this client, and the rest of the machine (/proc/stat's busy time less
   ours: other work on the machine);
3. **partition end -> manager** (the two-worker cluster): `--latency-jobs` small
   partitioned jobs one at a time; the database stamps (clock_timestamp(), triggers this
   bench adds) the statement that sets a partition row's ENDED and the one that sets the
   manager step's END_TIME. Per job, from its last partition's end to its manager's end:
   an upper bound of the manager seeing it (it then aggregates and commits the step), on
   one clock. The rows split by whether the last partition ran on the manager's node.
   Target: p99 <= 100 ms. Beside it, the managers' own jobop_partition_end_seconds
   histogram (the workers' /metrics).

`--profile N`: then a cProfile of the plain chunk step run in this process, top N.

Every `jobop serve` runs in a session of its own (the kernel's autogroup scheduling weighs
it as a program, not as a process of the bench's session) and does the same CPU work per
item (one calibration of cpuWorkUs, handed to all: bench/partition_jobs.py). Beside the
rates, CPU per item (/proc), which other work on the machine moves far less. See
bench/README.md. Nothing fails on a timing.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from jobop_client import JobOperatorClient
from jobop_client.proto import job_operator_pb2 as pb
from jobop_jobs import demo_partitioned

from bench.grpc_start import ROOT, Database, Server, _timestamp, database, jobop_serve, percentile
from bench.partition_jobs import ROUNDS_PER_US

PARTITIONED = "demoPartitionedJob"
PLAIN = "benchPlainChunkJob"  # bench/partition_jobs.py
WORKERS = ("worker 1", "worker 2")
TARGET_SCALING = 1.6
TARGET_OVERHEAD = 0.95
TARGET_P99_MS = 100.0
ENDED = {
    pb.BATCH_STATUS_COMPLETED,
    pb.BATCH_STATUS_STOPPED,
    pb.BATCH_STATUS_FAILED,
    pb.BATCH_STATUS_ABANDONED,
}
_run_ids = iter(range(time.time_ns(), 1 << 62))


@dataclass
class Run:
    """One execution, read back from the database."""

    execution_id: int
    items: int
    seconds: float  # START_TIME -> END_TIME
    wall: float  # Start sent -> seen ended
    nodes: dict[str, str] = field(default_factory=dict)  # partition step name -> node
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds
    runnable: dict[str, float] = field(default_factory=dict)  # process -> threads in R

    @property
    def rate(self) -> float:
        return self.items / self.seconds


def _busy_seconds() -> float:
    """The machine's busy CPU seconds so far (every core; /proc/stat, less idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Runnable(threading.Thread):
    """Samples, every 10 ms while it runs, how many threads of each process are runnable
    (state R in /proc: running, or ready and waiting for a core). More runnable threads
    than the cores a process gets means the machine, not the process, holds it back; a
    thread waiting for Python's GIL or for the database sleeps (S) and is not counted."""

    def __init__(self, processes: dict[str, Server]) -> None:
        super().__init__(daemon=True)
        self.processes = processes
        self.counts: dict[str, int] = dict.fromkeys(processes, 0)
        self.samples = 0
        self.done = threading.Event()

    def __enter__(self) -> Runnable:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.join()

    def run(self) -> None:
        while not self.done.wait(0.01):
            for name, server in self.processes.items():
                for task in Path(f"/proc/{server.process.pid}/task").glob("*/stat"):
                    with contextlib.suppress(OSError, IndexError):
                        if task.read_text().rsplit(")", 1)[1].split()[0] == "R":
                            self.counts[name] += 1
            self.samples += 1

    def means(self) -> dict[str, float]:
        return {name: count / max(1, self.samples) for name, count in self.counts.items()}


def run_job(
    db: Database,
    client: JobOperatorClient,
    job: str,
    parameters: dict[str, Any],
    processes: dict[str, Server],
) -> Run:
    """Start `job` with a fresh instance, wait for its end, read its times and nodes."""
    with psycopg.connect(db.conninfo or "", autocommit=True) as connection:
        # Each run inserts its items; none updates the rows of a previous run. The table as
        # DemoItemsWriter creates it.
        connection.execute(
            "CREATE TABLE IF NOT EXISTS demo_items "
            "(item bigint PRIMARY KEY, job_execution_id bigint NOT NULL)"
        )
        connection.execute("TRUNCATE demo_items")
    before = {name: server.cpu_seconds() for name, server in processes.items()}
    database_before = db.cpu_seconds()
    client_before = time.process_time()
    busy_before = _busy_seconds()
    began = time.perf_counter()
    sampler = Runnable(processes)
    with sampler:
        execution_id = client.start(job, {**parameters, "run.id": next(_run_ids)}).id
        while (execution := client.get_job_execution(execution_id)).status not in ENDED:
            time.sleep(0.05)
    wall = time.perf_counter() - began
    cpu = {name: server.cpu_seconds() - before[name] for name, server in processes.items()}
    if database_before is not None:
        cpu["PostgreSQL"] = (db.cpu_seconds() or 0.0) - database_before
    cpu["client (this bench)"] = time.process_time() - client_before
    cpu["machine, all"] = _busy_seconds() - busy_before
    if execution.status != pb.BATCH_STATUS_COMPLETED:
        raise RuntimeError(f"{job} execution {execution_id} ended {execution.status}")
    (start, end), *_ = db.query(
        "SELECT START_TIME, END_TIME FROM BATCH_JOB_EXECUTION "
        f"WHERE JOB_EXECUTION_ID = {int(execution_id)}"
    )
    nodes = dict(
        db.query(
            "SELECT STEP_NAME, NODE_ID FROM JOBOP_PARTITION "
            f"WHERE JOB_EXECUTION_ID = {int(execution_id)} ORDER BY STEP_EXECUTION_ID"
        )
    )
    (written,) = db.query("SELECT count(*) FROM demo_items")[0]
    if written != parameters["items"]:
        raise RuntimeError(f"{job} wrote {written} items of {parameters['items']}")
    seconds = (_timestamp(end) - _timestamp(start)).total_seconds()
    return Run(execution_id, parameters["items"], seconds, wall, nodes, cpu, sampler.means())


@contextlib.contextmanager
def node(db: Database, folder: Path, label: str, role: str, workers: int) -> Iterator[Server]:
    """One `jobop serve` of `role` on `db`, with the bench's job module."""
    options = ("--role", role, "--jobs", "bench.partition_jobs")
    options += ("--lease", "10", "--heartbeat-interval", "2")
    name = label.replace(" ", "-")
    with jobop_serve(db, workers, folder, "WARNING", name, options, new_session=True) as server:
        yield server


def scaling(
    db: Database, folder: Path, args: argparse.Namespace, parameters: dict[str, Any]
) -> tuple[list[Run], list[Run], Latency | None]:
    """`--scaling-rounds` pairs of runs on an api node and one worker, then two; which goes
    first alternates (the second worker starts or stops between the two). The latency
    phase runs on the two-worker cluster of the last round that has one."""
    ones: list[Run] = []
    twos: list[Run] = []
    found: Latency | None = None
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(node(db, folder, "api node", "api", args.workers))
        first = stack.enter_context(node(db, folder, "worker 1", "worker", args.workers))
        client = stack.enter_context(JobOperatorClient(api.target))
        processes = {"api node": api, "worker 1": first}
        second: contextlib.ExitStack | None = None
        for index in range(max(1, args.scaling_rounds)):
            order = ("one", "two") if index % 2 == 0 else ("two", "one")
            for shape in order:
                if shape == "two" and second is None:
                    second = contextlib.ExitStack()
                    processes["worker 2"] = second.enter_context(
                        node(db, folder, "worker 2", "worker", args.workers)
                    )
                if shape == "one" and second is not None:
                    second.close()  # SIGTERM: it leaves the cluster
                    second = None
                    del processes["worker 2"]
                run = run_job(db, client, PARTITIONED, parameters, processes)
                (ones if shape == "one" else twos).append(run)
        if second is None:
            second = contextlib.ExitStack()
            processes["worker 2"] = second.enter_context(
                node(db, folder, "worker 2", "worker", args.workers)
            )
        with second:
            workers = [processes["worker 1"], processes["worker 2"]]
            found = latency(db, client, args.latency_jobs, args.latency_partitions, workers)
    return ones, twos, found


# The database's clock at the statements that end a partition and a manager step (a
# rolled-back one leaves no stamp).
STAMPS = """
CREATE TABLE IF NOT EXISTS bench_stamp (step_execution_id bigint, event text, at timestamp);
CREATE OR REPLACE FUNCTION bench_stamp_partition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.ended IS NOT NULL AND OLD.ended IS NULL THEN
    INSERT INTO bench_stamp VALUES (NEW.step_execution_id, 'partition', clock_timestamp());
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION bench_stamp_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.end_time IS NOT NULL AND OLD.end_time IS NULL THEN
    INSERT INTO bench_stamp VALUES (NEW.step_execution_id, 'step', clock_timestamp());
  END IF;
  RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER bench_partition AFTER UPDATE ON jobop_partition
  FOR EACH ROW EXECUTE FUNCTION bench_stamp_partition();
CREATE OR REPLACE TRIGGER bench_step AFTER UPDATE ON batch_step_execution
  FOR EACH ROW EXECUTE FUNCTION bench_stamp_step();
"""


@dataclass
class Latency:
    same_node_ms: list[float] = field(default_factory=list)
    other_node_ms: list[float] = field(default_factory=list)
    # jobop_partition_end_seconds of the nodes' /metrics, summed: upper bound -> count
    buckets: dict[float, float] = field(default_factory=dict)
    seen_sum: float = 0.0

    @property
    def all_ms(self) -> list[float]:
        return self.same_node_ms + self.other_node_ms


def _scrape(server: Server, result: Latency) -> None:
    """Add the node's jobop_partition_end_seconds histogram (its managers' partition ends
    seen, for partitions another node ran) to `result`."""
    args = list(server.process.args)  # type: ignore[arg-type]
    address = args[args.index("--http-address") + 1]
    with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as response:
        text = response.read().decode()
    for line in text.splitlines():
        if line.startswith("jobop_partition_end_seconds_bucket{"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            key = float("inf") if bound == "+Inf" else float(bound)
            result.buckets[key] = result.buckets.get(key, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith("jobop_partition_end_seconds_sum{"):
            result.seen_sum += float(line.rsplit(" ", 1)[1])


def latency(
    db: Database,
    client: JobOperatorClient,
    jobs: int,
    partitions: int,
    nodes: Sequence[Server] = (),
) -> Latency:
    """`jobs` small partitioned jobs one at a time; per job, its last partition's ENDED ->
    its manager step's END_TIME, both stamped by the database."""
    assert db.conninfo is not None
    with psycopg.connect(db.conninfo, autocommit=True) as connection:
        connection.execute(STAMPS)  # type: ignore[arg-type]
    ids = []
    for _ in range(jobs):
        parameters = {
            "items": partitions * 20,
            "partitions": partitions,
            "chunkSize": 10,
            "cpuWorkUs": 0,
            "run.id": next(_run_ids),
        }
        execution_id = client.start(PARTITIONED, parameters).id
        while client.get_job_execution(execution_id).status not in ENDED:
            time.sleep(0.02)
        ids.append(execution_id)
    rows = db.query(
        "SELECT p.MANAGER_STEP_EXECUTION_ID, max(ended.AT), manager.AT, "
        "  (array_agg(p.NODE_ID ORDER BY ended.AT DESC))[1], l.NODE_ID "
        "FROM JOBOP_PARTITION p "
        "JOIN BENCH_STAMP ended ON ended.STEP_EXECUTION_ID = p.STEP_EXECUTION_ID "
        "  AND ended.EVENT = 'partition' "
        "JOIN BENCH_STAMP manager ON manager.STEP_EXECUTION_ID = p.MANAGER_STEP_EXECUTION_ID "
        "  AND manager.EVENT = 'step' "
        "JOIN JOBOP_LAUNCH_REQUEST l ON l.JOB_EXECUTION_ID = p.JOB_EXECUTION_ID "
        f"WHERE p.JOB_EXECUTION_ID IN ({', '.join(str(int(i)) for i in ids)}) "
        "GROUP BY p.MANAGER_STEP_EXECUTION_ID, manager.AT, l.NODE_ID"
    )
    result = Latency()
    for _, last_end, manager_end, last_node, manager_node in rows:
        ms = (_timestamp(manager_end) - _timestamp(last_end)).total_seconds() * 1000
        (result.same_node_ms if last_node == manager_node else result.other_node_ms).append(ms)
    for server in nodes:
        _scrape(server, result)
    return result


def scaling_report(ones: list[Run], twos: list[Run]) -> list[str]:
    ratios = [two.rate / one.rate for one, two in zip(ones, twos, strict=True)]
    best = max(two.rate for two in twos) / max(one.rate for one in ones)
    ratio = statistics.median(ratios)
    efficiency = statistics.median(
        _cpu_us(one, WORKERS[:1]) / _cpu_us(two, WORKERS)
        for one, two in zip(ones, twos, strict=True)
    )
    lines = [
        f"{'scaling: demoPartitionedJob, items/s per round':<50} "
        + " ".join(f"{f'round {n + 1}':>9}" for n in range(len(ones))),
        f"{'  1 worker process (+ api node)':<50} " + " ".join(f"{r.rate:>9.0f}" for r in ones),
        f"{'  2 worker processes (+ api node)':<50} " + " ".join(f"{r.rate:>9.0f}" for r in twos),
        f"{'  ratio 2 / 1':<50} " + " ".join(f"{r:>9.2f}" for r in ratios),
        f"{'  workers CPU us/item, 1 worker':<50} "
        + " ".join(f"{_cpu_us(r, WORKERS[:1]):>9.0f}" for r in ones),
        f"{'  workers CPU us/item, 2 workers':<50} "
        + " ".join(f"{_cpu_us(r, WORKERS):>9.0f}" for r in twos),
        f"  median ratio {ratio:.2f}, best against best {best:.2f} (target >= {TARGET_SCALING}: "
        f"{'yes' if ratio >= TARGET_SCALING else 'NO'})",
        f"  with the cores the workers got: 2 x (1 worker's CPU per item / 2 workers') = "
        f"{2 * efficiency:.2f}, what two free cores would give",
        "",
        "CPU during the runs, in cores (CPU seconds / the run's seconds), mean of the rounds:",
        f"  {'':<44} {'1 worker':>9} {'2 workers':>9}",
    ]

    def cores(runs: list[Run], name: str) -> float:
        return statistics.mean(r.cpu.get(name, 0.0) / r.seconds for r in runs)

    def rest(runs: list[Run]) -> float:
        return statistics.mean(
            (r.cpu["machine, all"] - sum(v for k, v in r.cpu.items() if k != "machine, all"))
            / r.seconds
            for r in runs
        )

    names = sorted({*ones[0].cpu, *twos[0].cpu} - {"machine, all"})
    for name in names:
        lines.append(f"  {name:<44} {cores(ones, name):>9.2f} {cores(twos, name):>9.2f}")
        if name in WORKERS:

            def runnable(runs: list[Run], name: str = name) -> float:
                return statistics.mean(r.runnable.get(name, 0.0) for r in runs)

            label = "    its runnable threads (want a core), mean"
            lines.append(f"  {label:<44} {runnable(ones):>9.2f} {runnable(twos):>9.2f}")
    lines.append(
        f"  {'the rest of the machine (other work)':<44} {rest(ones):>9.2f} {rest(twos):>9.2f}"
    )
    lines.append(
        f"  {'the machine, all':<44} {cores(ones, 'machine, all'):>9.2f} "
        f"{cores(twos, 'machine, all'):>9.2f}"
    )
    per_node: dict[str, int] = {}
    for name in twos[-1].nodes.values():
        per_node[name] = per_node.get(name, 0) + 1
    used = [len(set(r.nodes.values())) for r in ones]
    lines.append(
        f"  partitions per node, 2 workers (last round): {sorted(per_node.values(), reverse=True)}"
        f"; nodes running partitions with 1 worker: {used}"
    )
    return lines


def _cpu_us(run: Run, names: Sequence[str]) -> float:
    """CPU microseconds per item of the named processes."""
    return sum(run.cpu.get(name, 0.0) for name in names) * 1e6 / run.items


def overhead_report(rounds: dict[str, list[Run]], partitions: int) -> list[str]:
    """Items/s (best, and each round's ratio to the plain run of the same round) and the
    node's CPU per item (best), which the machine's other work moves far less."""
    plain = rounds["plain"]
    best_plain = max(r.rate for r in plain)
    cpu_plain = min(_cpu_us(r, ["node"]) for r in plain)
    lines = [
        f"{'overhead, one node (role all, alone)':<44} {'best/s':>7} {'x plain':>7} "
        f"{'median':>7} {'range':>11} {'CPU us/item':>12} {'x plain':>7}",
        f"{'  plain chunk step (benchPlainChunkJob)':<44} {best_plain:>7.0f} {1:>7.2f} "
        f"{'':>7} {'':>11} {cpu_plain:>12.0f} {1:>7.2f}",
    ]
    for key, label in (
        ("one", "  demoPartitionedJob, 1 partition"),
        ("many", f"  demoPartitionedJob, {partitions} partitions"),
    ):
        runs = rounds[key]
        best = max(r.rate for r in runs)
        ratios = [r.rate / p.rate for r, p in zip(runs, plain, strict=True)]
        cpu = min(_cpu_us(r, ["node"]) for r in runs)
        lines.append(
            f"{label:<44} {best:>7.0f} {best / best_plain:>7.2f} "
            f"{statistics.median(ratios):>7.2f} {min(ratios):>5.2f}-{max(ratios):<5.2f} "
            f"{cpu:>12.0f} {cpu_plain / cpu:>7.2f}"
        )
    lines.append(
        f"  target: within 5 % of the plain step (x plain >= {TARGET_OVERHEAD}); 'x plain' of "
        "CPU is the plain step's CPU per item over this one's"
    )
    return lines


def latency_report(result: Latency) -> list[str]:
    def row(name: str, values: list[float]) -> str:
        cells = " ".join(f"{percentile(values, q):>8.1f}" for q in (50, 90, 99))
        return f"{name:<58} {cells} {max(values, default=float('nan')):>8.1f} {len(values):>5}"

    every = result.all_ms
    met = "yes" if every and percentile(every, 99) <= TARGET_P99_MS else "NO"
    return [
        f"{'partition ENDED -> manager step END (ms)':<58} {'p50':>8} {'p90':>8} {'p99':>8} "
        f"{'max':>8} {'n':>5}",
        row("  last partition on another node (NOTIFY)", result.other_node_ms),
        row("  last partition on the manager's node", result.same_node_ms),
        row("  all", every),
        f"  target p99 <= {TARGET_P99_MS:g} ms: {met}",
        *_histogram_lines(result),
    ]


def _histogram_lines(result: Latency) -> list[str]:
    """What the managers themselves measured (jobop_partition_end_seconds: a partition's
    ENDED -> its manager seeing it, each partition another node ran), from its buckets."""
    count = result.buckets.get(float("inf"), 0.0)
    if not count:
        return ["  jobop_partition_end_seconds: no observation"]
    bounds = sorted(result.buckets)

    def at(q: float) -> str:
        bound = next(b for b in bounds if result.buckets[b] >= q * count)
        return "> 5 s" if bound == float("inf") else f"<= {bound * 1000:g} ms"

    return [
        f"  the managers' own histogram (jobop_partition_end_seconds, every partition run "
        f"on another node, {count:.0f} observations): mean "
        f"{result.seen_sum / count * 1000:.1f} ms, p50 {at(0.5)}, p99 {at(0.99)}"
    ]


def profile(db: Database, args: argparse.Namespace, work: dict[str, int]) -> list[str]:
    """benchPlainChunkJob (a partition's work, on one thread) run in this process under
    cProfile: where a chunk step's time goes, by own time."""
    from jobop.batch.runner import JobRunner
    from jobop.domain import JobParameters
    from jobop.repository import JobRepository, create_engine

    from bench import partition_jobs

    engine = create_engine(db.url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("TRUNCATE demo_items")
        repository = JobRepository(engine)
        values = {"items": args.overhead_items, **work, "run.id": next(_run_ids)}
        parameters = JobParameters.parse([f"{name}={value}" for name, value in values.items()])
        execution = repository.create_job_execution(partition_jobs.JOB_NAME, parameters)
        profiler = cProfile.Profile()
        profiler.enable()
        JobRunner(repository).run(partition_jobs.job, execution)
        profiler.disable()
    finally:
        engine.dispose()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile)
    return [f"cProfile of {PLAIN} in process, {args.overhead_items} items:", out.getvalue()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=50_000, help="items of a scaling run")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--cpu-work-us", type=int, default=200, help="CPU work per item")
    parser.add_argument("--workers", type=int, default=4, help="threads per jobop serve")
    parser.add_argument("--overhead-items", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="overhead rounds")
    parser.add_argument("--latency-jobs", type=int, default=100)
    parser.add_argument("--latency-partitions", type=int, default=4)
    parser.add_argument("--pg-url", help="a superuser URL of a server to use")
    parser.add_argument("--scaling-rounds", type=int, default=2)
    parser.add_argument("--skip", action="append", default=[], choices=["overhead"])
    parser.add_argument(
        "--profile", type=int, metavar="N", default=0, help="+ cProfile of a chunk step: top N"
    )
    args = parser.parse_args(argv)
    # `jobop serve --jobs bench.partition_jobs` imports the bench's job module from here.
    path = [str(ROOT), os.environ.get("PYTHONPATH")]
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, path))
    work = {"chunkSize": args.chunk_size, "cpuWorkUs": args.cpu_work_us}
    # One calibration of cpuWorkUs for every process (the fastest of a few: the least
    # disturbed by other work), so that each does the same work per item.
    rounds_per_us = max(demo_partitioned._calibrate() for _ in range(5))
    os.environ[ROUNDS_PER_US] = repr(rounds_per_us)
    demo_partitioned._ROUNDS_PER_US = rounds_per_us  # for --profile, in this process
    lines: list[str] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="jobop-bench-") as folder:
        root = Path(folder)
        with database("postgresql", args.pg_url, root) as db:
            if "overhead" not in args.skip:
                rounds: dict[str, list[Run]] = {"plain": [], "one": [], "many": []}
                with (
                    node(db, root, "alone", "all", args.workers) as alone,
                    JobOperatorClient(alone.target) as client,
                ):
                    processes = {"node": alone}
                    items = {"items": args.overhead_items, **work}
                    runs = {
                        "plain": (PLAIN, items),
                        "one": (PARTITIONED, {**items, "partitions": 1}),
                        "many": (PARTITIONED, {**items, "partitions": args.partitions}),
                    }
                    run_job(db, client, PLAIN, {**items, "items": 1000}, processes)  # warm-up
                    for index in range(args.rounds):
                        order = list(runs) if index % 2 == 0 else list(reversed(runs))
                        for key in order:
                            job, parameters = runs[key]
                            rounds[key].append(run_job(db, client, job, parameters, processes))
                lines += overhead_report(rounds, args.partitions)
                lines.append("")
            parameters = {"items": args.items, "partitions": args.partitions, **work}
            ones, twos, found = scaling(db, root, args, parameters)
            lines += scaling_report(ones, twos)
            lines.append("")
            if found is not None:
                lines += latency_report(found)
            if args.profile:
                lines += ["", *profile(db, args, work)]
    print(
        f"demoPartitionedJob: {args.items} items (overhead: {args.overhead_items}), "
        f"{args.partitions} partitions, chunk {args.chunk_size}, cpuWorkUs {args.cpu_work_us}, "
        f"{args.workers} threads per process ({rounds_per_us:.1f} spin rounds per us); "
        f"PostgreSQL; {os.cpu_count()} cores; load "
        f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
