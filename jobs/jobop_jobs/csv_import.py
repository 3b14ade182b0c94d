"""csvImportJob: import a CSV file of records into CSV_IMPORT_RECORDS, restartably.

The file has a header and the columns `id,name,amount,date`. Each record is validated: a
bad one (a malformed line, a missing name, an amount that is not money, a date that is
not ISO yyyy-mm-dd) is skipped, logged and recorded in CSV_IMPORT_REJECTS with its line
and the reason, up to `skipLimit` of them; one more fails the job. Good records are
inserted in the chunk's own transaction, together with the reader's byte position, so a
restart after any failure (a crash included) resumes at the last committed chunk and
every good record ends up in the table exactly once.

Parameters: `input.file` (string, identifying: the file to import), `skipLimit` (long,
non-identifying, default 10), `chunkSize` (long, non-identifying, default 100) and
`useCopy` (boolean, non-identifying, default false: COPY on PostgreSQL). Since `skipLimit`
does not identify the instance, a job that failed on too many bad records can be
restarted with a higher limit and carries on where it stopped.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from jobop.batch import (
    Chunk,
    ChunkContext,
    ChunkStep,
    Job,
    RunIdIncrementer,
    SkipLimitExceeded,
    StepContext,
    step_scope,
)
from jobop.batch.csv import CsvItemReader, CsvParseError
from jobop.batch.sql import SqlItemWriter
from jobop.domain import InvalidJobParameters, JobParameters, StepExecution
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    Engine,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DatabaseError

from ._parameters import boolean_parameter, long_parameter

log = logging.getLogger(__name__)

JOB_NAME = "csvImportJob"
STEP_NAME = "csvImportStep"
FIELDS = ("id", "name", "amount", "date")
NAME_LENGTH = 100
REASON_LENGTH = 2500

# Lower-case names are unquoted, like the BATCH_ tables: plain SQL works on both databases.
metadata = MetaData()
CSV_IMPORT_RECORDS = Table(
    "csv_import_records",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("amount", Numeric(12, 2), nullable=False),
    Column("record_date", Date, nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("job_execution_id", BigInteger, nullable=False),
)
CSV_IMPORT_REJECTS = Table(
    "csv_import_rejects",
    metadata,
    Column("job_instance_id", BigInteger, nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("job_execution_id", BigInteger, nullable=False),
    Column("reason", String(REASON_LENGTH), nullable=False),
    Column("record", Text, nullable=False),
    # A record is rejected once per instance, however often a restart reads it again.
    PrimaryKeyConstraint("job_instance_id", "line"),
)


class ValidationError(ValueError):
    """A record that cannot be imported; skippable, up to the job's skip limit."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.reason = message


@dataclass(frozen=True, slots=True)
class CsvRecord:
    """One record of the file as text, with the line it starts on."""

    line: int
    values: dict[str, str]

    @property
    def text(self) -> str:
        return ",".join(self.values.get(field, "") for field in FIELDS)


class CsvRecordReader(CsvItemReader[CsvRecord]):
    """The input file's records, tagged with their line numbers for the rejects."""

    def __init__(self, path: str) -> None:
        super().__init__(
            path,
            name="csvImport",
            mapper=lambda values: CsvRecord(self.record_line, values),
        )

    def do_open(self) -> None:
        super().do_open()
        missing = [field for field in FIELDS if field not in (self.fieldnames or ())]
        if missing:
            raise ValueError(
                f"{self.path}: the header lacks column(s) {', '.join(missing)}; expected "
                f"{','.join(FIELDS)}"
            )


class RecordValidator:
    """Turns a record into a row of CSV_IMPORT_RECORDS or raises ValidationError."""

    def __init__(self, job_execution_id: int) -> None:
        self.job_execution_id = job_execution_id

    def process(self, record: CsvRecord) -> dict[str, Any]:
        values, line = record.values, record.line
        return {
            "id": _identifier(line, values["id"]),
            "name": _name(line, values["name"]),
            "amount": _amount(line, values["amount"]),
            "record_date": _date(line, values["date"]),
            "line": line,
            "job_execution_id": self.job_execution_id,
        }


def _identifier(line: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValidationError(line, f"id {text!r} is not a whole number") from None
    if not 0 < value < 2**63:
        raise ValidationError(line, f"id {value} is out of range")
    return value


def _name(line: int, text: str) -> str:
    name = text.strip()
    if not name:
        raise ValidationError(line, "name is empty")
    if len(name) > NAME_LENGTH:
        raise ValidationError(line, f"name is longer than {NAME_LENGTH} characters")
    return name


def _amount(line: int, text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValidationError(line, f"amount {text!r} is not a number") from None
    if not value.is_finite():
        raise ValidationError(line, f"amount {text!r} is not a number")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise ValidationError(line, f"amount {text!r} has more than two decimals")
    if abs(value) >= 10**10:
        raise ValidationError(line, f"amount {text!r} is too large")
    return value


def _date(line: int, text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(line, f"date {text!r} is not a date (yyyy-mm-dd)") from None


@dataclass(frozen=True, slots=True)
class Reject:
    line: int
    reason: str
    record: str


class ImportWriter:
    """Inserts the chunk's rows and records the step's rejects, on the chunk's connection.

    It is also the step's skip listener (the engine registers components that have
    listener hooks): each skipped record is logged and queued, and the queue is written
    by the next chunk that writes, in its transaction, so rejects commit with the reader
    position that moved past them. A chunk of only bad records writes nothing; its
    rejects are recorded right after its commit instead, with the connection's engine
    (a crash in that instant leaves them in the log only). Rejects are keyed by instance
    and line, so a restart that reads a record again never records it twice.
    """

    def __init__(self, job_instance_id: int, job_execution_id: int, use_copy: bool) -> None:
        self.job_instance_id = job_instance_id
        self.job_execution_id = job_execution_id
        self.rows: SqlItemWriter[dict[str, Any]] = SqlItemWriter(
            CSV_IMPORT_RECORDS, use_copy=use_copy
        )
        self._rejects: list[Reject] = []
        self._written_rejects = 0
        self._engine: Engine | None = None
        self._tables_ready = False

    def write(self, chunk: Chunk[dict[str, Any]]) -> None:
        connection = chunk.connection
        if connection is None:
            raise RuntimeError("csvImportJob writes in the chunk transaction only")
        self._engine = connection.engine
        if not self._tables_ready:
            create_tables(connection)
            self._tables_ready = True
        self._record_rejects(connection)
        self._written_rejects = len(self._rejects)
        self.rows.write(chunk)

    # Skip listener hooks (called outside the chunk transaction, as the items fail).
    def on_skip_in_read(self, error: Exception) -> None:
        if isinstance(error, CsvParseError):
            self._reject(Reject(error.line, error.reason, error.text))
        else:
            log.warning("skipped an unreadable record: %s", error)

    def on_skip_in_process(self, item: CsvRecord, error: Exception) -> None:
        reason = error.reason if isinstance(error, ValidationError) else str(error)
        self._reject(Reject(item.line, reason, item.text))

    def on_skip_in_write(self, item: dict[str, Any], error: Exception) -> None:
        self._reject(Reject(int(item.get("line", 0)), str(error), repr(item)))

    # Chunk listener hooks.
    def after_chunk(self, context: ChunkContext) -> None:
        # Committed: rejects written in the chunk are done; a chunk that wrote nothing
        # leaves its rejects queued, to be recorded now if a connection was ever seen.
        del self._rejects[: self._written_rejects]
        self._written_rejects = 0
        if self._rejects and self._engine is not None:
            with self._engine.begin() as connection:
                if not self._tables_ready:
                    create_tables(connection)
                    self._tables_ready = True
                self._record_rejects(connection)
            self._rejects.clear()

    def after_chunk_error(self, context: ChunkContext, error: BaseException) -> None:
        # Rolled back: whatever the chunk wrote of the queue is gone; keep the queue.
        self._written_rejects = 0

    def after_step(self, step_execution: StepExecution) -> None:
        if self._rejects:
            log.error(
                "%d rejected record(s) of step execution %s could not be recorded in %s "
                "(no chunk wrote a row): lines %s",
                len(self._rejects),
                step_execution.id,
                CSV_IMPORT_REJECTS.name,
                ", ".join(str(reject.line) for reject in self._rejects),
            )

    def _reject(self, reject: Reject) -> None:
        log.warning("rejected line %d: %s: %s", reject.line, reject.reason, reject.record)
        self._rejects.append(reject)

    def _record_rejects(self, connection: Connection) -> None:
        if not self._rejects:
            return
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(
            insert(CSV_IMPORT_REJECTS).on_conflict_do_nothing(),
            [
                {
                    "job_instance_id": self.job_instance_id,
                    "line": reject.line,
                    "job_execution_id": self.job_execution_id,
                    "reason": reject.reason[:REASON_LENGTH],
                    "record": reject.record,
                }
                for reject in self._rejects
            ],
        )


def create_tables(connection: Connection) -> None:
    """CREATE TABLE IF NOT EXISTS for both tables, inside the caller's transaction."""
    if connection.dialect.name != "postgresql":
        metadata.create_all(connection, checkfirst=True)
        return
    # Two first runs may race to create them; the loser's savepoint rolls back, and the
    # tables are there either way.
    savepoint = connection.begin_nested()
    try:
        metadata.create_all(connection, checkfirst=True)
    except DatabaseError:
        savepoint.rollback()
    else:
        savepoint.commit()


class ParameterSkipPolicy:
    """Skips `skippable` errors up to the execution's `skipLimit` parameter.

    ChunkStep takes a fixed skip limit; this one comes from the job parameters, which the
    step-scoped reader factory (built on the worker thread that then runs the step)
    records here, per thread, before the first item is read.
    """

    def __init__(self, skippable: Sequence[type[Exception]]) -> None:
        self.skippable = tuple(skippable)
        self._local = threading.local()

    def set_limit(self, limit: int) -> None:
        self._local.limit = limit

    def should_skip(self, error: Exception, skip_count: int) -> bool:
        if not isinstance(error, self.skippable):
            return False
        limit: int = getattr(self._local, "limit", DEFAULT_SKIP_LIMIT)
        if skip_count < limit:
            return True
        raise SkipLimitExceeded(limit, error) from error


DEFAULT_SKIP_LIMIT = 10
DEFAULT_CHUNK_SIZE = 100

skip_policy = ParameterSkipPolicy([ValidationError, CsvParseError])


def input_file(parameters: JobParameters) -> str:
    parameter = parameters.get("input.file")
    if parameter is None or not str(parameter.value).strip():
        raise InvalidJobParameters("csvImportJob needs the parameter input.file (a CSV path)")
    if not isinstance(parameter.value, str):
        raise InvalidJobParameters("parameter 'input.file' must be a string")
    return os.path.expanduser(parameter.value)


def validate(parameters: JobParameters) -> None:
    input_file(parameters)
    long_parameter(parameters, "skipLimit", DEFAULT_SKIP_LIMIT)
    long_parameter(parameters, "chunkSize", DEFAULT_CHUNK_SIZE, minimum=1)
    boolean_parameter(parameters, "useCopy", False)


def _reader(context: StepContext) -> CsvRecordReader:
    parameters = context.job_parameters
    skip_policy.set_limit(long_parameter(parameters, "skipLimit", DEFAULT_SKIP_LIMIT))
    return CsvRecordReader(input_file(parameters))


def _writer(context: StepContext) -> ImportWriter:
    execution = context.job_execution
    use_copy = boolean_parameter(context.job_parameters, "useCopy", False)
    return ImportWriter(execution.job_instance_id, execution.id, use_copy)


job = Job(
    JOB_NAME,
    [
        ChunkStep(
            STEP_NAME,
            reader=step_scope(_reader),
            processor=step_scope(lambda context: RecordValidator(context.job_execution.id)),
            writer=step_scope(_writer),
            chunk_size=lambda context: long_parameter(
                context.job_parameters, "chunkSize", DEFAULT_CHUNK_SIZE, minimum=1
            ),
            skip_policy=skip_policy,
        )
    ],
    validator=validate,
    incrementer=RunIdIncrementer(),
    description="Imports a CSV file (id,name,amount,date) into CSV_IMPORT_RECORDS, "
    "skipping and recording bad records.",
)
