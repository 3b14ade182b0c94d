"""`jobop db rekey`: instances keyed by earlier jobop versions (Python's spelling of dates
and doubles) get Spring's JOB_KEY, so a Spring application finds them; a collision changes
nothing."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jobop.domain import JobExecutionAlreadyRunning, JobParameters
from jobop.repository import JobRepository
from spring_oracle import Oracle, java_parameters, run_jobop
from sqlalchemy import text

REFUSED = 5


def old_job_key(parameters: JobParameters) -> str:
    """The key jobop 0.x stored: Python's spelling of each value."""
    text = "".join(
        f"{name}={{value={p.value_text()}, type=class {p.java_type}, identifying=true}};"
        for name, p in sorted(parameters.items())
        if p.identifying
    )
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def old_instance(repository: JobRepository, name: str, parameters: JobParameters) -> int:
    execution = repository.create_job_execution(name, parameters)
    with repository.engine.begin() as connection:
        connection.execute(
            text("UPDATE BATCH_JOB_INSTANCE SET JOB_KEY = :key WHERE JOB_INSTANCE_ID = :id"),
            {"key": old_job_key(parameters), "id": execution.job_instance_id},
        )
    return execution.job_instance_id


def keys(repository: JobRepository) -> dict[int, str]:
    with repository.engine.connect() as connection:
        rows = connection.execute(text("SELECT JOB_INSTANCE_ID, JOB_KEY FROM BATCH_JOB_INSTANCE"))
        return {row[0]: row[1] for row in rows}


def test_rekey_gives_old_instances_springs_key(
    oracle: Oracle, repository: JobRepository, db_url: str, tmp_path: Path
) -> None:
    awkward = [
        JobParameters.of(at=datetime(2024, 3, 15, tzinfo=UTC)),
        JobParameters.of(big=1e20, small=0.0005, mid=12345678.0),
        JobParameters.of(run=1, name="plain"),  # its key was right already
    ]
    ids = [old_instance(repository, "oldJob", p) for p in awkward]
    before = keys(repository)
    dry = run_jobop(db_url, tmp_path, "db", "rekey", "--dry-run")
    assert dry.returncode == 0 and "2 job keys would change, 1 already right" in dry.stdout
    assert keys(repository) == before
    done = run_jobop(db_url, tmp_path, "db", "rekey")
    assert done.returncode == 0, done.stderr
    assert "2 job keys changed, 1 already right" in done.stdout
    found = oracle.dao(
        db_url,
        5,
        "jackson",
        *(
            {"do": "find-instance", "job": "oldJob", "parameters": java_parameters(p)}
            for p in awkward
        ),
    )
    assert [a["instance"] for a in found] == ids
    # And jobop itself launches into the same instance (whose execution still runs).
    with pytest.raises(JobExecutionAlreadyRunning, match="already running as execution"):
        repository.create_job_execution("oldJob", awkward[0])
    again = run_jobop(db_url, tmp_path, "db", "rekey")
    assert "0 job keys changed, 3 already right" in again.stdout


def test_a_collision_changes_nothing(
    repository: JobRepository, db_url: str, tmp_path: Path
) -> None:
    parameters = JobParameters.of(ratio=1e20)
    first = old_instance(repository, "dupJob", parameters)
    # A second instance of the same parameters under another old spelling of its key.
    with repository.engine.begin() as connection:
        second = connection.execute(
            text(
                "INSERT INTO BATCH_JOB_INSTANCE (VERSION, JOB_NAME, JOB_KEY) "
                "VALUES (0, 'dupJob', 'deadbeefdeadbeefdeadbeefdeadbeef') RETURNING JOB_INSTANCE_ID"
            )
        ).scalar_one()
        execution = connection.execute(
            text(
                "INSERT INTO BATCH_JOB_EXECUTION (VERSION, JOB_INSTANCE_ID, CREATE_TIME, STATUS) "
                "VALUES (0, :id, CURRENT_TIMESTAMP, 'FAILED') RETURNING JOB_EXECUTION_ID"
            ),
            {"id": second},
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO BATCH_JOB_EXECUTION_PARAMS VALUES "
                "(:id, 'ratio', 'java.lang.Double', '100000000000000000000.0', 'Y')"
            ),
            {"id": execution},
        )
    before = keys(repository)
    done = run_jobop(db_url, tmp_path, "db", "rekey")
    assert done.returncode == REFUSED
    assert f"dupJob instances {first}, {second} would all have key" in done.stderr
    assert keys(repository) == before


def test_instances_with_types_jobop_does_not_know_keep_their_key(
    repository: JobRepository, db_url: str, tmp_path: Path
) -> None:
    execution = repository.create_job_execution("javaJob", JobParameters.of(day="x"))
    with repository.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE BATCH_JOB_EXECUTION_PARAMS SET PARAMETER_TYPE = 'java.util.UUID', "
                "PARAMETER_VALUE = '0b7f1b7e-5d3c-4c53-9a43-0d2a2b8e0c11' "
                "WHERE JOB_EXECUTION_ID = :id"
            ),
            {"id": execution.id},
        )
    before = keys(repository)
    done = run_jobop(db_url, tmp_path, "db", "rekey")
    assert done.returncode == 0
    kept = f"does not know: instances {execution.job_instance_id})"
    assert "1 kept" in done.stdout and kept in done.stdout
    assert keys(repository) == before
