"""JobOperatorClient and AsyncJobOperatorClient against a real (in-memory) gRPC server."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from client_fake_server import RunningServer
from jobop_client import Parameter, ParameterValue, errors, executions, jsonform
from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient, RetryPolicy
from jobop_client.proto import job_operator_pb2 as pb

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.02)


def test_start_sends_typed_parameters_and_returns_the_execution(
    fake_server: RunningServer,
) -> None:
    with JobOperatorClient(fake_server.target) as client:
        execution = client.start(
            "demoChunkJob",
            {
                "items": 20,
                "chunkSize": Parameter(5, identifying=False),
                "day": dt.date(2024, 5, 31),
            },
        )
        assert execution.id > 0
        assert execution.job_name == "demoChunkJob"
        assert executions.status_name(execution.status) == "STARTING"
        assert client.get_parameters(execution.id) == {
            "chunkSize": ParameterValue(5, "LONG", identifying=False),
            "day": ParameterValue(dt.datetime(2024, 5, 31, tzinfo=dt.UTC), "DATE"),
            "items": ParameterValue(20, "LONG"),
        }
        assert client.get_running_executions("demoChunkJob") == [execution.id]
        assert client.get_job_execution(execution.id).id == execution.id
        assert f"id={execution.id}" in client.get_summary(execution.id)
        assert client.get_job_names() == ["demoChunkJob", "demoExitCodeJob", "demoTaskletJob"]


def test_typed_errors_for_the_contracts_cases(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target) as client:
        with pytest.raises(errors.NoSuchJobError, match="no job named 'nope'"):
            client.start("nope")
        with pytest.raises(errors.NoSuchJobExecutionError):
            client.get_job_execution(999)
        client.start("demoChunkJob", {"items": 3})
        with pytest.raises(errors.JobInstanceAlreadyExistsError):
            client.start("demoChunkJob", {"items": 3, "chunkSize": Parameter(1, False)})
        with pytest.raises(errors.InvalidJobParametersError):
            client.start("demoChunkJob", {"items": -1})


def test_watch_follows_the_execution_to_its_end(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target) as client:
        execution = client.start("demoChunkJob", {"items": 20, "chunkSize": 10})
        snapshots = list(client.watch_execution(execution.id))
    statuses = [executions.status_name(s.status) for s in snapshots]
    assert statuses == ["STARTING", "STARTED", "STARTED", "STARTED", "COMPLETED"]
    assert [s.step_executions[0].read_count for s in snapshots[1:]] == [0, 10, 20, 20]
    versions = [s.version for s in snapshots]
    assert versions == sorted(set(versions))
    final = snapshots[-1]
    assert final.exit_status.exit_code == "COMPLETED"
    assert executions.duration(final) is not None
    assert not executions.is_running(final)


def test_watch_resumes_after_the_connection_drops(fake_server: RunningServer) -> None:
    fake_server.servicer.break_watch_after = 2
    with JobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
        execution = client.start("demoChunkJob", {"items": 30, "chunkSize": 10})
        snapshots = list(client.watch_execution(execution.id))
    requests = fake_server.servicer.requests("WatchExecution")
    assert [r.after_version for r in requests] == [0, snapshots[1].version]
    assert executions.status_name(snapshots[-1].status) == "COMPLETED"
    assert len({s.version for s in snapshots}) == len(snapshots)  # nothing seen twice


def test_watch_of_a_finished_execution_ends_at_once(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target) as client:
        execution = client.start("demoChunkJob", {"items": 1})
        last = list(client.watch_execution(execution.id))[-1]
        assert list(client.watch_execution(execution.id, after_version=last.version)) == []
        again = list(client.watch_execution(execution.id))
        assert [s.version for s in again] == [last.version]


def test_reads_retry_on_unavailable(fake_server: RunningServer) -> None:
    fake_server.servicer.unavailable["GetJobNames"] = 2
    with JobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
        assert client.get_job_names()
    assert len(fake_server.servicer.requests("GetJobNames")) == 3


def test_start_retries_only_with_a_request_id(fake_server: RunningServer) -> None:
    fake_server.servicer.unavailable["Start"] = 1
    with JobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
        with pytest.raises(errors.ServerUnavailableError):
            client.start("demoChunkJob", {"items": 1})
        fake_server.servicer.unavailable["Start"] = 1
        execution = client.start("demoChunkJob", {"items": 1}, request_id="req-1")
    assert execution.id > 0
    requests = fake_server.servicer.requests("Start")
    assert [r.request_id for r in requests] == ["", "req-1", "req-1"]


def test_retries_give_up_after_max_attempts(fake_server: RunningServer) -> None:
    fake_server.servicer.unavailable["GetJobExecution"] = 10
    with (
        JobOperatorClient(fake_server.target, retry=FAST_RETRY) as client,
        pytest.raises(errors.ServerUnavailableError, match="try again later"),
    ):
        client.get_job_execution(1)
    assert len(fake_server.servicer.requests("GetJobExecution")) == FAST_RETRY.max_attempts


def test_metadata_is_sent_with_every_call(fake_server: RunningServer) -> None:
    token = [("authorization", "Bearer s3cret")]
    with JobOperatorClient(fake_server.target, metadata=token) as client:
        execution = client.start("demoChunkJob", {"items": 1})
        list(client.watch_execution(execution.id))
    for _, _, metadata in fake_server.servicer.calls:
        assert metadata["authorization"] == "Bearer s3cret"


def test_stop_restart_abandon_recover(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target) as client:
        execution = client.start("demoChunkJob", {"items": 1})
        assert executions.status_name(client.stop(execution.id).status) == "STOPPING"
        with pytest.raises(errors.JobExecutionNotRunningError):
            client.stop(execution.id)
        with pytest.raises(errors.JobExecutionAlreadyRunningError):
            client.abandon(execution.id)
        assert executions.status_name(client.recover(execution.id).status) == "FAILED"
        new = client.restart(execution.id)
        assert new.id != execution.id
        assert executions.status_name(client.abandon(execution.id).status) == "ABANDONED"
        next_one = client.start_next_instance("demoTaskletJob")
        assert client.get_parameters(next_one.id)["run.id"].value == 1


def test_list_calls_page(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target) as client:
        ids = [client.start("demoChunkJob", {"items": n}).id for n in range(1, 6)]
        page = client.list_job_executions("demoChunkJob", page_size=3)
        assert [e.id for e in page.items] == ids[::-1][:3]
        rest = client.list_job_executions("demoChunkJob", page_token=page.next_page_token)
        assert [e.id for e in rest.items] == ids[::-1][3:]
        assert rest.next_page_token == ""
        instances = client.list_job_instances("demoChunkJob", page_size=10)
        assert len(instances.items) == 5
        assert all(isinstance(i, pb.JobInstance) for i in instances.items)


def test_watch_executions_yields_snapshots_and_skips_heartbeats(
    fake_server: RunningServer,
) -> None:
    with JobOperatorClient(fake_server.target) as client:
        first = client.start("demoChunkJob", {"items": 1})
        client.start("demoTaskletJob", {"durationMs": 1})
        stream = client.watch_executions("demoChunkJob")
        seen = next(stream)
        stream.close()  # cancels the call
    assert seen.id == first.id


def test_the_async_client(fake_server: RunningServer) -> None:
    async def scenario() -> list[pb.JobExecution]:
        async with AsyncJobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
            assert "demoChunkJob" in await client.get_job_names()
            execution = await client.start("demoChunkJob", {"items": 20, "chunkSize": 10})
            with pytest.raises(errors.NoSuchJobError):
                await client.start("nope")
            snapshots = [s async for s in client.watch_execution(execution.id)]
            summaries = await client.get_step_execution_summaries(execution.id)
            assert list(summaries) == [execution.id * 100]
            page = await client.list_job_executions("demoChunkJob", page_size=5)
            assert [e.id for e in page.items] == [execution.id]
            return snapshots

    fake_server.servicer.break_watch_after = 1
    fake_server.servicer.unavailable["GetJobNames"] = 1
    snapshots = asyncio.run(scenario())
    assert executions.status_name(snapshots[-1].status) == "COMPLETED"
    assert jsonform.execution_json(snapshots[-1])["parameters"]["items"] == {
        "long": 20,
        "identifying": True,
    }
