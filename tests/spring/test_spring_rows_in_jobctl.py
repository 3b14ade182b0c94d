"""Executions, steps and contexts a Spring Batch application wrote (either format) show in
jobop's RPCs through `jobctl`, and jobop restarts Spring's FAILED instance over gRPC."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cli_support import run_jobctl, start_server
from jobop.domain import JobParameters
from jobop.repository import ContextFormat, create_engine, init_schema
from spring_oracle import Oracle, failed_demo_chunk_job, java_parameters
from sqlalchemy import text

# demoChunkJob's step, taking parameters it does not declare (demoChunkJob refuses them):
# the end-to-end tests' job module provides it.
OPEN_CHUNK_JOB = "e2eOpenChunkJob"
E2E_JOBS = Path(__file__).parents[1] / "e2e"


@pytest.mark.parametrize("fmt", list(ContextFormat))
def test_spring_rows_show_in_jobctl_and_restart_over_grpc(
    oracle: Oracle,
    blank_db_url: str,
    fmt: ContextFormat,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = create_engine(blank_db_url)
    init_schema(engine, context_format=fmt)
    # Every parameter type Spring stores, identifying: the restart must find the instance.
    parameters = {
        **java_parameters(
            JobParameters.of(items=30, ratio=1e20, at=datetime(2024, 3, 31, 1, tzinfo=UTC))
        ),
        "day": {"type": "java.time.LocalDate", "value": "2024-03-31", "identifying": True},
        "local": {
            "type": "java.time.LocalDateTime",
            "value": "2024-03-31T02:30:05.123",
            "identifying": True,
        },
        "count": {"type": "java.lang.Integer", "value": "7", "identifying": True},
    }
    (launched,) = oracle.dao(
        blank_db_url,
        5,
        fmt,
        failed_demo_chunk_job(parameters, read=20, job=OPEN_CHUNK_JOB),
    )
    execution_id = launched["execution"]
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(E2E_JOBS), os.environ.get("PYTHONPATH")]))
    )
    server = start_server(blank_db_url, tmp_path / "serve.log", "--jobs", "e2e_jobs")
    try:
        status = run_jobctl(server.target, "--json", "status", str(execution_id))
        assert status.returncode == 0, status
        shown = json.loads(status.stdout)
        assert shown["status"] == "FAILED" and shown["jobName"] == OPEN_CHUNK_JOB
        assert shown["parameters"]["items"] == {"long": 30, "identifying": True}
        steps = run_jobctl(server.target, "--json", "steps", str(execution_id))
        assert steps.returncode == 0, steps
        (step,) = json.loads(steps.stdout)
        assert step["stepName"] == "demoChunkStep" and step["readCount"] == 20
        listed = run_jobctl(server.target, "list", OPEN_CHUNK_JOB)
        assert listed.returncode == 0 and str(execution_id) in listed.stdout
        watched = run_jobctl(server.target, "watch", str(execution_id))
        assert "FAILED" in watched.stdout + watched.stderr
        restarted = run_jobctl(server.target, "restart", str(execution_id), "--wait")
        assert restarted.returncode == 0, restarted
        with engine.connect() as connection:
            items = [
                r[0] for r in connection.execute(text("SELECT ITEM FROM DEMO_ITEMS ORDER BY ITEM"))
            ]
            restart_id, instance_id = connection.execute(
                text(
                    "SELECT JOB_EXECUTION_ID, JOB_INSTANCE_ID FROM BATCH_JOB_EXECUTION "
                    "ORDER BY JOB_EXECUTION_ID DESC"
                )
            ).first()  # type: ignore[misc]
        assert items == list(range(21, 31))
        assert instance_id == launched["instance"]  # Spring's instance, by its key
        # The restart's parameters are stored as Spring stored them.
        first, second = oracle.dao(
            blank_db_url,
            5,
            fmt,
            {"do": "read", "execution": execution_id},
            {"do": "read", "execution": restart_id},
        )
        assert second["parameters"] == first["parameters"] and second["status"] == "COMPLETED"
    finally:
        assert server.stop() == 0, server.log()
        engine.dispose()
