"""jobop_client.model and the friendly clients' local rules (no server needed): statuses as
BatchStatus members, aware UTC times, plain parameters with their typed form, the change
counter's name, the connection's defaults from the environment, and imports that need
only grpcio and protobuf."""

from __future__ import annotations

import asyncio
import datetime as dt
import subprocess
import sys

import pytest
from client_fake_server import RunningServer
from jobop_client import (
    AsyncClient,
    BatchStatus,
    Client,
    JobExecution,
    Parameter,
    ParameterValue,
)
from jobop_client.friendly import _connection
from jobop_client.parameters import to_proto_map
from jobop_client.proto import job_operator_pb2 as pb


def _message(change_version: int = 12) -> pb.JobExecution:
    message = pb.JobExecution(
        id=7,
        version=12,
        change_version=change_version,
        job_instance_id=3,
        job_name="demoChunkJob",
        parameters=to_proto_map(
            {"items": 5, "day": dt.date(2024, 3, 15), "size": Parameter(2, identifying=False)}
        ),
        status=pb.BATCH_STATUS_FAILED,
        exit_status=pb.ExitStatus(exit_code="FAILED", exit_description="Boom: no\n  at x"),
        step_executions=[
            pb.StepExecution(
                id=9,
                version=4,
                step_name="demoChunkStep",
                status=pb.BATCH_STATUS_FAILED,
                read_count=3,
                write_count=2,
                read_skip_count=1,
            )
        ],
    )
    message.start_time.FromDatetime(dt.datetime(2024, 3, 15, 10, 0, tzinfo=dt.UTC))
    message.end_time.FromDatetime(dt.datetime(2024, 3, 15, 10, 0, 2, 500_000, tzinfo=dt.UTC))
    return message


def test_an_execution_reads_as_python_objects() -> None:
    execution = JobExecution.from_proto(_message())
    assert execution.status is BatchStatus.FAILED and not execution.is_running
    assert execution.parameters == {
        "day": dt.datetime(2024, 3, 15, tzinfo=dt.UTC),
        "items": 5,
        "size": 2,
    }
    assert execution.parameters.typed["size"] == ParameterValue(2, "LONG", identifying=False)
    assert execution.parameters.identifying == {
        "day": dt.datetime(2024, 3, 15, tzinfo=dt.UTC),
        "items": 5,
    }
    assert execution.start_time == dt.datetime(2024, 3, 15, 10, 0, tzinfo=dt.UTC)
    assert execution.create_time is None
    assert execution.duration == dt.timedelta(seconds=2.5)
    assert execution.exit_status.reason == "Boom: no"
    step = execution.step("demoChunkStep")
    assert (step.version, step.skip_count, step.status) == (4, 1, BatchStatus.FAILED)
    assert execution.summary == (
        "demoChunkJob execution 7 FAILED (exit FAILED) in 2.5s: Boom: no; "
        "demoChunkStep FAILED: read 3, written 2, skipped 1"
    )
    with pytest.raises(KeyError, match="no execution of step 'other'"):
        execution.step("other")
    with pytest.raises(AttributeError):
        execution.status = BatchStatus.COMPLETED  # type: ignore[misc]
    assert execution.proto.id == 7 and not hasattr(execution, "version")


def test_the_change_counter_and_statuses_of_older_and_newer_servers() -> None:
    older = JobExecution.from_proto(_message(change_version=0))
    assert older.change_version == 12  # a server without the field sends `version` only
    newer = _message()
    newer.status = 42  # type: ignore[assignment]  # a status this client does not know
    assert JobExecution.from_proto(newer).status is BatchStatus.UNKNOWN


def test_the_connection_defaults_to_jobctls_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JOBOP_TARGET", "JOBOP_TOKEN", "JOBOP_CA", "JOBOP_CERT", "JOBOP_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert _connection(None, None, None, ()) == ("127.0.0.1:50051", None, ())
    monkeypatch.setenv("JOBOP_TARGET", "jobop.internal:50051")
    monkeypatch.setenv("JOBOP_TOKEN", "s3cret")
    target, credentials, metadata = _connection(None, None, None, (("x-a", "b"),))
    assert (target, credentials) == ("jobop.internal:50051", None)
    assert metadata == (("x-a", "b"), ("authorization", "Bearer s3cret"))
    assert _connection("other:1", "t", None, ())[::2] == (
        "other:1",
        (("authorization", "Bearer t"),),
    )
    with Client() as client:
        assert client.target == "jobop.internal:50051"
    with Client() as client, pytest.raises(ValueError, match="given twice"):
        client.start("demoChunkJob", {"items": 1}, items=2)


def test_the_client_needs_only_grpcio_and_protobuf() -> None:
    code = (
        "import sys, jobop_client\n"
        "from jobop_client import Client, AsyncClient, JobExecution\n"
        "loaded = {name.split('.')[0] for name in sys.modules}\n"
        "print(sorted(loaded & {'jobop', 'sqlalchemy', 'aiohttp', 'psycopg', 'opentelemetry'}))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert completed.stdout.strip() == "[]"


def test_recover_passes_force_on_both_clients(fake_server: RunningServer) -> None:
    with Client(fake_server.target) as client:
        started = client.start("demoTaskletJob").execution
        assert client.recover(started.id).status is BatchStatus.FAILED
        client.recover(started.id, force=True)

    async def recover_async() -> None:
        async with AsyncClient(fake_server.target) as client:
            await client.recover(started.id, force=True)

    asyncio.run(recover_async())
    forced = [request.force for request in fake_server.servicer.requests("Recover")]
    assert forced == [False, True, True]
