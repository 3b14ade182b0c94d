"""Fixtures for the command-line tests: a real `jobop serve` process and a real `jobctl`.

`jobop_server` starts the installed `jobop serve` console script on a free port against a
fresh, empty database (a SQLite file in tmp_path, or a new database on the session's
PostgreSQL cluster), waits until its gRPC health check answers SERVING, and at teardown
sends SIGTERM and asserts that the server exits 0; `shared_server` does the same once per
module. `jobctl` / `shared_jobctl` run the installed `jobctl` as a subprocess against them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Jobctl, JobopServer, start_server
from pgcluster import Cluster

DATABASES = ["sqlite", "postgresql"]

_names = itertools.count(1)


@contextlib.contextmanager
def _server_on(
    kind: str, folder: Path, request: pytest.FixtureRequest, *extra: str
) -> Iterator[JobopServer]:
    """A `jobop serve` on a fresh empty database (it creates the schema itself); SIGTERM
    at the end must make it exit 0."""
    log_path = folder / "jobop-serve.log"
    if kind == "sqlite":
        path = folder / "jobop.db"
        server = start_server(f"sqlite:///{path}", log_path, *extra, sqlite_path=path)
        cluster: Cluster | None = None
        name = ""
    else:
        cluster = request.getfixturevalue("pg_cluster")
        name = f"jobop_cli_{os.getpid()}_{next(_names)}"
        url = cluster.create_database(name)
        server = start_server(url, log_path, *extra, pg_conninfo=cluster.conninfo(name))
    try:
        yield server
    finally:
        code = server.stop()
        if cluster is not None:
            cluster.drop_database(name)
    assert code == 0, f"jobop serve exited {code} on SIGTERM\n{server.log()}"


@pytest.fixture(params=DATABASES)
def jobop_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobopServer]:
    """A server of its own for one test, on each database."""
    with _server_on(request.param, tmp_path, request) as server:
        yield server


@pytest.fixture(scope="module", params=DATABASES)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[JobopServer]:
    """One server per module and database, for tests that change nothing they depend on."""
    with _server_on(request.param, tmp_path_factory.mktemp("shared-server"), request) as server:
        yield server


@pytest.fixture
def jobctl(jobop_server: JobopServer) -> Jobctl:
    """jobctl against a server of this test's own."""
    return Jobctl(jobop_server)


@pytest.fixture
def shared_jobctl(shared_server: JobopServer) -> Jobctl:
    """jobctl against the module's shared server."""
    return Jobctl(shared_server)


@pytest.fixture(params=DATABASES)
def e2e_jobs_server(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[JobopServer]:
    """A server of its own that loads tests/e2e's `e2e_jobs` too (jobs that declare
    parameters), on each database."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1] / "e2e"))
    with _server_on(request.param, tmp_path, request, "--jobs", "e2e_jobs") as server:
        yield server
