"""schemathesis against a real `jobop serve`'s /openapi.json: no 5xx, nothing off-schema.

Bounded (examples per operation, fixed seed) to stay within seconds in CI. The two SSE
operations are left out: their responses never end while an execution runs, and
test_rest.py covers them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import ServerFactory

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    server = start_server("--max-concurrent-executions", "2", "--stop-grace", "1")
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{server.http_url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--exclude-operation-id",
        "watchExecution",
        "--exclude-operation-id",
        "watchExecutions",
        "--max-examples",
        "25",
        "--seed",
        "1",
        "--generation-database",
        "none",
        "--request-timeout",
        "10",
        "--workers",
        "1",
        "--no-color",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=tmp_path, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert " passed" in output and " failed" not in output, output
    assert "internal error" not in server.log(), server.log()
