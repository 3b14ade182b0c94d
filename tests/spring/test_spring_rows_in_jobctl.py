"""Executions, steps and contexts a Spring Batch application wrote (either format) show in
jobop's RPCs through `jobctl`, and jobop restarts Spring's FAILED instance over gRPC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_jobctl, start_server
from jobop.domain import JavaInteger, JobParameters
from jobop.repository import ContextFormat, create_engine, init_schema
from spring_oracle import Oracle, describe, java_parameters, jdbc_url
from sqlalchemy import text


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_spring_rows_show_in_jobctl_and_restart_over_grpc(
    oracle: Oracle, blank_db_url: str, fmt: ContextFormat, tmp_path: Path
) -> None:
    engine = create_engine(blank_db_url)
    init_schema(engine, context_format=fmt)
    launch = {
        "do": "launch",
        "job": "demoChunkJob",
        "parameters": java_parameters(JobParameters.of(items=30)),
        "status": "FAILED",
        "step": "demoChunkStep",
        "count": 20,
        "jobContext": describe({"batch.version": "5.2.6"}),
        "stepContext": describe({"numbers.read.count": JavaInteger(20)}),
    }
    (answer,) = oracle.ask(
        [
            {
                "op": "dao",
                "url": jdbc_url(blank_db_url),
                "spring": 5,
                "format": fmt.value,
                "actions": [launch],
            }
        ]
    )
    assert "error" not in answer, answer
    execution_id = answer["answers"][0]["execution"]
    server = start_server(blank_db_url, tmp_path / "serve.log")
    try:
        status = run_jobctl(server.target, "--json", "status", str(execution_id))
        assert status.returncode == 0, status
        shown = json.loads(status.stdout)
        assert shown["status"] == "FAILED" and shown["job_name"] == "demoChunkJob"
        assert shown["parameters"] == {"items": {"value": 30, "type": "long", "identifying": True}}
        steps = run_jobctl(server.target, "--json", "steps", str(execution_id))
        assert steps.returncode == 0, steps
        (step,) = json.loads(steps.stdout)
        assert step["step_name"] == "demoChunkStep" and step["read_count"] == 20
        listed = run_jobctl(server.target, "list", "demoChunkJob")
        assert listed.returncode == 0 and str(execution_id) in listed.stdout
        watched = run_jobctl(server.target, "watch", str(execution_id))
        assert "FAILED" in watched.stdout + watched.stderr
        restarted = run_jobctl(server.target, "restart", str(execution_id), "--wait")
        assert restarted.returncode == 0, restarted
        with engine.connect() as connection:
            items = [
                r[0] for r in connection.execute(text("SELECT ITEM FROM DEMO_ITEMS ORDER BY ITEM"))
            ]
        assert items == list(range(21, 31))
    finally:
        assert server.stop() == 0, server.log()
        engine.dispose()
