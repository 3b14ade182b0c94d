"""A throwaway PostgreSQL cluster for the test suite, started from the server binaries.

Tests never skip PostgreSQL: if the cluster cannot start, the session fails. Set
JOBOP_TEST_PG_URL (a superuser URL, e.g. postgresql+psycopg://postgres@host:5432/postgres)
to use a server you already run instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

START_ATTEMPTS = 5


@dataclass
class Cluster:
    host: str
    port: int
    user: str
    datadir: Path | None
    options: str = ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create a database (cloned from `template` if given) and return its URL."""
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            clause = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_cluster_owner(args: list[str]) -> list[str]:
    # initdb refuses to run as root; run the cluster as the postgres user then.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _bindir() -> Path:
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH: install PostgreSQL 15 "
        "or set JOBOP_TEST_PG_URL to a running server"
    )


def start_cluster() -> Cluster:
    external = os.environ.get("JOBOP_TEST_PG_URL")
    if external:
        from sqlalchemy.engine import make_url

        url = make_url(external)
        return Cluster(url.host or "127.0.0.1", url.port or 5432, url.username or "postgres", None)

    bindir = _bindir()
    datadir = Path(tempfile.mkdtemp(prefix="jobop-pg-"))
    if os.geteuid() == 0:
        shutil.chown(datadir, "postgres", "postgres")
    subprocess.run(
        _as_cluster_owner(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    # The port is free when picked, yet another process (a parallel test worker, a client's
    # ephemeral port) may take it before the postmaster binds it: then try another one.
    log_path = datadir / "server.log"
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port()
        seen = log_path.stat().st_size if log_path.exists() else 0
        # Tuned for a disposable test cluster: durability off, enough connections for the
        # concurrency tests (50 threads, several server subprocesses).
        options = (
            f"-p {port} -k {datadir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        started = subprocess.run(
            _as_cluster_owner(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(datadir / "data"),
                    "-o",
                    options,
                    "-l",
                    str(log_path),
                    "-w",
                    "start",
                ]
            ),
            capture_output=True,
        )
        if started.returncode == 0:
            break
        with log_path.open("rb") as log_file:
            log_file.seek(seen)
            log = log_file.read().decode(errors="replace")
        if attempt == START_ATTEMPTS or "could not bind" not in log:
            raise RuntimeError(f"pg_ctl start failed ({started.returncode}):\n{log}")
    cluster = Cluster("127.0.0.1", port, "postgres", datadir, options)
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(cluster.conninfo()).close()
            return cluster
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def control(cluster: Cluster, action: str, *args: str) -> None:
    """`pg_ctl ACTION` on the cluster (restart, stop, start), waiting for it to finish."""
    assert cluster.datadir is not None, "an external server cannot be controlled"
    subprocess.run(
        _as_cluster_owner(
            [
                str(_bindir() / "pg_ctl"),
                "-D",
                str(cluster.datadir / "data"),
                "-o",
                cluster.options,
                "-l",
                str(cluster.datadir / "server.log"),
                "-w",
                action,
                *args,
            ]
        ),
        check=True,
        capture_output=True,
    )


def stop_cluster(cluster: Cluster) -> None:
    if cluster.datadir is None:
        return
    subprocess.run(
        _as_cluster_owner(
            [
                str(_bindir() / "pg_ctl"),
                "-D",
                str(cluster.datadir / "data"),
                "-m",
                "immediate",
                "stop",
            ]
        ),
        capture_output=True,
    )
    shutil.rmtree(cluster.datadir, ignore_errors=True)
