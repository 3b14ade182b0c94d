"""The dashboard in Debian's headless Chromium (tests/browser, playwright-core) against a
real `jobop serve`: a Start dialog built from a job's declared parameters (typed fields, a
refused bad value, a started job), a job only the repository knows not startable; start
demoChunkJob from the form, counts and context rise without a
reload, Recover refused while the owner lives, stop (confirmed), STOPPED, restart,
COMPLETED, abandon, recover an orphan; no console error, no Content-Security-Policy
violation. The security headers and the favicon are also checked with plain HTTP. A missing
chromium, node or npm is a failure, not a skip (scripts/install-test-deps installs chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from commands import one_at_a_time
from e2e_support import ServerFactory, ServerProcess
from jobop.domain import JobParameter, JobParameters
from jobop.repository import JobRepository, create_engine
from jobop.repository.nodes import NodeInfo, NodeRepository
from rest_support import request

BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
SCRIPT = BROWSER_DIR / "dashboard.mjs"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 240.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH: the dashboard test cannot run"
    return path


def _ensure_node_modules() -> None:
    with one_at_a_time(BROWSER_DIR):
        if (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
            return
        completed = subprocess.run(
            [_tool("npm"), "install", "--no-audit", "--no-fund"],
            cwd=BROWSER_DIR,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    assert completed.returncode == 0, f"npm install failed:\n{completed.stderr}"


def _drive(script: Path, server: ServerProcess, **env: str) -> dict[str, Any]:
    """Run a browser script against `server`; what it saw (its last line, JSON)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run scripts/install-test-deps"
    _ensure_node_modules()
    completed = subprocess.run(
        [_tool("node"), str(script)],
        cwd=BROWSER_DIR,
        env=dict(os.environ, JOBOP_URL=server.http_url, CHROMIUM=CHROMIUM, **env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert completed.returncode == 0, f"{completed.stdout}\n{completed.stderr}\n{server.log()}"
    seen: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_starts_stops_and_restarts_a_job_live(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server()
    expected = _other_nodes(server)
    orphan = _orphan(server)
    foreign = _repository_only_job(server)
    # JOBOP_SCREENSHOT_DIR keeps the screenshots somewhere to look at after the run.
    shots = Path(os.environ.get("JOBOP_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    seen = _drive(
        SCRIPT,
        server,
        SCREENSHOT_DIR=str(shots),
        SERVER_NODE=next(node for node, state in expected.items() if state == "live-server"),
        NODES=json.dumps({node: state.removesuffix("-server") for node, state in expected.items()}),
        ORPHAN=str(orphan),
        FOREIGN_JOB=foreign,
    )
    first, second = seen["started"], seen["restarted"]
    base = server.http_url
    assert request(base, "GET", f"/api/executions/{first}").body["status"] == "STOPPED"
    final = request(base, "GET", f"/api/executions/{second}").body
    assert final["status"] == "COMPLETED"
    assert final["stepExecutions"][0]["readCount"] + seen["stoppedAt"] == 600
    nodes_started = request(base, "GET", f"/api/executions/{seen['nodesStarted']}").body
    assert nodes_started["status"] == "ABANDONED"
    assert request(base, "GET", f"/api/executions/{orphan}").body["status"] == "FAILED"
    assert len(seen["contextRising"]) >= 3
    # The Start dialog built from e2eCatalogueJob's declarations refused 12.5 for a long
    # and started it with typed values.
    assert 'items: "12.5" is not a long' in seen["refused"]
    typed = request(base, "GET", f"/api/executions/{seen['typedStarted']}").body
    assert typed["status"] == "COMPLETED" and typed["jobName"] == "e2eCatalogueJob"
    assert typed["parameters"]["items"] == {"long": 3, "identifying": True}
    assert "not registered on this server" in seen["foreignTitle"]
    assert 'extra: "abc" is not a long' in seen["refusedFree"]
    opened = request(base, "GET", f"/api/executions/{seen['openStarted']}").body
    assert opened["parameters"] == {"extra": {"long": 7, "identifying": True}}
    assert "lease is live" in seen["recoverTitle"]
    shown = ("dashboard-running.png", "dashboard-completed.png", "dashboard-job.png")
    for name in (*shown, "dashboard-confirm.png"):
        assert (shots / name).stat().st_size > 10_000, name
    assert (shots / "dashboard-nodes.png").stat().st_size > 5_000


def _orphan(server: ServerProcess) -> int:
    """An execution whose owner never ran it (as if its server died before it started)."""
    repository = JobRepository(create_engine(server.db_url))
    try:
        parameters = JobParameters({"durationMs": JobParameter(5, "LONG")})
        return repository.create_job_execution("demoTaskletJob", parameters).id
    finally:
        repository.engine.dispose()


def _repository_only_job(server: ServerProcess) -> str:
    """A job no jobop server registers, known from a finished execution in the repository
    (as a Spring Batch application leaves it); its name."""
    repository = JobRepository(create_engine(server.db_url))
    try:
        execution = repository.create_job_execution("springOnlyJob", JobParameters())
        repository.fail_running(execution.id, "ran elsewhere")
        return execution.job_name
    finally:
        repository.engine.dispose()


def _other_nodes(server: ServerProcess) -> dict[str, str]:
    """Register a live worker (a long lease), one that left and one the server recovered
    (lost), beside the server's own node; the expected state of each by node id."""
    [own] = request(server.http_url, "GET", "/api/nodes").body["nodes"]
    engine = create_engine(server.db_url)
    try:
        nodes = NodeRepository(engine)
        for node_id, lease in (("c0ffee000001", 3600), ("c0ffee000002", 30), ("c0ffee000003", 30)):
            nodes.register(NodeInfo(node_id, "worker-b", 4242, None, "worker", "test", lease))
        nodes.deregister("c0ffee000002")
        assert nodes.recover_node("c0ffee000003", own["nodeId"], force=True) is not None
    finally:
        engine.dispose()
    return {
        own["nodeId"]: "live-server",
        "c0ffee000001": "live",
        "c0ffee000002": "left",
        "c0ffee000003": "lost",
    }


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_asks_for_a_token_and_streams_with_it(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    from test_auth import TOKENS, tokens_file

    server = start_server("--tokens-file", str(tokens_file(tmp_path)))
    seen = _drive(BROWSER_DIR / "token.mjs", server, JOBOP_TOKEN=TOKENS["operator"])
    assert "no credentials" in seen["hint"]
    assert seen["kept"] is True and seen["askedAfterReload"] == 0
    headers = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    reply = request(server.http_url, "GET", f"/api/executions/{seen['started']}", headers=headers)
    assert reply.body["status"] == "COMPLETED"
    assert TOKENS["operator"] not in server.log()


# The dashboard's page: its own files and API only, never framed (issue 19, point 2).
DASHBOARD_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _get(base: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and the first bytes of GET `path` (an event stream never ends)."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status, dict(response.headers), response.read1(65536)
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _policy(header: str) -> dict[str, str]:
    directives = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_answers_with_security_headers_and_a_favicon(
    start_server: ServerFactory,
) -> None:
    server = start_server()
    base = server.http_url
    status, headers, page = _get(base, "/")
    assert status == 200
    assert _policy(headers["Content-Security-Policy"]) == DASHBOARD_CSP
    # Nothing inline for the policy to forbid: every script, style and icon is a file.
    assert not re.search(rb"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", page)
    [icon] = re.findall(rb'<link rel="icon" href="([^"]+)"', page)
    paths = ["/", "/static/app.js", "/static/app.css", icon.decode(), "/favicon.ico"]
    paths += ["/api/jobs", "/openapi.json", "/metrics", "/api/events", "/static/nothing", "/x"]
    for path in paths:
        status, headers, _ = _get(base, path)
        assert status == (404 if path in ("/static/nothing", "/x") else 200), path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "same-origin", path
        if path != "/":
            # Not a page: nothing in it may run, load or be framed, whatever opens it.
            policy = _policy(headers["Content-Security-Policy"])
            assert policy["default-src"] == "'none'", path
            assert policy["frame-ancestors"] == "'none'", path
    for path in (icon.decode(), "/favicon.ico"):
        status, headers, body = _get(base, path)
        assert headers["Content-Type"] == "image/svg+xml", path
        assert body.startswith(b"<svg"), path
