"""The job catalogue (DescribeJobs, GET /api/jobs, GET /api/jobs/{name}) against a real
`jobop serve` on SQLite and PostgreSQL: registered jobs described from their definitions
(e2e_jobs' e2eCatalogueJob declares parameters of every type), jobs only the repository
knows listed as not registered, unknown names and malformed requests refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from e2e_support import ServerFactory, ServerProcess, error_of
from jobop.domain import JobParameter, JobParameters
from jobop.repository import JobRepository, create_engine
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from rest_support import error_of as rest_error
from rest_support import request

CATALOGUE_JOB = "e2eCatalogueJob"
FOREIGN_JOB = "springOnlyImportJob"


def repository_only_job(db_url: str, name: str = FOREIGN_JOB) -> int:
    """An instance (and a FAILED execution) of a job no jobop server registers, as a Spring
    Batch application would leave it; the execution's id."""
    repository = JobRepository(create_engine(db_url))
    try:
        parameters = JobParameters({"run.id": JobParameter(1, "LONG")})
        execution = repository.create_job_execution(name, parameters)
        return repository.fail_running(execution.id, "ran elsewhere").id
    finally:
        repository.engine.dispose()


def describe(server: ServerProcess, *names: str) -> list[pb.JobDescription]:
    request_ = pb.DescribeJobsRequest(job_names=list(names))
    return list(server.stub.DescribeJobs(request_, timeout=30).jobs)


def test_describe_jobs_tells_a_registered_job_from_its_definition(
    jobop_server: ServerProcess,
) -> None:
    (job,) = describe(jobop_server, CATALOGUE_JOB)
    assert job.job_name == CATALOGUE_JOB and job.registered
    assert job.description.startswith("Imports one day's orders")
    assert job.restartable and not job.allow_undeclared_parameters
    assert job.incrementer == "RunIdIncrementer(run.id)"
    assert [(step.name, step.kind) for step in job.steps] == [
        ("prepare", "tasklet"),
        ("load", "chunk"),
    ]
    by_name = {parameter.name: parameter for parameter in job.parameters}
    assert list(by_name) == ["day", "items", "rate", "dryRun", "label", "apiToken"]
    day = by_name["day"]
    assert (day.type, day.identifying, day.required) == (pb.PARAMETER_TYPE_DATE, True, True)
    assert not day.HasField("default_value") and day.description == "The day to import"
    items = by_name["items"]
    assert (items.type, items.identifying, items.required) == (pb.PARAMETER_TYPE_LONG, True, False)
    assert items.default_value == pb.JobParameter(long_value=5, identifying=True)
    assert by_name["rate"].default_value == pb.JobParameter(double_value=1.5, identifying=False)
    assert by_name["dryRun"].default_value == pb.JobParameter(bool_value=False, identifying=False)
    assert by_name["label"].default_value.string_value == "orders"
    # An open server's caller is an admin: secret-named defaults are shown.
    assert by_name["apiToken"].default_value.string_value == "s3cr3t"
    # A job that declares nothing takes anything.
    (tasklet,) = describe(jobop_server, "e2eNotRestartableJob")
    assert tasklet.allow_undeclared_parameters and not tasklet.parameters
    assert not tasklet.restartable and tasklet.incrementer == ""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_secret_named_default_is_masked_but_for_admins(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    from test_auth import TOKENS, tokens_file

    server = start_server("--tokens-file", str(tokens_file(tmp_path)))
    request_ = pb.DescribeJobsRequest(job_names=[CATALOGUE_JOB])
    for role, shown in (("viewer", "***"), ("operator", "***"), ("admin", "s3cr3t")):
        md = [("authorization", f"Bearer {TOKENS[role]}")]
        (job,) = server.stub.DescribeJobs(request_, metadata=md, timeout=30).jobs
        defaults = {p.name: p.default_value.string_value for p in job.parameters}
        assert (defaults["apiToken"], defaults["label"]) == (shown, "orders"), role
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        body = request(server.http_url, "GET", f"/api/jobs/{CATALOGUE_JOB}", headers=headers).body
        (token,) = [p for p in body["parameters"] if p["name"] == "apiToken"]
        assert token["defaultValue"] == {"string": shown, "identifying": False}, role


def test_describe_jobs_lists_every_job_with_those_only_the_repository_knows(
    jobop_server: ServerProcess,
) -> None:
    before = describe(jobop_server)
    assert FOREIGN_JOB not in [job.job_name for job in before]
    repository_only_job(jobop_server.db_url)
    jobs = describe(jobop_server)
    names = [job.job_name for job in jobs]
    assert names == sorted(names) and FOREIGN_JOB in names and CATALOGUE_JOB in names
    registered = [job.job_name for job in jobs if job.registered]
    assert registered == list(jobop_server.stub.GetJobNames(pb.GetJobNamesRequest()).job_names)
    (foreign,) = describe(jobop_server, FOREIGN_JOB)
    assert foreign == pb.JobDescription(job_name=FOREIGN_JOB, registered=False)
    # Named ones come in the order asked.
    asked = [FOREIGN_JOB, "demoChunkJob"]
    assert [job.job_name for job in describe(jobop_server, *asked)] == asked


def test_describe_jobs_refuses_unknown_names_and_malformed_requests(
    jobop_server: ServerProcess,
) -> None:
    code, reason, message = error_of(lambda: describe(jobop_server, CATALOGUE_JOB, "noSuchJob"))
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "NO_SUCH_JOB")
    assert "noSuchJob" in message
    for names, why in (
        ([""], "empty"),
        (["x" * 101], "longer than 100"),
        (["a\x00b"], "NUL"),
        ([f"job{i}" for i in range(1001)], "more than 1000"),
    ):
        code, reason, message = error_of(lambda names=names: describe(jobop_server, *names))
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), names
        assert why in message, message


def test_rest_lists_the_catalogue_and_describes_one_job(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    foreign_execution = repository_only_job(jobop_server.db_url)
    body = request(base, "GET", "/api/jobs").body
    jobs = {job["name"]: job for job in body["jobs"]}
    # jobNames stays what it was: the jobs this server runs.
    assert body["jobNames"] == sorted(name for name, job in jobs.items() if job["registered"])
    assert FOREIGN_JOB not in body["jobNames"]
    assert jobs[FOREIGN_JOB]["registered"] is False
    assert jobs[FOREIGN_JOB]["latestExecution"]["id"] == foreign_execution
    assert jobs[FOREIGN_JOB]["latestExecution"]["status"] == "FAILED"
    one = request(base, "GET", f"/api/jobs/{CATALOGUE_JOB}")
    assert one.status == 200
    described = one.body
    listed = {key: value for key, value in jobs[CATALOGUE_JOB].items() if key != "latestExecution"}
    assert described == listed
    assert described["incrementer"] == "RunIdIncrementer(run.id)"
    assert described["steps"] == [
        {"name": "prepare", "kind": "tasklet"},
        {"name": "load", "kind": "chunk"},
    ]
    assert described["allowUndeclaredParameters"] is False and described["restartable"] is True
    parameters = {parameter["name"]: parameter for parameter in described["parameters"]}
    assert parameters["day"] == {
        "name": "day",
        "type": "date",
        "identifying": True,
        "required": True,
        "defaultValue": None,
        "description": "The day to import",
    }
    assert parameters["items"]["defaultValue"] == {"long": 5, "identifying": True}
    assert parameters["rate"]["defaultValue"] == {"double": 1.5, "identifying": False}
    assert parameters["dryRun"]["defaultValue"] == {"boolean": False, "identifying": False}
    assert parameters["apiToken"]["defaultValue"] == {"string": "s3cr3t", "identifying": False}
    foreign = request(base, "GET", f"/api/jobs/{FOREIGN_JOB}").body
    assert foreign == {
        "name": FOREIGN_JOB,
        "description": "",
        "registered": False,
        "parameters": [],
        "allowUndeclaredParameters": False,
        "restartable": False,
        "incrementer": "",
        "steps": [],
    }
    status, code, reason, _ = rest_error(request(base, "GET", "/api/jobs/noSuchJob"))
    assert (status, code, reason) == (404, "NOT_FOUND", "NO_SUCH_JOB")
    status, _, reason, _ = rest_error(request(base, "GET", f"/api/jobs/{'x' * 101}"))
    assert (status, reason) == (400, "INVALID_ARGUMENT")


RETIRED_JOBS = """
from jobop.batch import Job, RepeatStatus, TaskletStep

retired = Job(
    "retiredJob",
    [TaskletStep("only", lambda contribution, chunk_context: RepeatStatus.FINISHED)],
    description="Run once by a process that no longer runs",
)
"""


def test_a_job_run_by_another_process_is_known_to_a_server_that_does_not_run_it(
    jobop_server: ServerProcess, tmp_path: Path
) -> None:
    (tmp_path / "retired_jobs.py").write_text(RETIRED_JOBS)
    command = [sys.executable, "-m", "jobop.app.cli", "run", "--db", jobop_server.db_url]
    ran = subprocess.run(
        [*command, "--jobs", "retired_jobs", "retiredJob", "day=2024-03-15"],
        env=dict(os.environ, PYTHONPATH=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    # The server (which never loaded retired_jobs) knows the job from the repository only.
    (job,) = describe(jobop_server, "retiredJob")
    assert job == pb.JobDescription(job_name="retiredJob", registered=False)
    listed: dict[str, Any] = {
        entry["name"]: entry
        for entry in request(jobop_server.http_url, "GET", "/api/jobs").body["jobs"]
    }
    assert listed["retiredJob"]["registered"] is False
    assert listed["retiredJob"]["latestExecution"]["status"] == "COMPLETED"
