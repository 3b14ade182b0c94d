"""The Node.js client (tests/node, only the .proto and @grpc/grpc-js) against a real
`jobop serve`, on SQLite and on PostgreSQL.

Without JOBOP_TARGET the node tests that need a server skip themselves; here a skip is a
failure, as is a missing node or npm.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import grpc
from certificates import CertificateAuthority
from cli_support import JobopServer, start_server
from commands import one_at_a_time

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
NODE_TEST = NODE_DIR / "watch_chunk_job.test.mjs"
TIMEOUT = 300.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: the Node.js client tests cannot run"
    return path


def _ensure_node_modules() -> None:
    with one_at_a_time(NODE_DIR):
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


def _run_node(target: str, **env: str) -> None:
    source = NODE_TEST.read_text()
    server_tests = source.count("skip: noServer")
    all_tests = len(re.findall(r"^test\(", source, re.M))
    assert server_tests >= 1 and all_tests > server_tests, "the node test file changed shape"
    _ensure_node_modules()

    environment = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    completed = subprocess.run(
        [_tool("node"), "--test", "--test-reporter=tap", str(NODE_TEST)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env={**environment, "JOBOP_TARGET": target, **env},
        check=False,
    )
    report = f"node exited {completed.returncode}\n{completed.stdout}\n{completed.stderr}"
    counts = _counts(completed.stdout)
    assert completed.returncode == 0, report
    assert counts.get("pass", 0) >= server_tests, report
    assert counts.get("pass") == counts.get("tests") == all_tests, report
    for name in ("fail", "skipped", "cancelled", "todo"):
        assert counts.get(name) == 0, f"# {name} {counts.get(name)}\n{report}"


def test_node_client_against_the_real_server(jobop_server: JobopServer) -> None:
    _run_node(jobop_server.target)


def test_node_client_over_tls_with_a_token(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path, "node")
    issued = ca.issue("jobop-server", server=True)
    token = "node-test-token-" + "7" * 24
    tokens = tmp_path / "tokens.toml"
    digest = hashlib.sha256(token.encode()).hexdigest()
    tokens.write_text(f'[[tokens]]\nsha256 = "{digest}"\nprincipal = "node"\nrole = "operator"\n')
    path = tmp_path / "jobop.db"
    server = start_server(
        f"sqlite:///{path}",
        tmp_path / "jobop-serve.log",
        "--tls-cert",
        str(issued.cert),
        "--tls-key",
        str(issued.key),
        "--tokens-file",
        str(tokens),
        sqlite_path=path,
        credentials=grpc.ssl_channel_credentials(ca.cert_path.read_bytes()),
    )
    try:
        _run_node(server.target, JOBOP_CA=str(ca.cert_path), JOBOP_TOKEN=token)
        assert "AUDIT-OK Start by node (operator)" in server.log()
    finally:
        assert server.stop() == 0
