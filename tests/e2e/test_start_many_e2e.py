"""Batched starts on a real `jobop serve` over SQLite and PostgreSQL, through every surface
that uses StartJobs: REST `POST /api/jobs/start`, the Python client (blocking and asyncio)
and `jobctl start-many` (a file and stdin). Each entry is answered on its own; the started
executions run to COMPLETED. One server per database for the whole file's checks."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from e2e_support import ServerProcess, run_jobctl
from jobop_client import errors
from jobop_client.client import AsyncJobOperatorClient, JobOperatorClient, JobStart
from jobop_client.proto import job_operator_pb2 as pb
from rest_support import error_of, request, wait_terminal

JOB = "demoTaskletJob"


def _run_id() -> str:
    return str(time.time_ns())


def _rest(server: ServerProcess) -> None:
    base = server.http_url
    tag = _run_id()
    body = {
        "starts": [
            {"jobName": JOB, "parameters": {"durationMs": 0, "tag": f"{tag}-a"}},
            {"jobName": "noSuchJob"},
            {
                "jobName": JOB,
                "parameters": {"durationMs": {"long": 0}, "tag": f"{tag}-b"},
                "requestId": f"rest-{tag}",
                "priority": 5,
            },
            {"jobName": "demoChunkJob", "parameters": {"items": 2, "nope": 1}},
            {"jobName": JOB, "parameters": {"durationMs": 0, "tag": f"{tag}-a"}},
        ]
    }
    reply = request(base, "POST", "/api/jobs/start", body)
    assert reply.status == 200, reply
    results = reply.body["results"]
    assert [next(iter(result)) for result in results] == [
        "execution",
        "error",
        "execution",
        "error",
        "error",
    ]
    first, third = results[0]["execution"], results[2]["execution"]
    assert first["jobName"] == JOB and first["status"] == "STARTING"
    assert third["priority"] == 5
    assert third["parameters"]["durationMs"] == {"long": 0, "identifying": True}
    errors_seen = [(r["error"]["code"], r["error"]["reason"]) for r in results if "error" in r]
    assert errors_seen == [
        ("NOT_FOUND", "NO_SUCH_JOB"),
        ("INVALID_ARGUMENT", "INVALID_JOB_PARAMETERS"),
        ("ALREADY_EXISTS", "JOB_INSTANCE_ALREADY_EXISTS"),
    ]
    assert results[4]["error"]["metadata"]["job_execution_id"] == str(first["id"])
    # The same as a Start of the entry alone answers.
    alone = request(base, "POST", "/api/jobs/noSuchJob/start", {})
    assert error_of(alone)[1:] == ("NOT_FOUND", "NO_SUCH_JOB", {})
    assert results[1]["error"]["message"] == alone.body["error"]["message"]
    for execution in (first, third):
        assert wait_terminal(base, execution["id"])["status"] == "COMPLETED"
    # Retried: the entry with a request id answers its first execution.
    again = request(base, "POST", "/api/jobs/start", {"starts": [body["starts"][2]]})
    assert again.body["results"][0]["execution"]["id"] == third["id"]

    # Malformed as a whole: 400 and nothing started.
    for bad, field in (
        ({}, "starts"),
        ({"starts": {}}, "starts"),
        ({"starts": [{"jobName": JOB, "extra": 1}]}, "starts[0]"),
        ({"starts": [{"jobName": JOB}, 7]}, "starts[1]"),
        ({"starts": [{"jobName": JOB, "priority": 5000}]}, "priority"),
        ({"starts": [{"jobName": JOB}] * 1001}, "starts"),
    ):
        reply = request(base, "POST", "/api/jobs/start", bad)
        status, code, reason, metadata = error_of(reply)
        assert (status, code, reason, metadata) == (
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            {"field": field},
        ), (bad, reply)
    assert request(base, "POST", "/api/jobs/start", {"starts": []}).body == {"results": []}
    # REST's JSON naming: camelCase, as every route (error metadata keys are the server's).
    assert all(CAMEL.match(key) for key in _keys(results)), _keys(results)


CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _keys(document: object) -> set[str]:
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            found.add(key)
            if key not in ("parameters", "metadata"):
                found |= _keys(value)
    elif isinstance(document, list):
        for item in document:
            found |= _keys(item)
    return found


def _client(server: ServerProcess) -> None:
    tag = _run_id()
    with JobOperatorClient(server.address) as client:
        outcomes = client.start_jobs(
            [
                JobStart(JOB, {"durationMs": 0, "tag": f"{tag}-1"}),
                JobStart("noSuchJob"),
                JobStart(JOB, {"durationMs": 0, "tag": f"{tag}-1"}),
                JobStart(JOB, {"durationMs": 0, "tag": f"{tag}-2"}, request_id=f"c-{tag}"),
            ]
        )
        assert isinstance(outcomes[0], pb.JobExecution)
        assert isinstance(outcomes[1], errors.NoSuchJobError)
        assert isinstance(outcomes[2], errors.JobInstanceAlreadyExistsError)
        assert outcomes[2].metadata["job_execution_id"] == str(outcomes[0].id)
        assert isinstance(outcomes[3], pb.JobExecution)

    async def from_asyncio() -> list[Any]:
        async with AsyncJobOperatorClient(server.address) as client:
            return await client.start_jobs(
                [
                    JobStart(JOB, {"durationMs": 0, "tag": f"{tag}-2"}, request_id=f"c-{tag}"),
                    JobStart(JOB, {"durationMs": 0, "tag": f"{tag}-3"}, priority=-3),
                ]
            )

    retried, third = asyncio.run(from_asyncio())
    assert retried.id == outcomes[3].id
    assert third.priority == -3
    for execution in (outcomes[0], outcomes[3], third):
        assert wait_terminal(server.http_url, execution.id)["status"] == "COMPLETED"


def _jobctl(server: ServerProcess, folder: Path) -> None:
    tag = _run_id()
    lines = [
        json.dumps({"job": JOB, "parameters": {"durationMs": 0, "tag": f"{tag}-{n}"}})
        for n in range(5)
    ]
    lines.insert(2, "")  # blank lines are skipped, and numbered
    lines.append(json.dumps({"job": "noSuchJob"}))
    path = folder / "starts.jsonl"
    path.write_text("\n".join(lines) + "\n")
    completed = run_jobctl(server.address, "start-many", str(path), "--batch", "2")
    assert completed.returncode == 5, completed  # one entry refused
    out = completed.stdout.splitlines()
    assert len(out) == 6
    assert all(
        line.startswith(f"line {n}: started {JOB} execution ")
        for n, line in zip((1, 2, 4, 5, 6), out, strict=False)
    )
    assert out[5].startswith("line 7: refused noSuchJob: NO_SUCH_JOB: ")
    ids = [int(line.rsplit(" ", 1)[-1]) for line in out[:5]]
    for execution_id in ids:
        assert wait_terminal(server.http_url, execution_id)["status"] == "COMPLETED"

    # From stdin, --json: one JSON line per entry; all started: exit 0.
    stdin = json.dumps({"job": JOB, "parameters": {"durationMs": 0, "tag": f"{tag}-s"}})
    environment = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    jobctl = str(Path(sys.executable).parent / "jobctl")
    completed = subprocess.run(
        [jobctl, "--target", server.address, "--json", "start-many", "-"],
        input=stdin + "\n" + stdin + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        check=False,
    )
    assert completed.returncode == 5, completed  # the second is the same instance
    first, second = (json.loads(line) for line in completed.stdout.splitlines())
    assert first["line"] == 1 and first["execution"]["jobName"] == JOB
    assert second["line"] == 2
    assert second["error"]["reason"] == "JOB_INSTANCE_ALREADY_EXISTS"
    assert second["error"]["metadata"]["job_execution_id"] == str(first["execution"]["id"])

    # A malformed line: exit 2, nothing started.
    bad = folder / "bad.jsonl"
    bad.write_text(lines[0] + "\n" + '{"job": "x", "parameters": []}\n')
    completed = run_jobctl(server.address, "start-many", str(bad))
    assert completed.returncode == 2, completed
    assert f"{bad}:2:" in completed.stderr and completed.stdout == ""


def test_rest_client_and_jobctl_start_many(jobop_server: ServerProcess, tmp_path: Path) -> None:
    _rest(jobop_server)
    _client(jobop_server)
    _jobctl(jobop_server, tmp_path)
