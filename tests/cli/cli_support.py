"""Running the installed console scripts for the command-line tests: `jobop serve` on a
free port (waited for until its gRPC health check says SERVING) and `jobctl` against it.

The fixtures live in conftest.py; this module has a name of its own so that test modules
can import it whatever other conftest modules the session loaded.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import psycopg
from commands import run_command
from grpc_health.v1 import health_pb2, health_pb2_grpc

BIN = Path(sys.executable).parent  # the venv's bin folder, where the console scripts live
JOBOP = BIN / "jobop"
JOBCTL = BIN / "jobctl"
START_TIMEOUT = 30.0
START_ATTEMPTS = 3
STOP_TIMEOUT = 60.0
JOBCTL_TIMEOUT = 120.0

# Poll a starting server every 50 ms, not after gRPC's default 1 s reconnect back-off.
_FAST_RECONNECT = [
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 100),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class JobopServer:
    """A running `jobop serve` subprocess and how to reach its database."""

    process: subprocess.Popen[bytes]
    target: str
    db_url: str
    log_path: Path
    sqlite_path: Path | None = None
    pg_conninfo: str | None = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Runs one read-only statement against the server's database."""
        if self.sqlite_path is not None:
            with sqlite3.connect(self.sqlite_path) as conn:
                return conn.execute(sql).fetchall()
        assert self.pg_conninfo is not None
        with psycopg.connect(self.pg_conninfo) as conn:
            return conn.execute(sql).fetchall()  # type: ignore[arg-type]

    def stop(self) -> int:
        """SIGTERM, then the exit code (kills it if it outlives STOP_TIMEOUT)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"jobop serve ignored SIGTERM for {STOP_TIMEOUT:g} s\n{self.log()}"
            ) from None


def _wait_serving(server: JobopServer, credentials: grpc.ChannelCredentials | None) -> None:
    """Polls the standard gRPC health check until it says SERVING (bounded)."""
    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer"
    channel = (
        grpc.insecure_channel(server.target, options=_FAST_RECONNECT)
        if credentials is None
        else grpc.secure_channel(server.target, credentials, options=_FAST_RECONNECT)
    )
    with channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                raise RuntimeError(
                    f"jobop serve exited with {server.process.returncode} while starting\n"
                    f"{server.log()}"
                )
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
            except grpc.RpcError as error:
                last_error = f"{error.code().name}: {error.details()}"
            else:
                if response.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                last_error = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            time.sleep(0.05)
    server.process.kill()
    server.process.wait()
    raise RuntimeError(
        f"jobop serve not SERVING within {START_TIMEOUT:g} s ({last_error})\n{server.log()}"
    )


def start_server(
    db_url: str,
    log_path: Path,
    *extra: str,
    sqlite_path: Path | None = None,
    pg_conninfo: str | None = None,
    credentials: grpc.ChannelCredentials | None = None,
) -> JobopServer:
    """Starts `jobop serve` on a free port and waits until it is SERVING."""
    env = dict(os.environ)
    for name in ("JOBOP_DB_URL", "JOBOP_GRPC_ADDRESS", "JOBOP_HTTP_ADDRESS", "JOBOP_JOBS"):
        env.pop(name, None)
    for attempt in range(1, START_ATTEMPTS + 1):
        target = f"127.0.0.1:{free_port()}"
        command = [
            str(JOBOP),
            "serve",
            "--db",
            db_url,
            "--grpc-address",
            target,
            # Never the default 8080: several servers may run at once.
            "--http-address",
            f"127.0.0.1:{free_port()}",
            *extra,
        ]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        server = JobopServer(process, target, db_url, log_path, sqlite_path, pg_conninfo)
        try:
            _wait_serving(server, credentials)
        except RuntimeError:
            # A port free when picked may be taken before the server binds it (parallel
            # test workers, clients' ephemeral ports): then try other ones.
            taken = "already in use" in server.log().lower()
            if attempt == START_ATTEMPTS or server.process.returncode == 0 or not taken:
                raise
            continue
        return server
    raise AssertionError("unreachable")


@dataclass
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    def __str__(self) -> str:
        return (
            f"jobctl {' '.join(self.args)} -> exit {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )


def run_jobctl(target: str, *args: str, timeout: float = JOBCTL_TIMEOUT) -> Result:
    """Runs `jobctl --target TARGET ARGS...` as a subprocess."""
    env = dict(os.environ)
    env.pop("JOBOP_TARGET", None)
    env.pop("JOBOP_TOKEN", None)
    completed = run_command([str(JOBCTL), "--target", target, *args], env=env, timeout=timeout)
    return Result(list(args), completed.returncode, completed.stdout, completed.stderr)


class Jobctl:
    """`jobctl` bound to one server."""

    def __init__(self, server: JobopServer) -> None:
        self.server = server

    def __call__(self, *args: str, timeout: float = JOBCTL_TIMEOUT) -> Result:
        return run_jobctl(self.server.target, *args, timeout=timeout)
