"""/metrics of a real `jobop serve`: Prometheus text that parses, and counters and
histograms that move when a job runs."""

from __future__ import annotations

import contextlib
import threading
import time
import urllib.request
from collections.abc import Callable

import grpc
from e2e_support import ServerProcess, nonid, params, start, wait_for, wait_terminal
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families
from rest_support import request

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: ServerProcess) -> Samples:
    with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def scrape_until(
    server: ServerProcess, ready: Callable[[Samples], bool], timeout: float = 10.0
) -> Samples:
    """The first scrape that `ready` accepts: a job's end is recorded by its worker just
    after it is saved, and an RPC's when its handler returns, after the client has its
    answer, so a scrape at once may be a moment early."""
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(server)
        if ready(samples) or time.monotonic() > deadline:
            return samples
        time.sleep(0.05)


def test_metrics_parse_and_move_when_a_job_runs(jobop_server: ServerProcess) -> None:
    before = scrape(jobop_server)
    assert value(before, "jobop_streams_open") == 0
    job = {"job_name": "demoChunkJob"}
    step = {**job, "step_name": "demoChunkStep"}
    execution = start(jobop_server.stub, "demoChunkJob", params(items=25, chunkSize=nonid(5)))
    assert wait_terminal(jobop_server.stub, execution.id).status == pb.BATCH_STATUS_COMPLETED
    start_rpc = {"method": "jobop.v1.JobOperatorService/Start"}
    after = scrape_until(
        jobop_server,
        lambda s: (
            value(s, "jobop_job_seconds_count", **job, status="COMPLETED") > 0
            and value(s, "jobop_grpc_requests_total", **start_rpc, code="OK") > 0
        ),
    )

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("jobop_job_launch_total", **job) == 1
    assert moved("jobop_job_seconds_count", **job, status="COMPLETED") == 1
    assert moved("jobop_job_seconds_sum", **job, status="COMPLETED") > 0
    assert moved("jobop_job_seconds_bucket", **job, status="COMPLETED", le="+Inf") == 1
    assert value(after, "jobop_job_active", **job) == 0
    assert moved("jobop_step_seconds_count", **step, status="COMPLETED") == 1
    assert moved("jobop_items_read_total", **step) == 25
    assert moved("jobop_items_written_total", **step) == 25
    assert moved("jobop_items_skipped_total", **step) == 0
    assert moved("jobop_chunk_write_seconds_count", **step) == 5
    assert moved("jobop_grpc_requests_total", **start_rpc, code="OK") == 1
    assert moved("jobop_grpc_request_seconds_count", **start_rpc, code="OK") == 1
    # The launch was written by a launch statement of its own (PostgreSQL's group commit;
    # SQLite writes launches otherwise).
    batched = 1 if jobop_server.db_url.startswith("postgresql") else 0
    assert moved("jobop_launch_statements_total") == batched
    assert moved("jobop_launches_written_total") == batched
    refused = pb.StartRequest(job_name="noSuchJob")
    with contextlib.suppress(grpc.RpcError):
        jobop_server.stub.Start(refused)
    refused_rpc = {**start_rpc, "code": "NOT_FOUND"}
    later = scrape_until(
        jobop_server, lambda s: value(s, "jobop_grpc_requests_total", **refused_rpc) > 0
    )
    assert value(later, "jobop_grpc_requests_total", **refused_rpc) == 1
    # Process metrics come along, as from any Python exporter.
    assert value(after, "process_cpu_seconds_total") > 0


def test_active_jobs_and_open_streams_are_gauges(jobop_server: ServerProcess) -> None:
    stub = jobop_server.stub
    slow = start(stub, "e2eSlowChunkJob", params(items=1000, itemDelayMs=10))
    wait_for(
        stub, slow.id, lambda e: bool(e.step_executions) and e.step_executions[0].read_count > 0
    )
    watch = stub.WatchExecution(pb.WatchExecutionRequest(execution_id=slow.id))
    first = threading.Event()

    def follow() -> None:
        for _ in watch:
            first.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert first.wait(10)
    during = scrape(jobop_server)
    assert value(during, "jobop_job_active", job_name="e2eSlowChunkJob") == 1
    assert value(during, "jobop_streams_open") == 1
    stub.Stop(pb.StopRequest(execution_id=slow.id))
    follower.join(30)
    watch_rpc = {"method": "jobop.v1.JobOperatorService/WatchExecution", "code": "OK"}
    after = scrape_until(
        jobop_server,
        lambda s: (
            value(s, "jobop_job_active", job_name="e2eSlowChunkJob") == 0
            and value(s, "jobop_grpc_requests_total", **watch_rpc) == 1
        ),
    )
    assert value(after, "jobop_job_active", job_name="e2eSlowChunkJob") == 0
    assert value(after, "jobop_streams_open") == 0
    assert (
        value(after, "jobop_job_seconds_count", job_name="e2eSlowChunkJob", status="STOPPED") == 1
    )
    assert (
        value(
            after,
            "jobop_step_seconds_count",
            job_name="e2eSlowChunkJob",
            step_name="slow",
            status="STOPPED",
        )
        == 1
    )
    assert (
        value(
            after,
            "jobop_grpc_requests_total",
            method="jobop.v1.JobOperatorService/WatchExecution",
            code="OK",
        )
        == 1
    )


def test_rest_requests_are_counted_by_route_template(jobop_server: ServerProcess) -> None:
    from rest_support import request, wait_terminal

    base = jobop_server.http_url
    first = request(base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"n": 1}})
    second = request(base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"n": 2}})
    for reply in (first, second):
        assert reply.status == 201
        wait_terminal(base, reply.body["id"])
    assert request(base, "GET", "/api/executions/99999999").status == 404
    assert request(base, "GET", "/no/such/page").status == 404
    assert request(base, "GET", "/healthz").body == {"status": "SERVING"}
    assert request(base, "GET", "/readyz").body == {"status": "SERVING"}
    execution = "/api/executions/{executionId}"
    samples = scrape_until(
        jobop_server,
        lambda s: (
            value(s, "jobop_http_requests_total", method="GET", route="/readyz", code="200") == 1
        ),
    )
    http = {
        dict(labels)["route"]: count
        for (name, labels), count in samples.items()
        if name == "jobop_http_requests_total"
    }
    # Ids and unknown paths make no series of their own.
    assert all(not any(ch.isdigit() for ch in route) for route in http), sorted(http)
    assert "none" in http and "/no/such/page" not in http
    start = {"method": "POST", "route": "/api/jobs/{jobName}/start", "code": "201"}
    assert value(samples, "jobop_http_requests_total", **start) == 2
    assert value(samples, "jobop_http_request_seconds_count", **start) == 2
    assert (
        value(samples, "jobop_http_requests_total", method="GET", route=execution, code="404") == 1
    )
    assert (
        value(samples, "jobop_http_requests_total", method="GET", route=execution, code="200") >= 2
    )
    assert value(samples, "jobop_http_requests_total", method="GET", route="none", code="404") == 1
    assert (
        value(samples, "jobop_http_requests_total", method="GET", route="/healthz", code="200") == 1
    )
    # The probes are in the OpenAPI document.
    paths = request(base, "GET", "/openapi.json").body["paths"]
    assert {"/healthz", "/readyz"} <= set(paths)


def test_cancelled_and_deadline_exceeded_calls_are_counted_by_their_code(
    jobop_server: ServerProcess,
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = jobop_server.stub
    # A stream whose deadline passes while it waits for changes.
    with contextlib.suppress(grpc.RpcError):
        for _ in stub.WatchExecutions(pb.WatchExecutionsRequest(), timeout=1.5):
            pass
    # Streams the client cancels once the server holds them: our own (an async generator)
    # and the health service's Watch (a coroutine that writes).
    watches = stub.WatchExecutions(pb.WatchExecutionsRequest())
    health = health_pb2_grpc.HealthStub(jobop_server.channel)
    health_watch = health.Watch(health_pb2.HealthCheckRequest(service=""))
    assert next(health_watch).status == health_pb2.HealthCheckResponse.SERVING
    scrape_until(jobop_server, lambda s: value(s, "jobop_streams_open") == 1)
    watches.cancel()
    health_watch.cancel()
    rpc = "jobop.v1.JobOperatorService/WatchExecutions"
    health_rpc = "grpc.health.v1.Health/Watch"
    expected = {
        (rpc, "DEADLINE_EXCEEDED"): 1,
        (rpc, "CANCELLED"): 1,
        (health_rpc, "CANCELLED"): 1,
    }

    def counts(samples: Samples) -> dict[tuple[str, str], float]:
        return {
            (method, code): value(samples, "jobop_grpc_requests_total", method=method, code=code)
            for method, code in expected
        }

    after = scrape_until(jobop_server, lambda s: counts(s) == expected)
    assert counts(after) == expected
    assert value(after, "jobop_grpc_requests_total", method=rpc, code="UNKNOWN") == 0
    assert value(after, "jobop_grpc_requests_total", method=health_rpc, code="UNKNOWN") == 0


def test_a_partitioned_job_counts_its_items_once(jobop_server: ServerProcess) -> None:
    """Items are counted by the partitions as they commit; the manager, whose counters
    are their sums, adds none of its own. Each step execution names its node."""
    before = scrape(jobop_server)
    job = {"job_name": "demoPartitionedJob"}
    parameters = params(items=30, partitions=nonid(3), chunkSize=nonid(5))
    execution = start(jobop_server.stub, "demoPartitionedJob", parameters)
    ended = wait_terminal(jobop_server.stub, execution.id)
    assert ended.status == pb.BATCH_STATUS_COMPLETED
    assert [s.step_name for s in ended.step_executions] == [
        "demoPartitionStep",
        *(f"demoWorkerStep:partition{i}" for i in range(3)),
    ]
    assert len({s.node_id for s in ended.step_executions}) == 1
    assert ended.step_executions[0].node_id
    # REST names the same node on every step.
    steps = request(jobop_server.http_url, "GET", f"/api/executions/{execution.id}/steps")
    assert steps.status == 200
    assert {s["nodeId"] for s in steps.body["stepExecutions"]} == {ended.step_executions[0].node_id}
    after = scrape_until(
        jobop_server,
        lambda s: value(s, "jobop_job_seconds_count", **job, status="COMPLETED") > 0,
    )

    def moved(name: str, step_name: str) -> float:
        labels = {**job, "step_name": step_name}
        return value(after, name, **labels) - value(before, name, **labels)

    workers = [f"demoWorkerStep:partition{i}" for i in range(3)]
    assert [moved("jobop_items_written_total", name) for name in workers] == [10, 10, 10]
    assert sum(moved("jobop_items_read_total", name) for name in workers) == 30
    assert moved("jobop_items_written_total", "demoPartitionStep") == 0
    manager = {**job, "step_name": "demoPartitionStep", "status": "COMPLETED"}
    assert value(after, "jobop_step_seconds_count", **manager) == 1
