"""Spring Batch's own schema scripts (read from ../shared/spring-batch, never copied into
the repository): jobop creates exactly the objects of Spring 5 or 6, adopts a database
where Spring's script already ran (detecting its version), and migrates 5 to 6 as Spring's
migration script does."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from jobop.domain import JobParameters
from jobop.repository import ContextFormat, create_engine
from spring_oracle import Oracle, java_parameters, jdbc_url, run_jobop, run_spring_script
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
        sequences = (
            sorted(s.lower() for s in inspector.get_sequence_names())
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
    (answer,) = oracle.ask(
        [
            {
                "op": "dao",
                "url": jdbc_url(blank_db_url),
                "spring": spring,
                "format": ContextFormat.JACKSON.value,
                "actions": [
                    {
                        "do": "launch",
                        "job": "demoChunkJob",
                        "parameters": java_parameters(JobParameters.of(items=6)),
                        "status": "COMPLETED",
                        "step": "demoChunkStep",
                        "jobContext": None,
                        "stepContext": None,
                    },
                    {
                        "do": "find-instance",
                        "job": "demoChunkJob",
                        "parameters": java_parameters(JobParameters.of(items=5)),
                    },
                ],
            }
        ]
    )
    assert "error" not in answer, answer
    launched, found = answer["answers"]
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
    (answer,) = oracle.ask(
        [
            {
                "op": "dao",
                "url": jdbc_url(ours),
                "spring": 6,
                "format": "jackson",
                "actions": [
                    {
                        "do": "launch",
                        "job": "javaJob",
                        "parameters": {},
                        "status": "COMPLETED",
                        "step": "javaStep",
                        "jobContext": None,
                        "stepContext": None,
                    }
                ],
            }
        ]
    )
    assert answer["answers"][0]["instance"] == 3  # after jobop's two, from the renamed sequence
    downgrade = run_jobop(ours, tmp_path, "db", "upgrade", "--spring-schema", "5")
    assert downgrade.returncode == REFUSED and "only 5 to 6" in downgrade.stderr
