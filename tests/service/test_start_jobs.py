"""StartJobs through a real gRPC server with bearer tokens, on SQLite and PostgreSQL: a
mix of good and bad entries answered each on its own, with what a Start of the entry alone
answers; request ids per entry (within a call and across calls); the entry limit; the
roles; one audit row per entry; the started executions run to their end."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from bearer_tokens import ROLE_TOKENS
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.parameters import to_proto_map
from service_support import InProcessServer, rpc_error
from sqlalchemy import text

JOB = "demoTaskletJob"


class Api:
    def __init__(self, stub: pb_grpc.JobOperatorServiceStub) -> None:
        self.stub = stub

    def __call__(self, method: str, request: Any, role: str = "operator") -> Any:
        metadata = [("authorization", f"Bearer {ROLE_TOKENS[role]}")]
        return getattr(self.stub, method)(request, metadata=metadata, timeout=60)

    def start_jobs(self, *starts: pb.StartRequest, role: str = "operator") -> list[Any]:
        response = self("StartJobs", pb.StartJobsRequest(starts=starts), role)
        return list(response.results)

    def wait_ended(self, execution_id: int) -> pb.JobExecution:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            request = pb.GetJobExecutionRequest(execution_id=execution_id)
            execution = self("GetJobExecution", request, "viewer").execution
            if execution.end_time.seconds:
                return execution
            time.sleep(0.02)
        raise AssertionError(f"execution {execution_id} did not end")


@pytest.fixture
def api(roles_server: InProcessServer) -> Iterator[Api]:
    with grpc.insecure_channel(roles_server.address) as channel:
        yield Api(pb_grpc.JobOperatorServiceStub(channel))


def start(job: str = JOB, request_id: str = "", priority: int = 0, **values: Any) -> Any:
    return pb.StartRequest(
        job_name=job, parameters=to_proto_map(values), request_id=request_id, priority=priority
    )


def tasklet(run: int, **options: Any) -> Any:
    return start(durationMs=0, run=f"{time.time_ns()}-{run}", **options)


def _error(result: Any) -> tuple[str, str, dict[str, str]]:
    assert result.WhichOneof("result") == "error", result
    code = grpc.StatusCode.__members__
    names = {value.value[0]: name for name, value in code.items()}
    return names[result.error.code], result.error.reason, dict(result.error.metadata)


def _alone(api: Api, request: Any) -> tuple[str, str, dict[str, str]]:
    code, reason, metadata, _ = rpc_error(lambda: api("Start", request))
    return code.name, reason, metadata


def _audit(server: InProcessServer) -> list[Any]:
    with server.operator.repository.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT * FROM jobop_audit WHERE action = 'StartJobs' ORDER BY audit_id")
        )
        return list(rows)


def test_each_entry_is_answered_as_a_start_of_it_alone(
    api: Api, roles_server: InProcessServer
) -> None:
    existing = api("Start", tasklet(0)).execution
    # Ended, so that the refusals below (which name its status) cannot differ by a race.
    api.wait_ended(existing.id)
    twice = tasklet(1)
    bad = [
        start("noSuchJob", durationMs=1),  # NOT_FOUND NO_SUCH_JOB
        start("demoChunkJob", items=3, undeclared=1),  # INVALID_JOB_PARAMETERS
        start("", durationMs=1),  # INVALID_ARGUMENT, field job_name
        tasklet(2, priority=5000),  # INVALID_ARGUMENT, field priority
    ]
    same_as_existing = pb.StartRequest(job_name=JOB, parameters=existing.parameters)
    entries = [tasklet(3), *bad, twice, same_as_existing, twice, tasklet(4)]
    results = api.start_jobs(*entries)

    assert len(results) == len(entries)
    good = [results[0], results[5], results[8]]
    assert all(r.WhichOneof("result") == "execution" for r in good)
    assert len({r.execution.id for r in good}) == 3
    for result, entry in zip(good, (entries[0], entries[5], entries[8]), strict=True):
        assert result.execution.job_name == JOB
        assert dict(result.execution.parameters) == dict(entry.parameters)
    # The refused entries: what a Start of each alone answers, field and all.
    for result, entry in zip(results[1:5], bad, strict=True):
        assert _error(result) == _alone(api, entry)
    assert [_error(r)[:2] for r in results[1:5]] == [
        ("NOT_FOUND", "NO_SUCH_JOB"),
        ("INVALID_ARGUMENT", "INVALID_JOB_PARAMETERS"),
        ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
        ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    ]
    assert _error(results[3])[2] == {"field": "job_name"}
    assert _error(results[4])[2] == {"field": "priority"}
    # An existing instance, and the second of two entries of one instance in one call.
    code, reason, metadata = _error(results[6])
    assert (code, reason) == ("ALREADY_EXISTS", "JOB_INSTANCE_ALREADY_EXISTS")
    assert metadata["job_execution_id"] == str(existing.id)
    assert _error(results[6]) == _alone(api, same_as_existing)
    code, reason, metadata = _error(results[7])
    assert (code, reason) == ("ALREADY_EXISTS", "JOB_INSTANCE_ALREADY_EXISTS")
    assert metadata["job_execution_id"] == str(results[5].execution.id)

    for result in good:
        assert api.wait_ended(result.execution.id).status == pb.BATCH_STATUS_COMPLETED

    # One audit row per entry, in the request's order (the refused ones as failures).
    rows = _audit(roles_server)
    assert len(rows) == len(entries)
    by_execution = {row.job_execution_id: row for row in rows if row.succeeded == "Y"}
    assert set(by_execution) == {r.execution.id for r in good}
    for result in good:
        row = by_execution[result.execution.id]
        assert (row.principal, row.role, row.job_name) == ("operator-user", "operator", JOB)
        assert json.loads(row.arguments)["jobName"] == JOB
    failed = sorted((row.reason, row.job_name or "") for row in rows if row.succeeded == "N")
    assert failed == sorted(
        [
            ("NO_SUCH_JOB", "noSuchJob"),
            ("INVALID_JOB_PARAMETERS", "demoChunkJob"),
            ("INVALID_ARGUMENT", ""),
            ("INVALID_ARGUMENT", JOB),
            ("JOB_INSTANCE_ALREADY_EXISTS", JOB),
            ("JOB_INSTANCE_ALREADY_EXISTS", JOB),
        ]
    )


def test_request_ids_are_honoured_per_entry_within_a_call_and_across_calls(api: Api) -> None:
    first = tasklet(1, request_id="batch-r1")
    other = tasklet(2, request_id="batch-r2")
    results = api.start_jobs(first, other, first, tasklet(3))
    assert [r.WhichOneof("result") for r in results] == ["execution"] * 4
    # The same entry twice in one call: the second answers the first's execution.
    assert results[0].execution.id == results[2].execution.id
    assert len({r.execution.id for r in results}) == 3

    # Retried in a later call, and by a single Start: the same executions, nothing new.
    again = api.start_jobs(other, first)
    assert [r.execution.id for r in again] == [results[1].execution.id, results[0].execution.id]
    assert api("Start", first).execution.id == results[0].execution.id

    # The id of another request: refused for that entry only.
    reused = tasklet(4, request_id="batch-r1")
    results = api.start_jobs(reused, tasklet(5))
    assert _error(results[0])[:2] == ("INVALID_ARGUMENT", "REQUEST_ID_REUSED")
    assert _error(results[0]) == _alone(api, reused)
    assert results[1].WhichOneof("result") == "execution"


def test_more_than_a_thousand_entries_are_refused_whole(
    api: Api, roles_server: InProcessServer
) -> None:
    with roles_server.operator.repository.engine.connect() as connection:
        before = connection.execute(text("SELECT count(*) FROM batch_job_execution")).scalar()
    entries = [tasklet(index) for index in range(1001)]
    code, reason, metadata, message = rpc_error(lambda: api.start_jobs(*entries))
    assert (code, reason, metadata) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        {"field": "starts"},
    )
    assert "1000" in message.replace(",", "")
    with roles_server.operator.repository.engine.connect() as connection:
        after = connection.execute(text("SELECT count(*) FROM batch_job_execution")).scalar()
    assert after == before
    assert api.start_jobs() == []


def test_a_viewer_may_not_start_jobs(api: Api, roles_server: InProcessServer) -> None:
    code, reason, _, _ = rpc_error(lambda: api.start_jobs(tasklet(1), role="viewer"))
    assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    rows = _audit(roles_server)
    assert [(r.principal, r.succeeded, r.reason) for r in rows] == [
        ("viewer-user", "N", "PERMISSION_DENIED")
    ]
    results = api.start_jobs(tasklet(2), role="admin")
    assert results[0].WhichOneof("result") == "execution"


def test_a_hundred_entries_share_the_group_commit(api: Api, roles_server: InProcessServer) -> None:
    repository = roles_server.operator.repository
    before = repository.launches.statements
    results = api.start_jobs(*(tasklet(index) for index in range(100)))
    assert len({r.execution.id for r in results if r.WhichOneof("result") == "execution"}) == 100
    statements = repository.launches.statements - before
    if repository.engine.dialect.name == "postgresql":
        assert 1 <= statements <= 2  # batches of at most 64 launches, not one per entry
    else:
        assert statements == 0  # SQLite: one transaction per entry (no group commit)
    for result in results:
        assert api.wait_ended(result.execution.id).status == pb.BATCH_STATUS_COMPLETED
    assert len(_audit(roles_server)) == 100
