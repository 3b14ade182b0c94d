"""The workload calls of the clients (settings, pause, resume, queue, priority) against a
real (in-memory) gRPC server: what they send, what they return, which they retry."""

from __future__ import annotations

import asyncio

import pytest
from client_fake_server import RunningServer
from jobop_client import AsyncClient, Client, errors, jsonform
from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient, RetryPolicy
from jobop_client.proto import job_operator_pb2 as pb

FAST_RETRY = RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.02)
JOB = "demoTaskletJob"


def test_update_job_settings_masks_every_field_named_and_clears_the_none_ones(
    fake_server: RunningServer,
) -> None:
    with JobOperatorClient(fake_server.target) as client:
        workload = client.update_job_settings(
            JOB, {"max_concurrent": 2, "concurrency_key": "tenant", "paused": None}
        )
        (request,) = fake_server.servicer.requests("UpdateJobSettings")
        assert list(request.update_mask.paths) == ["max_concurrent", "concurrency_key", "paused"]
        assert request.settings.max_concurrent == 2
        assert request.settings.concurrency_key == "tenant"
        assert not request.settings.HasField("paused")  # masked and unset: cleared
        assert workload.settings.max_concurrent == 2
        assert client.get_job_settings([JOB]) == [workload]
        with pytest.raises(ValueError, match="unknown job settings: max_concurrency"):
            client.update_job_settings(JOB, {"max_concurrency": 2})
        assert len(fake_server.servicer.requests("UpdateJobSettings")) == 1  # nothing sent
        with pytest.raises(errors.InvalidArgumentError) as refused:
            client.update_job_settings(JOB, {"max_concurrent": 0})
        assert refused.value.metadata == {"field": "maxConcurrent"}
        with pytest.raises(errors.NoSuchJobError):
            client.get_job_settings(["nope"])


def test_priority_goes_with_each_launch(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target) as client:
        started = client.start(JOB, {"durationMs": 1}, priority=7)
        following = client.start_next_instance(JOB, priority=-3)
        client.stop(started.id)
        fake_server.servicer.executions[started.id].status = pb.BATCH_STATUS_STOPPED
        again = client.restart(started.id, priority=1000)
    assert [r.priority for r in fake_server.servicer.requests("Start")] == [7]
    assert [r.priority for r in fake_server.servicer.requests("StartNextInstance")] == [-3]
    assert [r.priority for r in fake_server.servicer.requests("Restart")] == [1000]
    assert (started.priority, following.priority, again.priority) == (7, -3, 1000)
    assert jsonform.execution_json(started)["priority"] == 7
    assert jsonform.execution_json(started)["overdue"] is False


def test_pause_resume_and_the_queue(fake_server: RunningServer) -> None:
    with JobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
        running = client.start(JOB, {"durationMs": 1, "run.id": 1})
        fake_server.servicer.executions[running.id].status = pb.BATCH_STATUS_STARTED
        paused = client.pause_job(JOB, stop_running=True)
        assert paused.job.settings.paused
        assert list(paused.stopped_execution_ids) == [running.id]
        low = client.start(JOB, {"run.id": 2}, priority=-1)
        high = client.start(JOB, {"run.id": 3}, priority=5)
        queue = client.list_queue(JOB)
        assert [e.execution_id for e in queue.executions] == [high.id, low.id]
        assert queue.total == 2
        head = client.list_queue(page_size=1)
        assert ([e.execution_id for e in head.executions], head.total) == ([high.id], 2)
        assert jsonform.queued_json(head.executions[0]) == {
            "id": high.id,
            "jobName": JOB,
            "priority": 5,
            "position": 1,
            "queuedSeconds": 12.5,
            "waitingFor": f"{JOB} is paused",
        }
        # Each sets a state: retried on UNAVAILABLE.
        fake_server.servicer.unavailable.update({"ResumeJob": 2, "ListQueue": 1})
        assert not client.resume_job(JOB).settings.paused
        assert client.list_queue(JOB).total == 0
    assert len(fake_server.servicer.requests("ResumeJob")) == 3
    requests = fake_server.servicer.requests("ListQueue")
    assert [(r.job_name, r.page_size) for r in requests[:2]] == [(JOB, 0), ("", 1)]


def test_the_async_client_has_the_same_calls(fake_server: RunningServer) -> None:
    async def scenario() -> None:
        async with AsyncJobOperatorClient(fake_server.target, retry=FAST_RETRY) as client:
            changed = await client.update_job_settings(JOB, {"max_concurrent": 3})
            assert changed.settings.max_concurrent == 3
            assert (await client.get_job_settings([JOB]))[0] == changed
            assert (await client.pause_job(JOB)).job.settings.paused
            execution = await client.start(JOB, {"run.id": 1}, priority=9)
            assert execution.priority == 9
            assert (await client.start_next_instance(JOB, priority=2)).priority == 2
            queue = await client.list_queue(JOB, page_size=1)
            assert ([e.priority for e in queue.executions], queue.total) == ([9], 2)
            assert not (await client.resume_job(JOB)).settings.paused
            with pytest.raises(errors.NoSuchJobError):
                await client.pause_job("nope")

    fake_server.servicer.unavailable["GetJobSettings"] = 1
    asyncio.run(scenario())


def test_the_friendly_clients_workload_calls(fake_server: RunningServer) -> None:
    with Client(fake_server.target) as jobop:
        limited = jobop.limit(JOB, 2, key="tenant")
        assert (limited.settings.max_concurrent, limited.settings.concurrency_key) == (2, "tenant")
        assert limited.override.updated_by == "admin-user"
        assert limited.override.updated is not None
        assert limited.declared.max_concurrent is None
        assert jobop.settings(JOB) == limited
        cleared = jobop.limit(JOB, None)
        assert cleared.settings.max_concurrent is None
        assert cleared.override.concurrency_key is None
        with pytest.raises(ValueError, match="needs a limit"):
            jobop.limit(JOB, None, key="tenant")
        assert jobop.update_settings(JOB, max_duration_seconds=60.0).settings.max_duration_seconds
        assert jobop.pause(JOB).settings.paused
        run = jobop.start(JOB, {"run.id": 1}, priority=4, durationMs=1)
        assert run.execution.priority == 4 and not run.execution.overdue
        assert jobop.start_next(JOB, priority=-4).execution.priority == -4
        queue = jobop.queue(JOB, limit=5)
        assert [(e.execution_id, e.position, e.priority) for e in queue] == [
            (run.id, 1, 4),
            (queue[1].execution_id, 2, -4),
        ]
        assert queue[0].waiting_for == f"{JOB} is paused"
        assert not jobop.resume(JOB).settings.paused
        with pytest.raises(ValueError, match="limit must be 1 to 1000"):
            jobop.queue(limit=0)
    requests = fake_server.servicer.requests("UpdateJobSettings")
    assert [list(r.update_mask.paths) for r in requests] == [
        ["max_concurrent", "concurrency_key"],
        ["max_concurrent", "concurrency_key"],
        ["max_duration_seconds"],
    ]

    async def scenario() -> None:
        async with AsyncClient(fake_server.target) as jobop:
            assert (await jobop.limit(JOB, 1)).settings.max_concurrent == 1
            assert (await jobop.settings(JOB)).settings.max_concurrent == 1
            assert (await jobop.pause(JOB, stop_running=True)).settings.paused
            started = await jobop.start(JOB, {"run.id": 9}, priority=3)
            assert started.id in [e.execution_id for e in await jobop.queue(JOB)]
            assert not (await jobop.resume(JOB)).settings.paused
            assert (
                await jobop.update_settings(JOB, max_concurrent=None)
            ).settings.max_concurrent is None

    asyncio.run(scenario())


def test_an_overdue_execution_says_so_in_its_summary() -> None:
    from jobop_client.model import JobExecution

    message = pb.JobExecution(id=4, job_name=JOB, status=pb.BATCH_STATUS_STARTED, overdue=True)
    message.exit_status.exit_code = "UNKNOWN"
    execution = JobExecution.from_proto(message)
    assert execution.overdue and execution.priority == 0
    assert execution.summary.startswith(f"{JOB} execution 4 STARTED overdue (exit UNKNOWN)")
