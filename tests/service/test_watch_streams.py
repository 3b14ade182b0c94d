"""Many watchers on one execution, against an in-process server on a real socket: every
watcher gets the terminal snapshot, one repository read serves them all, and watchers that
go away leave nothing behind (streams, subscriptions, asyncio tasks, threads)."""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc
from jobop_client.parameters import Parameter, to_proto_map
from service_support import RPC_THREADS, UNREQUESTED_SECONDS, InProcessServer

pytestmark = pytest.mark.slow

WATCHERS = 200


def _start(stub: pb_grpc.JobOperatorServiceStub, **values: object) -> pb.JobExecution:
    request = pb.StartRequest(job_name="countJob", parameters=to_proto_map(values))  # type: ignore[arg-type]
    return stub.Start(request).execution


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


class Watchers:
    """WATCHERS WatchExecution streams on one grpc.aio channel, on a client loop thread."""

    def __init__(self, address: str, execution_id: int) -> None:
        self.address = address
        self.execution_id = execution_id
        self.messages: list[list[pb.WatchExecutionResponse]] = [[] for _ in range(WATCHERS)]
        self.outcomes: list[str | None] = [None] * WATCHERS
        self.loop = asyncio.new_event_loop()
        self.calls: list[
            grpc.aio.UnaryStreamCall[pb.WatchExecutionRequest, pb.WatchExecutionResponse]
        ] = []
        self.thread = threading.Thread(target=self.loop.run_forever, name="client-loop")
        self.thread.start()
        self._done = asyncio.run_coroutine_threadsafe(self._run(), self.loop)

    async def _run(self) -> None:
        async with grpc.aio.insecure_channel(self.address) as channel:
            stub = pb_grpc.JobOperatorServiceStub(channel)
            request = pb.WatchExecutionRequest(execution_id=self.execution_id)
            self.calls = [stub.WatchExecution(request, timeout=60) for _ in range(WATCHERS)]
            await asyncio.gather(*(self._follow(i) for i in range(WATCHERS)))

    async def _follow(self, index: int) -> None:
        try:
            async for message in self.calls[index]:
                self.messages[index].append(message)
            self.outcomes[index] = "ended"
        except asyncio.CancelledError:
            self.outcomes[index] = "cancelled"
        except grpc.aio.AioRpcError as error:
            self.outcomes[index] = error.code().name

    def cancel(self, indexes: range) -> None:
        def cancel_all() -> None:
            for index in indexes:
                self.calls[index].cancel()

        self.loop.call_soon_threadsafe(cancel_all)

    def finish(self, timeout: float = 60.0) -> None:
        self._done.result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


# The bounded RPC pool starts its threads lazily, so a busy moment may add one; they are not
# per-stream resources. Everything else must be exactly as before.
_POOL_PREFIXES = ("jobop-rpc",)


def _server_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if not t.name.startswith(_POOL_PREFIXES))


def test_two_hundred_watchers_all_get_the_terminal_snapshot(
    inprocess_server: InProcessServer,
) -> None:
    channel = grpc.insecure_channel(inprocess_server.address)
    stub = pb_grpc.JobOperatorServiceStub(channel)
    servicer = inprocess_server.server.servicer
    reads_before = servicer._reader.reads
    execution = _start(
        stub, items=40, chunkSize=Parameter(4, False), itemDelayMs=Parameter(25, False)
    )
    watchers = Watchers(inprocess_server.address, execution.id)
    watchers.finish()
    channel.close()
    assert watchers.outcomes == ["ended"] * WATCHERS
    for messages in watchers.messages:
        last = messages[-1].execution
        assert last.id == execution.id
        assert last.status == pb.BATCH_STATUS_COMPLETED
        assert last.step_executions[0].read_count == 40
        versions = [m.execution.version for m in messages if not m.heartbeat]
        assert all(later > earlier for earlier, later in itertools.pairwise(versions))
    # One repository read per change, not one per watcher and change.
    changes = max(len(m) for m in watchers.messages)
    reads = servicer._reader.reads - reads_before
    assert reads <= 3 * changes + 10, (reads, changes)


def test_cancelled_watchers_leave_nothing_behind(inprocess_server: InProcessServer) -> None:
    channel = grpc.insecure_channel(inprocess_server.address)
    stub = pb_grpc.JobOperatorServiceStub(channel)
    servicer = inprocess_server.server.servicer
    events = inprocess_server.operator.events
    # Warm up the RPC thread pool, so that its threads count in the baseline.
    warm = _start(stub, items=1, chunkSize=Parameter(1, False))
    _wait(lambda: not inprocess_server.operator.running_execution_ids)
    for _ in range(3 * RPC_THREADS):
        stub.GetJobExecution(pb.GetJobExecutionRequest(execution_id=warm.id))
    tasks_before = inprocess_server.tasks()
    threads_before = _server_threads()

    execution = _start(
        stub, items=60, chunkSize=Parameter(2, False), itemDelayMs=Parameter(50, False)
    )
    watchers = Watchers(inprocess_server.address, execution.id)
    _wait(lambda: all(watchers.messages))
    _wait(lambda: servicer.active_streams == WATCHERS)
    assert events.subscriber_count == WATCHERS
    assert inprocess_server.task_count() >= len(tasks_before) + WATCHERS
    watchers.cancel(range(WATCHERS // 2))
    _wait(lambda: servicer.active_streams == WATCHERS // 2)
    assert events.subscriber_count == WATCHERS // 2
    watchers.finish()
    assert watchers.outcomes[: WATCHERS // 2] == ["cancelled"] * (WATCHERS // 2)
    assert watchers.outcomes[WATCHERS // 2 :] == ["ended"] * (WATCHERS // 2)
    for messages in watchers.messages[WATCHERS // 2 :]:
        assert messages[-1].execution.status == pb.BATCH_STATUS_COMPLETED

    _wait(lambda: servicer.active_streams == 0)
    assert events.subscriber_count == 0
    assert servicer.cached_snapshots == 0
    # grpc's own tasks come and go with connections; none of ours may remain.
    _wait(lambda: inprocess_server.task_count() <= len(tasks_before), timeout=10)
    ours = [task for task in inprocess_server.tasks() if "cython" not in task]
    assert ours == [task for task in tasks_before if "cython" not in task]
    _wait(lambda: not inprocess_server.operator.running_execution_ids)
    assert _server_threads() == threads_before
    channel.close()


def test_slow_reader_gets_the_latest_state_not_a_backlog(
    inprocess_server: InProcessServer,
) -> None:
    channel = grpc.insecure_channel(
        inprocess_server.address,
        # A small receive window, so that the server feels the slow reader at once.
        options=[("grpc.http2.lookahead_bytes", 1024), ("grpc.http2.bdp_probe", 0)],
    )
    stub = pb_grpc.JobOperatorServiceStub(channel)
    commits = 600
    execution = _start(stub, items=commits, chunkSize=Parameter(1, False))
    stream = stub.WatchExecution(pb.WatchExecutionRequest(execution_id=execution.id), timeout=120)
    first = next(iter(stream))
    assert first.execution.id == execution.id
    # Read nothing until the job has ended.
    _wait(
        lambda: (
            stub.GetJobExecution(
                pb.GetJobExecutionRequest(execution_id=execution.id)
            ).execution.status
            == pb.BATCH_STATUS_COMPLETED
        ),
        timeout=120,
    )
    rest = list(stream)
    assert rest[-1].execution.status == pb.BATCH_STATUS_COMPLETED
    assert rest[-1].execution.step_executions[0].read_count == commits
    print(f"{len(rest)} messages after {commits} commits")
    assert len(rest) < commits / 2, len(rest)
    channel.close()


# Within the default per-caller limit (1,000 streams); about 15 s on a loaded 2-core box.
IDLE_STREAMS = 1000


class IdleWatchers:
    """IDLE_STREAMS WatchExecutions streams over a few channels, on a client loop thread."""

    def __init__(self, address: str) -> None:
        self.outcomes: list[str | None] = [None] * IDLE_STREAMS
        self.seen: list[set[int]] = [set() for _ in range(IDLE_STREAMS)]
        self.calls: list[Any] = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="client-loop")
        self.thread.start()
        self._done = asyncio.run_coroutine_threadsafe(self._run(address), self.loop)

    async def _run(self, address: str) -> None:
        channels = [grpc.aio.insecure_channel(address) for _ in range(4)]
        try:
            stubs = [pb_grpc.JobOperatorServiceStub(channel) for channel in channels]
            request = pb.WatchExecutionsRequest()
            self.calls = [stubs[i % 4].WatchExecutions(request) for i in range(IDLE_STREAMS)]
            await asyncio.gather(*(self._follow(i) for i in range(IDLE_STREAMS)))
        finally:
            for channel in channels:
                await channel.close()

    async def _follow(self, index: int) -> None:
        try:
            async for message in self.calls[index]:
                if not message.heartbeat:
                    self.seen[index].add(message.execution.id)
            self.outcomes[index] = "ended"
        except asyncio.CancelledError:
            self.outcomes[index] = "cancelled here"
        except grpc.aio.AioRpcError as error:
            self.outcomes[index] = error.code().name

    def ended(self) -> collections.Counter[str]:
        return collections.Counter(outcome for outcome in self.outcomes if outcome is not None)

    def close(self) -> None:
        def cancel_all() -> None:
            for call in self.calls:
                call.cancel()

        self.loop.call_soon_threadsafe(cancel_all)
        self._done.result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_idle_streams_live_until_ended_and_share_one_poll(
    quick_poll_server: InProcessServer,
) -> None:
    servicer = quick_poll_server.server.servicer
    watchers = IdleWatchers(quick_poll_server.address)
    try:
        _wait(
            lambda: servicer.active_streams == IDLE_STREAMS or bool(watchers.ended()),
            timeout=60,
        )
        assert not watchers.ended()
        polls = servicer.polls
        # Held well past the age at which gRPC gives up calls its server has not taken up
        # (streams opened in a burst used to end CANCELLED there, the event loop busy
        # with one poll per stream).
        time.sleep(2 * UNREQUESTED_SECONDS)
        assert not watchers.ended()
        assert servicer.active_streams == IDLE_STREAMS
        # One poll of the repository for all the streams, not one per stream.
        assert 0 < servicer.polls - polls < IDLE_STREAMS
        with grpc.insecure_channel(quick_poll_server.address) as channel:
            execution = _start(pb_grpc.JobOperatorServiceStub(channel), items=1)
        _wait(lambda: all(execution.id in seen for seen in watchers.seen), timeout=60)
        assert not watchers.ended()
    finally:
        watchers.close()
    assert watchers.ended() == {"cancelled here": IDLE_STREAMS}


def test_health_watchers_keep_following_when_one_of_them_leaves(
    inprocess_server: InProcessServer,
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    serving = health_pb2.HealthCheckResponse.SERVING
    not_serving = health_pb2.HealthCheckResponse.NOT_SERVING
    server = inprocess_server.server
    with grpc.insecure_channel(inprocess_server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        request = health_pb2.HealthCheckRequest(service="jobop.v1.JobOperatorService")
        staying = health.Watch(request, timeout=60)
        leaving = health.Watch(request, timeout=60)
        assert next(staying).status == serving
        assert next(leaving).status == serving
        leaving.cancel()
        _wait(lambda: server.health._watching[request.service] == 1)  # it saw the cancel
        inprocess_server.call(lambda: server.set_serving(False))
        assert next(staying).status == not_serving
        inprocess_server.call(lambda: server.set_serving(True))
        assert next(staying).status == serving
        staying.cancel()
