"""End-to-end fixtures: a real `jobop serve` subprocess on a real socket, per database.

`jobop_server` starts `python -m jobop.app.cli serve` (the `jobop serve` command) on a free
port against the test's `db_url` (SQLite and PostgreSQL), with this folder's `e2e_jobs`
module loaded next to the bundled samples, and stops it with SIGTERM afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from e2e_support import ServerFactory, ServerProcess
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc

HERE = Path(__file__).parent
START_TIMEOUT = 30.0


def _start(
    db_url: str,
    log_path: Path,
    *extra: str,
    credentials: grpc.ChannelCredentials | None = None,
) -> ServerProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    for name in (
        "JOBOP_DB_URL",
        "JOBOP_GRPC_ADDRESS",
        "JOBOP_HTTP_ADDRESS",
        "JOBOP_JOBS",
        "JOBOP_ROLE",
    ):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "jobop.app.cli",
        "serve",
        "--db",
        db_url,
        "--grpc-address",
        "127.0.0.1:0",
        "--jobs",
        "e2e_jobs",
        # Never the default 8080: several servers may run at once.
        "--http-address",
        "127.0.0.1:0",
        *extra,
    ]
    log_file = log_path.open("w")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log_file, text=True, env=env, bufsize=1
    )
    log_file.close()
    assert process.stdout is not None
    first_lines: list[str] = []

    def read_first_lines() -> None:
        # "listening on HOST:PORT" (gRPC), then "http on HOST:PORT" unless HTTP is off.
        http_off = "--http-address" in extra and extra[extra.index("--http-address") + 1] == ""
        for _ in range(1 if http_off else 2):
            first_lines.append(process.stdout.readline() if process.stdout else "")

    reader = threading.Thread(target=read_first_lines, daemon=True)
    reader.start()
    reader.join(START_TIMEOUT)
    line = first_lines[0] if first_lines else ""
    http_line = first_lines[1] if len(first_lines) > 1 else ""
    if "listening on" not in line:
        process.kill()
        process.wait()
        raise RuntimeError(
            f"jobop serve did not start: {line!r}\n{log_path.read_text(errors='replace')}"
        )
    address = line.strip().rsplit(" ", 1)[-1]
    channel = (
        grpc.insecure_channel(address)
        if credentials is None
        else grpc.secure_channel(address, credentials)
    )
    grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT)
    http = http_line.strip().rsplit(" ", 1)[-1] if "http on" in http_line else ""
    return ServerProcess(
        process, address, db_url, log_path, channel, pb_grpc.JobOperatorServiceStub(channel), http
    )


@pytest.fixture
def start_server(db_url: str, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start `jobop serve` processes on the test's database; all are stopped at the end."""
    servers: list[ServerProcess] = []

    def start(
        *extra: str, db: str | None = None, credentials: grpc.ChannelCredentials | None = None
    ) -> ServerProcess:
        log_path = tmp_path / f"server-{len(servers)}.log"
        server = _start(db or db_url, log_path, *extra, credentials=credentials)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.terminate()


@pytest.fixture
def jobop_server(start_server: ServerFactory) -> ServerProcess:
    """One `jobop serve` with fast heartbeats (1 s) for the stream tests."""
    return start_server("--stream-heartbeat", "1", "--request-wait-timeout", "2")
