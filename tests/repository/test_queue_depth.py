"""The queue's depth per job for /metrics (repository/queue_depth.py), on SQLite and
PostgreSQL: unclaimed launch requests of STARTING executions only, read in one statement."""

from __future__ import annotations

import datetime as dt

from jobop.domain import JobParameters, utcnow
from jobop.repository import JobRepository, StatementCounter
from jobop.repository.queue_depth import waiting_starts


def _launch(repository: JobRepository, job: str, run: int, claimed_by: str | None = None) -> int:
    parameters = JobParameters.of(run=run)
    execution = repository.create_job_execution(
        job, parameters, request_launch=True, claimed_by=claimed_by
    )
    return execution.id


def test_waiting_starts_counts_unclaimed_starting_executions_per_job(
    repository: JobRepository,
) -> None:
    assert waiting_starts(repository.engine) == []
    before = utcnow()
    _launch(repository, "jobA", 1)
    _launch(repository, "jobA", 2)
    _launch(repository, "jobB", 1)
    _launch(repository, "jobB", 2, claimed_by="node-1")  # claimed: holds a slot, waits not
    ended = _launch(repository, "jobB", 3)
    repository.fail_running(ended, "stopped while it waited")  # out of the queue
    _launch(repository, "jobC", 1, claimed_by="node-1")
    with StatementCounter(repository.engine) as counter:
        waiting = {entry.job_name: entry for entry in waiting_starts(repository.engine)}
    assert counter.count == 1
    assert {name: entry.depth for name, entry in waiting.items()} == {"jobA": 2, "jobB": 1}
    for entry in waiting.values():
        assert before - dt.timedelta(seconds=1) <= entry.oldest <= utcnow()
        assert entry.oldest.tzinfo is not None
