"""The Java oracle, compiled once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from spring_oracle import Oracle

# repository_lifecycle drives executions as the runners do, cli_support runs jobop serve
# and jobctl: they live with the repository and command-line tests.
sys.path.insert(0, str(Path(__file__).parents[1] / "repository"))
sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    return Oracle(tmp_path_factory.mktemp("spring-oracle"))
