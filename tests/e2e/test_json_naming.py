"""One JSON naming on every surface (docs/api.md, "JSON naming"), on a real `jobop serve`
over SQLite and PostgreSQL: a start with typed parameters reads the same from
`jobctl --json`, from REST and from the audit trail's `arguments`: camelCase names, the
typed parameter shape `{"long": 6, "identifying": true}`, and the change counter under a
name of its own (`changeVersion`) beside Spring's `version` of the step rows."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from e2e_support import ServerProcess, run_jobctl
from rest_support import request, wait_terminal

CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _keys(document: object) -> set[str]:
    """Every key of a JSON document, parameter names excepted (they are the caller's)."""
    found: set[str] = set()
    if isinstance(document, dict):
        for key, value in document.items():
            found.add(key)
            if key != "parameters":
                found |= _keys(value)
            elif isinstance(value, dict):
                for typed in value.values():
                    found |= _keys(typed)
    elif isinstance(document, list):
        for item in document:
            found |= _keys(item)
    return found


def _jobctl_json(server: ServerProcess, *args: str) -> Any:
    completed = run_jobctl(server.address, "--json", *args)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_jobctl_rest_and_audit_write_a_typed_start_alike(jobop_server: ServerProcess) -> None:
    base = jobop_server.http_url
    run_id = time.time_ns()
    started = _jobctl_json(
        jobop_server,
        "start",
        "demoTaskletJob",
        "durationMs=5,long",
        f"run.id={run_id},long",
        "day=2024-03-15,date",
        "ratio=0.5,double,false",
        "dryRun=true,boolean",
        "region=eu\\,west",
        "--wait",
    )
    expected = {
        "durationMs": {"long": 5, "identifying": True},
        "run.id": {"long": run_id, "identifying": True},
        "day": {"date": "2024-03-15T00:00:00Z", "identifying": True},
        "ratio": {"double": 0.5, "identifying": False},
        "dryRun": {"boolean": True, "identifying": True},
        "region": {"string": "eu,west", "identifying": True},
    }
    assert started["parameters"] == expected
    execution_id = started["id"]

    rest = wait_terminal(base, execution_id)
    shown = _jobctl_json(jobop_server, "status", str(execution_id))
    assert {k: v for k, v in shown.items() if k != "summary"} == rest
    assert _jobctl_json(jobop_server, "steps", str(execution_id)) == rest["stepExecutions"]
    assert rest["parameters"] == expected
    # The parameters REST shows can be sent back as they are.
    again = request(base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": expected})
    assert again.status == 409, again  # the same identifying parameters: the same instance
    assert again.body["error"]["reason"] == "JOB_INSTANCE_ALREADY_EXISTS"

    # Two meanings of "version", two names: the change counter of the execution (what
    # WatchExecution's after_version and the SSE ids count) and Spring's VERSION of a row.
    (step,) = rest["stepExecutions"]
    assert rest["changeVersion"] == rest["version"] > 0
    assert "changeVersion" not in step and step["version"] >= 1
    events = request(base, "GET", "/api/audit?job=demoTaskletJob").body["events"]
    (audited,) = [e for e in events if e["action"] == "Start" and e["executionId"] == execution_id]
    arguments = json.loads(audited["arguments"])
    assert arguments == {"jobName": "demoTaskletJob", "parameters": expected}
    listed = _jobctl_json(jobop_server, "audit", "--job", "demoTaskletJob")
    (by_jobctl,) = [e for e in listed if e["id"] == audited["id"]]
    assert by_jobctl == {**audited, "arguments": arguments}

    instances = _jobctl_json(jobop_server, "list", "demoTaskletJob", "--instances")
    rest_instances = request(base, "GET", "/api/jobs/demoTaskletJob/instances").body
    assert instances == rest_instances["jobInstances"]
    # A bulk operation reads the same from jobctl and REST: its dry run, and one that ends
    # with a refusal (the execution had completed).
    dry_body = {"filter": {"job": ["demoTaskletJob"]}, "ids": [execution_id], "dryRun": True}
    dry = request(base, "POST", "/api/executions/stop", dry_body).body
    assert dry.get("ids") == [execution_id] and dry["dryRun"] is True, dry
    selected = ["demoTaskletJob", "--id", str(execution_id)]
    by_jobctl = _jobctl_json(jobop_server, "bulk", "stop", *selected, "--dry-run")
    assert {**by_jobctl, "created": None} == {**dry, "created": None}  # each dry run's time
    stopped = run_jobctl(jobop_server.address, "--json", "bulk", "stop", *selected, "--yes")
    assert stopped.returncode == 8, stopped.stderr  # it could not stop a finished one
    operation = json.loads(stopped.stdout)
    assert operation["errors"][0]["executionId"] == execution_id
    assert request(base, "GET", f"/api/operations/{operation['id']}").body == operation
    documents = (started, shown, rest, events, listed, arguments, instances, dry, operation)
    for document in documents:
        assert all(CAMEL.match(key) for key in _keys(document)), _keys(document)
