"""The Python client for people (`jobop_client.Client` / `AsyncClient`) against a real
`jobop serve`, on SQLite and PostgreSQL: start / wait / run follow the WatchExecution
stream to the final execution, which reads as Python objects (BatchStatus members, aware
UTC datetimes, plain parameter values with their typed form, the proto at hand); stop,
restart, abandon, listing and watching; typed errors; the async twins alike."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket

import pytest
from e2e_support import ServerProcess
from jobop_client import (
    AsyncClient,
    BatchStatus,
    Client,
    JobExecution,
    Parameter,
    ParameterValue,
    RetryPolicy,
    errors,
)
from jobop_client.proto import job_operator_pb2 as pb

LONG_TASKLET_MS = 120_000


def test_run_returns_the_final_execution_as_python_objects(jobop_server: ServerProcess) -> None:
    with Client(jobop_server.address) as jobop:
        done = jobop.run("demoChunkJob", items=7, chunkSize=Parameter(3, identifying=False))

    assert isinstance(done, JobExecution)
    assert done.status is BatchStatus.COMPLETED and not done.is_running
    assert done.exit_status.exit_code == "COMPLETED"
    assert done.job_name == "demoChunkJob" and done.job_instance_id > 0
    assert dict(done.parameters) == {"items": 7, "chunkSize": 3}
    assert done.parameters.typed["chunkSize"] == ParameterValue(3, "LONG", identifying=False)
    assert done.parameters.identifying == {"items": 7}
    step = done.step("demoChunkStep")
    assert (step.read_count, step.write_count, step.commit_count) == (7, 7, 3)
    assert step.status is BatchStatus.COMPLETED and step.version >= 1
    for moment in (done.create_time, done.start_time, done.end_time, step.end_time):
        assert moment is not None and moment.utcoffset() == dt.timedelta(0), moment
    assert done.start_time is not None and done.end_time is not None
    assert done.start_time <= done.end_time
    # The protobuf message stays at hand; the change counter has a name of its own.
    assert isinstance(done.proto, pb.JobExecution) and done.proto.id == done.id
    assert done.change_version == done.proto.version == done.proto.change_version > 0
    assert done.summary.startswith(f"demoChunkJob execution {done.id} COMPLETED (exit COMPLETED)")
    assert "demoChunkStep COMPLETED: read 7, written 7" in str(done)


def test_start_watch_stop_restart_and_abandon(jobop_server: ServerProcess) -> None:
    with Client(jobop_server.address) as jobop:
        launched = jobop.start(
            "demoTaskletJob", durationMs=LONG_TASKLET_MS, parameters={"run.id": 1}
        )
        assert launched.execution.status in {BatchStatus.STARTING, BatchStatus.STARTED}
        seen: list[JobExecution] = []
        for snapshot in launched.watch():
            seen.append(snapshot)
            if snapshot.status is BatchStatus.STARTED and not launched_stop_asked(seen):
                assert [e.id for e in jobop.running("demoTaskletJob")] == [launched.id]
                assert launched.stop().status in {BatchStatus.STOPPING, BatchStatus.STOPPED}
        assert seen[-1].status is BatchStatus.STOPPED
        versions = [snapshot.change_version for snapshot in seen]
        assert versions == sorted(set(versions)), versions
        # wait() on an execution that has ended reads it at once.
        assert launched.wait().status is BatchStatus.STOPPED

        again = jobop.restart(launched.id)
        assert again.id != launched.id
        assert again.execution.job_instance_id == launched.execution.job_instance_id
        with pytest.raises(errors.DeadlineExceededError):
            again.wait(timeout=0.5)  # the job runs on: only the wait ended
        jobop.stop(again.id)
        assert again.wait().status is BatchStatus.STOPPED
        abandoned = jobop.abandon(again.id)
        assert abandoned.status is BatchStatus.ABANDONED
        listed = jobop.list_executions("demoTaskletJob")
        assert [e.id for e in listed] == [again.id, launched.id]  # newest first
        assert [i.job_name for i in jobop.list_instances("demoTaskletJob")] == ["demoTaskletJob"]
        assert jobop.running("demoTaskletJob") == []


def test_a_failed_run_is_returned_and_restarted_to_completion(
    jobop_server: ServerProcess,
) -> None:
    with Client(jobop_server.address) as jobop:
        failed = jobop.run("demoChunkJob", items=6, failAtItem=Parameter(4, identifying=False))
        assert failed.status is BatchStatus.FAILED
        assert "failAtItem=4" in failed.exit_status.reason
        assert "failAtItem=4" in failed.summary
        completed = jobop.restart(failed.id).wait()
        assert completed.status is BatchStatus.COMPLETED
        assert completed.job_instance_id == failed.job_instance_id
        # Nothing lost, nothing written twice: the restart writes what the failure did not.
        written = [e.step("demoChunkStep").write_count for e in (failed, completed)]
        assert sum(written) == 6, written


def test_errors_are_typed(jobop_server: ServerProcess) -> None:
    with Client(jobop_server.address) as jobop:
        with pytest.raises(errors.NoSuchJobExecutionError):
            jobop.get_execution(987_654_321)
        with pytest.raises(errors.NoSuchJobError):
            jobop.start("noSuchJob")
        with pytest.raises(errors.JobExecutionNotRunningError):
            jobop.stop(jobop.run("demoTaskletJob", durationMs=1, parameters={"run.id": 2}).id)
        with pytest.raises(errors.JobInstanceAlreadyExistsError):
            jobop.start("demoTaskletJob", durationMs=1, parameters={"run.id": 2})
        with pytest.raises(ValueError, match="given twice: items"):
            jobop.start("demoChunkJob", {"items": 1}, items=2)
    nowhere = Client(f"127.0.0.1:{_closed_port()}", retry=RetryPolicy(max_attempts=1))
    with nowhere, pytest.raises(errors.ServerUnavailableError):
        nowhere.job_names()


def test_async_client_mirrors_the_blocking_one(jobop_server: ServerProcess) -> None:
    async def scenario() -> None:
        async with AsyncClient(jobop_server.address) as jobop:
            assert "demoChunkJob" in await jobop.job_names()
            done = await jobop.run("demoChunkJob", items=5)
            assert done.status is BatchStatus.COMPLETED
            assert done.step("demoChunkStep").write_count == 5
            assert (await jobop.get_execution(done.id)) == done

            launched = await jobop.start(
                "demoTaskletJob", durationMs=LONG_TASKLET_MS, parameters={"run.id": 3}
            )
            statuses = []
            async for snapshot in launched.watch():
                statuses.append(snapshot.status)
                if snapshot.status is BatchStatus.STARTED and statuses.count(snapshot.status) == 1:
                    await launched.stop()
            assert statuses[-1] is BatchStatus.STOPPED
            assert (await launched.wait()).status is BatchStatus.STOPPED
            assert [e.id for e in await jobop.list_executions("demoTaskletJob")] == [launched.id]
            assert (await jobop.abandon(launched.id)).status is BatchStatus.ABANDONED
            with pytest.raises(errors.NoSuchJobExecutionError):
                await jobop.restart(987_654_321)

    asyncio.run(scenario())


def launched_stop_asked(seen: list[JobExecution]) -> bool:
    """Whether a snapshot before the last was STARTED already (the stop was asked then)."""
    return any(snapshot.status is BatchStatus.STARTED for snapshot in seen[:-1])


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
