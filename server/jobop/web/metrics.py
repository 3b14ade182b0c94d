"""Prometheus metrics at /metrics, named after Spring Batch's observations.

Each process reports its own (scrape every replica and sum with `sum by (job_name)`).
Jobs are observed when a worker begins and ends one (`ExecutionObserver`), steps and
chunks by a listener the runner gives every step: per chunk that is a clock read around
the write and three counter increments, nothing else in the chunk loop. gRPC calls are
counted by a server interceptor. Node metrics come from the node's heartbeat thread: its
view of the heartbeat ages, and the executions it failed for a lost owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeAlias

import grpc
from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from jobop.batch import logcontext
from jobop.batch.item import Chunk
from jobop.batch.partition import is_partition_manager
from jobop.batch.step import ChunkContext
from jobop.domain import ExitStatus, JobExecution, StepExecution, utcnow
from jobop.domain.schedules import ScheduleFire, scheduled_fire
from jobop.operator import ExecutionObserver
from jobop.operator.scheduler import ScheduleObserver
from jobop.repository.queue_depth import WaitingStarts
from jobop.service.handlers import RateLimitedLog
from jobop.service.interceptor import guarded

_queue_log = RateLimitedLog(logging.getLogger(__name__), burst=1, window=60.0)

# Jobs and steps run from milliseconds to hours.
_RUN_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 12 * 3600)
_CHUNK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)
# A partition's end seen by its manager: a NOTIFY and one read (the target: 100 ms).
_PARTITION_END_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
# A call cancelled this close to its deadline (seconds) ended by the deadline.
_DEADLINE_SLACK = 0.01
_RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300)


def _seconds(start: datetime | None, end: datetime | None) -> float:
    if start is None:
        return 0.0
    return max(((end or utcnow()) - start).total_seconds(), 0.0)


class Metrics:
    """This process's metrics, in a registry of their own (plus process and GC metrics)."""

    def __init__(self) -> None:
        # (metric id, label values) -> its child: see `child`.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.registry = registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            registry.register(collector)
        self.job_launch = Counter(
            "jobop_job_launch",
            "Job executions this process began to run.",
            ["job_name"],
            registry=registry,
        )
        self.job_seconds = Histogram(
            "jobop_job_seconds",
            "Job executions that ended, by final status: their duration.",
            ["job_name", "status"],
            buckets=_RUN_BUCKETS,
            registry=registry,
        )
        self.job_active = Gauge(
            "jobop_job_active",
            "Job executions running in this process.",
            ["job_name"],
            registry=registry,
        )
        self.step_seconds = Histogram(
            "jobop_step_seconds",
            "Step executions that ended, by status: their duration.",
            ["job_name", "step_name", "status"],
            buckets=_RUN_BUCKETS,
            registry=registry,
        )
        self.chunk_write_seconds = Histogram(
            "jobop_chunk_write_seconds",
            "Time the writer took per chunk.",
            ["job_name", "step_name"],
            buckets=_CHUNK_BUCKETS,
            registry=registry,
        )
        step_labels = ["job_name", "step_name"]
        self.items_read = Counter("jobop_items_read", "Items read.", step_labels, registry=registry)
        self.items_written = Counter(
            "jobop_items_written", "Items written.", step_labels, registry=registry
        )
        self.items_skipped = Counter(
            "jobop_items_skipped",
            "Items skipped in reading, processing or writing.",
            step_labels,
            registry=registry,
        )
        self.grpc_requests = Counter(
            "jobop_grpc_requests",
            "gRPC calls served, by method and status code.",
            ["method", "code"],
            registry=registry,
        )
        self.grpc_request_seconds = Histogram(
            "jobop_grpc_request_seconds",
            "gRPC call durations (streams: until they end), by method and status code.",
            ["method", "code"],
            buckets=_RPC_BUCKETS,
            registry=registry,
        )
        self.streams_open = Gauge(
            "jobop_streams_open", "Watch streams open (gRPC and SSE).", registry=registry
        )
        self.partition_end_seconds = Histogram(
            "jobop_partition_end_seconds",
            "Partitions of partition steps managed here that ran on other nodes: from the "
            "partition's end (its row marked ENDED) to its manager seeing it.",
            ["job_name"],
            buckets=_PARTITION_END_BUCKETS,
            registry=registry,
        )
        self.owner_lost = Counter(
            "jobop_owner_lost",
            "Job executions this node failed because their owner node was lost.",
            ["job_name"],
            registry=registry,
        )
        self._heartbeat_ages = HeartbeatAgeCollector()
        registry.register(self._heartbeat_ages)
        self._launch_batches = LaunchBatchCollector()
        registry.register(self._launch_batches)
        self.overdue = OverdueCollector()
        registry.register(self.overdue)

        self._queue = QueueCollector()
        registry.register(self._queue)
        self.observer = JobMetricsObserver(self)
        self.step_listener = StepMetricsListener(self)
        self.interceptor = GrpcMetricsInterceptor(self)
        self.http = HttpMetrics(registry)
        self.schedules = ScheduleMetrics(registry)

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: prometheus_client checks the values and takes a
        lock at each call, and the run path counts several per execution. (No child is
        ever removed from these metrics, so a kept one stays the exported one.)"""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def follow_streams(self, count: Callable[[], int]) -> None:
        """Read the open stream count from `count` at each scrape."""
        self.streams_open.set_function(lambda: float(count()))

    def follow_node(self, ages: Callable[[], dict[str, float]]) -> None:
        """Read the nodes' heartbeat ages (by node id) from `ages` at each scrape."""
        self._heartbeat_ages.ages = ages

    def follow_launches(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Read (launch statements, launches written in them) from `counts` at each scrape."""
        self._launch_batches.counts = counts

    def follow_queue(
        self, waiting: Callable[[], list[WaitingStarts]], job_names: Callable[[], Sequence[str]]
    ) -> None:
        """Read the starts waiting per job from `waiting` at each scrape (one query); the
        jobs of `job_names` are reported with 0 when none of theirs wait."""
        self._queue.waiting = waiting
        self._queue.job_names = job_names

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

    async def handle(self, request: web.Request) -> web.Response:
        # In a thread: a scrape reads the queue from the database.
        response = web.Response(body=await asyncio.to_thread(self.exposition))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


class HeartbeatAgeCollector(Collector):
    """`jobop_node_heartbeat_age_seconds{node_id}`: this node's and its live peers', from
    what the node's heartbeat thread last saw (no query per scrape)."""

    def __init__(self) -> None:
        self.ages: Callable[[], dict[str, float]] = dict

    def describe(self) -> list[Metric]:
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for node_id, age in sorted(self.ages().items()):
            family.add_metric([node_id], age)
        yield family

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "jobop_node_heartbeat_age_seconds",
            "Seconds since a node's last successful heartbeat: this node's own, and the "
            "other live nodes' as of this node's last look at them.",
            labels=["node_id"],
        )


class LaunchBatchCollector(Collector):
    """`jobop_launch_statements_total` and `jobop_launches_written_total`: the group commit
    of launches (PostgreSQL), read from the repository's counts at the scrape. Their rates'
    ratio is the launches per statement; both stay 0 on SQLite."""

    def __init__(self) -> None:
        self.counts: Callable[[], tuple[int, int]] = lambda: (0, 0)

    def describe(self) -> list[Metric]:
        return list(self._families(0, 0))

    def collect(self) -> Iterator[Metric]:
        yield from self._families(*self.counts())

    def _families(self, statements: int, launches: int) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "jobop_launch_statements",
            "Launch statements this process ran; each writes the new-instance launches that "
            "waited together (PostgreSQL).",
            value=statements,
        )
        yield CounterMetricFamily(
            "jobop_launches_written",
            "New-instance launches this process wrote in its launch statements (PostgreSQL).",
            value=launches,
        )


# -- overdue executions ----------------------------------------------------------------


class OverdueCollector(Collector):
    """`jobop_executions_overdue_total{job_name}` (executions this process marked overdue)
    and `jobop_executions_overdue_running{job_name}` (those of them still running here)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total: dict[str, int] = {}
        self._running: dict[int, str] = {}  # execution id -> job name

    def marked(self, execution: JobExecution) -> None:
        with self._lock:
            self._total[execution.job_name] = self._total.get(execution.job_name, 0) + 1
            self._running[execution.id] = execution.job_name

    def ended(self, execution: JobExecution) -> None:
        with self._lock:
            self._running.pop(execution.id, None)

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            totals = sorted(self._total.items())
            running = [job_name for _, job_name in self._running.items()]
        total, now = self._families()
        for job_name, count in totals:
            total.add_metric([job_name], count)
            # A job once overdue here keeps its series (0 when none is overdue now).
            now.add_metric([job_name], running.count(job_name))
        yield total
        yield now

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, GaugeMetricFamily]:
        return (
            CounterMetricFamily(
                "jobop_executions_overdue",
                "Job executions this process marked overdue (running past their job's "
                "maximum duration).",
                labels=["job_name"],
            ),
            GaugeMetricFamily(
                "jobop_executions_overdue_running",
                "Job executions running in this process that are overdue.",
                labels=["job_name"],
            ),
        )


class QueueCollector(Collector):
    """`jobop_queue_depth{job_name}` and `jobop_queue_oldest_seconds{job_name}`: the
    starts waiting for a claim, cluster-wide (every replica reports the same values), read
    with one query at the scrape. While the database cannot be read they are left out of
    the scrape (logged), and the rest is served."""

    def __init__(self) -> None:
        self.waiting: Callable[[], list[WaitingStarts]] = list
        self.job_names: Callable[[], Sequence[str]] = tuple

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        try:
            waiting = self.waiting()
        except Exception as error:  # a scrape never fails for the queue's sake
            _queue_log.warning("queue metrics left out: cannot read the queue: %s", error)
            return
        depth, oldest = self._families()
        now = utcnow()
        shown = {entry.job_name: entry for entry in waiting}
        for name in sorted(set(self.job_names()) | set(shown)):
            entry = shown.get(name)
            depth.add_metric([name], entry.depth if entry else 0)
            oldest.add_metric([name], _seconds(entry.oldest, now) if entry else 0.0)
        yield depth
        yield oldest

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "jobop_queue_depth",
                "Starts waiting for a claim (over a limit, paused, or no free worker), "
                "cluster-wide.",
                labels=["job_name"],
            ),
            GaugeMetricFamily(
                "jobop_queue_oldest_seconds",
                "How long the longest-waiting start of the job has waited (0: none waits).",
                labels=["job_name"],
            ),
        )


class JobMetricsObserver(ExecutionObserver):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def running(self, execution: JobExecution) -> None:
        self._metrics.child(self._metrics.job_launch, execution.job_name).inc()
        self._metrics.child(self._metrics.job_active, execution.job_name).inc()
        fire = scheduled_fire(execution.job_parameters)
        if fire is not None:
            # Lateness ends as the fire's execution begins to run (on the node that runs it:
            # the sum over the replicas counts each fire once), after any wait in the queue.
            schedule, fire_time = fire
            lateness = (utcnow() - fire_time).total_seconds()
            self._metrics.schedules.lateness.labels(schedule).observe(max(lateness, 0.0))

    def ended(self, execution: JobExecution) -> None:
        metrics = self._metrics
        metrics.child(metrics.job_active, execution.job_name).dec()
        metrics.overdue.ended(execution)
        metrics.child(metrics.job_seconds, execution.job_name, execution.status.value).observe(
            _seconds(execution.start_time, execution.end_time)
        )

    def owner_lost(self, execution: JobExecution) -> None:
        self._metrics.owner_lost.labels(execution.job_name).inc()

    def overdue(self, execution: JobExecution) -> None:
        self._metrics.overdue.marked(execution)

    def partition_ended(self, job_name: str, seconds: float) -> None:
        self._metrics.partition_end_seconds.labels(job_name).observe(seconds)


class StepMetricsListener:
    """A step and chunk listener (see jobop.batch.listeners) that feeds the metrics.

    Item counters move by the step's counter deltas after each committed chunk, so that a
    chunk rolled back and retried is not counted twice.
    """

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._local = threading.local()  # write start, per worker thread
        self._counted: dict[int, tuple[int, int, int]] = {}

    def before_step(self, step_execution: StepExecution) -> None:
        self._counted[id(step_execution)] = (
            step_execution.read_count,
            step_execution.write_count,
            step_execution.skip_count,
        )

    def after_step(self, step_execution: StepExecution) -> ExitStatus | None:
        job_name = self._job_name(step_execution)
        if not is_partition_manager(step_execution):
            # (A manager's counters are its partitions', counted as they commit.)
            self._count(job_name, step_execution)
        self._counted.pop(id(step_execution), None)
        self._metrics.child(
            self._metrics.step_seconds,
            job_name,
            step_execution.step_name,
            step_execution.status.value,
        ).observe(_seconds(step_execution.start_time, step_execution.end_time))
        return None

    def after_chunk(self, context: ChunkContext) -> None:
        step = context.step_context.step_execution
        self._count(context.step_context.job_name, step)

    def before_write(self, chunk: Chunk[Any]) -> None:
        self._local.write_started = time.perf_counter()

    def after_write(self, chunk: Chunk[Any]) -> None:
        started: float | None = getattr(self._local, "write_started", None)
        if started is None or chunk.step_execution is None:
            return
        self._local.write_started = None
        self._metrics.chunk_write_seconds.labels(
            self._job_name(chunk.step_execution), chunk.step_execution.step_name
        ).observe(time.perf_counter() - started)

    def _job_name(self, step_execution: StepExecution) -> str:
        # Steps run inside the runner's logging context, which knows their job.
        return logcontext.current_job_name() or ""

    def _count(self, job_name: str, step: StepExecution) -> None:
        before = self._counted.get(id(step), (0, 0, 0))
        now = (step.read_count, step.write_count, step.skip_count)
        self._counted[id(step)] = now
        labels = (job_name, step.step_name)
        metrics = self._metrics
        if now[0] > before[0]:
            metrics.child(metrics.items_read, *labels).inc(now[0] - before[0])
        if now[1] > before[1]:
            metrics.child(metrics.items_written, *labels).inc(now[1] - before[1])
        if now[2] > before[2]:
            metrics.child(metrics.items_skipped, *labels).inc(now[2] - before[2])


_Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Counts and times every gRPC call (unary, and response streams of either shape) by
    method and final status code."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[_Handler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> _Handler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        timed = functools.partial(self._timed, handler_call_details.method.lstrip("/"))
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                guarded(handler.unary_unary, timed),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                guarded(handler.unary_stream, timed),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    @contextlib.asynccontextmanager
    async def _timed(
        self, method: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        started = time.perf_counter()
        code = "UNKNOWN"
        try:
            yield
            code = _code(context) or "OK"
        except BaseException as error:
            code = _code(context) or _ended_by(error, context)
            raise
        finally:
            self._metrics.grpc_requests.labels(method, code).inc()
            self._metrics.grpc_request_seconds.labels(method, code).observe(
                time.perf_counter() - started
            )


def _ended_by(error: BaseException, context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The status of a call whose handler raised without setting one."""
    if isinstance(error, asyncio.CancelledError | GeneratorExit):
        # grpc cancels the handler when the client goes away or the deadline passes.
        remaining = context.time_remaining()
        if remaining is not None and remaining <= _DEADLINE_SLACK:
            return "DEADLINE_EXCEEDED"
        return "CANCELLED"
    return "UNKNOWN"


def _code(context: grpc.aio.ServicerContext[Any, Any]) -> str | None:
    """The status code the handler set (or aborted with), if any."""
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if isinstance(code, int):
        for candidate in grpc.StatusCode:
            if candidate.value[0] == code:
                return candidate.name
    return None


# Methods counted by name; any other (a client may send anything) is `other`.
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """Counts and times every HTTP request, as the gRPC calls are: by method, route
    template (`/api/executions/{executionId}`, never the path itself, so that ids make no
    series of their own) and status code. A request no route matched is route `none`;
    an event stream is timed until it ends, and one whose client went away is 499."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["method", "route", "code"]
        self.requests = Counter(
            "jobop_http_requests",
            "HTTP requests served, by method, route template and status code.",
            labels,
            registry=registry,
        )
        self.request_seconds = Histogram(
            "jobop_http_request_seconds",
            "HTTP request durations (event streams: until they end), by method, route "
            "template and status code.",
            labels,
            buckets=_RPC_BUCKETS,
            registry=registry,
        )

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        started = time.perf_counter()
        code = "500"
        try:
            response = await handler(request)
            code = str(response.status)
            return response
        except asyncio.CancelledError:
            code = "499"  # the client went away
            raise
        except web.HTTPException as error:
            code = str(error.status)
            raise
        finally:
            info = request.match_info
            resource = info.route.resource if info.http_exception is None else None
            route = resource.canonical if resource is not None else "none"
            method = request.method if request.method in _HTTP_METHODS else "other"
            labels = (method, route, code)
            self.requests.labels(*labels).inc()
            self.request_seconds.labels(*labels).observe(time.perf_counter() - started)


# -- schedules (docs/schedules.md) -------------------------------------------------------

# Fires start within a second when nothing holds them; a queue or a limit holds them longer.
_LATENESS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300, 3600)


class ScheduleMetrics(ScheduleObserver):
    """Told by the scheduler of each fire this node recorded (each fire is recorded by one
    node, so the sum over the replicas counts every fire once)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fires = Counter(
            "jobop_schedule_fires",
            "Schedule fires this node recorded, by schedule and outcome (LAUNCHED, SKIPPED, "
            "MISSED, REFUSED).",
            ["schedule", "outcome"],
            registry=registry,
        )
        self.lateness = Histogram(
            "jobop_schedule_lateness_seconds",
            "Launched fires: from the nominal fire time to the start of the execution.",
            ["schedule"],
            buckets=_LATENESS_BUCKETS,
            registry=registry,
        )

    def recorded(self, fire: ScheduleFire, lateness: float | None) -> None:
        self.fires.labels(fire.schedule_name, fire.outcome).inc()
