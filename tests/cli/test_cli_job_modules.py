"""`--jobs MODULE` as a new user meets it: a module in the current directory is found, and
one that cannot be used (not found, failing on import, holding no job, a file name given)
makes `jobop run` and `jobop serve` exit 2 with one line on stderr saying what was looked
up, where, and how to fix it. Real subprocesses of the installed console script."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cli_support import JOBOP, free_port
from commands import run_command

GOOD = """\
from jobop.batch import Job, RepeatStatus, TaskletStep

def hello(contribution, chunk_context):
    return RepeatStatus.FINISHED

job = Job("helloFromCwd", [TaskletStep("hello", hello)])
"""


def _jobop(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    env.pop("PYTHONPATH", None)
    return run_command([str(JOBOP), *args], cwd=folder, env=env)


def _command(kind: str, folder: Path, module: str) -> list[str]:
    db = f"sqlite:///{folder / 'jobop.db'}"
    if kind == "run":
        return ["run", "demoTaskletJob", "durationMs=1,long", "--db", db, "--jobs", module]
    return [
        "serve",
        "--db",
        db,
        "--grpc-address",
        f"127.0.0.1:{free_port()}",
        "--http-address",
        f"127.0.0.1:{free_port()}",
        "--jobs",
        module,
    ]


def test_a_module_in_the_current_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "my_hello.py").write_text(GOOD)
    db = f"sqlite:///{tmp_path / 'jobop.db'}"
    result = _jobop(tmp_path, "run", "helloFromCwd", "--db", db, "--jobs", "my_hello")
    assert result.returncode == 0, result.stderr
    assert "COMPLETED" in result.stdout


CASES = {
    "missing": (
        {},
        "no_such_jobs",
        [
            "--jobs no_such_jobs: no module named 'no_such_jobs' on the Python path (cwd: {cwd};",
            "sys.path: ",
            "put no_such_jobs.py in the directory you run jobop from, set PYTHONPATH",
            "install it as a package with a jobop.jobs entry point; see docs/jobs.md",
        ],
    ),
    "no jobs": (
        {"nojobs.py": "x = 1\n"},
        "nojobs",
        [
            "--jobs nojobs: module 'nojobs' ({cwd}/nojobs.py) imports but defines no Job",
            "list them in JOBS = [...]; see docs/jobs.md",
        ],
    ),
    "error inside": (
        {"broken.py": "import json\nraise RuntimeError('no config here')\n"},
        "broken",
        [
            "--jobs broken: importing it failed at {cwd}/broken.py:2: RuntimeError: no config here",
        ],
    ),
    "missing dependency": (
        {"needs.py": "import not_installed_anywhere\n"},
        "needs",
        [
            "--jobs needs: importing it failed at {cwd}/needs.py:1: "
            "ModuleNotFoundError: No module named 'not_installed_anywhere'",
        ],
    ),
    "syntax error": (
        {"syntax.py": "def job(:\n"},
        "syntax",
        ["--jobs syntax: importing it failed at {cwd}/syntax.py:1: SyntaxError:"],
    ),
    "file name": (
        {},
        "my_jobs.py",
        ["--jobs my_jobs.py: give a module's name, not a file: --jobs my_jobs"],
    ),
}


@pytest.mark.parametrize("kind", ["run", "serve"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_module_that_cannot_be_used_says_why_in_one_line(
    tmp_path: Path, kind: str, case: str
) -> None:
    files, module, expected = CASES[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = _jobop(tmp_path, *_command(kind, tmp_path, module))
    report = f"exit {result.returncode}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
    assert result.returncode == 2, report
    lines = result.stderr.splitlines()
    assert len(lines) == 1, report
    prefix = "jobop: error: " if kind == "run" else "jobop serve: error: "
    assert lines[0].startswith(prefix + f"--jobs {module}: "), report
    for text in expected:
        assert text.format(cwd=tmp_path) in lines[0], report
