"""The in-process server of the service tests: the real operator, repository and grpc.aio
server on a real socket, on an event loop in a thread of the test process, so that a test
can count what the server holds (asyncio tasks, threads, subscriptions)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2  # type: ignore[import-untyped]
from jobop.batch import Chunk, ChunkStep, Job, JobRegistry, StepContext, step_scope
from jobop.batch.readers import IterableItemReader
from jobop.domain import BatchStatus
from jobop.operator import JobOperator
from jobop.repository import JobRepository, create_engine
from jobop.service import JobopServer

T = TypeVar("T")
RPC_THREADS = 8
# gRPC cancels calls its server has not taken up within this many seconds (its default:
# 30) in `quick_poll_server`: the idle streams test holds its streams well past it. (At 3
# s, a burst of 1,000 streams was not all taken up in time on a slow 2-core machine, at
# the commit that introduced the test too: 5 s still proves the take-up far within 30.)
UNREQUESTED_SECONDS = 5


class _DiscardWriter:
    def write(self, chunk: Chunk[int]) -> None:
        pass


def _numbers(context: StepContext) -> Any:
    parameters = context.job_parameters
    items = int(parameters["items"].value_text()) if "items" in parameters else 50
    delay = (
        int(parameters["itemDelayMs"].value_text()) / 1000 if "itemDelayMs" in parameters else 0.0
    )

    def generate() -> Iterator[int]:
        for item in range(1, items + 1):
            if delay:
                threading.Event().wait(delay)
            yield item

    return IterableItemReader(generate, name="numbers")


def _chunk_size(context: StepContext) -> int:
    parameters = context.job_parameters
    return int(parameters["chunkSize"].value_text()) if "chunkSize" in parameters else 5


# Chunks of `chunkSize` items read with `itemDelayMs` each; writes nothing, so it holds the
# database's write lock only for its commits.
COUNT_JOB = Job(
    "countJob",
    [
        ChunkStep(
            "count",
            reader=step_scope(_numbers),
            writer=_DiscardWriter(),
            chunk_size=_chunk_size,
        )
    ],
)


@dataclass
class InProcessServer:
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    server: JobopServer
    operator: JobOperator
    executor: ThreadPoolExecutor
    address: str

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float = 30.0) -> T:
        """Run a coroutine on the server's loop and return its result."""

        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)

    def tasks(self) -> list[str]:
        """What runs on the server's loop (besides this probe)."""

        async def describe() -> list[str]:
            current = asyncio.current_task()
            # The coroutine's name without its address: grpc's own tasks show as cython
            # coroutines, ours (and asyncio's) by their qualified names.
            return sorted(
                repr(task.get_coro()).split(" at 0x")[0]
                for task in asyncio.all_tasks()
                if task is not current
            )

        return self.call(describe)

    def task_count(self) -> int:
        return len(self.tasks())


def rpc_error(call: Callable[[], Any]) -> tuple[grpc.StatusCode, str, dict[str, str], str]:
    """(code, ErrorInfo reason, ErrorInfo metadata, message) of a call that must fail."""
    with pytest.raises(grpc.RpcError) as caught:
        call()
    error: Any = caught.value
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin")
    assert details is not None, f"no ErrorInfo on {error.code()}: {error.details()}"
    info = error_details_pb2.ErrorInfo()
    assert status_pb2.Status.FromString(details).details[0].Unpack(info)
    return error.code(), info.reason, dict(info.metadata), error.details()


def run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


@contextmanager
def operator_on(db_url: str) -> Iterator[JobOperator]:
    """A JobOperator of the bundled jobs on `db_url`, shut down afterwards."""
    engine = create_engine(db_url)
    operator = JobOperator(JobRepository(engine), JobRegistry.default([]))
    try:
        yield operator
    finally:
        operator.shutdown(5.0)
        engine.dispose()


def wait_operator_ended(
    operator: JobOperator, execution_id: int, timeout: float = 30.0
) -> BatchStatus:
    """The execution's status once it no longer runs (fails after `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while (status := operator.get_job_execution(execution_id).status).is_running:
        assert time.monotonic() < deadline, f"execution {execution_id} still {status}"
        time.sleep(0.01)
    return status
