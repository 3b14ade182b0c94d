"""OpenTelemetry traces (the `otel` extra): a span per RPC, job execution, step and chunk.

RPC spans come from the maintained gRPC instrumentation's aio server interceptor. A job
execution's span opens when a worker begins to run it and closes when it ends, with a link
to the span of the RPC that created the execution; its steps' spans are its children and
each chunk's span a child of its step's, all on the worker thread, with `jobop.job.name`
and `jobop.job.execution.id` on every one of them.

`from_environment` (through `jobop.web.tracing_from_environment`, which is what `jobop
serve` calls) builds the exporter the standard OTEL_* variables ask for
(`OTEL_TRACES_EXPORTER=otlp|console|none`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, ...).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.trace import Link, Span, SpanContext, Status, StatusCode

from jobop.batch.step import ChunkContext
from jobop.domain import ExitStatus, JobExecution, StepExecution
from jobop.operator import ExecutionObserver

JOB_NAME = "jobop.job.name"
EXECUTION_ID = "jobop.job.execution.id"
STEP_NAME = "jobop.step.name"
_MAX_CREATORS = 10_000


@dataclass
class _Open:
    span: Span
    token: object  # the context token to detach when the span ends


class _Scopes(threading.local):
    """The spans open on this worker thread, innermost last."""

    def __init__(self) -> None:
        self.stack: list[_Open] = []


class Tracing:
    """The tracer and the hooks that feed it; hand them to the operator and the server."""

    def __init__(self, provider: trace.TracerProvider) -> None:
        self.provider = provider
        self.tracer = provider.get_tracer("jobop")
        self._scopes = _Scopes()
        self.observer = JobTracingObserver(self)
        self.step_listener = StepTracingListener(self)
        # The instrumentation is untyped; it returns a grpc.aio.ServerInterceptor. Health
        # probes are not traced: they are noise, and the instrumentation would break the
        # health Watch (it iterates every response stream; Watch writes instead).
        self.interceptor: grpc.aio.ServerInterceptor[Any, Any] = aio_server_interceptor(  # type: ignore[no-untyped-call]
            tracer_provider=provider, filter_=filters.negate(filters.health_check())
        )

    def open(self, name: str, attributes: dict[str, Any], links: Sequence[Link] = ()) -> Span:
        span = self.tracer.start_span(name, attributes=attributes, links=links)
        token = otel_context.attach(trace.set_span_in_context(span))
        self._scopes.stack.append(_Open(span, token))
        return span

    def current(self) -> Span | None:
        stack = self._scopes.stack
        return stack[-1].span if stack else None

    def close(self, error: BaseException | None = None, failed: bool = False) -> None:
        stack = self._scopes.stack
        if not stack:
            return
        opened = stack.pop()
        if error is not None:
            opened.span.record_exception(error)
        if error is not None or failed:
            opened.span.set_status(Status(StatusCode.ERROR))
        otel_context.detach(opened.token)  # type: ignore[arg-type]
        opened.span.end()

    def shutdown(self) -> None:
        shutdown = getattr(self.provider, "shutdown", None)
        if shutdown is not None:
            shutdown()


class JobTracingObserver(ExecutionObserver):
    """Job spans; each links to the span of the request that created its execution."""

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing
        self._lock = threading.Lock()
        # execution id -> the creating request's span; bounded: executions that never run
        # here (an api server's, claimed by a worker) would otherwise stay.
        self._creators: OrderedDict[int, SpanContext] = OrderedDict()

    def created(self, execution: JobExecution) -> None:
        creator = trace.get_current_span().get_span_context()
        if not creator.is_valid:
            return
        with self._lock:
            self._creators[execution.id] = creator
            while len(self._creators) > _MAX_CREATORS:
                self._creators.popitem(last=False)

    def running(self, execution: JobExecution) -> None:
        with self._lock:
            creator = self._creators.pop(execution.id, None)
        self._tracing.open(
            f"job {execution.job_name}",
            {JOB_NAME: execution.job_name, EXECUTION_ID: execution.id},
            links=[Link(creator)] if creator is not None else (),
        )

    def ended(self, execution: JobExecution) -> None:
        span = self._tracing.current()
        if span is not None:
            span.set_attribute("jobop.job.status", execution.status.value)
            span.set_attribute("jobop.job.exit_code", execution.exit_status.exit_code)
        self._tracing.close(failed=execution.status.value in ("FAILED", "UNKNOWN"))


class StepTracingListener:
    """A step and chunk listener (see jobop.batch.listeners) that opens their spans."""

    def __init__(self, tracing: Tracing) -> None:
        self._tracing = tracing

    def _attributes(self, step: StepExecution) -> dict[str, Any]:
        return {STEP_NAME: step.step_name, EXECUTION_ID: step.job_execution_id}

    def before_step(self, step_execution: StepExecution) -> None:
        self._tracing.open(f"step {step_execution.step_name}", self._attributes(step_execution))

    def after_step(self, step_execution: StepExecution) -> ExitStatus | None:
        span = self._tracing.current()
        if span is not None:
            span.set_attribute("jobop.step.status", step_execution.status.value)
            span.set_attribute("jobop.step.read_count", step_execution.read_count)
            span.set_attribute("jobop.step.write_count", step_execution.write_count)
        self._tracing.close(failed=step_execution.status.value == "FAILED")
        return None

    def before_chunk(self, context: ChunkContext) -> None:
        step = context.step_context.step_execution
        attributes = self._attributes(step)
        attributes[JOB_NAME] = context.step_context.job_name
        self._tracing.open("chunk", attributes)

    def after_chunk(self, context: ChunkContext) -> None:
        span = self._tracing.current()
        if span is not None:
            commits = context.step_context.step_execution.commit_count
            span.set_attribute("jobop.step.commit_count", commits)
        self._tracing.close()

    def after_chunk_error(self, context: ChunkContext, error: BaseException) -> None:
        self._tracing.close(error)


def from_environment() -> Tracing | None:
    """Tracing as the OTEL_* variables configure it, or None when they ask for none."""
    exporter_name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
    if exporter_name == "none":
        return None
    exporter: SpanExporter
    if exporter_name == "console":
        exporter = ConsoleSpanExporter()
    elif exporter_name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* itself
    else:
        raise ValueError(f"OTEL_TRACES_EXPORTER={exporter_name!r}: use otlp, console or none")
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "jobop")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return Tracing(provider)
