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
    assert "operator-user launches faster than 0.01 per second" in message
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
