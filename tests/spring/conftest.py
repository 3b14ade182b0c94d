"""The Java oracle, compiled once per test session."""

from __future__ import annotations

import pytest
from spring_oracle import Oracle


@pytest.fixture(scope="session")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Oracle:
    return Oracle(tmp_path_factory.mktemp("spring-oracle"))
