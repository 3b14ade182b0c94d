"""The baseline a Python team would pick instead: procrastinate, a PostgreSQL job queue.

`noop_throughput` defers `jobs` no-op tasks with `defer_async` (16 in flight, as the
jobop bench has client threads), then runs one worker with `run_worker_async(concurrency=8,
wait=False)` until the queue is empty, on a database of its own in the same cluster as the
jobop run. jobs/s is counted from the first defer to the worker's return, as the jobop
figure is counted from the first Start to the last COMPLETED.

With `batch`, `noop_throughput` defers with `batch_defer_async`, `batch` tasks per call
(bench/start_many.py sets it beside StartJobs).

Needs the bench extra: `.venv/bin/pip install -e '.[bench]'`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFER_CONCURRENCY = 16
WORKER_CONCURRENCY = 8


@dataclass
class QueueThroughput:
    jobs: int
    seconds: float  # first defer -> worker done
    defer_seconds: float  # first defer -> last defer answered
    cpu_seconds: float  # this process: the client and the worker
    # The cluster's processes during the run (`db_cpu` given), read while its
    # connections are still open (a backend that ended takes its CPU along).
    db_cpu_seconds: float | None = None

    @property
    def jobs_per_second(self) -> float:
        return self.jobs / self.seconds if self.seconds else float("nan")


async def noop_throughput(
    conninfo: str,
    jobs: int,
    batch: int = 0,
    db_cpu: Callable[[], float | None] | None = None,
) -> QueueThroughput:
    """With `batch` > 0, `batch_defer_async` of `batch` tasks at a time, one call after
    the other; else `defer_async`, DEFER_CONCURRENCY in flight. `db_cpu` reads the
    cluster's CPU seconds so far (before and after the run)."""
    import procrastinate  # the bench extra; imported here so the rest runs without it

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    finished = 0

    @app.task(name="noop")
    async def noop(index: int) -> None:
        nonlocal finished
        finished += 1

    async with app.open_async():
        await app.schema_manager.apply_schema_async()
        semaphore = asyncio.Semaphore(DEFER_CONCURRENCY)

        async def defer(index: int) -> None:
            async with semaphore:
                await noop.defer_async(index=index)

        db_before = db_cpu() if db_cpu is not None else None
        cpu_before = time.process_time()
        began = time.perf_counter()
        if batch > 0:
            for first in range(0, jobs, batch):
                kwargs = [{"index": index} for index in range(first, min(jobs, first + batch))]
                await noop.batch_defer_async(*kwargs)
        else:
            await asyncio.gather(*(defer(index) for index in range(jobs)))
        deferred = time.perf_counter()
        await app.run_worker_async(concurrency=WORKER_CONCURRENCY, wait=False)
        ended = time.perf_counter()
        cpu = time.process_time() - cpu_before
        db_after = db_cpu() if db_cpu is not None else None
    if finished != jobs:
        raise RuntimeError(f"procrastinate ran {finished} of {jobs} jobs")
    result = QueueThroughput(jobs, ended - began, deferred - began, cpu)
    if db_before is not None and db_after is not None:
        result.db_cpu_seconds = db_after - db_before
    return result
