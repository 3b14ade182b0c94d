"""The reads that run per launch, per page and per scan use indexes, so they do not grow
with history: every statement they send is EXPLAINed on PostgreSQL with sequential scans
disabled, and a plan that still reads a BATCH_ execution table whole means no index serves
it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from jobop.domain import BatchStatus, JobParameters
from jobop.repository import JobRepository
from repository_lifecycle import run_execution, start_execution, start_step
from sqlalchemy import event

# Tables whose rows grow with every execution.
GROWING = ("batch_job_execution", "batch_step_execution", "batch_job_execution_params")


class StatementRecorder:
    """Records (statement, parameters) of every cursor execution on an engine."""

    def __init__(self, repository: JobRepository) -> None:
        self.engine = repository.engine
        self.statements: list[tuple[str, Any]] = []

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))

    def __enter__(self) -> StatementRecorder:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _whole_scans(plan: dict[str, Any], limited: bool = False) -> Iterator[str]:
    """Scans of a growing table that no index condition narrows. With sequential scans
    disabled the planner reads a table whole through its primary key instead, so an index
    scan without a condition counts too, unless a LIMIT stops it (keyset pages read the
    newest rows in id order and stop)."""
    node = plan.get("Node Type", "")
    relation = plan.get("Relation Name", "")
    narrowed = "Index Cond" in plan or "Recheck Cond" in plan
    stopped = limited and node.startswith("Index")
    scan = node.endswith("Scan")
    if scan and relation in GROWING and not narrowed and (node == "Seq Scan" or not stopped):
        yield f"{node} on {relation}"
    for child in plan.get("Plans", ()):
        yield from _whole_scans(child, limited or node == "Limit")


def _whole_table_scans(conninfo: str, statements: list[tuple[str, Any]]) -> list[str]:
    found = []
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SET enable_seqscan = off")
        for statement, parameters in statements:
            lowered = statement.lstrip().lower()
            if not lowered.startswith(("select", "with", "update", "delete")):
                continue
            if not any(table in lowered for table in GROWING):
                continue
            row = connection.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters).fetchone()
            assert row is not None
            plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
            found.extend(f"{scan}: {statement}" for scan in _whole_scans(plan[0]["Plan"]))
    return found


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_launch_paging_and_running_scans_use_indexes(repository: JobRepository) -> None:
    # Some history, so that the plans are those of a used repository.
    for run in range(1, 30):
        run_execution(repository, "historyJob", JobParameters.of(run=run))
    failed = run_execution(
        repository, "demoJob", JobParameters.of(run=1), status=BatchStatus.FAILED
    )
    explorer = repository.explorer
    with StatementRecorder(repository) as recorder:
        # The launch path: a restart reads the instance's history and its last context.
        restart = repository.create_job_execution("demoJob", JobParameters.of(run=1))
        start_execution(repository, restart)
        step = start_step(repository, restart, "step1")
        repository.get_last_step_execution(restart.job_instance_id, "step1")
        repository.count_step_executions(restart.job_instance_id, "step1")
        repository.update_step_execution(step)
        # Running scans (GetRunningExecutions, WatchExecutions) and listing pages.
        explorer.find_running_job_execution_ids("demoJob")
        explorer.find_running_job_executions("demoJob")
        explorer.find_running_job_executions(None)
        explorer.list_job_executions("historyJob", None, None, 5)
        explorer.list_job_executions("historyJob", None, 20, 5)
        explorer.list_job_executions(None, failed.job_instance_id, None, 5)
        # Every job's (a console of a Spring application's database): keyset pages by id.
        explorer.find_running_job_execution_ids(None)
        explorer.list_job_executions(None, None, None, 5)
        explorer.list_job_executions(None, None, 20, 5)
        explorer.get_job_instances(None, 0, 5)
        explorer.get_job_execution(failed.id)
        explorer.get_parameters(failed.id)
        repository.request_stop(restart.id)
    assert recorder.statements
    url = repository.engine.url.set(drivername="postgresql")
    assert _whole_table_scans(url.render_as_string(hide_password=False), recorder.statements) == []


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_filtered_listing_pages_and_counts_use_indexes(repository: JobRepository) -> None:
    from datetime import timedelta

    from jobop.domain import ExecutionFilter, TimeRange, utcnow

    for run in range(1, 30):
        status = BatchStatus.FAILED if run % 3 else BatchStatus.COMPLETED
        run_execution(
            repository, f"job{run % 4}", JobParameters.of(run=run, tenant=run % 5), status=status
        )
    since = TimeRange(since=utcnow() - timedelta(hours=1))
    statuses = (BatchStatus.FAILED, BatchStatus.STOPPED)
    tenant = (("tenant", "2"),)
    filters = [
        ExecutionFilter(
            job_names=("job1", "job2"), statuses=statuses, created=since, parameters=tenant
        ),
        ExecutionFilter(job_names=("job1",)),
        ExecutionFilter(statuses=statuses),
        ExecutionFilter(created=since),
        ExecutionFilter(parameters=tenant),
        ExecutionFilter(node_id="node-1"),
    ]
    explorer = repository.explorer
    with StatementRecorder(repository) as recorder:
        for selection in filters:
            explorer.find_job_executions(selection, limit=5, contexts=False)
            explorer.find_job_executions(selection, after_id=20, limit=5)
            explorer.find_job_executions(selection, after_id=3, oldest_first=True, limit=5)
            explorer.count_job_executions(selection)
        # Conditions without an index of their own are checked on pages read by id.
        explorer.find_job_executions(ExecutionFilter(exit_codes=("FAILED",), overdue=True), limit=5)
    url = repository.engine.url.set(drivername="postgresql")
    assert _whole_table_scans(url.render_as_string(hide_password=False), recorder.statements) == []
