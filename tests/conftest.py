"""Session-wide fixtures: one real PostgreSQL cluster for the whole test run, and databases
with the repository schema for every test, on SQLite and on PostgreSQL.

A parallel run (`pytest -n 4`, as ./scripts/test does) is a session per pytest-xdist
worker: each worker starts a cluster of its own (on a free port, in a fresh temporary
folder), its own template, and tmp_path folders of its own; nothing is shared but the
checkout.

The schema is built once per session in a template (a database on PostgreSQL, a file on
SQLite) and cloned for each test (`CREATE DATABASE ... TEMPLATE`, made ahead on a background
thread; a file copy).
"""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import threading
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from jobop.repository import JobRepository, create_engine, init_schema
from pgcluster import Cluster, start_cluster, stop_cluster

DATABASES = ["sqlite", "postgresql"]

_database_names = itertools.count(1)


def _utf8(text: str) -> str:
    """`text` with lone surrogates written as \\udcXX: encodable as UTF-8."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In a pytest-xdist worker, a report goes to the controller as UTF-8: the lone
    surrogates some tests log or fail on (file names of undecodable bytes) would crash
    the worker. They are escaped there, as the serial run's terminal shows them anyway."""
    report = yield
    if os.environ.get("PYTEST_XDIST_WORKER"):
        report.sections = [(title, _utf8(text)) for title, text in report.sections]
        if report.longrepr is not None:
            text = str(report.longrepr)
            if _utf8(text) != text:
                report.longrepr = _utf8(text)
    return report


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    # No skip: a run without PostgreSQL is a failed run.
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def _unique_name(prefix: str) -> str:
    # Unique per process too, for runs against a shared JOBOP_TEST_PG_URL server.
    return f"{prefix}_{os.getpid()}_{next(_database_names)}"


class PgClones:
    """Clones of the template database, made ahead on a background thread.

    CREATE DATABASE ... TEMPLATE copies the whole database, system catalogs included (a
    few hundred milliseconds here); made while the previous test runs, it mostly costs
    nothing.
    """

    def __init__(self, cluster: Cluster, template: str, ahead: int = 2) -> None:
        self.cluster = cluster
        self.template = template
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._fill, name="pg-clones", daemon=True)
        self._thread.start()

    def _fill(self) -> None:
        while not self._stop.is_set():
            try:
                name = _unique_name("jobop_test")
                self.cluster.create_database(name, template=self.template)
                item: str | BaseException = name
            except BaseException as error:  # handed to the test that takes it
                item = error
            while not self._stop.is_set():
                try:
                    self._ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if isinstance(item, BaseException):
                return

    def take(self) -> str:
        """The name of a fresh clone; the caller drops it."""
        item = self._ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise RuntimeError("cloning the template database failed") from item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)
        while not self._ready.empty():
            item = self._ready.get_nowait()
            if isinstance(item, str):
                self.cluster.drop_database(item)


@pytest.fixture(scope="session")
def pg_template(pg_cluster: Cluster) -> Iterator[str]:
    """Name of a PostgreSQL database holding the repository schema, to clone per test."""
    name = _unique_name("jobop_template")
    engine = create_engine(pg_cluster.create_database(name))
    try:
        init_schema(engine)
    finally:
        # CREATE DATABASE ... TEMPLATE refuses a template that has connections.
        engine.dispose()
    yield name
    pg_cluster.drop_database(name)


@pytest.fixture(scope="session")
def pg_clones(pg_cluster: Cluster, pg_template: str) -> Iterator[PgClones]:
    clones = PgClones(pg_cluster, pg_template)
    yield clones
    clones.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the repository schema, to copy per test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "jobop.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        init_schema(engine)
    finally:
        # Closing the last connection checkpoints the WAL into the main file.
        engine.dispose()
    return path


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database with the repository schema, once per database kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "jobop.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    clones: PgClones = request.getfixturevalue("pg_clones")
    name = clones.take()
    yield clones.cluster.url(name)
    clones.cluster.drop_database(name)


@pytest.fixture(params=DATABASES)
def blank_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database (no schema), once per database kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = _unique_name("jobop_blank")
    yield cluster.create_database(name)
    cluster.drop_database(name)


@pytest.fixture
def repository(db_url: str) -> Iterator[JobRepository]:
    """A JobRepository on a fresh database of each kind."""
    repo = JobRepository(create_engine(db_url))
    try:
        yield repo
    finally:
        repo.engine.dispose()
