"""Fixtures of the client tests: an in-memory jobop server on a real socket."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_fake_server import RunningServer, serve


@pytest.fixture
def fake_server() -> Iterator[RunningServer]:
    server, running = serve()
    try:
        yield running
    finally:
        server.stop(grace=None)
