"""OpenTelemetry traces (the otel extra) with the SDK's in-memory exporter: a server span
per RPC, and per execution a job span whose children are its steps' spans, whose children
are their chunks' spans, each with the job name and execution id."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from jobop.batch import JobRegistry
from jobop.operator import JobOperator
from jobop.repository import JobRepository, create_engine
from jobop.service import JobopServer, ServerOptions, create_server
from jobop.web import tracing_from_environment
from jobop.web.tracing import EXECUTION_ID, JOB_NAME, STEP_NAME, Tracing
from jobop_client import parameters as client_parameters
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from service_support import COUNT_JOB, run_loop


@pytest.fixture
def traced(db_url: str) -> Iterator[tuple[str, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider)
    engine = create_engine(db_url)
    operator = JobOperator(
        JobRepository(engine),
        JobRegistry([COUNT_JOB]),
        observers=[tracing.observer],
        step_listeners=[tracing.step_listener],
    )
    executor = ThreadPoolExecutor(4, thread_name_prefix="jobop-rpc")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=run_loop, args=(loop,), daemon=True)
    thread.start()
    options = ServerOptions(address="127.0.0.1:0")

    async def build() -> JobopServer:
        built = await create_server(operator, executor, options, interceptors=[tracing.interceptor])
        await built.server.start()
        return built

    server = asyncio.run_coroutine_threadsafe(build(), loop).result(30)
    try:
        yield f"127.0.0.1:{server.port}", exporter
    finally:
        operator.shutdown(5.0)
        asyncio.run_coroutine_threadsafe(server.server.stop(1.0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        executor.shutdown(wait=True)
        engine.dispose()
        provider.shutdown()


def _finished(exporter: InMemorySpanExporter, name: str, timeout: float = 30.0) -> ReadableSpan:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for span in exporter.get_finished_spans():
            if span.name == name:
                return span
        time.sleep(0.02)
    raise AssertionError(f"no span {name!r}: {[s.name for s in exporter.get_finished_spans()]}")


def test_rpc_job_step_and_chunk_spans_are_linked(
    traced: tuple[str, InMemorySpanExporter],
) -> None:
    address, exporter = traced
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        parameters = client_parameters.to_proto_map(
            {"items": 12, "chunkSize": client_parameters.Parameter(5, identifying=False)}
        )
        execution = stub.Start(
            pb.StartRequest(job_name="countJob", parameters=parameters)
        ).execution
        with pytest.raises(grpc.RpcError):
            stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=999999))
    job = _finished(exporter, "job countJob")
    rpc = _finished(exporter, "/jobop.v1.JobOperatorService/Start")
    assert rpc.kind is SpanKind.SERVER
    refused = _finished(exporter, "/jobop.v1.JobOperatorService/GetJobExecution")
    # The semantic conventions keep NOT_FOUND a server span's success; the code is there.
    assert refused.attributes is not None
    assert refused.attributes["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]

    spans = exporter.get_finished_spans()
    step = next(s for s in spans if s.name == "step count")
    chunks = [s for s in spans if s.name == "chunk"]
    assert job.attributes is not None and step.attributes is not None
    assert job.attributes[JOB_NAME] == "countJob" and job.attributes[EXECUTION_ID] == execution.id
    assert job.attributes["jobop.job.status"] == "COMPLETED"
    # The job span links to the Start call that created the execution (another trace).
    assert [link.context.span_id for link in job.links] == [rpc.context.span_id]
    assert step.parent is not None and step.parent.span_id == job.context.span_id
    assert step.context.trace_id == job.context.trace_id
    assert step.attributes[STEP_NAME] == "count" and step.attributes["jobop.step.read_count"] == 12
    assert len(chunks) == 3  # 5 + 5 + 2 items (the empty read ends the last chunk)
    for chunk in chunks:
        assert chunk.parent is not None and chunk.parent.span_id == step.context.span_id
        assert chunk.attributes is not None
        assert (chunk.attributes[JOB_NAME], chunk.attributes[EXECUTION_ID]) == (
            "countJob",
            execution.id,
        )
    assert job.start_time is not None and step.start_time is not None
    assert job.start_time <= step.start_time and step.end_time <= job.end_time  # type: ignore[operator]


def test_no_otel_variables_no_traces(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert tracing_from_environment() is None
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console")
    tracing = tracing_from_environment()
    assert tracing is not None
    tracing.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin-please")
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        tracing_from_environment()


def test_health_watch_works_with_traces_on(traced: tuple[str, InMemorySpanExporter]) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    address, _ = traced
    with grpc.insecure_channel(address) as channel:
        watch = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service="jobop.v1.JobOperatorService"), timeout=30
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()
