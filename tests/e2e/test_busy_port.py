"""A second `jobop serve` on a port that one already serves refuses to start: gRPC's
default SO_REUSEPORT would otherwise let both serve it, splitting calls between them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import grpc
import pytest
from e2e_support import ServerFactory
from jobop.service.server import ServerOptions, channel_options
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.exit_codes import USAGE


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_second_server_on_a_busy_port_exits_2_naming_the_address(
    start_server: ServerFactory, db_url: str
) -> None:
    first = start_server()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    second = subprocess.run(
        [
            sys.executable,
            "-m",
            "jobop.app.cli",
            "serve",
            "--db",
            db_url,
            "--grpc-address",
            first.address,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert second.returncode == USAGE
    assert second.stdout == ""  # never "listening"
    lines = second.stderr.strip().splitlines()
    assert lines == [
        f"jobop serve: error: cannot listen on {first.address}: the address is already in "
        "use (another jobop serve?)"
    ]
    # The first one still serves alone.
    assert first.process.poll() is None
    assert "demoChunkJob" in first.stub.GetJobNames(pb.GetJobNamesRequest()).job_names


def test_grpc_does_not_share_the_port_even_past_the_check() -> None:
    """The server's own bind refuses too (SO_REUSEPORT off), should another process take
    the port between the check and the bind."""

    async def bind_twice() -> tuple[int, int | str]:
        options = channel_options(ServerOptions())
        one = grpc.aio.server(options=options)
        port = one.add_insecure_port("127.0.0.1:0")
        await one.start()
        two = grpc.aio.server(options=options)
        try:
            second: int | str = two.add_insecure_port(f"127.0.0.1:{port}")
        except RuntimeError as error:
            second = str(error)
        await one.stop(None)
        return port, second

    port, second = asyncio.run(bind_twice())
    assert port > 0
    assert second == 0 or "Failed to bind" in str(second), second
