"""Readers never wait for a running chunk (SQLite WAL, PostgreSQL MVCC) and a second writer
waits for it instead of failing (SQLite busy timeout, PostgreSQL row locks)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from jobop.domain import BatchStatus, JobParameters
from jobop.repository import JobRepository
from repository_lifecycle import run_chunk, start_execution, start_step
from sqlalchemy import text

# The child reads with a short busy timeout: had the reader to wait for the writer's lock
# it would fail with "database is locked" instead of answering.
READER = """
import sys
from jobop.repository import JobRepository, create_engine
repository = JobRepository(create_engine(sys.argv[1], sqlite_busy_timeout_ms=500))
execution = repository.explorer.get_job_execution(int(sys.argv[2]))
step = execution.step_executions[0]
print(execution.status.value, repository.get_job_status(execution.id).value, step.read_count)
"""


def test_a_second_process_reads_while_a_chunk_is_open(
    repository: JobRepository, db_url: str
) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    step = start_step(repository, execution, "step1")
    run_chunk(repository, step, 2)
    with repository.chunk_transaction(step) as chunk:
        # Hold the write lock: an uncommitted change to the very rows the reader reads.
        chunk.connection.execute(
            text("update BATCH_STEP_EXECUTION set READ_COUNT = 99 where STEP_EXECUTION_ID = :id"),
            {"id": step.id},
        )
        started = time.monotonic()
        reader = subprocess.run(
            [sys.executable, "-c", READER, db_url, str(execution.id)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        elapsed = time.monotonic() - started
        step.read_count = 5
    assert reader.returncode == 0, reader.stderr
    # The last committed state, not the open chunk's.
    assert reader.stdout.split() == ["STARTED", "STARTED", "2"]
    assert elapsed < 30
    saved = repository.explorer.get_step_execution(execution.id, step.id)
    assert saved is not None and saved.read_count == 5


def test_a_second_writer_waits_for_the_open_chunk(repository: JobRepository) -> None:
    execution = repository.create_job_execution("demoJob", JobParameters.of(run=1))
    start_execution(repository, execution)
    step = start_step(repository, execution, "step1")
    other = repository.create_job_execution("otherJob", JobParameters.of(run=1))
    errors: list[BaseException] = []

    def start_other() -> None:
        try:
            start_execution(repository, other)
        except BaseException as error:
            errors.append(error)

    with repository.chunk_transaction(step):
        step.read_count = 1
        writer = threading.Thread(target=start_other)
        writer.start()
        time.sleep(0.3)
    writer.join(timeout=30)
    assert not writer.is_alive() and errors == []
    assert repository.get_job_status(other.id) is BatchStatus.STARTED
