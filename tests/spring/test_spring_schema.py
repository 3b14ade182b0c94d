"""Spring Batch's own schema scripts (scripts/fetch-spring-batch.py provides them, never
copied into the repository): jobop creates exactly the objects of Spring 5 or 6, adopts a database
where Spring's script already ran (detecting its version), and migrates 5 to 6 as Spring's
migration script does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from jobop.domain import JobParameters
from jobop.repository import create_engine
from spring_oracle import Oracle, java_parameters, launch, run_jobop, run_spring_script
from sqlalchemy import inspect

SPRING = {5: "5.2.6", 6: "6.0.4"}
REFUSED = 5


def spring_objects(url: str) -> dict[str, Any]:
    """The BATCH_ objects of a database: tables with their columns, and sequences."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        tables = {
            name: sorted((c["name"].lower(), c["nullable"]) for c in inspector.get_columns(name))
            for name in inspector.get_table_names()
            if name.lower().startswith("batch_")
        }
        # jobop's own objects (JOBOP_AUDIT's id sequence among them) are not Spring's.
        sequences = (
            sorted(
                s.lower() for s in inspector.get_sequence_names() if s.lower().startswith("batch_")
            )
            if engine.dialect.name == "postgresql"
            else []
        )
        return {"tables": tables, "sequences": sequences}
    finally:
        engine.dispose()


def lower_names(objects: dict[str, Any]) -> dict[str, Any]:
    return {
        "tables": {name.lower(): columns for name, columns in objects["tables"].items()},
        "sequences": objects["sequences"],
    }


@pytest.fixture
def two_blank_urls(blank_db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Any:
    """A second blank database of the same kind, for Spring's own script."""
    if blank_db_url.startswith("sqlite"):
        return blank_db_url, f"sqlite:///{tmp_path / 'spring.db'}"
    cluster = request.getfixturevalue("pg_cluster")
    name = f"spring_{os.getpid()}_{abs(hash(str(tmp_path))) % 10**8}"
    other = cluster.create_database(name)
    request.addfinalizer(lambda: cluster.drop_database(name))
    return blank_db_url, other


@pytest.mark.parametrize("spring", [5, 6])
def test_jobop_db_init_creates_exactly_the_objects_of_springs_script(
    two_blank_urls: Any, spring: int, tmp_path: Path
) -> None:
    ours, theirs = two_blank_urls
    done = run_jobop(ours, tmp_path, "db", "init", "--spring-schema", str(spring))
    assert done.returncode == 0, done.stderr
    assert f"Spring Batch {spring} schema" in done.stdout
    run_spring_script(theirs, SPRING[spring])
    assert lower_names(spring_objects(ours)) == lower_names(spring_objects(theirs))


@pytest.mark.parametrize("spring", [5, 6])
def test_a_database_springs_script_created_is_adopted_and_runs_jobs(
    oracle: Oracle, blank_db_url: str, spring: int, tmp_path: Path
) -> None:
    run_spring_script(blank_db_url, SPRING[spring])
    before = lower_names(spring_objects(blank_db_url))
    done = run_jobop(blank_db_url, tmp_path, "db", "init")
    assert done.returncode == 0, done.stderr
    assert f"Spring Batch {spring} schema" in done.stdout  # detected, not asked for
    assert lower_names(spring_objects(blank_db_url)) == before  # nothing of Spring's changed
    ran = run_jobop(blank_db_url, tmp_path, "run", "demoChunkJob", "items=5,long")
    assert ran.returncode == 0, ran.stderr
    # The Spring application of that version launches next, drawing its ids as it does.
    launched, found = oracle.dao(
        blank_db_url,
        spring,
        "jackson",
        launch("demoChunkJob", JobParameters.of(items=6), step="demoChunkStep"),
        {
            "do": "find-instance",
            "job": "demoChunkJob",
            "parameters": java_parameters(JobParameters.of(items=5)),
        },
    )
    assert launched["instance"] == 2 and launched["execution"] == 2
    assert found["instance"] == 1  # jobop's instance, found by Spring's own key
    ran = run_jobop(blank_db_url, tmp_path, "run", "demoChunkJob", "items=7,long")
    assert ran.returncode == 0, ran.stderr


def test_another_spring_schema_than_the_databases_is_refused(
    blank_db_url: str, tmp_path: Path
) -> None:
    run_spring_script(blank_db_url, SPRING[6])
    done = run_jobop(blank_db_url, tmp_path, "db", "init", "--spring-schema", "5")
    assert done.returncode == REFUSED
    assert "Spring Batch 6's schema" in done.stderr and "--spring-schema 6" in done.stderr
    assert "jobop_schema_version" not in inspect_names(blank_db_url)  # nothing written


def inspect_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return {name.lower() for name in inspect(engine).get_table_names()}
    finally:
        engine.dispose()


def test_jobop_db_upgrade_migrates_5_to_6_as_springs_migration_script_does(
    two_blank_urls: Any, oracle: Oracle, tmp_path: Path
) -> None:
    ours, theirs = two_blank_urls
    run_spring_script(ours, SPRING[5])
    assert run_jobop(ours, tmp_path, "db", "init").returncode == 0
    assert run_jobop(ours, tmp_path, "run", "demoChunkJob", "items=5,long").returncode == 0
    done = run_jobop(ours, tmp_path, "db", "upgrade", "--spring-schema", "6")
    assert done.returncode == 0, done.stderr
    # Spring's way for comparison: 5's script, then its migration script.
    run_spring_script(theirs, SPRING[5])
    run_spring_script(theirs, SPRING[6], "migration-6.0")
    assert lower_names(spring_objects(ours)) == lower_names(spring_objects(theirs))
    again = run_jobop(ours, tmp_path, "db", "init")
    assert "Spring Batch 6 schema" in again.stdout
    assert run_jobop(ours, tmp_path, "run", "demoChunkJob", "items=6,long").returncode == 0
    (launched,) = oracle.dao(ours, 6, "jackson", launch("javaJob", {}))
    assert launched["instance"] == 3  # after jobop's two, from the renamed sequence
    downgrade = run_jobop(ours, tmp_path, "db", "upgrade", "--spring-schema", "5")
    assert downgrade.returncode == REFUSED and "only 5 to 6" in downgrade.stderr


def test_a_version_2_jobop_database_is_upgraded_to_springs_5_sequences(
    blank_db_url: str, oracle: Oracle, tmp_path: Path
) -> None:
    """jobop before settings drew instance ids from BATCH_JOB_INSTANCE_SEQ (PostgreSQL) or
    the table's AUTOINCREMENT alone (SQLite): after `jobop db upgrade`, Spring 5 draws past
    every id it handed out."""
    from jobop.repository import JobRepository
    from jobop.repository.engine import write_transaction
    from jobop.repository.migrations import MIGRATIONS, _apply
    from jobop.repository.settings import RepositorySettings
    from sqlalchemy import text

    engine = create_engine(blank_db_url)
    postgresql = engine.dialect.name == "postgresql"
    try:
        with write_transaction(engine) as connection:  # as jobop 0.x left it
            _apply(connection, list(MIGRATIONS[:2]), RepositorySettings())
            if postgresql:
                for name in ("batch_job_instance_seq", "batch_job_seq"):
                    connection.execute(text(f"CREATE SEQUENCE {name}"))
                connection.execute(text("CREATE SEQUENCE batch_job_execution_seq"))
                connection.execute(text("CREATE SEQUENCE batch_step_execution_seq"))
                for table, column, sequence in (
                    ("batch_job_instance", "job_instance_id", "batch_job_instance_seq"),
                    ("batch_job_execution", "job_execution_id", "batch_job_execution_seq"),
                    ("batch_step_execution", "step_execution_id", "batch_step_execution_seq"),
                ):
                    connection.execute(
                        text(
                            f"ALTER TABLE {table} ALTER COLUMN {column} "
                            f"SET DEFAULT nextval('{sequence}')"
                        )
                    )
            for _ in range(3):  # three instances with executions, as jobop 0.x made them
                instance = connection.execute(
                    text(
                        "INSERT INTO batch_job_instance (version, job_name, job_key) "
                        "VALUES (0, 'oldJob', md5(random()::text)) RETURNING job_instance_id"
                        if postgresql
                        else "INSERT INTO batch_job_instance (version, job_name, job_key) "
                        "VALUES (0, 'oldJob', hex(randomblob(16))) RETURNING job_instance_id"
                    )
                ).scalar_one()
                connection.execute(
                    text(
                        "INSERT INTO batch_job_execution (version, job_instance_id, create_time) "
                        "VALUES (0, :id, CURRENT_TIMESTAMP)"
                    ),
                    {"id": instance},
                )
        done = run_jobop(blank_db_url, tmp_path, "db", "upgrade")
        assert done.returncode == 0, done.stderr
        objects = lower_names(spring_objects(blank_db_url))
        if postgresql:
            assert objects["sequences"] == sorted(
                ["batch_job_seq", "batch_job_execution_seq", "batch_step_execution_seq"]
            )
        else:
            assert {"batch_job_seq", "batch_job_execution_seq"} <= set(objects["tables"])
        (launched,) = oracle.dao(blank_db_url, 5, "jackson", launch("javaJob", {}))
        assert launched["instance"] == 4 and launched["execution"] == 4
        repository = JobRepository(engine)
        assert repository.create_job_execution("pythonJob", JobParameters()).job_instance_id == 5
    finally:
        engine.dispose()
