"""`jobop serve` end to end: a real server process on a real socket, on SQLite and
PostgreSQL, driven through the generated stubs."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import psycopg
import pytest
from e2e_support import (
    ServerFactory,
    ServerProcess,
    error_of,
    execution,
    nonid,
    params,
    reason_of,
    start,
    status_name,
    wait_for,
    wait_terminal,
    watch,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc
from jobop.domain import JobParameter, JobParameters, utcnow
from jobop.repository import JobRepository, create_engine
from jobop.repository.schema import request as request_table
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from sqlalchemy import insert, make_url, text

pytestmark = pytest.mark.slow

# -- success paths ------------------------------------------------------------------------


def test_job_names_health_and_reflection(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    names = list(stub.GetJobNames(pb.GetJobNamesRequest()).job_names)
    assert names == sorted(names)
    assert {"demoChunkJob", "demoTaskletJob", "demoExitCodeJob", "e2eNoIncrementerJob"} <= set(
        names
    )
    health = health_pb2_grpc.HealthStub(jobop_server.channel)
    for service in ("", "jobop.v1.JobOperatorService"):
        response = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert response.status == health_pb2.HealthCheckResponse.SERVING
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    reflection = reflection_pb2_grpc.ServerReflectionStub(jobop_server.channel)
    responses = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")])
    )
    services = {s.name for r in responses for s in r.list_services_response.service}
    assert {"jobop.v1.JobOperatorService", "grpc.health.v1.Health"} <= services


def test_launch_and_read_rpcs(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    first = start(stub, "demoTaskletJob", params(durationMs=0, note=nonid("x")))
    assert first.id > 0
    assert first.job_name == "demoTaskletJob"
    assert status_name(first.status) in ("STARTING", "STARTED", "COMPLETED")
    done = wait_terminal(stub, first.id)
    assert status_name(done.status) == "COMPLETED"
    assert done.exit_status.exit_code == "COMPLETED"
    assert [s.step_name for s in done.step_executions] == ["demoTaskletStep"]

    summary = stub.GetSummary(pb.GetSummaryRequest(execution_id=first.id)).summary
    assert summary.startswith(f"JobExecution: id={first.id}, version=")
    assert "status=COMPLETED" in summary
    steps = stub.GetStepExecutionSummaries(
        pb.GetStepExecutionSummariesRequest(execution_id=first.id)
    ).summaries
    step_id = done.step_executions[0].id
    assert list(steps) == [step_id]
    assert steps[step_id].startswith(f"StepExecution: id={step_id}, version=")
    parameters = stub.GetParameters(pb.GetParametersRequest(execution_id=first.id)).parameters
    assert parameters["durationMs"].long_value == 0
    assert parameters["note"].string_value == "x"
    assert parameters["note"].HasField("identifying") and not parameters["note"].identifying

    # The incrementer adds run.id to the last instance's parameters.
    second = stub.StartNextInstance(
        pb.StartNextInstanceRequest(job_name="demoTaskletJob")
    ).execution
    assert second.parameters["run.id"].long_value == 1
    assert second.job_instance_id != first.job_instance_id
    wait_terminal(stub, second.id)
    third = stub.StartNextInstance(pb.StartNextInstanceRequest(job_name="demoTaskletJob")).execution
    assert third.parameters["run.id"].long_value == 2
    wait_terminal(stub, third.id)

    # Instances newest first, one per page.
    seen: list[int] = []
    token = ""
    while True:
        page = stub.ListJobInstances(
            pb.ListJobInstancesRequest(job_name="demoTaskletJob", page_size=1, page_token=token)
        )
        seen.extend(instance.id for instance in page.job_instances)
        assert all(
            i.job_name == "demoTaskletJob" and len(i.job_key) == 32 for i in page.job_instances
        )
        token = page.next_page_token
        if not token:
            break
    assert seen == [third.job_instance_id, second.job_instance_id, first.job_instance_id]

    by_job = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_name="demoTaskletJob", page_size=2)
    )
    assert [e.id for e in by_job.executions] == [third.id, second.id]
    rest = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(
            job_name="demoTaskletJob", page_size=2, page_token=by_job.next_page_token
        )
    )
    assert [e.id for e in rest.executions] == [first.id]
    assert rest.next_page_token == ""
    by_instance = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_instance_id=first.job_instance_id)
    )
    assert [e.id for e in by_instance.executions] == [first.id]


def test_stop_abandon_recover_and_running(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    running = start(stub, "e2eSlowChunkJob", params(items=100_000))
    wait_for(stub, running.id, lambda e: status_name(e.status) == "STARTED")
    ids = stub.GetRunningExecutions(
        pb.GetRunningExecutionsRequest(job_name="e2eSlowChunkJob")
    ).execution_ids
    assert list(ids) == [running.id]

    stopping = stub.Stop(pb.StopRequest(execution_id=running.id)).execution
    assert status_name(stopping.status) in ("STOPPING", "STOPPED")
    stopped = wait_terminal(stub, running.id, timeout=10)
    assert status_name(stopped.status) == "STOPPED"
    assert stopped.exit_status.exit_code == "STOPPED"
    assert not stub.GetRunningExecutions(
        pb.GetRunningExecutionsRequest(job_name="e2eSlowChunkJob")
    ).execution_ids

    abandoned = stub.Abandon(pb.AbandonRequest(execution_id=running.id)).execution
    assert status_name(abandoned.status) == "ABANDONED"
    assert abandoned.HasField("end_time")

    # An execution no jobop node launched (no launch request, no owner: as a Spring Batch
    # application writes one) is recovered only with force, as Spring 6 recovers it.
    repository = JobRepository(create_engine(jobop_server.db_url))
    try:
        orphan = repository.create_job_execution(
            "demoTaskletJob", JobParameters({"durationMs": JobParameter(5, "LONG")})
        )
    finally:
        repository.engine.dispose()
    code, reason, _ = error_of(lambda: stub.Recover(pb.RecoverRequest(execution_id=orphan.id)))
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "JOB_EXECUTION_ALREADY_RUNNING")
    recovered = stub.Recover(pb.RecoverRequest(execution_id=orphan.id, force=True)).execution
    assert status_name(recovered.status) == "FAILED"
    # FAILED is restartable.
    restarted = stub.Restart(pb.RestartRequest(execution_id=orphan.id)).execution
    assert restarted.id != orphan.id
    assert restarted.job_instance_id == orphan.job_instance.id
    assert status_name(wait_terminal(stub, restarted.id).status) == "COMPLETED"


def test_stop_after_first_chunk_then_restart_completes_every_item_once(
    jobop_server: ServerProcess,
) -> None:
    stub = jobop_server.stub
    items = 120
    first = start(
        stub,
        "demoChunkJob",
        params(items=items, chunkSize=nonid(10), itemDelayMs=nonid(5)),
    )
    messages: list[pb.WatchExecutionResponse] = []

    def follow() -> None:
        for message in stub.WatchExecution(
            pb.WatchExecutionRequest(execution_id=first.id), timeout=60
        ):
            messages.append(message)

    follower = threading.Thread(target=follow)
    follower.start()
    wait_for(
        stub,
        first.id,
        lambda e: any(s.commit_count >= 1 for s in e.step_executions),
    )
    stub.Stop(pb.StopRequest(execution_id=first.id))
    follower.join(30)
    assert not follower.is_alive(), "the stream did not end after STOPPED"
    snapshots = [m.execution for m in messages if not m.heartbeat]
    statuses = _distinct([status_name(s.status) for s in snapshots])
    assert statuses[-1] == "STOPPED"
    assert _in_order(statuses, ["STARTING", "STARTED", "STOPPING", "STOPPED"]), statuses
    written_first = snapshots[-1].step_executions[0].write_count
    assert 10 <= written_first < items
    # Every snapshot is a newer version, progress included.
    versions = [s.version for s in snapshots]
    assert all(later > earlier for earlier, later in itertools.pairwise(versions)), versions

    second = stub.Restart(pb.RestartRequest(execution_id=first.id)).execution
    assert second.job_instance_id == first.job_instance_id
    messages2 = watch(stub, second.id)
    snapshots2 = [m.execution for m in messages2 if not m.heartbeat]
    statuses2 = _distinct([status_name(s.status) for s in snapshots2])
    assert statuses2[-1] == "COMPLETED"
    assert _in_order(statuses2, ["STARTING", "STARTED", "COMPLETED"]), statuses2
    final = snapshots2[-1]
    versions2 = [s.version for s in snapshots2]
    assert all(later > earlier for earlier, later in itertools.pairwise(versions2)), versions2
    assert final.step_executions[0].write_count == items - written_first
    # Progress arrived while it ran, not only at the end.
    assert len({s.step_executions[0].commit_count for s in snapshots2 if s.step_executions}) > 2

    engine = create_engine(jobop_server.db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("select ITEM from DEMO_ITEMS order by ITEM")).all()
    finally:
        engine.dispose()
    assert [row[0] for row in rows] == list(range(1, items + 1))

    # after_version: a caller that saw the final snapshot gets nothing more.
    assert watch(stub, second.id, after_version=final.version) == []
    replay = watch(stub, second.id, after_version=final.version - 1)
    assert [m.execution.version for m in replay] == [final.version]


def test_watch_executions_and_heartbeats(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    received: list[pb.WatchExecutionsResponse] = []
    call = stub.WatchExecutions(pb.WatchExecutionsRequest(job_name="demoTaskletJob"))

    def follow() -> None:
        try:
            for message in call:
                received.append(message)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.CANCELLED

    follower = threading.Thread(target=follow)
    follower.start()
    # The server sends heartbeats every second (--stream-heartbeat 1) while nothing happens.
    deadline = time.monotonic() + 10
    while not any(m.heartbeat for m in received) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert any(m.heartbeat and not m.HasField("execution") for m in received)
    launched = start(stub, "demoTaskletJob", params(durationMs=200))
    wait_terminal(stub, launched.id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ours = [m.execution for m in received if m.execution.id == launched.id]
        if ours and status_name(ours[-1].status) == "COMPLETED":
            break
        time.sleep(0.05)
    call.cancel()  # type: ignore[no-untyped-call]
    follower.join(10)
    ours = [m.execution for m in received if m.execution.id == launched.id]
    assert status_name(ours[-1].status) == "COMPLETED"
    assert all(m.execution.job_name == "demoTaskletJob" for m in received if not m.heartbeat)


def test_watch_sends_heartbeats_while_nothing_changes(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    # 600 items at 10 ms in one chunk: no change for 6 s after the step started.
    launched = start(
        stub, "demoChunkJob", params(items=600, chunkSize=nonid(600), itemDelayMs=nonid(10))
    )
    wait_for(stub, launched.id, lambda e: len(e.step_executions) == 1)
    call = stub.WatchExecution(pb.WatchExecutionRequest(execution_id=launched.id), timeout=60)
    beats = 0
    started = time.monotonic()
    for message in call:
        beats += message.heartbeat
        if beats == 2:
            break
    assert beats == 2 and time.monotonic() - started < 5
    call.cancel()  # type: ignore[no-untyped-call]
    stub.Stop(pb.StopRequest(execution_id=launched.id))
    assert status_name(wait_terminal(stub, launched.id).status) == "STOPPED"


# -- error reasons ------------------------------------------------------------------------


def test_not_found_reasons(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    missing = 987_654_321
    calls: dict[str, list[Callable[[], object]]] = {
        "NO_SUCH_JOB": [
            lambda: start(stub, "noSuchJob"),
            lambda: stub.StartNextInstance(pb.StartNextInstanceRequest(job_name="noSuchJob")),
            lambda: stub.GetRunningExecutions(pb.GetRunningExecutionsRequest(job_name="noSuchJob")),
            lambda: stub.ListJobInstances(pb.ListJobInstancesRequest(job_name="noSuchJob")),
            lambda: stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_name="noSuchJob")),
            lambda: list(
                stub.WatchExecutions(pb.WatchExecutionsRequest(job_name="noSuchJob"), timeout=10)
            ),
        ],
        "NO_SUCH_JOB_EXECUTION": [
            lambda: execution(stub, missing),
            lambda: stub.Stop(pb.StopRequest(execution_id=missing)),
            lambda: stub.Restart(pb.RestartRequest(execution_id=missing)),
            lambda: stub.Abandon(pb.AbandonRequest(execution_id=missing)),
            lambda: stub.Recover(pb.RecoverRequest(execution_id=missing)),
            lambda: stub.GetSummary(pb.GetSummaryRequest(execution_id=missing)),
            lambda: stub.GetStepExecutionSummaries(
                pb.GetStepExecutionSummariesRequest(execution_id=missing)
            ),
            lambda: stub.GetParameters(pb.GetParametersRequest(execution_id=missing)),
            lambda: watch(stub, missing, timeout=10),
        ],
        "NO_SUCH_JOB_INSTANCE": [
            lambda: stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_instance_id=missing)),
        ],
    }
    for reason, failing in calls.items():
        for call in failing:
            code, actual, message = error_of(call)
            assert (code, actual) == (grpc.StatusCode.NOT_FOUND, reason), message


def test_precondition_reasons(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    precondition = grpc.StatusCode.FAILED_PRECONDITION
    done = start(stub, "demoTaskletJob", params(durationMs=0))
    wait_terminal(stub, done.id)
    _expect(
        [lambda: start(stub, "demoTaskletJob", params(durationMs=0))],
        grpc.StatusCode.ALREADY_EXISTS,
        "JOB_INSTANCE_ALREADY_EXISTS",
    )
    _expect(
        [
            lambda: stub.Restart(pb.RestartRequest(execution_id=done.id)),
            lambda: stub.Abandon(pb.AbandonRequest(execution_id=done.id)),
        ],
        precondition,
        "JOB_INSTANCE_ALREADY_COMPLETE",
    )
    _expect(
        [
            lambda: stub.Stop(pb.StopRequest(execution_id=done.id)),
            lambda: stub.Recover(pb.RecoverRequest(execution_id=done.id)),
        ],
        precondition,
        "JOB_EXECUTION_NOT_RUNNING",
    )

    running = start(stub, "e2eSlowChunkJob", params(items=100_000))
    wait_for(stub, running.id, lambda e: status_name(e.status) == "STARTED")
    _expect(
        [
            lambda: stub.Restart(pb.RestartRequest(execution_id=running.id)),
            lambda: stub.Abandon(pb.AbandonRequest(execution_id=running.id)),
            lambda: stub.Recover(pb.RecoverRequest(execution_id=running.id)),
        ],
        precondition,
        "JOB_EXECUTION_ALREADY_RUNNING",
    )
    stub.Stop(pb.StopRequest(execution_id=running.id))
    wait_terminal(stub, running.id)

    failed = start(stub, "e2eNotRestartableJob")
    assert status_name(wait_terminal(stub, failed.id).status) == "FAILED"
    _expect(
        [lambda: stub.Restart(pb.RestartRequest(execution_id=failed.id))],
        precondition,
        "JOB_RESTART_NOT_ALLOWED",
    )
    _expect(
        [
            lambda: stub.StartNextInstance(
                pb.StartNextInstanceRequest(job_name="e2eNoIncrementerJob")
            )
        ],
        precondition,
        "JOB_PARAMETERS_NOT_FOUND",
    )


def _expect(calls: list[Callable[[], object]], code: grpc.StatusCode, reason: str) -> None:
    for index, call in enumerate(calls):
        actual_code, actual_reason, message = error_of(call)
        assert (actual_code, actual_reason) == (code, reason), (index, message)


def test_invalid_arguments(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    invalid_parameters: list[Callable[[], object]] = [
        # The job's declaration: items is a long, and there is no itemz.
        lambda: start(stub, "demoChunkJob", params(items="many")),
        lambda: start(stub, "demoChunkJob", params(itemz=7)),
        # A parameter without a value.
        lambda: start(stub, "demoTaskletJob", {"durationMs": pb.JobParameter()}),
        # Longer than PARAMETER_VALUE holds.
        lambda: start(stub, "demoTaskletJob", params(note="x" * 2501)),
        lambda: start(stub, "demoTaskletJob", {"": pb.JobParameter(long_value=1)}),
    ]
    for call in invalid_parameters:
        code, reason, message = error_of(call)
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_JOB_PARAMETERS"), (
            message
        )
    malformed: list[Callable[[], object]] = [
        lambda: start(stub, ""),
        lambda: start(stub, "x" * 101),
        lambda: start(stub, "demoTaskletJob", request_id="r" * 201),
        # 2 MiB: over the request limit, under the transport's.
        lambda: start(stub, "demoTaskletJob", params(blob="x" * (2 << 20))),
        lambda: execution(stub, 0),
        lambda: execution(stub, -5),
        lambda: stub.Stop(pb.StopRequest()),
        lambda: stub.Restart(pb.RestartRequest(execution_id=-1)),
        # Empty names mean every job (test_foreign_jobs); an overlong one is malformed.
        lambda: stub.GetRunningExecutions(pb.GetRunningExecutionsRequest(job_name="x" * 101)),
        lambda: stub.ListJobInstances(
            pb.ListJobInstancesRequest(job_name="demoTaskletJob", page_size=-1)
        ),
        lambda: stub.ListJobInstances(
            pb.ListJobInstancesRequest(job_name="demoTaskletJob", page_token="garbage!")
        ),
        lambda: stub.ListJobExecutions(pb.ListJobExecutionsRequest(job_instance_id=-1)),
        lambda: watch(stub, 0, timeout=10),
        lambda: watch(stub, 1, after_version=-1, timeout=10),
    ]
    for index, call in enumerate(malformed):
        code, reason, message = error_of(call)
        assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"), (
            index,
            message,
        )


def test_request_id_reused_and_concurrent_modification(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    request_id = f"req-{uuid.uuid4()}"
    first = start(stub, "demoTaskletJob", params(durationMs=0), request_id=request_id)
    again = start(stub, "demoTaskletJob", params(durationMs=0), request_id=request_id)
    assert again.id == first.id
    code, reason, _ = error_of(
        lambda: start(stub, "demoTaskletJob", params(durationMs=1), request_id=request_id)
    )
    assert (code, reason) == (grpc.StatusCode.INVALID_ARGUMENT, "REQUEST_ID_REUSED")

    # A first attempt still in progress elsewhere (its reservation has no execution yet):
    # the retry gives up after --request-wait-timeout with ABORTED, which a retry may resolve.
    pending = f"req-{uuid.uuid4()}"
    key = JobParameters({"durationMs": JobParameter(7, "LONG")}).job_key()
    engine = create_engine(jobop_server.db_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(request_table).values(
                    request_id=pending,
                    operation=f"start demoTaskletJob {key}",
                    job_execution_id=None,
                    created=utcnow(),
                )
            )
    finally:
        engine.dispose()
    code, reason, _ = error_of(
        lambda: start(stub, "demoTaskletJob", params(durationMs=7), request_id=pending)
    )
    assert (code, reason) == (grpc.StatusCode.ABORTED, "CONCURRENT_MODIFICATION")


# -- concurrency --------------------------------------------------------------------------


def test_fifty_concurrent_starts_make_one_execution(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub

    def attempt(_: int) -> int | str:
        try:
            return start(stub, "demoTaskletJob", params(durationMs=0, run=nonid("same"))).id
        except grpc.RpcError as error:
            return reason_of(error)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(attempt, range(50)))
    ids = [r for r in results if isinstance(r, int)]
    assert len(ids) == 1, results
    assert sorted(r for r in results if isinstance(r, str)) == ["JOB_INSTANCE_ALREADY_EXISTS"] * 49
    executions = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_name="demoTaskletJob")
    ).executions
    assert [e.id for e in executions] == ids


def test_fifty_retries_of_one_request_id_make_one_execution(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    request_id = f"retry-{uuid.uuid4()}"

    def attempt(_: int) -> int:
        return start(stub, "demoTaskletJob", params(durationMs=0), request_id=request_id).id

    with ThreadPoolExecutor(50) as pool:
        ids = set(pool.map(attempt, range(50)))
    assert len(ids) == 1
    (only,) = ids
    wait_terminal(stub, only)
    executions = stub.ListJobExecutions(
        pb.ListJobExecutionsRequest(job_name="demoTaskletJob")
    ).executions
    assert [e.id for e in executions] == [only]

    # StartNextInstance and Restart retried with one request id each: one execution each.
    next_id = f"next-{uuid.uuid4()}"
    with ThreadPoolExecutor(20) as pool:
        nexts = set(
            pool.map(
                lambda _: (
                    stub.StartNextInstance(
                        pb.StartNextInstanceRequest(job_name="demoTaskletJob", request_id=next_id)
                    ).execution.id
                ),
                range(20),
            )
        )
    assert len(nexts) == 1


def test_executions_over_the_limit_wait_as_starting_and_start_in_order(
    start_server: ServerFactory,
) -> None:
    server = start_server("--max-concurrent-executions", "1")
    stub = server.stub
    first = start(stub, "e2eSlowChunkJob", params(items=100_000))
    wait_for(stub, first.id, lambda e: status_name(e.status) == "STARTED")
    queued = [start(stub, "e2eSlowChunkJob", params(items=n, itemDelayMs=0)) for n in (1, 2, 3)]
    time.sleep(0.5)
    assert [status_name(execution(stub, e.id).status) for e in queued] == ["STARTING"] * 3
    # A stop before a worker picks it up ends it at once, without running it.
    skipped = stub.Stop(pb.StopRequest(execution_id=queued[1].id)).execution
    assert status_name(skipped.status) == "STOPPED"
    stub.Stop(pb.StopRequest(execution_id=first.id))
    ends = [wait_terminal(stub, e.id) for e in (queued[0], queued[2])]
    assert [status_name(e.status) for e in ends] == ["COMPLETED", "COMPLETED"]
    assert ends[0].start_time.ToDatetime() <= ends[1].start_time.ToDatetime()
    assert ends[0].end_time.ToDatetime() <= ends[1].start_time.ToDatetime()
    assert not execution(stub, queued[1].id).step_executions


def test_api_and_worker_roles_share_a_database(start_server: ServerFactory) -> None:
    api = start_server("--role", "api", "--watch-poll-interval", "0.2")
    worker = start_server("--role", "worker")
    # A worker serves health and reflection only.
    code = error_of_code(lambda: worker.stub.GetJobNames(pb.GetJobNamesRequest()))
    assert code == grpc.StatusCode.UNIMPLEMENTED
    launched = start(api.stub, "e2eSlowChunkJob", params(items=20, itemDelayMs=10))
    assert status_name(launched.status) == "STARTING"
    # The api server learns of the worker's progress by polling the database.
    messages = watch(api.stub, launched.id)
    statuses = _distinct([status_name(m.execution.status) for m in messages if not m.heartbeat])
    assert statuses[-1] == "COMPLETED"
    assert "STARTED" in statuses
    assert messages[-1].execution.step_executions[0].read_count == 20


# -- shutdown -----------------------------------------------------------------------------


def test_sigterm_stops_running_executions_and_exits_zero(start_server: ServerFactory) -> None:
    grace = 15.0
    server = start_server("--stop-grace", str(grace))
    stub = server.stub
    items = 100
    chunk_job = start(
        stub, "demoChunkJob", params(items=items, chunkSize=nonid(10), itemDelayMs=nonid(30))
    )
    # Takes 1.5 s to stop: the window in which the server is stopping, and says so.
    lingering = start(stub, "e2eLingeringStopJob")
    wait_for(stub, chunk_job.id, lambda e: any(s.commit_count >= 1 for s in e.step_executions))
    wait_for(stub, lingering.id, lambda e: status_name(e.status) == "STARTED")
    messages: list[pb.WatchExecutionResponse] = []
    ended: list[str] = []

    def follow() -> None:
        try:
            for message in stub.WatchExecution(
                pb.WatchExecutionRequest(execution_id=chunk_job.id), timeout=60
            ):
                messages.append(message)
            ended.append("OK")
        except grpc.RpcError as error:
            ended.append(error.code().name)

    follower = threading.Thread(target=follow)
    follower.start()
    wait_until(lambda: bool(messages))
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: status_name(execution(stub, lingering.id).status) == "STOPPING", timeout=1.0)
    health = health_pb2_grpc.HealthStub(server.channel)
    status = health.Check(health_pb2.HealthCheckRequest(service="")).status
    assert status == health_pb2.HealthCheckResponse.NOT_SERVING
    code, reason, _ = error_of(lambda: start(stub, "demoTaskletJob", params(durationMs=0)))
    assert (code, reason) == (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN")

    returncode = server.process.wait(grace + 10)
    elapsed = time.monotonic() - signalled
    follower.join(10)
    assert returncode == 0, server.log()
    assert elapsed < grace, elapsed
    # The watcher saw the execution end STOPPED, and its stream ended cleanly.
    assert ended == ["OK"]
    assert status_name(messages[-1].execution.status) == "STOPPED"

    repository = JobRepository(create_engine(server.db_url))
    try:
        stopped = [repository.explorer.get_job_execution(e.id) for e in (chunk_job, lingering)]
    finally:
        repository.engine.dispose()
    for one in stopped:
        assert one is not None
        assert (one.status.value, one.exit_status.exit_code) == ("STOPPED", "STOPPED")
        assert [s.status.value for s in one.step_executions] == ["STOPPED"]
    stopped_chunk = stopped[0]
    assert stopped_chunk is not None
    written = stopped_chunk.step_executions[0].write_count
    assert 0 < written < items

    # Restartable, on the next server: it writes the items that were left.
    next_server = start_server()
    again = next_server.stub.Restart(pb.RestartRequest(execution_id=chunk_job.id)).execution
    done = wait_terminal(next_server.stub, again.id)
    assert status_name(done.status) == "COMPLETED"
    assert done.step_executions[0].write_count == items - written


# -- health checking ----------------------------------------------------------------------

SERVICE = "jobop.v1.JobOperatorService"
# How a client in a mesh asks gRPC to health-check each backend it connects to (gRPC A17;
# pick_first ignores it, round_robin honours it).
HEALTH_CHECKED = json.dumps(
    {"healthCheckConfig": {"serviceName": SERVICE}, "loadBalancingConfig": [{"round_robin": {}}]}
)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


class HealthWatch:
    """A Health/Watch stream of one service, read on a thread."""

    def __init__(self, channel: grpc.Channel, service: str) -> None:
        self.call = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=service), timeout=120
        )
        self.statuses: list[int] = []
        self.ended: list[str] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.statuses.append(response.status)
            self.ended.append("OK")
        except grpc.RpcError as error:
            self.ended.append(error.code().name)

    def last(self) -> int | None:
        return self.statuses[-1] if self.statuses else None


def test_clients_with_client_side_health_checking_are_served(jobop_server: ServerProcess) -> None:
    channel = grpc.insecure_channel(
        jobop_server.address, options=[("grpc.service_config", HEALTH_CHECKED)]
    )
    try:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        # The channel sends calls only once the server's Watch has said SERVING.
        names = stub.GetJobNames(pb.GetJobNamesRequest(), timeout=30).job_names
        assert "demoChunkJob" in names
        launched = start(stub, "demoTaskletJob", params(durationMs=0, note=nonid("hc")))
        assert status_name(wait_terminal(stub, launched.id).status) == "COMPLETED"
    finally:
        channel.close()
    assert "Traceback" not in jobop_server.log()


def test_health_watch_sees_the_drain(start_server: ServerFactory) -> None:
    server = start_server("--stop-grace", "15")
    lingering = start(server.stub, "e2eLingeringStopJob")  # keeps the server up a moment
    wait_for(server.stub, lingering.id, lambda e: status_name(e.status) == "STARTED")
    watches = [HealthWatch(server.channel, name) for name in ("", SERVICE)]
    wait_until(lambda: all(w.last() == SERVING for w in watches))
    server.process.send_signal(signal.SIGTERM)
    wait_until(lambda: all(w.last() == NOT_SERVING for w in watches))
    assert server.process.wait(30) == 0
    for health in watches:
        health.thread.join(10)
        assert health.statuses == [SERVING, NOT_SERVING]
        assert health.ended == ["OK"]  # ended by the server as it stopped
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_health_watch_and_checked_clients_follow_the_database(
    start_server: ServerFactory, db_url: str
) -> None:
    server = start_server("--heartbeat-interval", "0.5", "--lease", "10")
    checked = grpc.insecure_channel(
        server.address, options=[("grpc.service_config", HEALTH_CHECKED)]
    )
    stub = pb_grpc.JobOperatorServiceStub(checked)
    watches = [HealthWatch(server.channel, name) for name in ("", SERVICE)]
    # A second watcher of a service that goes away must not take the first one's updates.
    HealthWatch(server.channel, SERVICE).call.cancel()
    try:
        wait_until(lambda: all(w.last() == SERVING for w in watches))
        assert stub.GetJobNames(pb.GetJobNamesRequest(), timeout=30).job_names
        with _database_away(db_url):
            wait_until(lambda: all(w.last() == NOT_SERVING for w in watches))
            # The health-checked channel no longer sends calls to this server.
            code = error_of_code(lambda: stub.GetJobNames(pb.GetJobNamesRequest(), timeout=10))
            assert code is grpc.StatusCode.UNAVAILABLE
        wait_until(lambda: all(w.last() == SERVING for w in watches))
        assert stub.GetJobNames(pb.GetJobNamesRequest(), timeout=30).job_names
        for health in watches:
            assert health.statuses == [SERVING, NOT_SERVING, SERVING]
            assert not health.ended
    finally:
        for health in watches:
            health.call.cancel()
        checked.close()


@contextlib.contextmanager
def _database_away(db_url: str) -> Iterator[None]:
    """The server's PostgreSQL database refuses connections, and those open are closed."""
    url = make_url(db_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    name = url.database
    with psycopg.connect(admin.replace("+psycopg", ""), autocommit=True) as connection:
        connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            yield
        finally:
            connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


# -- contexts -----------------------------------------------------------------------------


def test_the_rest_context_read_is_capped_and_says_so(jobop_server: ServerProcess) -> None:
    repository = JobRepository(create_engine(jobop_server.db_url))
    try:
        large = repository.create_job_execution(
            "e2eNoIncrementerJob",
            JobParameters({"n": JobParameter(1, "LONG")}),
            context={"small": 1, "blob": "x" * 3_000_000, "after": "y"},
        )
        small = repository.create_job_execution(
            "e2eNoIncrementerJob", JobParameters({"n": JobParameter(2, "LONG")}), context={"a": 1}
        )
    finally:
        repository.engine.dispose()

    def context_of(execution_id: int) -> tuple[int, dict[str, object]]:
        url = f"{jobop_server.http_url}/api/executions/{execution_id}/context"
        with urllib.request.urlopen(url, timeout=30) as response:
            text = response.read()
        return len(text), json.loads(text)

    size, body = context_of(large.id)
    assert body["truncated"] is True
    # What fits is kept whole, what does not is left out, and the sizes say how much.
    assert body["jobExecutionContext"] == {"small": 1, "after": "y"}
    assert body["contextBytes"] > 3_000_000
    assert size <= body["limitBytes"] + 1000
    size, body = context_of(small.id)
    assert body == {
        "jobExecutionContext": {"a": 1},
        "stepExecutionContexts": {},
        "truncated": False,
    }
    # The RPC returns the execution without reading its context.
    read = jobop_server.stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=large.id))
    assert read.execution.id == large.id


# -- helpers ------------------------------------------------------------------------------


def _distinct(values: list[str]) -> list[str]:
    out: list[str] = []
    for value in values:
        if not out or out[-1] != value:
            out.append(value)
    return out


def _in_order(values: list[str], order: list[str]) -> bool:
    """Each value appears in `order`, never going back."""
    positions = [order.index(v) for v in values if v in order]
    return len(positions) == len(values) and positions == sorted(positions)


def error_of_code(call: Callable[[], object]) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as error:
        assert isinstance(error, grpc.Call)
        return error.code()
    raise AssertionError("the call succeeded")


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)
