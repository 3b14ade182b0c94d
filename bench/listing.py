"""listing: a filtered page of executions on a big repository vs the same page on a small one.

    .venv/bin/python -m bench.listing                       # PostgreSQL 1,000,000 vs 1,000
                                                            # and SQLite 100,000 vs 1,000
    .venv/bin/python -m bench.listing --pg-rows 100000 --sqlite-rows 20000   # a quick run

Rows are generated with SQL (not through the launch path): executions of 20 jobs, one a
minute up to now (so the newest day is the same size whatever the history), each with its
instance, a `run.id` and a `tenant` parameter (10 tenants), one step and a job context;
statuses mixed (60% COMPLETED, 20% FAILED, 10% STOPPED, 5% ABANDONED, 5% UNKNOWN). Each
page is `JobExplorer.find_job_executions(filter, limit=100, contexts=False)`, the read
behind ListJobExecutions and GET /api/executions, timed `--samples` times; the table gives
the rows it returned, p50 and p95 in ms, the statements it sent and the ratio of its p95
to the same page's on the small repository (target for the filtered page: <= 1.5).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobop.domain import BatchStatus, ExecutionFilter, TimeRange
from jobop.repository import JobRepository, StatementCounter, create_engine, init_schema
from sqlalchemy import Engine, text

from bench.csv_copy import postgres

JOBS = 20
TENANTS = 10
NOW = datetime(2026, 12, 1, tzinfo=UTC)

# Job i % 20, tenant (i / 20) % 10 (every job has every tenant), status by (73 p + 31 b)
# % 100 of the position p = i % 200 in block b = i / 200: a block of 200 ids holds each
# (job, tenant) pair once and exactly the status mix below, and a pair's status moves from
# block to block, so that none of the three predicts another and any window of a few
# hundred executions (a day: 1,440) has the same mix. (Statuses were once constant over a
# block: a day then held 55% FAILED or STOPPED in the big repository and 20% in the small.)
_STATUS_CASE = """CASE WHEN ({h}) < 60 THEN 'COMPLETED' WHEN ({h}) < 80 THEN 'FAILED'
    WHEN ({h}) < 90 THEN 'STOPPED' WHEN ({h}) < 95 THEN 'ABANDONED' ELSE 'UNKNOWN' END"""

_PG = [
    """INSERT INTO batch_job_instance (job_instance_id, version, job_name, job_key)
    SELECT i, 0, 'job' || (i % {jobs}), md5(i::text) FROM generate_series(1, {n}) i""",
    """INSERT INTO batch_job_execution (job_execution_id, version, job_instance_id,
        create_time, start_time, end_time, status, exit_code, exit_message, last_updated)
    SELECT i, 2, i, t, t + interval '1 second', t + interval '50 seconds', s, s, '',
        t + interval '50 seconds'
    FROM (SELECT i, TIMESTAMP '{now}' - ({n} - i) * interval '1 minute' AS t,
        """
    + _STATUS_CASE.format(h="((i % 200) * 73 + (i / 200) * 31) % 100")
    + """ AS s FROM generate_series(1, {n}) i) g""",
    """INSERT INTO batch_job_execution_params (job_execution_id, parameter_name,
        parameter_type, parameter_value, identifying)
    SELECT i, 'run.id', 'java.lang.Long', i::text, 'Y' FROM generate_series(1, {n}) i
    UNION ALL
    SELECT i, 'tenant', 'java.lang.Long', ((i / {jobs}) % {tenants})::text, 'N'
    FROM generate_series(1, {n}) i""",
    """INSERT INTO batch_step_execution (step_execution_id, version, step_name,
        job_execution_id, create_time, start_time, end_time, status, commit_count,
        read_count, filter_count, write_count, read_skip_count, write_skip_count,
        process_skip_count, rollback_count, exit_code, exit_message, last_updated)
    SELECT e.job_execution_id, 3, 'step1', e.job_execution_id, e.create_time, e.start_time,
        e.end_time, e.status, 10, 100, 0, 100, 0, 0, 0, 0, e.exit_code, '', e.end_time
    FROM batch_job_execution e""",
    """INSERT INTO batch_job_execution_context (job_execution_id, short_context)
    SELECT job_execution_id, '{{}}' FROM batch_job_execution""",
]

_SQLITE_IDS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})"
_SQLITE_TIME = "strftime('%Y-%m-%d %H:%M:%f', '{now}', '-' || ({n} - i) || ' minutes')"
_SQLITE = [
    _SQLITE_IDS
    + """ INSERT INTO batch_job_instance (job_instance_id, version, job_name, job_key)
    SELECT i, 0, 'job' || (i % {jobs}), printf('%032d', i) FROM n""",
    _SQLITE_IDS
    + """ INSERT INTO batch_job_execution (job_execution_id, version, job_instance_id,
        create_time, start_time, end_time, status, exit_code, exit_message, last_updated)
    SELECT i, 2, i, t, t, t, s, s, '', t FROM (SELECT i, """
    + _SQLITE_TIME
    + " AS t, "
    + _STATUS_CASE.format(h="((i % 200) * 73 + (i / 200) * 31) % 100")
    + " AS s FROM n)",
    _SQLITE_IDS
    + """ INSERT INTO batch_job_execution_params (job_execution_id, parameter_name,
        parameter_type, parameter_value, identifying)
    SELECT i, 'run.id', 'java.lang.Long', CAST(i AS TEXT), 'Y' FROM n
    UNION ALL
    SELECT i, 'tenant', 'java.lang.Long', CAST((i / {jobs}) % {tenants} AS TEXT), 'N' FROM n""",
    _PG[3],
    _PG[4],
]


def generate(engine: Engine, rows: int) -> None:
    init_schema(engine)
    postgresql = engine.dialect.name == "postgresql"
    now = NOW.replace(tzinfo=None).isoformat(sep=" ")
    with engine.begin() as connection:
        for statement in _PG if postgresql else _SQLITE:
            sql = statement.format(n=rows, jobs=JOBS, tenants=TENANTS, now=now)
            connection.execute(text(sql))
    if postgresql:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
    else:
        # In a transaction that commits: the repository's SQLite engine begins every one
        # itself, so an AUTOCOMMIT connection's ANALYZE was rolled back with it.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


@dataclass
class Page:
    name: str
    selection: ExecutionFilter


def pages() -> list[Page]:
    day = TimeRange(since=NOW - timedelta(days=1))
    failed = (BatchStatus.FAILED, BatchStatus.STOPPED)
    tenant = (("tenant", "3"),)
    return [
        Page(
            "job+status+day+tenant",
            ExecutionFilter(job_names=("job3",), statuses=failed, created=day, parameters=tenant),
        ),
        Page(
            "job+status+tenant",
            ExecutionFilter(job_names=("job3",), statuses=failed, parameters=tenant),
        ),
        Page("job", ExecutionFilter(job_names=("job3",))),
        Page("status", ExecutionFilter(statuses=failed)),
        Page("tenant", ExecutionFilter(parameters=tenant)),
        Page("day", ExecutionFilter(created=day)),
        Page("every job", ExecutionFilter()),
    ]


@dataclass
class Figure:
    rows: int
    p50: float
    p95: float
    statements: int


def measure(repository: JobRepository, page: Page, samples: int) -> Figure:
    read: Callable[[], list[object]] = lambda: list(  # noqa: E731
        repository.explorer.find_job_executions(page.selection, limit=100, contexts=False)
    )
    found = read()  # warm
    with StatementCounter(repository.engine) as counter:
        read()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        read()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return Figure(len(found), statistics.median(times), p95, counter.count)


def run(label: str, urls: tuple[str, str], rows: tuple[int, int], samples: int) -> None:
    figures: dict[int, dict[str, Figure]] = {}
    for url, count in zip(urls, rows, strict=True):
        engine = create_engine(url)
        started = time.perf_counter()
        generate(engine, count)
        print(f"[{label}] {count:,} executions generated in {time.perf_counter() - started:.0f} s")
        repository = JobRepository(engine)
        figures[count] = {page.name: measure(repository, page, samples) for page in pages()}
        engine.dispose()
    small, big = rows[1], rows[0]
    print(f"\n{label}: page of 100, {samples} samples; p95 ratio = {big:,} executions / {small:,}")
    header = f"{'page':<24}{'rows':>6}{'p50 ms':>9}{'p95 ms':>9}{'stmts':>6}"
    print(f"{header}  |{'rows':>6}{'p50 ms':>9}{'p95 ms':>9}{'stmts':>6}  | p95 ratio")
    for page in pages():
        b, s = figures[big][page.name], figures[small][page.name]
        print(
            f"{page.name:<24}{b.rows:>6}{b.p50:>9.2f}{b.p95:>9.2f}{b.statements:>6}  |"
            f"{s.rows:>6}{s.p50:>9.2f}{s.p95:>9.2f}{s.statements:>6}  | {b.p95 / s.p95:.2f}"
        )
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pg-rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=100_000)
    parser.add_argument("--small-rows", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--pg-url", help="a superuser URL of a server to use instead")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    if not args.skip_pg:
        with postgres(args.pg_url) as (big_url, _), postgres_second(big_url) as small_url:
            run("PostgreSQL", (big_url, small_url), (args.pg_rows, args.small_rows), args.samples)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as directory:
            big, small = Path(directory) / "big.db", Path(directory) / "small.db"
            run(
                "SQLite",
                (f"sqlite:///{big}", f"sqlite:///{small}"),
                (args.sqlite_rows, args.small_rows),
                args.samples,
            )


class postgres_second:
    """A second database beside the bench's, for the small repository."""

    def __init__(self, url: str) -> None:
        self.url = url.rsplit("/", 1)[0] + "/jobop_bench_small"

    def __enter__(self) -> str:
        self._admin("DROP DATABASE IF EXISTS jobop_bench_small WITH (FORCE)")
        self._admin("CREATE DATABASE jobop_bench_small")
        return self.url

    def __exit__(self, *_: object) -> None:
        self._admin("DROP DATABASE IF EXISTS jobop_bench_small WITH (FORCE)")

    def _admin(self, sql: str) -> None:
        engine = create_engine(self.url.rsplit("/", 1)[0] + "/postgres")
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text(sql))
        engine.dispose()


if __name__ == "__main__":
    main()
