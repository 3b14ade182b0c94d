"""The overdue mark: written once per execution, while it runs; the one call that wrote it
is told so (it reports the mark), however many nodes try at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from jobop.domain import JobParameters
from jobop.repository import JobRepository, create_engine
from jobop.repository.overdue import mark_overdue

TRIES = 8


def test_only_one_of_many_concurrent_marks_reports(repository: JobRepository) -> None:
    execution = repository.create_job_execution(
        "demoChunkJob", JobParameters.of(run=1), request_launch=True
    )
    url = repository.engine.url
    engines = [create_engine(url) for _ in range(2)]  # two nodes
    barrier = threading.Barrier(TRIES)

    def mark(index: int) -> bool:
        barrier.wait()
        return mark_overdue(engines[index % 2], execution.id)

    try:
        with ThreadPoolExecutor(TRIES) as pool:
            results = list(pool.map(mark, range(TRIES)))
    finally:
        for engine in engines:
            engine.dispose()
    assert results.count(True) == 1
    marked = repository.explorer.get_job_execution(execution.id)
    assert marked is not None and marked.overdue
    assert not mark_overdue(repository.engine, execution.id)  # again, later: not reported


def test_an_execution_that_no_longer_runs_is_not_marked(repository: JobRepository) -> None:
    execution = repository.create_job_execution(
        "demoChunkJob", JobParameters.of(run=2), request_launch=True
    )
    repository.request_stop(execution.id)  # never ran: STOPPED
    assert not mark_overdue(repository.engine, execution.id)
    stopped = repository.explorer.get_job_execution(execution.id)
    assert stopped is not None and not stopped.overdue
