"""csvImportJob end to end on both databases: skips, rejects, and restarts after a failure
or a killed process, each good record imported exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from jobop.batch import JobLauncher
from jobop.domain import (
    BatchStatus,
    InvalidJobParameters,
    JobInstanceAlreadyComplete,
    JobParameter,
    JobParameters,
)
from jobop.repository import JobRepository
from jobop_jobs import csv_import
from jobop_jobs.csv_import import CSV_IMPORT_RECORDS, CSV_IMPORT_REJECTS, STEP_NAME
from sqlalchemy import func, select

HEADER = "id,name,amount,date\n"


def good_line(number: int) -> str:
    return (
        f"{number},name {number},{number % 1000}.{number % 100:02d},2024-01-{number % 28 + 1:02d}\n"
    )


def write_csv(path: Path, count: int, bad: dict[int, str] | None = None) -> Path:
    """Records 1..count, one per line (record n on line n + 1); `bad` replaces some."""
    bad = bad or {}
    with path.open("w", encoding="utf-8") as file:
        file.write(HEADER)
        for number in range(1, count + 1):
            file.write(bad.get(number, good_line(number)))
    return path


def parameters(path: Path, **extra: int | bool) -> JobParameters:
    items = {"input.file": JobParameter(str(path), "STRING")}
    for name, value in extra.items():
        items[name] = JobParameter.of(value, identifying=False)
    return JobParameters(items)


def imported_ids(repository: JobRepository) -> list[int]:
    with repository.engine.connect() as connection:
        query = select(CSV_IMPORT_RECORDS.c.id).order_by(CSV_IMPORT_RECORDS.c.id)
        return list(connection.scalars(query))


def rejects(repository: JobRepository) -> list[tuple[int, str, str]]:
    table = CSV_IMPORT_REJECTS
    with repository.engine.connect() as connection:
        rows = connection.execute(
            select(table.c.line, table.c.reason, table.c.record).order_by(table.c.line)
        )
        return [(row.line, row.reason, row.record) for row in rows]


def expected(count: int, without: Iterable[int]) -> list[int]:
    missing = set(without)
    return [number for number in range(1, count + 1) if number not in missing]


def test_imports_good_records_and_rejects_bad_ones(
    repository: JobRepository, tmp_path: Path
) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        25,
        bad={7: "7,seven,12.345,2024-01-01\n", 15: "15,fifteen\n", 20: "20,,1.00,2024-02-30\n"},
    )
    execution = JobLauncher(repository).launch(csv_import.job, parameters(path, chunkSize=10))

    assert execution.status is BatchStatus.COMPLETED, execution.exit_status
    assert imported_ids(repository) == expected(25, [7, 15, 20])
    assert rejects(repository) == [
        (8, "amount '12.345' has more than two decimals", "7,seven,12.345,2024-01-01"),
        (16, "expected 4 fields, found 2", "15,fifteen"),
        (21, "name is empty", "20,,1.00,2024-02-30"),
    ]
    step = execution.step(STEP_NAME)
    assert step is not None
    assert (step.read_count, step.read_skip_count, step.process_skip_count) == (24, 1, 2)
    assert (step.write_count, step.commit_count) == (22, 3)
    with repository.engine.connect() as connection:
        row = connection.execute(
            select(CSV_IMPORT_RECORDS).where(CSV_IMPORT_RECORDS.c.id == 12)
        ).one()
    assert row.name == "name 12"
    assert Decimal(row.amount) == Decimal("12.12")
    assert row.record_date == date(2024, 1, 13)
    assert row.line == 13
    assert row.job_execution_id == execution.id


def test_skip_limit_exceeded_then_restart_imports_each_good_record_once(
    repository: JobRepository, tmp_path: Path
) -> None:
    bad = {12: "12,twelve,abc,2024-01-01\n", 27: "27,x,1.00,yesterday\n", 41: "41\n"}
    path = write_csv(tmp_path / "in.csv", 50, bad=bad)
    launcher = JobLauncher(repository)

    first = launcher.launch(csv_import.job, parameters(path, chunkSize=10, skipLimit=1))
    assert first.status is BatchStatus.FAILED
    assert "skip limit of 1 exceeded" in first.exit_status.exit_description
    # Two chunks committed (records 1-20 less 12); the third, with record 27, rolled back.
    assert imported_ids(repository) == expected(20, [12])
    assert [line for line, _, _ in rejects(repository)] == [13]

    # skipLimit does not identify the instance: the same launch with a higher limit
    # restarts it, from the last committed chunk.
    second = launcher.launch(csv_import.job, parameters(path, chunkSize=10, skipLimit=5))
    assert second.status is BatchStatus.COMPLETED, second.exit_status
    assert second.job_instance_id == first.job_instance_id
    assert imported_ids(repository) == expected(50, bad)
    assert [line for line, _, _ in rejects(repository)] == [13, 28, 42]
    step = second.step(STEP_NAME)
    assert step is not None
    assert step.read_count == 29  # records 21..50, one of them unreadable
    assert (step.read_skip_count, step.process_skip_count, step.write_count) == (1, 1, 28)

    with pytest.raises(JobInstanceAlreadyComplete):
        launcher.launch(csv_import.job, parameters(path))


def test_a_chunk_of_only_bad_records_records_its_rejects(
    repository: JobRepository, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "in.csv", 6, bad={3: "3,,1.00,2024-01-01\n", 4: "4\n"})
    execution = JobLauncher(repository).launch(csv_import.job, parameters(path, chunkSize=2))
    assert execution.status is BatchStatus.COMPLETED, execution.exit_status
    assert imported_ids(repository) == [1, 2, 5, 6]
    assert rejects(repository) == [
        (4, "name is empty", "3,,1.00,2024-01-01"),
        (5, "expected 4 fields, found 1", "4"),
    ]


def test_missing_input_file_parameter_is_invalid(repository: JobRepository) -> None:
    with pytest.raises(InvalidJobParameters, match=r"input\.file"):
        JobLauncher(repository).launch(csv_import.job, JobParameters())


def test_a_missing_file_or_header_fails_the_step_clearly(
    repository: JobRepository, tmp_path: Path
) -> None:
    launcher = JobLauncher(repository)
    missing = launcher.launch(csv_import.job, parameters(tmp_path / "nope.csv"))
    assert missing.status is BatchStatus.FAILED
    assert "CSV input file not found" in missing.exit_status.exit_description
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("id,label\n1,x\n")
    failed = launcher.launch(csv_import.job, parameters(wrong))
    assert failed.status is BatchStatus.FAILED
    assert "the header lacks column(s) name, amount, date" in failed.exit_status.exit_description


KILLABLE_RUN = textwrap.dedent(
    """
    import sys
    from jobop.batch import JobLauncher
    from jobop.domain import JobParameter, JobParameters
    from jobop.repository import JobRepository
    from jobop_jobs import csv_import

    repository = JobRepository.from_url(sys.argv[1], create_schema=False)
    parameters = JobParameters({
        "input.file": JobParameter(sys.argv[2], "STRING"),
        "chunkSize": JobParameter(50, "LONG", identifying=False),
    })
    JobLauncher(repository).launch(csv_import.job, parameters)
    """
)


@pytest.mark.slow
def test_killed_mid_file_then_recovered_and_restarted_imports_each_record_once(
    db_url: str, repository: JobRepository, tmp_path: Path
) -> None:
    count = 40_000
    path = write_csv(tmp_path / "big.csv", count, bad={100: "100,,1.00,2024-01-01\n"})
    process = subprocess.Popen(
        [sys.executable, "-c", KILLABLE_RUN, db_url, str(path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        execution_id = wait_for_commits(repository, process, commits=20)
    finally:
        # SIGKILL: no cleanup, no rollback handler; whatever instant the chunk loop is in.
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = repository.explorer.get_job_execution(execution_id)
    assert killed is not None and killed.status is BatchStatus.STARTED
    done_before = len(imported_ids(repository))
    assert 0 < done_before < count - 1

    repository.recover(execution_id)
    restarted = JobLauncher(repository).launch(csv_import.job, parameters(path, chunkSize=50))
    assert restarted.status is BatchStatus.COMPLETED, restarted.exit_status
    assert restarted.job_instance_id == killed.job_instance_id
    # Every good record once: a repeated one would have failed on the primary key, so
    # also check that none is missing.
    with repository.engine.connect() as connection:
        total, distinct = connection.execute(
            select(func.count(), func.count(CSV_IMPORT_RECORDS.c.id.distinct()))
        ).one()
    assert total == distinct == count - 1
    assert [line for line, _, _ in rejects(repository)] == [101]


def wait_for_commits(
    repository: JobRepository, process: subprocess.Popen[bytes], commits: int
) -> int:
    """Wait until the subprocess's step has committed `commits` chunks; its execution id."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            pytest.fail(f"the job process ended before it was killed:\n{stderr}")
        running = repository.explorer.find_running_job_executions(csv_import.JOB_NAME)
        for execution in running:
            step = execution.step(STEP_NAME)
            if step is not None and step.commit_count >= commits:
                return execution.id
        time.sleep(0.02)
    pytest.fail("the job process committed too few chunks in 60 s")
    raise AssertionError  # unreachable; pytest.fail raises
