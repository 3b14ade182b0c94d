"""`jobctl jobs` and `jobctl describe` against a real `jobop serve` that loads e2e_jobs
(e2eCatalogueJob declares parameters of every type), on SQLite and PostgreSQL, with a job
only the repository knows beside them."""

from __future__ import annotations

import json

from cli_support import Jobctl, JobopServer
from jobop.domain import JobParameter, JobParameters
from jobop.repository import JobRepository, create_engine
from test_cli_jobctl import failed, ok, parsed

FOREIGN_JOB = "springOnlyImportJob"


def _repository_only_job(server: JobopServer) -> None:
    """An instance of a job this server does not register (a Spring application's)."""
    repository = JobRepository(create_engine(server.db_url))
    try:
        parameters = JobParameters({"run.id": JobParameter(1, "LONG")})
        execution = repository.create_job_execution(FOREIGN_JOB, parameters)
        repository.fail_running(execution.id, "ran elsewhere")
    finally:
        repository.engine.dispose()


def test_jobs_shows_descriptions_and_the_jobs_not_registered_here(
    e2e_jobs_server: JobopServer,
) -> None:
    jobctl = Jobctl(e2e_jobs_server)
    _repository_only_job(e2e_jobs_server)
    result = ok(jobctl("jobs"))
    header, *rows = result.lines
    assert header.split() == ["JOB", "DESCRIPTION"]
    by_name = {row.split()[0]: row.split(None, 1)[1] if " " in row else "" for row in rows}
    assert by_name["e2eCatalogueJob"].startswith("Imports one day's orders"), str(result)
    assert by_name[FOREIGN_JOB] == "(not registered here)", str(result)
    assert by_name["demoChunkJob"].startswith("Writes the integers"), str(result)
    names = [row.split()[0] for row in rows]
    assert names == sorted(names)
    # --json: the names, as before the catalogue (every job the catalogue lists).
    assert parsed(jobctl("--json", "jobs")) == names


def test_describe_prints_the_parameters_as_a_table(e2e_jobs_server: JobopServer) -> None:
    jobctl = Jobctl(e2e_jobs_server)
    result = ok(jobctl("describe", "e2eCatalogueJob"))
    lines = result.lines
    assert lines[0] == "e2eCatalogueJob"
    assert lines[1].startswith("Imports one day's orders")
    assert "restartable: yes" in lines
    assert "incrementer: RunIdIncrementer(run.id)" in lines
    assert "steps: prepare (tasklet), load (chunk)" in lines
    assert "undeclared parameters: refused" in lines
    table = lines[lines.index("") + 1 :]
    assert table[0].split() == [
        "PARAMETER",
        "TYPE",
        "IDENTIFYING",
        "REQUIRED",
        "DEFAULT",
        "DESCRIPTION",
    ]
    rows = {row.split()[0]: row.split() for row in table[1:]}
    assert list(rows) == ["day", "items", "rate", "dryRun", "label", "apiToken"]
    assert rows["day"] == ["day", "date", "yes", "yes", "The", "day", "to", "import"]
    about_items = ["How", "many", "items", "to", "read"]
    assert rows["items"] == ["items", "long", "yes", "no", "5", *about_items]
    assert rows["rate"] == ["rate", "double", "no", "no", "1.5"]
    assert rows["dryRun"][:5] == ["dryRun", "boolean", "no", "no", "false"]
    assert rows["label"][:5] == ["label", "string", "yes", "no", "orders"]
    # The columns line up: each header starts where its column does.
    column = table[0].index("DEFAULT")
    shown = ["", "5", "1.5", "false", "orders", "s3cr3t"]
    assert [row[column:].split(" ")[0] for row in table[1:]] == shown, table


def test_describe_json_is_the_rest_shape(e2e_jobs_server: JobopServer) -> None:
    jobctl = Jobctl(e2e_jobs_server)
    described = parsed(jobctl("--json", "describe", "e2eCatalogueJob"))
    assert described["name"] == "e2eCatalogueJob" and described["registered"] is True
    assert described["steps"] == [
        {"name": "prepare", "kind": "tasklet"},
        {"name": "load", "kind": "chunk"},
    ]
    (items,) = [p for p in described["parameters"] if p["name"] == "items"]
    assert items == {
        "name": "items",
        "type": "long",
        "identifying": True,
        "required": False,
        "defaultValue": {"long": 5, "identifying": True},
        "description": "How many items to read",
    }
    assert json.dumps(described)  # plain JSON all through


def test_describe_a_job_only_the_repository_knows_and_an_unknown_one(
    e2e_jobs_server: JobopServer,
) -> None:
    jobctl = Jobctl(e2e_jobs_server)
    _repository_only_job(e2e_jobs_server)
    result = ok(jobctl("describe", FOREIGN_JOB))
    assert result.lines == [
        FOREIGN_JOB,
        "(not registered here): known only from the repository; it cannot start here",
    ]
    assert parsed(jobctl("--json", "describe", FOREIGN_JOB))["registered"] is False
    failed(jobctl("describe", "noSuchJob"), 4, "noSuchJob")
    failed(jobctl("describe", "x" * 101), 2, "job_names")
