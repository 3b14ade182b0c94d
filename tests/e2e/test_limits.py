"""Per-caller limits on a real `jobop serve`: open streams and the launch rate answer
RESOURCE_EXHAUSTED with the limit named, and jobctl exits 5 with one line."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from e2e_support import ServerFactory, error_of, params, run_jobctl
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from sqlalchemy import create_engine, text
from test_auth import TOKENS, call, tokens_file

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@sqlite_only
def test_open_streams_are_limited_per_caller_and_in_all(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server(
        "--tokens-file",
        str(tokens_file(tmp_path)),
        "--max-streams-per-caller",
        "2",
        "--max-streams",
        "3",
        "--stream-heartbeat",
        "1",
    )
    request = pb.WatchExecutionsRequest()

    def open_stream(role: str) -> grpc.Future:
        stream = server.stub.WatchExecutions(
            request, metadata=[("authorization", f"Bearer {TOKENS[role]}")], timeout=60
        )
        assert next(stream).heartbeat
        return stream

    first, second = open_stream("viewer"), open_stream("viewer")
    code, reason, _ = error_of(lambda: open_stream("viewer"))
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED")
    third = open_stream("operator")  # another caller: its own count, but the server is full
    try:
        code, _, message = error_of(lambda: open_stream("admin"))
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "--max-streams 3" in message
        first.cancel()
        deadline = time.monotonic() + 10
        while True:  # the slot frees once the server has seen the cancellation
            try:
                fourth = open_stream("viewer")
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        fourth.cancel()
    finally:
        for stream in (second, third):
            stream.cancel()


@sqlite_only
def test_launches_are_rate_limited_per_caller(
    start_server: ServerFactory, tmp_path: Path, db_url: str
) -> None:
    server = start_server(
        "--tokens-file",
        str(tokens_file(tmp_path)),
        "--start-rate",
        "0.01",
        "--start-burst",
        "2",
    )
    for run in (1, 2):
        request = pb.StartRequest(
            job_name="demoTaskletJob", parameters=params(durationMs=1, **{"run.id": run})
        )
        call(server, "Start", request, "operator")
    code, reason, message = error_of(
        lambda: call(
            server,
            "StartNextInstance",
            pb.StartNextInstanceRequest(job_name="demoTaskletJob"),
            "operator",
        )
    )
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED")
    assert "operator-user makes control actions faster than 0.01 per second" in message
    assert "try again in" in message
    # Another caller still may; the refused launch is in the audit trail.
    call(
        server, "StartNextInstance", pb.StartNextInstanceRequest(job_name="demoTaskletJob"), "admin"
    )
    refused = run_jobctl(server.address, "next", "demoTaskletJob", JOBOP_TOKEN=TOKENS["operator"])
    assert refused.returncode == 5, refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "per second" in refused.stderr
    engine = create_engine(db_url)
    with engine.connect() as connection:
        reasons = (
            connection.execute(
                text("SELECT reason FROM jobop_audit WHERE succeeded = 'N' ORDER BY audit_id")
            )
            .scalars()
            .all()
        )
    engine.dispose()
    assert reasons == ["RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED"]


def test_refused_control_actions_count_against_the_caller_s_rate_on_both_surfaces(
    start_server: ServerFactory, tmp_path: Path, db_url: str
) -> None:
    """A viewer trying what it may not do is slowed down like a caller launching too fast:
    every control action takes from the caller's one bucket, whichever surface it uses."""
    from rest_support import error_of as rest_error
    from rest_support import request

    server = start_server(
        "--tokens-file", str(tokens_file(tmp_path)), "--start-rate", "0.001", "--start-burst", "3"
    )

    def rest(path: str, role: str) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {TOKENS[role]}"}
        status, _, reason, _ = rest_error(request(server.http_url, "POST", path, headers=headers))
        return status, reason

    abandon = pb.AbandonRequest(execution_id=1)
    assert error_of(lambda: call(server, "Abandon", abandon, "viewer"))[1] == "PERMISSION_DENIED"
    assert rest("/api/executions/1/abandon", "viewer") == (403, "PERMISSION_DENIED")
    assert rest("/api/executions/x/stop", "viewer") == (403, "PERMISSION_DENIED")
    # The bucket is empty now, on both surfaces, for this caller only.
    code, reason, message = error_of(lambda: call(server, "Abandon", abandon, "viewer"))
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "RESOURCE_EXHAUSTED")
    assert "viewer-user makes control actions faster than" in message
    assert rest("/api/jobs/demoTaskletJob/start", "viewer") == (429, "RESOURCE_EXHAUSTED")
    assert rest("/api/executions/1/abandon", "admin") == (404, "NO_SUCH_JOB_EXECUTION")
    engine = create_engine(db_url)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT principal, action, reason FROM jobop_audit ORDER BY audit_id")
        ).all()
    engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("viewer-user", "Abandon", "PERMISSION_DENIED"),
        ("viewer-user", "Abandon", "PERMISSION_DENIED"),
        ("viewer-user", "Stop", "PERMISSION_DENIED"),
        ("viewer-user", "Abandon", "RESOURCE_EXHAUSTED"),
        ("viewer-user", "Start", "RESOURCE_EXHAUSTED"),
        ("admin-user", "Abandon", "NO_SUCH_JOB_EXECUTION"),
    ]
