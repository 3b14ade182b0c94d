"""`jobctl list [JOB...]` and `jobctl running` with filters, as a subprocess against a real
`jobop serve` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cli_support import Jobctl, JobopServer, free_port, run_jobctl
from jobop.domain import BatchStatus, JobParameter, JobParameters
from jobop.repository import JobRepository, create_engine, write_transaction
from jobop.repository.schema import job_execution

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def runs(jobop_server: JobopServer) -> dict[int, int]:
    """Run r (1..6) of importJob (r <= 3) or exportJob, created at T0 + r hours with
    tenant r % 2: FAILED when odd, COMPLETED when even, but run 6 still STARTED."""
    repository = JobRepository(create_engine(jobop_server.db_url))
    ids = {}
    try:
        for run in range(1, 7):
            tenant = JobParameter(run % 2, "LONG", identifying=False)
            execution = repository.create_job_execution(
                "importJob" if run <= 3 else "exportJob", JobParameters.of(run=run, tenant=tenant)
            )
            status = BatchStatus.FAILED if run % 2 else BatchStatus.COMPLETED
            execution.status = BatchStatus.STARTED if run == 6 else status
            repository.update_job_execution(execution)
            with write_transaction(repository.engine) as connection:
                connection.execute(
                    job_execution.update()
                    .where(job_execution.c.job_execution_id == execution.id)
                    .values(create_time=T0 + timedelta(hours=run), exit_code=status.value)
                )
            ids[run] = execution.id
    finally:
        repository.engine.dispose()
    return ids


def _listed(jobctl: Jobctl, *args: str) -> list[int]:
    result = jobctl("--json", *args)
    assert result.returncode == 0, str(result)
    return [e["parameters"]["run"]["long"] for e in json.loads(result.stdout)]


def test_list_filters_order_limit_and_count(jobctl: Jobctl, runs: dict[int, int]) -> None:
    since = (T0 + timedelta(hours=2)).isoformat()
    failed = ["--status", "FAILED", "--status", "stopped"]
    assert _listed(jobctl, "list", "importJob", "exportJob", *failed, "--since", since) == [5, 3]
    assert _listed(jobctl, "list", *failed, "--param", "tenant=1", "--oldest-first") == [1, 3, 5]
    assert _listed(jobctl, "list", "--status", "FAILED,COMPLETED", "--limit", "2") == [5, 4]
    until = (T0 + timedelta(hours=2)).isoformat()
    assert _listed(jobctl, "list", "--until", until) == [1]
    assert _listed(jobctl, "list", "--exit-code", "COMPLETED", "exportJob") == [6, 4]
    assert _listed(jobctl, "list", "--node", "nobody") == []
    assert _listed(jobctl, "list", "--not-overdue", "importJob") == [3, 2, 1]
    count = jobctl("list", "--count", "--param", "tenant=0")
    assert (count.returncode, count.stdout.strip()) == (0, "3")
    counted = jobctl("--json", "list", "--count", "importJob", "--status", "FAILED")
    assert json.loads(counted.stdout) == {"count": 2}
    # A table, one line per execution under the header.
    table = jobctl("list", "exportJob", "--param", "tenant=0")
    assert table.returncode == 0 and len(table.lines) == 3, str(table)
    # running takes the filters too (not --status: it lists the running statuses).
    assert _listed(jobctl, "running", "--param", "tenant=0") == [6]
    assert _listed(jobctl, "running", "importJob", "--since", since) == []
    # One job as before: unknown is exit 4.
    assert jobctl("list", "noSuchJob", "--status", "FAILED").returncode == 4


@pytest.mark.parametrize(
    "words",
    [
        ["list", "--status", "DONE"],
        ["list", "--param", "tenant"],
        ["list", "--since", "yesterday"],
        ["list", "--overdue", "--not-overdue"],
        ["list", "--instances", "--status", "FAILED"],
        ["list", "--instances", "a", "b"],
        ["running", "--status", "FAILED"],
    ],
)
def test_malformed_filters_are_usage_errors(words: list[str]) -> None:
    # Refused before any connection: no server needed.
    result = run_jobctl(f"127.0.0.1:{free_port()}", *words)
    assert result.returncode == 2, str(result)
    assert result.stderr.startswith("jobctl: ") and "Traceback" not in result.stderr
