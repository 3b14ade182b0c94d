"""`jobop --version` and `jobctl --version`: the installed package's version, as
importlib.metadata reads it, and exit 0 without a server or a database."""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from cli_support import JOBCTL, JOBOP


@pytest.mark.parametrize("command", [JOBOP, JOBCTL], ids=["jobop", "jobctl"])
def test_version_prints_the_package_version(command: Path, tmp_path: Path) -> None:
    done = subprocess.run(
        [str(command), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,  # no jobop.db is made or read
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{command.name} {version('jobop')}\n"
    assert done.stderr == ""
    assert list(tmp_path.iterdir()) == []
