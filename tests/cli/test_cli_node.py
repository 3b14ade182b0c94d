"""The Node.js client (tests/node, only the .proto and @grpc/grpc-js) against a real
`jobop serve`, on SQLite and on PostgreSQL.

Without JOBOP_TARGET the node tests that need a server skip themselves; here a skip is a
failure, as is a missing node or npm.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from cli_support import JobopServer

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
NODE_TEST = NODE_DIR / "watch_chunk_job.test.mjs"
TIMEOUT = 300.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: the Node.js client tests cannot run"
    return path


def _ensure_node_modules() -> None:
    if (NODE_DIR / "node_modules" / "@grpc" / "grpc-js").is_dir():
        return
    command = [_tool("npm"), "ci" if (NODE_DIR / "package-lock.json").exists() else "install"]
    completed = subprocess.run(
        [*command, "--no-audit", "--no-fund"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, f"{' '.join(command)} failed:\n{completed.stderr}"


def _counts(tap: str) -> dict[str, int]:
    """The summary of node's TAP reporter: `# tests 3`, `# pass 3`, `# skipped 0`, ..."""
    return {name: int(value) for name, value in re.findall(r"^# (\w+) (\d+)$", tap, re.M)}


def test_node_client_against_the_real_server(jobop_server: JobopServer) -> None:
    source = NODE_TEST.read_text()
    server_tests = source.count("skip: noServer")
    all_tests = len(re.findall(r"^test\(", source, re.M))
    assert server_tests >= 1 and all_tests > server_tests, "the node test file changed shape"
    _ensure_node_modules()

    env = dict(os.environ, JOBOP_TARGET=jobop_server.target)
    completed = subprocess.run(
        [_tool("node"), "--test", "--test-reporter=tap", str(NODE_TEST)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )
    report = f"node exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    counts = _counts(completed.stdout)
    assert completed.returncode == 0, report
    assert counts.get("pass", 0) >= server_tests, report
    assert counts.get("pass") == counts.get("tests") == all_tests, report
    for name in ("fail", "skipped", "cancelled", "todo"):
        assert counts.get(name) == 0, f"# {name} {counts.get(name)}\n{report}"
