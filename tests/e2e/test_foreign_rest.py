"""Jobs only the repository knows, over REST on a real `jobop serve`: a launch is 412
JOB_NOT_REGISTERED, and Recover of an execution no jobop node owns takes `{"force": true}`
(refused without it, a malformed one is 400)."""

from __future__ import annotations

from e2e_support import ServerFactory
from jobop.domain import BatchStatus, JobParameters, utcnow
from jobop.repository import JobRepository, create_engine
from rest_support import error_of, request


def test_a_spring_style_execution_over_rest(start_server: ServerFactory) -> None:
    server = start_server()
    base = server.http_url
    repository = JobRepository(create_engine(server.db_url))
    try:
        # As a Spring Batch application leaves it when it dies: STARTED, no jobop owner.
        execution = repository.create_job_execution("springJob", JobParameters.of(n=1))
        execution.status = BatchStatus.STARTED
        execution.start_time = utcnow()
        repository.update_job_execution(execution)
    finally:
        repository.engine.dispose()
    recover = f"/api/executions/{execution.id}/recover"

    refused = request(base, "POST", "/api/jobs/springJob/start")
    assert error_of(refused)[:3] == (412, "FAILED_PRECONDITION", "JOB_NOT_REGISTERED")
    refused = request(base, "POST", "/api/jobs/springJob/next")
    assert error_of(refused)[:3] == (412, "FAILED_PRECONDITION", "JOB_NOT_REGISTERED")
    # A name the repository does not know either stays 404.
    unknown = request(base, "POST", "/api/jobs/nobodysJob/start")
    assert error_of(unknown)[:3] == (404, "NOT_FOUND", "NO_SUCH_JOB")

    for body in (None, {}, {"force": False}):
        refused = request(base, "POST", recover, body)
        status, _, reason, _ = error_of(refused)
        assert (status, reason) == (412, "JOB_EXECUTION_ALREADY_RUNNING"), refused
        assert "force" in refused.body["error"]["message"]
    malformed = request(base, "POST", recover, {"force": "yes"})
    assert error_of(malformed) == (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", {"field": "force"})
    assert request(base, "GET", f"/api/executions/{execution.id}").body["status"] == "STARTED"

    recovered = request(base, "POST", recover, {"force": True})
    assert recovered.status == 200 and recovered.body["status"] == "FAILED", recovered
    assert recovered.body["endTime"] is not None
