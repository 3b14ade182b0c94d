"""A real JVM doing what Spring Batch 5.2 does: tests/spring/java/SpringOracle.java,
compiled once per test session against Debian's Jackson and JDBC jars, answering a whole
batch of cases per JVM start."""

from __future__ import annotations

import importlib.util
import json
import math
import select
import shutil
import struct
import subprocess
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from jobop.domain import JavaFloat, JavaInteger

SOURCE = Path(__file__).parent / "java" / "SpringOracle.java"
JARS = Path("/usr/share/java")
# Debian's libjackson2-databind-java, libpostgresql-jdbc-java, libxerial-sqlite-jdbc-java
# (scripts/install-test-deps installs them).
CLASSPATH_JARS = (
    "jackson-databind.jar",
    "jackson-core.jar",
    "jackson-annotations.jar",
    "postgresql.jar",
    "xerial-sqlite-jdbc.jar",
)
REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_fetcher() -> ModuleType:
    """scripts/fetch-spring-batch.py as a module: where the scripts are looked for, and
    their pinned SHA-256, are written there once."""
    path = REPO_ROOT / "scripts" / "fetch-spring-batch.py"
    spec = importlib.util.spec_from_file_location("fetch_spring_batch", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fetcher = _load_fetcher()


def spring_scripts(version: str) -> Path:
    """Spring Batch's own DDL scripts (never copied into the repository): in
    $JOBOP_SPRING_BATCH_DIR, else where scripts/fetch-spring-batch.py put them."""
    try:
        path: Path = fetcher.find_scripts(version)
    except fetcher.ScriptsMissing as error:
        raise RuntimeError(str(error)) from None
    return path


class Oracle:
    def __init__(self, classes: Path) -> None:
        missing = [jar for jar in CLASSPATH_JARS if not (JARS / jar).exists()]
        if missing or shutil.which("javac") is None:
            raise RuntimeError(
                f"the Java oracle needs javac and {', '.join(missing) or 'its jars'} in "
                f"{JARS}: run scripts/install-test-deps (as root)"
            )
        self.classpath = ":".join([str(classes), *(str(JARS / jar) for jar in CLASSPATH_JARS)])
        subprocess.run(
            ["javac", "-d", str(classes), "-cp", self.classpath, str(SOURCE)],
            check=True,
            capture_output=True,
            text=True,
        )

    def ask(self, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done = subprocess.run(
            ["java", "-Xshare:auto", "-cp", self.classpath, "SpringOracle"],
            input=json.dumps(requests),
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the Java oracle failed:\n{done.stderr}")
        results: list[dict[str, Any]] = json.loads(done.stdout)
        assert len(results) == len(requests)
        return results

    def dao(
        self, url: str, spring: int, fmt: str, *actions: dict[str, Any], zone: str = "UTC"
    ) -> list[dict[str, Any]]:
        """Run Spring's DAO statements (SpringOracle.Dao) on the database of `url`, as a
        Spring `spring` application with context format `fmt` and its JVM in `zone`."""
        (answer,) = self.ask([dao_request(url, spring, fmt, actions, zone)])
        assert "error" not in answer, answer["error"]
        return list(answer["answers"])

    def run_until_stopped(
        self,
        url: str,
        job: str,
        parameters: Any,
        *,
        step: str = "javaStep",
        spring: int = 5,
        fmt: str = "jackson",
    ) -> SpringApplication:
        """A Spring `spring` application (context format `fmt`), in a JVM of its own,
        running `job` whose step
        commits a chunk every 50 ms and checks its job's status as Spring does, until a
        stop request (STOPPING) ends it STOPPED (SpringOracle.Dao.runUntilStopped)."""
        action = {
            "do": "run-until-stopped",
            "job": job,
            "parameters": parameters
            if isinstance(parameters, dict)
            else java_parameters(parameters),
            "step": step,
            "jobContext": describe({"batch.version": "5.2.6"}),
            "chunkMs": 50,
            "timeoutMs": 180_000,
        }
        process = subprocess.Popen(
            ["java", "-Xshare:auto", "-cp", self.classpath, "SpringOracle"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None
        process.stdin.write(json.dumps([dao_request(url, spring, fmt, [action])]))
        process.stdin.close()
        return SpringApplication(process)


class SpringApplication:
    """A JVM running SpringOracle's `run-until-stopped` action in the background."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.stderr: list[str] = []

    def wait_running(self, timeout: float = 120.0) -> int:
        """The id of the execution once its step runs (the JVM says so on stderr)."""
        assert self.process.stderr is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stderr], [], [], 1.0)
            if not ready:
                continue
            line = self.process.stderr.readline()
            if not line:
                break  # the JVM ended
            self.stderr.append(line)
            if line.startswith("running "):
                return int(line.split()[1])
        self.kill()
        raise AssertionError(f"the Spring application did not run:\n{''.join(self.stderr)}")

    def answer(self, timeout: float = 120.0) -> dict[str, Any]:
        """Its answer once it ended (its job STOPPED)."""
        assert self.process.stdout is not None and self.process.stderr is not None
        out = self.process.stdout.read()  # the JVM writes little on stderr: no deadlock
        err = self.process.stderr.read()
        self.process.wait(timeout)
        results = json.loads(out) if out else []
        assert results and "error" not in results[0], f"{results}\n{''.join(self.stderr)}{err}"
        answer: dict[str, Any] = results[0]["answers"][0]
        return answer

    def kill(self) -> None:
        """SIGKILL: the application dies mid-step, its rows left STARTED."""
        self.process.kill()
        self.process.wait()


def dao_request(url: str, spring: int, fmt: str, actions: Any, zone: str = "UTC") -> dict[str, Any]:
    return {
        "op": "dao",
        "url": jdbc_url(url),
        "spring": spring,
        "format": fmt,
        "zone": zone,
        "actions": list(actions),
    }


def launch(
    job: str,
    parameters: Any,
    status: str = "COMPLETED",
    *,
    step: str = "javaStep",
    job_context: dict[str, Any] | None = None,
    step_context: dict[str, Any] | None = None,
    count: int = 0,
) -> dict[str, Any]:
    """A Dao "launch" action: Spring's launch of `job` (JobParameters, or the JSON form of
    java_parameters), one step run to `status` after reading `count` items."""
    return {
        "do": "launch",
        "job": job,
        "parameters": parameters if isinstance(parameters, dict) else java_parameters(parameters),
        "status": status,
        "step": step,
        "count": count,
        "jobContext": describe(
            job_context if job_context is not None else {"batch.version": "5.2.6"}
        ),
        "stepContext": describe(step_context or {}),
    }


def _double_bits(value: float) -> str:
    if math.isnan(value):
        return str(0x7FF8000000000000)  # Double.doubleToLongBits' canonical NaN
    return str(struct.unpack(">q", struct.pack(">d", value))[0])


def _float_bits(value: float) -> str:
    if math.isnan(value):
        return str(0x7FC00000)
    return str(struct.unpack(">i", struct.pack(">f", value))[0])


def describe(value: Any) -> Any:
    """A context value as SpringOracle.describe spells the Java value it stands for."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"t": "Boolean", "v": "true" if value else "false"}
    if isinstance(value, JavaInteger):
        return {"t": "Integer", "v": str(int(value))}
    if isinstance(value, int):
        return {"t": "Long", "v": str(value)}
    if isinstance(value, JavaFloat):
        return {"t": "Float", "v": _float_bits(value)}
    if isinstance(value, float):
        return {"t": "Double", "v": _double_bits(value)}
    if isinstance(value, str):
        return {"t": "String", "v": value}
    if isinstance(value, datetime) and value.tzinfo is not None:
        millis = round((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)
        return {"t": "Date", "v": str(millis)}
    if isinstance(value, datetime):
        text = value.strftime("%Y-%m-%dT%H:%M:%S") + f".{value.microsecond * 1000:09d}"
        return {"t": "LocalDateTime", "v": text}
    if isinstance(value, date):
        return {"t": "LocalDate", "v": value.isoformat()}
    if isinstance(value, list):
        return {"t": "List", "v": [describe(v) for v in value]}
    if isinstance(value, dict):
        return {
            "t": "Map",
            "c": "java.util.HashMap",
            "v": {k: describe(v) for k, v in value.items()},
        }
    raise TypeError(type(value).__name__)


def java_parameters(parameters: Any) -> dict[str, Any]:
    """Job parameters as SpringOracle.parameterValue takes them (exact: bits, milliseconds)."""
    out = {}
    for name, p in parameters.items():
        value = p.value
        if p.java_type in ("java.time.LocalDate", "java.time.LocalDateTime"):
            text = p.column_text()  # ISO local forms, as Spring's converters write them
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, float):
            text = str(struct.unpack(">q", struct.pack(">d", value))[0])
        elif isinstance(value, datetime):
            text = str(round((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000))
        else:
            text = str(value)
        out[name] = {"type": p.java_type, "value": text, "identifying": p.identifying}
    return out


def jdbc_url(url: str) -> str:
    """The JDBC URL of a SQLAlchemy URL of the test databases."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"jdbc:sqlite:{parsed.database}"
    return f"jdbc:postgresql://{parsed.host}:{parsed.port}/{parsed.database}?user={parsed.username}"


def run_spring_script(url: str, version: str, name: str = "schema") -> None:
    """Run one of Spring Batch's own scripts (schema-*.sql, migration-6.0-*.sql) as a Java
    team would, with the database's command-line client semantics."""
    import sqlite3

    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    kind = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    script = (spring_scripts(version) / f"{name}-{kind}.sql").read_text()
    if kind == "sqlite":
        with sqlite3.connect(str(parsed.database)) as connection:
            connection.executescript(script)
        return
    conninfo = (
        f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"
    )
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(script.encode())


def run_jobop(url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`jobop ARGS... --db URL` as a user runs it, in a subprocess."""
    import os
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBOP_")}
    return subprocess.run(
        [sys.executable, "-m", "jobop.app.cli", *args, "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
    )


def failed_demo_chunk_job(parameters: Any, read: int, job: str = "demoChunkJob") -> dict[str, Any]:
    """Spring's run of demoChunkJob (or another `job` of its step) that failed after
    reading `read` items: its step's context as Spring's
    AbstractItemCountingItemStreamItemReader and TaskletStep keep it."""
    from jobop.domain import JavaInteger

    return launch(
        job,
        parameters,
        "FAILED",
        step="demoChunkStep",
        count=read,
        step_context={
            "numbers.read.count": JavaInteger(read),
            "batch.taskletType": "org.springframework.batch.core.step.item.ChunkOrientedTasklet",
            "batch.stepType": "org.springframework.batch.core.step.tasklet.TaskletStep",
        },
    )
