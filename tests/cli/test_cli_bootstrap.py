"""scripts/bootstrap's stamp: `./scripts/serve` installs the server alone, the test command
server and test extras, and each installs only what the last install lacks or what a
changed pyproject.toml may need. The scripts run for real on a copy of the repository's
scripts; only pip and the `jobop` console script are stand-ins that log their arguments (a
real install takes a minute and the test looks at which install was asked for)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECORDER = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of the scripts and pyproject.toml, with a .venv whose python and jobop log."""
    root = tmp_path / "jobop"
    shutil.copytree(REPO / "scripts", root / "scripts")
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    bin_ = root / ".venv" / "bin"
    bin_.mkdir(parents=True)
    for name in ("python", "jobop"):
        tool = bin_ / name
        tool.write_text(RECORDER.format(log=tmp_path / "calls.log"))
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return root


def run(repo: Path, *command: str) -> list[str]:
    """Runs a script of the copy; returns what it asked pip (and jobop) to do."""
    log = repo.parent / "calls.log"
    log.unlink(missing_ok=True)
    subprocess.run([str(repo / command[0]), *command[1:]], check=True, timeout=60)
    calls = log.read_text().splitlines() if log.exists() else []
    return [call for call in calls if "--upgrade pip" not in call]


def age(repo: Path, path: str, seconds: float) -> None:
    """Sets `path`'s modification time `seconds` into the past (no sleeping for -nt)."""
    when = os.stat(repo / path).st_mtime - seconds
    os.utime(repo / path, (when, when))


SERVER = "python -m pip install --quiet -e .[server]"
BOTH = "python -m pip install --quiet -e .[server,test]"


def test_serve_installs_the_server_only_and_test_adds_the_rest(repo: Path) -> None:
    assert run(repo, "scripts/serve", "--db", "sqlite:///x.db") == [
        SERVER,
        "jobop serve --db sqlite:///x.db",
    ]
    assert run(repo, "scripts/bootstrap", "server") == []  # installed: nothing to do
    # The test command's install is not skipped because the server's was made.
    assert run(repo, "scripts/bootstrap") == [BOTH]
    assert run(repo, "scripts/bootstrap") == []
    # ... and a serve after it finds the server installed.
    assert run(repo, "scripts/serve") == ["jobop serve"]


def test_a_changed_pyproject_installs_again(repo: Path) -> None:
    assert run(repo, "scripts/bootstrap") == [BOTH]
    age(repo, ".venv/.jobop-installed", 10)  # pyproject.toml is now newer
    assert run(repo, "scripts/serve") == [SERVER, "jobop serve"]
    # That install was for the server alone: the test extras are due again too.
    assert run(repo, "scripts/bootstrap") == [BOTH]
    assert run(repo, "scripts/bootstrap", "server") == []


def test_a_stamp_of_the_earlier_bootstrap_counts_as_both(repo: Path) -> None:
    # The bootstrap before extras were chosen left an empty stamp after `.[server,test]`.
    (repo / ".venv" / ".jobop-installed").touch()
    assert run(repo, "scripts/bootstrap") == []
    assert run(repo, "scripts/bootstrap", "server") == []
