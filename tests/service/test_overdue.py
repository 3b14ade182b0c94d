"""Overdue executions: the node that runs an execution marks it once when it runs past its
job's maximum duration (declared, or set at run time), reports it once (a JOBOP-1011
WARNING, the counter and gauge), announces it so that watchers see the change counter
grow, and stops it when the job says so; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from jobop.batch import ChunkStep, Job, JobRegistry, StepContext, step_scope
from jobop.batch.readers import IterableItemReader
from jobop.domain import BatchStatus, JobExecution, JobParameters
from jobop.operator import JobOperator
from jobop.repository import AuditTrail, JobRepository, create_engine
from jobop.service.mapping import api_version
from jobop.web.metrics import Metrics
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from service_support import InProcessServer

OVERDUE_CODE = "JOBOP-1011"


@dataclasses.dataclass
class Gate:
    """What an execution's reader waits on (`opened`), by its `gate` parameter; `waiting`
    is set once the reader of a blocked execution waits (all its writes until the first
    chunk are made then: nothing changes it until the gate opens)."""

    name: str
    opened: threading.Event = dataclasses.field(default_factory=threading.Event)
    waiting: threading.Event = dataclasses.field(default_factory=threading.Event)


GATES: dict[str, Gate] = {}
_gate_names = itertools.count(1)


class _Discard:
    def write(self, chunk: Any) -> None:
        pass


def _gated(context: StepContext) -> IterableItemReader[int]:
    """Blocks until its gate opens, then ends (`moving`: an item every 20 ms meanwhile,
    each a chunk, so that a stop takes effect at once)."""
    parameters = context.job_parameters
    gate = GATES[parameters["gate"].value_text()]
    moving = "moving" in parameters

    def generate() -> Iterator[int]:
        if not moving:
            gate.waiting.set()
            gate.opened.wait(120)
            return
        while not gate.opened.wait(0.02):
            yield 1

    return IterableItemReader(generate, name="gated")


def _gated_job(name: str, **settings: Any) -> Job:
    step = ChunkStep("wait", reader=step_scope(_gated), writer=_Discard(), chunk_size=1)
    return Job(name, [step], **settings)


# Overdue after a second; stopped then, or not.
MARKED_JOB = _gated_job("markedJob", max_duration=1)
STOPPED_JOB = _gated_job("stoppedJob", max_duration=1, stop_when_overdue=True)
# Declares an hour; tests set shorter at run time.
HOUR_JOB = _gated_job("hourJob", max_duration=3600)
JOBS = (MARKED_JOB, STOPPED_JOB, HOUR_JOB)


@pytest.fixture
def gate() -> Iterator[Gate]:
    gate = Gate(f"gate{next(_gate_names)}")
    GATES[gate.name] = gate
    yield gate
    gate.opened.set()  # whatever still waits ends
    del GATES[gate.name]


@dataclasses.dataclass
class Node:
    operator: JobOperator
    metrics: Metrics

    def overdue_total(self, job_name: str) -> float:
        return self._sample("jobop_executions_overdue_total", job_name)

    def overdue_now(self, job_name: str) -> float:
        return self._sample("jobop_executions_overdue", job_name)

    def _sample(self, name: str, job_name: str) -> float:
        value = self.metrics.registry.get_sample_value(name, {"job_name": job_name})
        return value or 0.0


@pytest.fixture
def nodes(db_url: str) -> Iterator[list[Node]]:
    """Two nodes (operators on engines of their own) sharing the database, each with its
    own metrics; heartbeats every 0.5 s, so run-time settings are read that often."""
    engines = [create_engine(db_url) for _ in range(2)]
    started = []
    for engine in engines:
        metrics = Metrics()
        operator = JobOperator(
            JobRepository(engine),
            JobRegistry(JOBS),
            heartbeat_interval=0.5,
            lease=10.0,
            observers=[metrics.observer],
        )
        started.append(Node(operator, metrics))
    yield started
    for node, engine in zip(started, engines, strict=True):
        node.operator.shutdown(10.0)
        engine.dispose()


def wait_until(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return result


def overdue_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "message_code", None) == OVERDUE_CODE]


def start(node: Node, job: Job, gate: str, **extra: Any) -> JobExecution:
    execution = node.operator.start(job.name, JobParameters.of(gate=gate, **extra))
    # Accepted by a node with a free worker: it runs there.
    wait_until(lambda: execution.id in node.operator.running_execution_ids, "the run")
    return execution


def read(node: Node, execution_id: int) -> JobExecution:
    return node.operator.get_job_execution(execution_id)


def test_an_overdue_execution_is_marked_and_reported_once_across_checks_and_nodes(
    nodes: list[Node], gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jobop.operator.overdue")
    a, b = nodes
    execution = start(a, MARKED_JOB, gate.name)
    marked = wait_until(lambda: read(a, execution.id).overdue and read(a, execution.id), "mark")
    assert marked.status is BatchStatus.STARTED  # marked, not stopped: the job did not ask
    # More checks on the node that runs it, and on the other.
    for node in (a, b, a, b):
        assert node.operator.overdue is not None
        node.operator.overdue.check()
    # A node whose view is stale (it had not read the mark): the database refuses it a
    # second report.
    assert b.operator.overdue is not None
    stale = dataclasses.replace(marked, overdue=False)
    b.operator.overdue.running(stale)
    b.operator.overdue.check()
    b.operator.overdue.ended(stale)
    records = overdue_records(caplog)
    assert len(records) == 1, [r.getMessage() for r in records]
    (record,) = records
    assert record.levelno == logging.WARNING
    assert f"Job execution {execution.id} of markedJob is overdue" in record.getMessage()
    assert (record.job_name, record.job_execution_id) == ("markedJob", execution.id)
    assert (a.overdue_total("markedJob"), b.overdue_total("markedJob")) == (1.0, 0.0)
    assert (a.overdue_now("markedJob"), b.overdue_now("markedJob")) == (1.0, 0.0)
    assert read(a, execution.id).status is BatchStatus.STARTED
    # Its end: no longer overdue now, counted once for good, and still shown as overdue.
    gate.opened.set()
    wait_until(lambda: not read(a, execution.id).status.is_running, "the end")
    wait_until(lambda: a.overdue_now("markedJob") == 0.0, "the gauge to drop")
    assert a.overdue_total("markedJob") == 1.0
    ended = read(a, execution.id)
    assert ended.status is BatchStatus.COMPLETED and ended.overdue


def test_an_overdue_execution_is_stopped_when_its_job_says_so(
    nodes: list[Node], gate: Gate, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jobop.operator.overdue")
    a = nodes[0]
    execution = start(a, STOPPED_JOB, gate.name, moving=1)
    wait_until(lambda: not read(a, execution.id).status.is_running, "the stop")
    stopped = read(a, execution.id)
    assert stopped.status is BatchStatus.STOPPED
    assert stopped.overdue
    assert len(overdue_records(caplog)) == 1
    assert "stopping it" in overdue_records(caplog)[0].getMessage()
    # Audited as the system's Stop, in the Stop's own transaction.
    (event,) = AuditTrail(a.operator.repository.engine).list_events(job_name="stoppedJob")
    assert (event.principal, event.action, event.execution_id, event.succeeded) == (
        "system",
        "Stop",
        execution.id,
        True,
    )
    assert '"reason": "overdue"' in event.arguments
    wait_until(lambda: a.overdue_now("stoppedJob") == 0.0, "the gauge to drop")
    assert a.overdue_total("stoppedJob") == 1.0


def test_a_run_time_maximum_overrides_the_declared_one(nodes: list[Node], gate: Gate) -> None:
    a = nodes[0]
    execution = start(a, HOUR_JOB, gate.name, moving=1)
    wait_until(lambda: read(a, execution.id).status is BatchStatus.STARTED, "STARTED")
    # A second instead of the declared hour, and stopped too (the job does not say so).
    a.operator.update_job_settings(
        "hourJob", {"max_duration_seconds": 1, "stop_when_overdue": True}
    )
    wait_until(lambda: not read(a, execution.id).status.is_running, "the stop")
    stopped = read(a, execution.id)
    assert stopped.status is BatchStatus.STOPPED and stopped.overdue
    assert a.overdue_total("hourJob") == 1.0


def test_watchers_see_the_mark_as_a_change_here_and_on_other_nodes(
    nodes: list[Node], gate: Gate, db_url: str
) -> None:
    a, b = nodes
    execution = start(a, HOUR_JOB, gate.name)  # blocked in its read: no progress at all
    assert gate.waiting.wait(60)
    before = read(a, execution.id)
    local = a.operator.events.subscribe(execution_id=execution.id)
    # Other nodes hear of changes through the relay (PostgreSQL's LISTEN/NOTIFY).
    relayed = b.operator.events.subscribe(execution_id=execution.id)
    relays = db_url.startswith("postgresql")
    try:
        a.operator.update_job_settings("hourJob", {"max_duration_seconds": 0.2})
        assert local.wait_sync(60), "no change announced"
        after = read(a, execution.id)
        assert after.overdue and not before.overdue
        # The only change: the mark, one more in the change counter.
        assert api_version(after) == api_version(before) + 1
        assert after.status is BatchStatus.STARTED
        if relays:
            assert relayed.wait_sync(60), "no change relayed to the other node"
    finally:
        local.close()
        relayed.close()


def test_a_watch_stream_sends_the_marked_execution(
    inprocess_server: InProcessServer, gate: Gate
) -> None:
    operator = inprocess_server.operator
    operator.registry.register(HOUR_JOB)
    execution = operator.start("hourJob", JobParameters.of(gate=gate.name))  # blocked: no progress
    received: list[pb.JobExecution] = []
    with grpc.insecure_channel(inprocess_server.address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        stream = stub.WatchExecution(pb.WatchExecutionRequest(execution_id=execution.id))

        def follow() -> None:
            for message in stream:
                if not message.heartbeat:
                    received.append(message.execution)

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        try:
            assert gate.waiting.wait(60)
            before = operator.get_job_execution(execution.id)
            wait_until(
                lambda: received and received[-1].version == api_version(before),
                "the stream to catch up",
            )
            operator.update_job_settings("hourJob", {"max_duration_seconds": 0.2})
            wait_until(
                lambda: received[-1].version == api_version(before) + 1,
                "the marked snapshot on the stream",
            )
            assert operator.get_job_execution(execution.id).overdue
            versions = [message.version for message in received]
            assert versions == sorted(set(versions))
            assert received[-1].status == pb.BATCH_STATUS_STARTED
            assert received[-1].overdue and not any(m.overdue for m in received[:-1])
        finally:
            gate.opened.set()
            follower.join(30)
