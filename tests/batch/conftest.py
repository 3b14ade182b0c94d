"""Fixtures of the batch engine tests: a launcher over the per-test repository (both
databases, through tests/conftest.py's `repository`) and a table for steps to write to."""

from __future__ import annotations

import pytest
from batch_engine_support import OutTable
from jobop.batch import JobLauncher, JobRunner
from jobop.repository import JobRepository


@pytest.fixture
def runner(repository: JobRepository) -> JobRunner:
    # A fast watcher poll keeps the tasklet stop tests short.
    return JobRunner(repository, poll_interval=0.05)


@pytest.fixture
def launcher(repository: JobRepository, runner: JobRunner) -> JobLauncher:
    return JobLauncher(repository, runner)


@pytest.fixture(autouse=True)
def out(request: pytest.FixtureRequest) -> OutTable | None:
    """The output table, in every test that has a repository (TableWriter needs it)."""
    if "repository" not in request.fixturenames:
        return None
    repository: JobRepository = request.getfixturevalue("repository")
    return OutTable(repository.engine)
