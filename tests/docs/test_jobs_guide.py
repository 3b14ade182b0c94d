"""docs/jobs.md runs as written: every fenced block is claimed by a `<!-- doc-test: ... -->`
marker just above it, and this module does what the marker says, in the page's order, in
one fresh directory, as a reader would:

- `file NAME`: the block is written to NAME (its first line is the comment `# NAME`);
- `shell ID`: the block runs in bash (`-e`) with the installed `jobop` and `python` first
  on PATH; what it must show is in SHELL_CHECKS[ID], so a new shell block needs checks;
- `package`: the packaging commands, run in a fresh virtual environment that sees this
  one's packages (jobop is installed there as `pip install jobop[server]` would; the
  build fetches setuptools through pip's configured index, as any wheel build does);
- `dockerfile`: there is no container engine here, so the block is checked with hadolint
  and against deploy/Dockerfile (the image's tag, venv path and user) instead of built.

Jobs load through `--jobs` (and the wheel's entry point) in real `jobop run` processes on
a SQLite file, and run to COMPLETED; the guide's unit test runs with pytest.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from commands import run_command

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "jobs.md"
BIN = Path(sys.executable).parent
TIMEOUT = 300.0

MARKER = re.compile(r"^<!-- doc-test: (file|shell|package|dockerfile)(?: (\S+))? -->$")
FENCE = re.compile(r"^```(\S*)$")


@dataclass(frozen=True)
class Block:
    action: str
    argument: str | None
    language: str
    text: str
    line: int


def blocks() -> list[Block]:
    """The guide's fenced blocks; AssertionError for one without a marker just above."""
    lines = GUIDE.read_text().splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        marker = MARKER.match(lines[index - 1]) if index else None
        assert marker, f"docs/jobs.md:{index + 1}: a code block with no doc-test marker above"
        end = lines.index("```", index + 1)
        text = "\n".join(lines[index + 1 : end]) + "\n"
        found.append(Block(marker[1], marker[2], opening[1], text, index + 1))
        index = end + 1
    return found


def _environment(path: list[Path]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_") and k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([*map(str, path), env.get("PATH", "")])
    return env


def _bash(block: Block, folder: Path, env: dict[str, str]) -> str:
    completed = run_command(["bash", "-e", "-c", block.text], cwd=folder, env=env)
    report = (
        f"docs/jobs.md:{block.line} exited {completed.returncode}\n{block.text}"
        f"--- stdout\n{completed.stdout}--- stderr\n{completed.stderr}"
    )
    assert completed.returncode == 0, report
    return completed.stdout


def _rows(folder: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(folder / "jobop.db") as connection:
        return connection.execute(sql).fetchall()


def _completed(stdout: str, folder: Path) -> None:
    assert "status=COMPLETED" in stdout, stdout


def _greet(stdout: str, folder: Path) -> None:
    _completed(stdout, folder)
    assert "Hello, World!" in stdout


def _squares(stdout: str, folder: Path) -> None:
    _completed(stdout, folder)
    assert _rows(folder, "SELECT COUNT(*), SUM(square) FROM squares") == [
        (25, sum(n * n for n in range(1, 26)))
    ]
    assert _rows(
        folder,
        "SELECT READ_COUNT, WRITE_COUNT, COMMIT_COUNT FROM BATCH_STEP_EXECUTION "
        "WHERE STEP_NAME = 'squares'",
    ) == [(25, 25, 3)]


def _countdown(stdout: str, folder: Path) -> None:
    _completed(stdout, folder)
    assert "3...\n2...\n1...\nLift-off!\n" in stdout


def _sum_fails(stdout: str, folder: Path) -> None:
    assert "status=FAILED" in stdout and "exit code 255" in stdout, stdout
    assert "adding up\ntotal: 3\n" in stdout


def _steps_of(folder: Path, job_name: str) -> list[tuple[object, ...]]:
    """(instance id, execution id, process skips) of each step execution of the job."""
    return _rows(
        folder,
        "SELECT i.JOB_INSTANCE_ID, e.JOB_EXECUTION_ID, s.PROCESS_SKIP_COUNT "
        "FROM BATCH_STEP_EXECUTION s "
        "JOIN BATCH_JOB_EXECUTION e ON e.JOB_EXECUTION_ID = s.JOB_EXECUTION_ID "
        "JOIN BATCH_JOB_INSTANCE i ON i.JOB_INSTANCE_ID = e.JOB_INSTANCE_ID "
        f"WHERE i.JOB_NAME = '{job_name}'",
    )


def _sum_restarts(stdout: str, folder: Path) -> None:
    _completed(stdout, folder)
    assert "total: 21" in stdout
    # The same instance, restarted: two executions of it.
    steps = _steps_of(folder, "sumJob")
    assert len({row[0] for row in steps}) == 1 and len({row[1] for row in steps}) == 2


def _sum_skips(stdout: str, folder: Path) -> None:
    _completed(stdout, folder)
    assert "total: 70" in stdout
    assert [row[2] for row in _steps_of(folder, "lenientSumJob")] == [1]


def _pytest(stdout: str, folder: Path) -> None:
    assert "1 passed" in stdout, stdout


SHELL_CHECKS: dict[str, Callable[[str, Path], None]] = {
    "greet": _greet,
    "squares": _squares,
    "countdown": _countdown,
    "sum-fails": _sum_fails,
    "sum-restarts": _sum_restarts,
    "sum-skips": _sum_skips,
    "pytest": _pytest,
}


def _write(block: Block, folder: Path) -> None:
    assert block.argument, f"docs/jobs.md:{block.line}: `file` needs a file name"
    first = block.text.splitlines()[0]
    assert first == f"# {block.argument}", (
        f"docs/jobs.md:{block.line}: the block written to {block.argument} should begin "
        f"with the comment `# {block.argument}`, not {first!r}"
    )
    (folder / block.argument).write_text(block.text)


def test_every_block_is_claimed_and_checked() -> None:
    found = blocks()
    assert len(found) == GUIDE.read_text().count("\n```") // 2, "a fence is not paired"
    shells = [b.argument for b in found if b.action == "shell"]
    assert len(shells) == len(set(shells)), "two shell blocks share an id"
    assert set(shells) == set(SHELL_CHECKS), "every shell block has its checks, and only those"
    assert [b.action for b in found].count("package") == 1
    assert [b.action for b in found].count("dockerfile") == 1


def test_the_guide_runs_as_written(tmp_path: Path) -> None:
    env = _environment([BIN])
    ran: list[str] = []
    for block in blocks():
        if block.action == "file":
            _write(block, tmp_path)
        elif block.action == "shell":
            assert block.argument is not None
            SHELL_CHECKS[block.argument](_bash(block, tmp_path, env), tmp_path)
            ran.append(block.argument)
    assert ran == list(SHELL_CHECKS)


def _venv_seeing_this_one(folder: Path) -> Path:
    """A fresh virtual environment whose Python also sees this one's packages (jobop
    included, as installed here), with a `jobop` command of its own."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=TIMEOUT)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    here = sysconfig.get_paths()["purelib"]
    (Path(site) / "zz_outer_venv.pth").write_text(f"import site; site.addsitedir({here!r})\n")
    jobop = venv / "bin" / "jobop"
    jobop.write_text(f"#!{python}\nimport sys\nfrom jobop.app.cli import main\nsys.exit(main())\n")
    jobop.chmod(0o755)
    return venv


@pytest.mark.slow
def test_the_packaged_jobs_are_found_by_their_entry_point(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for block in blocks():
        if block.action == "file":
            _write(block, project)
    [package] = [b for b in blocks() if b.action == "package"]
    venv = _venv_seeing_this_one(tmp_path)
    stdout = _bash(package, project, _environment([venv / "bin"]))
    assert "Hello, Wheel!" in stdout and "status=COMPLETED" in stdout, stdout
    # Installed in the new environment only, not in the one running the tests.
    assert not any((Path(sysconfig.get_paths()["purelib"])).glob("acme_jobs*"))


def test_the_image_example_fits_the_image(tmp_path: Path) -> None:
    [block] = [b for b in blocks() if b.action == "dockerfile"]
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    (tmp_path / "Dockerfile").write_text(block.text)
    completed = run_command([str(BIN / "hadolint"), str(tmp_path / "Dockerfile")])
    assert completed.returncode == 0, completed.stdout + completed.stderr
    version = re.search(r'^version = "(.+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version is not None
    assert f"FROM jobop:{version[1]}\n" in block.text  # the tag the guide builds it with
    assert f"-t jobop:{version[1]} ." in GUIDE.read_text().replace("\n", " ")
    # jobop's virtual environment and user, as deploy/Dockerfile makes them.
    assert "jobop-install venv /wheels /opt/jobop" in dockerfile
    assert "PATH=/opt/jobop/bin:$PATH" in dockerfile
    assert "RUN /opt/jobop/bin/python -m pip install" in block.text
    user = re.findall(r"^USER (\S+)$", dockerfile, re.M)[-1]
    assert block.text.rstrip().endswith(f"USER {user}")
    assert re.search(r"^COPY dist/(\S+\.whl) /tmp/$", block.text, re.M)
