"""docs/client.md runs as written against a real `jobop serve` (SQLite and PostgreSQL):
every Python block in a fresh interpreter, and the Node.js program, which is
tests/node/start_watch_stop.mjs word for word."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from cli_support import JobopServer
from test_cli_node import NODE_DIR, TIMEOUT, _ensure_node_modules, _tool

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "client.md"
NODE_PROGRAM = NODE_DIR / "start_watch_stop.mjs"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(), re.S | re.M)


def _environment(target: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    return {**kept, "JOBOP_TARGET": target}


def test_every_python_block_runs_as_written(jobop_server: JobopServer) -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 4, "docs/client.md lost its Python examples"
    outputs = []
    for block in blocks:
        completed = subprocess.run(
            [sys.executable, "-c", block],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            env=_environment(jobop_server.target),
            check=False,
        )
        assert completed.returncode == 0, f"{block}\n{completed.stdout}\n{completed.stderr}"
        outputs.append(completed.stdout)
    # The first block: start, wait, print the summary.
    assert re.match(
        r"demoChunkJob execution \d+ COMPLETED \(exit COMPLETED\) in \S+; "
        r"demoChunkStep COMPLETED: read 20, written 20\n$",
        outputs[0],
    ), outputs[0]
    stopped = [out for out, block in zip(outputs, blocks, strict=True) if "jobop.stop(" in block]
    assert len(stopped) == 1 and "demoTaskletJob execution" in stopped[0], outputs
    assert stopped[0].splitlines()[-1].split()[3] == "STOPPED", stopped[0]
    assert "NO_SUCH_JOB_EXECUTION NOT_FOUND" in "".join(outputs)


def test_the_node_block_is_the_tested_program() -> None:
    (block,) = _blocks("js")
    assert block == NODE_PROGRAM.read_text()


def test_the_node_program_starts_watches_and_stops(jobop_server: JobopServer) -> None:
    _ensure_node_modules()
    completed = subprocess.run(
        [_tool("node"), str(NODE_PROGRAM)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**_environment(jobop_server.target), "JOBOP_PROTOS": str(ROOT / "protos")},
        check=False,
    )
    report = f"node exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    assert completed.returncode == 0, report
    lines = completed.stdout.splitlines()
    assert re.fullmatch(r"started execution \d+: BATCH_STATUS_START(ING|ED)", lines[0]), report
    assert any(line.startswith("stop asked: BATCH_STATUS_STOPP") for line in lines), report
    assert re.fullmatch(r"execution \d+ ended BATCH_STATUS_STOPPED \(STOPPED\)", lines[-1]), report
