"""Fixtures of the service tests: `inprocess_server` (see service_support)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from bearer_tokens import write_tokens_file
from jobop.batch import JobRegistry
from jobop.operator import JobOperator
from jobop.repository import JobRepository, create_engine
from jobop.service import JobopServer, ServerOptions, create_server
from jobop.service.auth import Authenticator, TokensFile
from service_support import (
    COUNT_JOB,
    RPC_THREADS,
    UNREQUESTED_SECONDS,
    InProcessServer,
    run_loop,
)


@pytest.fixture
def inprocess_server(db_url: str) -> Iterator[InProcessServer]:
    yield from _serve(db_url, JobRegistry([COUNT_JOB]))


@pytest.fixture
def samples_server(db_url: str) -> Iterator[InProcessServer]:
    """The in-process server with the bundled sample jobs (and countJob)."""
    registry = JobRegistry.default([])
    registry.register(COUNT_JOB)
    yield from _serve(db_url, registry)


def _serve(
    db_url: str, registry: JobRegistry, options: ServerOptions | None = None
) -> Iterator[InProcessServer]:
    engine = create_engine(db_url)
    operator = JobOperator(JobRepository(engine), registry)
    executor = ThreadPoolExecutor(RPC_THREADS, thread_name_prefix="jobop-rpc")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=run_loop, args=(loop,), name="server-loop", daemon=True)
    thread.start()
    if options is None:
        options = ServerOptions(address="127.0.0.1:0", heartbeat_interval=30.0, poll_interval=2.0)

    async def build() -> JobopServer:
        built = await create_server(operator, executor, options)
        await built.server.start()
        return built

    server = asyncio.run_coroutine_threadsafe(build(), loop).result(30)
    running = InProcessServer(loop, thread, server, operator, executor, f"127.0.0.1:{server.port}")
    try:
        yield running
    finally:
        operator.shutdown(5.0)
        loop.call_soon_threadsafe(server.servicer.close_streams)
        asyncio.run_coroutine_threadsafe(server.server.stop(1.0), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        executor.shutdown(wait=True)
        engine.dispose()


@pytest.fixture
def quick_poll_server(db_url: str) -> Iterator[InProcessServer]:
    """The in-process server polling for other processes' changes every 0.1 s, and
    giving up calls not taken up within UNREQUESTED_SECONDS (gRPC's default: 30)."""
    options = ServerOptions(
        address="127.0.0.1:0",
        heartbeat_interval=30.0,
        poll_interval=0.1,
        max_unrequested_time=UNREQUESTED_SECONDS,
    )
    yield from _serve(db_url, JobRegistry([COUNT_JOB]), options)


@pytest.fixture
def roles_server(db_url: str, tmp_path: Path) -> Iterator[InProcessServer]:
    """The samples server admitting only bearer tokens: bearer_tokens.ROLE_TOKENS' one
    per role, each of principal "<role>-user"."""
    path = write_tokens_file(tmp_path / "tokens.toml")
    options = ServerOptions(
        address="127.0.0.1:0",
        heartbeat_interval=30.0,
        poll_interval=2.0,
        authenticator=Authenticator(tokens=TokensFile(path, "--tokens-file")),
    )
    registry = JobRegistry.default([])
    registry.register(COUNT_JOB)
    yield from _serve(db_url, registry, options)
