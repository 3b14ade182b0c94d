"""Copy a CSV file into PostgreSQL through a jobop chunk step and through a plain psycopg
loop, and compare: rows/s of each, their ratio, and jobop's metadata statements per chunk.

    .venv/bin/python -m bench.csv_copy [--rows N] [--copy] [--chunk-size N] [--repeat K]

See bench/README.md. Prints a table; never fails on a timing.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import importlib.util
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from jobop.batch import Chunk, ChunkStep, Job, JobLauncher, JobRunner, step_scope
from jobop.batch.csv import CsvItemReader
from jobop.batch.sql import SqlItemWriter
from jobop.domain import JobParameters
from jobop.repository import JobRepository, StatementCounter
from jobop.web import Metrics
from sqlalchemy import BigInteger, Column, Date, MetaData, Numeric, String, Table, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "jobop_bench"
# The launch-performance issue's figure for both paths (executemany and COPY).
TARGET_RATIO = ">= 0.95"
FIELDS = ("id", "name", "amount", "date")
COLUMNS = ("id", "name", "amount", "day")

metadata = MetaData()


def _target(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("name", String(100), nullable=False),
        Column("amount", Numeric(12, 2), nullable=False),
        Column("day", Date, nullable=False),
    )


ENGINE_TABLE = _target("bench_engine_rows")
RAW_TABLE = _target("bench_raw_rows")


# --- the shared work: the same parsing on both paths ----------------------------------


def parse(row: dict[str, str]) -> dict[str, Any]:
    """The 'light processor': typed values from the CSV text, as both paths insert them."""
    return {
        "id": int(row["id"]),
        "name": row["name"],
        "amount": Decimal(row["amount"]),
        "day": date.fromisoformat(row["date"]),
    }


class ParseProcessor:
    def process(self, item: dict[str, str]) -> dict[str, Any]:
        return parse(item)


def generate_csv(path: Path, rows: int, seed: int = 42) -> None:
    """`rows` records of id,name,amount,date; deterministic for a given seed."""
    rng = random.Random(seed)
    names = ["Ada", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances"]
    start = date(2020, 1, 1)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(FIELDS)
        batch: list[tuple[int, str, str, str]] = []
        for number in range(1, rows + 1):
            batch.append(
                (
                    number,
                    f"{rng.choice(names)} {number}",
                    f"{rng.randrange(0, 10_000_000) / 100:.2f}",
                    (start + timedelta(days=rng.randrange(0, 1500))).isoformat(),
                )
            )
            if len(batch) == 10_000:
                writer.writerows(batch)
                batch.clear()
        writer.writerows(batch)


# --- (a) jobop: CsvItemReader -> ParseProcessor -> SqlItemWriter, via JobRunner -----------


class MetadataTally:
    """Counts statements on the BATCH_ tables as the chunk loop goes, so that the figure
    per chunk leaves out the job's launch and end (sampled at each chunk's write)."""

    def __init__(self, counter: StatementCounter) -> None:
        self.counter = counter
        self._scanned = 0
        self._metadata = 0
        self.samples: list[int] = []

    def sample(self) -> None:
        statements = self.counter.statements
        for statement in statements[self._scanned :]:
            if "batch_" in statement.lower():
                self._metadata += 1
        self._scanned = len(statements)
        self.samples.append(self._metadata)

    def per_chunk(self) -> float:
        """Metadata statements between the first chunk's write and the last one's, per
        chunk: exactly the commits of the chunks in between."""
        if len(self.samples) < 2:
            return float("nan")
        return (self.samples[-1] - self.samples[0]) / (len(self.samples) - 1)


class SamplingWriter:
    """The SqlItemWriter, sampling the metadata tally before each chunk's write."""

    def __init__(self, writer: SqlItemWriter[dict[str, Any]], tally: MetadataTally) -> None:
        self.writer = writer
        self.tally = tally

    def write(self, chunk: Chunk[dict[str, Any]]) -> None:
        self.tally.sample()
        self.writer.write(chunk)


@dataclass
class EngineResult:
    seconds: float
    rows: int
    chunks: int
    statements: int
    metadata_per_chunk: float
    profile: str = ""


def run_engine(
    repository: JobRepository,
    path: Path,
    chunk_size: int,
    use_copy: bool,
    run_id: int,
    profile: bool,
    step_listeners: Sequence[object] = (),
) -> EngineResult:
    counter = StatementCounter(repository.engine)
    tally = MetadataTally(counter)
    writer = SamplingWriter(SqlItemWriter(ENGINE_TABLE, use_copy=use_copy), tally)
    job = Job(
        "benchCsvCopyJob",
        [
            ChunkStep(
                "benchCsvCopyStep",
                reader=step_scope(lambda _: CsvItemReader(path)),
                processor=ParseProcessor(),
                writer=writer,
                chunk_size=chunk_size,
            )
        ],
    )
    launcher = JobLauncher(repository, JobRunner(repository, step_listeners=step_listeners))
    parameters = JobParameters.of(run=run_id)
    profiler = cProfile.Profile() if profile else None
    with counter:
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        execution = launcher.launch(job, parameters)
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
    if execution.exit_status.exit_code != "COMPLETED":
        raise RuntimeError(f"the bench job did not complete: {execution.exit_status}")
    step = execution.step_executions[-1]
    report = ""
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        report = out.getvalue()
    return EngineResult(
        seconds, step.write_count, step.commit_count, counter.count, tally.per_chunk(), report
    )


# --- (b) the same by hand: csv + parse + executemany (or COPY), a transaction per chunk ---


def run_raw(conninfo: str, path: Path, chunk_size: int, use_copy: bool) -> tuple[float, int]:
    insert = (
        f"INSERT INTO {RAW_TABLE.name} ({', '.join(COLUMNS)}) "
        f"VALUES ({', '.join(f'%({name})s' for name in COLUMNS)})"
    )
    copy_sql = f"COPY {RAW_TABLE.name} ({', '.join(COLUMNS)}) FROM STDIN"
    written = 0
    with psycopg.connect(conninfo) as connection, connection.cursor() as cursor:

        def flush(rows: list[dict[str, Any]]) -> None:
            with connection.transaction():
                if use_copy:
                    with cursor.copy(copy_sql) as copy:
                        for row in rows:
                            copy.write_row([row[name] for name in COLUMNS])
                else:
                    cursor.executemany(insert, rows)

        started = time.perf_counter()
        with path.open(encoding="utf-8", newline="") as file:
            batch: list[dict[str, Any]] = []
            for record in csv.DictReader(file):
                batch.append(parse(record))
                if len(batch) == chunk_size:
                    flush(batch)
                    written += len(batch)
                    batch = []
            if batch:
                flush(batch)
                written += len(batch)
        seconds = time.perf_counter() - started
    return seconds, written


# --- set-up ---------------------------------------------------------------------------


def _load_pgcluster() -> ModuleType:
    """tests/pgcluster.py, the suite's throwaway cluster, loaded by path."""
    spec = importlib.util.spec_from_file_location("pgcluster", ROOT / "tests" / "pgcluster.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load tests/pgcluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@contextmanager
def postgres(url: str | None) -> Iterator[tuple[str, str]]:
    """(SQLAlchemy URL, psycopg conninfo) of a fresh bench database on `url`'s server or on
    a throwaway cluster started for the run."""
    pgcluster = _load_pgcluster()
    if url is not None:
        server = make_url(url)
        cluster = pgcluster.Cluster(
            server.host or "127.0.0.1", server.port or 5432, server.username or "postgres", None
        )
    else:
        cluster = pgcluster.start_cluster()
    try:
        bench_url: str = cluster.create_database(DATABASE)
        conninfo: str = cluster.conninfo(DATABASE)
        yield bench_url, conninfo
        cluster.drop_database(DATABASE)
    finally:
        if url is None:
            pgcluster.stop_cluster(cluster)


def _truncate(repository: JobRepository) -> None:
    with repository.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {ENGINE_TABLE.name}, {RAW_TABLE.name}"))
    # Fresh statistics and no dead tuples from the previous round.
    with repository.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def _server_version(repository: JobRepository) -> str:
    with repository.engine.connect() as connection:
        version = connection.scalar(text("SHOW server_version"))
    return f"PostgreSQL {version}"


def _timed(label: str, action: Callable[[], None]) -> None:
    started = time.perf_counter()
    action()
    print(f"  {label} in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.csv_copy", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows in the CSV file")
    parser.add_argument("--chunk-size", type=int, default=1000, help="rows per chunk")
    parser.add_argument("--copy", action="store_true", help="write with COPY on both paths")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; the best of each path")
    parser.add_argument("--csv", type=Path, help="use (or create) this CSV file")
    parser.add_argument("--pg-url", help="a PostgreSQL server to use (superuser URL)")
    parser.add_argument("--profile", action="store_true", help="cProfile the jobop path")
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="a third path: jobop with the step listener that feeds /metrics, as jobop serve runs",
    )
    args = parser.parse_args(argv)
    if args.rows < 1 or args.chunk_size < 1 or args.repeat < 1:
        parser.error("--rows, --chunk-size and --repeat must be positive")

    with tempfile.TemporaryDirectory(prefix="jobop-bench-") as scratch:
        path: Path = args.csv or Path(scratch) / "rows.csv"
        if not path.exists():
            _timed(f"generated {args.rows:,} rows", lambda: generate_csv(path, args.rows))
        with postgres(args.pg_url) as (url, conninfo):
            repository = JobRepository.from_url(url)
            try:
                metadata.create_all(repository.engine)
                version = _server_version(repository)
                engine_best: EngineResult | None = None
                metrics_best: EngineResult | None = None
                raw_best: tuple[float, int] | None = None
                listener = Metrics().step_listener
                paths = ["engine", "raw", *(["metrics"] if args.metrics else [])]
                round_ratios: list[float] = []  # raw seconds / jobop seconds, per round
                for round_ in range(args.repeat):
                    seconds: dict[str, float] = {}
                    # Rotate the order, so that no path always runs on a warm cache.
                    order = paths[round_ % len(paths) :] + paths[: round_ % len(paths)]
                    for which in order:
                        _truncate(repository)  # each path starts from the same tables
                        if which == "raw":
                            raw = run_raw(conninfo, path, args.chunk_size, args.copy)
                            seconds[which] = raw[0]
                            print(f"  raw psycopg: {raw[0]:.2f}s", file=sys.stderr)
                            if raw_best is None or raw[0] < raw_best[0]:
                                raw_best = raw
                            continue
                        result = run_engine(
                            repository,
                            path,
                            args.chunk_size,
                            args.copy,
                            round_ * 2 + (which == "metrics") + 1,
                            args.profile and round_ == 0 and which == "engine",
                            [listener] if which == "metrics" else (),
                        )
                        seconds[which] = result.seconds
                        print(f"  jobop ({which}): {result.seconds:.2f}s", file=sys.stderr)
                        if which == "metrics":
                            if metrics_best is None or result.seconds < metrics_best.seconds:
                                metrics_best = result
                        elif engine_best is None or result.seconds < engine_best.seconds:
                            engine_best = result
                    round_ratios.append(seconds["raw"] / seconds["engine"])
                assert engine_best is not None and raw_best is not None
                print_table(args, version, engine_best, raw_best, metrics_best, round_ratios)
            finally:
                repository.engine.dispose()
    return 0


def print_table(
    args: argparse.Namespace,
    version: str,
    engine: EngineResult,
    raw: tuple[float, int],
    metrics: EngineResult | None = None,
    round_ratios: Sequence[float] = (),
) -> None:
    raw_seconds, raw_rows = raw
    if engine.rows != raw_rows:
        raise RuntimeError(f"the paths wrote different row counts: {engine.rows} vs {raw_rows}")
    engine_rate = engine.rows / engine.seconds
    raw_rate = raw_rows / raw_seconds
    write = "COPY" if args.copy else "executemany"
    print()
    print(
        f"csv_copy: {engine.rows:,} rows, chunk {args.chunk_size:,}, {write}, {version}, "
        f"best of {args.repeat}"
    )
    print()
    rows = [
        ("path", "seconds", "rows/s"),
        None,
        (
            "jobop ChunkStep via JobRunner, PG repository",
            f"{engine.seconds:.2f}",
            f"{engine_rate:,.0f}",
        ),
        ("plain psycopg loop, a transaction per chunk", f"{raw_seconds:.2f}", f"{raw_rate:,.0f}"),
        *(
            [
                (
                    "jobop, with the /metrics step listener",
                    f"{metrics.seconds:.2f}",
                    f"{metrics.rows / metrics.seconds:,.0f}",
                )
            ]
            if metrics
            else []
        ),
        (),
        ("figure", "value", "target"),
        None,
        ("ratio jobop / raw (rows/s)", f"{engine_rate / raw_rate:.3f}", TARGET_RATIO),
        *(
            [
                (
                    f"  median of the {len(round_ratios)} rounds' own ratios",
                    f"{statistics.median(round_ratios):.3f}",
                    TARGET_RATIO,
                ),
                ("  the lowest of them", f"{min(round_ratios):.3f}", ""),
                ("  the highest of them", f"{max(round_ratios):.3f}", ""),
            ]
            if len(round_ratios) > 1
            else []
        ),
        *(
            [
                (
                    "ratio jobop with metrics / raw",
                    f"{metrics.rows / metrics.seconds / raw_rate:.3f}",
                    TARGET_RATIO,
                )
            ]
            if metrics
            else []
        ),
        ("metadata statements per chunk", f"{engine.metadata_per_chunk:.2f}", "<= 2"),
        ("chunks committed", f"{engine.chunks:,}", ""),
        ("statements in the jobop run, writes included", f"{engine.statements:,}", ""),
    ]
    width = max(len(row[0]) for row in rows if row)
    for row in rows:
        if row is None:
            print(f"| {'-' * width} | {'-' * 8}:| {'-' * 9}:|")
        elif not row:
            print()
        else:
            print(f"| {row[0]:<{width}} | {row[1]:>8} | {row[2]:>9} |")
    if engine.profile:
        print()
        print("cProfile of the jobop run (first round), by own time:")
        print(engine.profile)


if __name__ == "__main__":
    sys.exit(main())
