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
    StepContext,
    step_scope,
)
from jobop.batch.csv import CsvItemReader, CsvParseError
from jobop.batch.sql import SqlItemWriter, create_tables_if_absent
from jobop.domain import InvalidJobParameters, JobParameters, ParameterDeclaration
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Date,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import postgresql, sqlite

from ._parameters import at_least

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


class ImportWriter:
    """Inserts the chunk's rows and records its rejects, on the chunk's connection.

    It is also the step's skip listener (the engine registers components that have
    listener hooks): the engine calls the skip hooks just before the chunk commits, inside
    its transaction, so each skipped record is logged and recorded in CSV_IMPORT_REJECTS
    together with the reader position that moved past it, also in a chunk of only bad
    records, and a chunk that rolls back records none. Rejects are keyed by instance and
    line, so a restart that reads a record again never records it twice.
    """

    def __init__(self, job_instance_id: int, job_execution_id: int, use_copy: bool) -> None:
        self.job_instance_id = job_instance_id
        self.job_execution_id = job_execution_id
        self.rows: SqlItemWriter[dict[str, Any]] = SqlItemWriter(
            CSV_IMPORT_RECORDS, use_copy=use_copy
        )
        self._chunk_context: ChunkContext | None = None
        self._tables_ready = False

    def write(self, chunk: Chunk[dict[str, Any]]) -> None:
        self._ready(chunk.connection)
        self.rows.write(chunk)

    # Chunk listener hook: the context whose connection the skip hooks record on.
    def before_chunk(self, context: ChunkContext) -> None:
        self._chunk_context = context

    # Skip listener hooks (called in the chunk's transaction, just before it commits).
    def on_skip_in_read(self, error: Exception) -> None:
        if isinstance(error, CsvParseError):
            self._reject(error.line, error.reason, error.text)
        else:
            log.warning("skipped an unreadable record: %s", error)

    def on_skip_in_process(self, item: CsvRecord, error: Exception) -> None:
        reason = error.reason if isinstance(error, ValidationError) else str(error)
        self._reject(item.line, reason, item.text)

    def on_skip_in_write(self, item: dict[str, Any], error: Exception) -> None:
        self._reject(int(item.get("line", 0)), str(error), repr(item))

    def _ready(self, connection: Connection | None) -> Connection:
        if connection is None:
            raise RuntimeError("csvImportJob writes in the chunk transaction only")
        if not self._tables_ready:
            create_tables(connection)
            self._tables_ready = True
        return connection

    def _reject(self, line: int, reason: str, record: str) -> None:
        log.warning("rejected line %d: %s: %s", line, reason, record)
        context = self._chunk_context
        connection = self._ready(None if context is None else context.connection)
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(
            insert(CSV_IMPORT_REJECTS).on_conflict_do_nothing(),
            {
                "job_instance_id": self.job_instance_id,
                "line": line,
                "job_execution_id": self.job_execution_id,
                "reason": reason[:REASON_LENGTH],
                "record": record,
            },
        )


def create_tables(connection: Connection) -> None:
    create_tables_if_absent(connection, *metadata.sorted_tables)


DEFAULT_SKIP_LIMIT = 10
DEFAULT_CHUNK_SIZE = 100


def input_file(parameters: JobParameters) -> str:
    # The declaration makes it a string and required; it must name something too.
    path = parameters.string("input.file")
    if not path.strip():
        raise InvalidJobParameters(
            "csvImportJob needs the parameter input.file (a CSV path)",
            metadata={"invalid": "input.file"},
        )
    return os.path.expanduser(path)


def validate(parameters: JobParameters) -> None:
    input_file(parameters)
    at_least(skipLimit=0, chunkSize=1)(parameters)


PARAMETERS = [
    ParameterDeclaration(
        "input.file",
        required=True,
        description="The CSV file to import (id,name,amount,date, with a header).",
    ),
    ParameterDeclaration(
        "skipLimit",
        "LONG",
        identifying=False,
        default=DEFAULT_SKIP_LIMIT,
        description="Bad records to skip before the job fails; raise it on a restart to carry on.",
    ),
    ParameterDeclaration(
        "chunkSize",
        "LONG",
        identifying=False,
        default=DEFAULT_CHUNK_SIZE,
        description="Records per chunk, each chunk one transaction (at least 1).",
    ),
    ParameterDeclaration(
        "useCopy",
        "BOOLEAN",
        identifying=False,
        default=False,
        description="Insert with COPY on PostgreSQL.",
    ),
]


def _reader(context: StepContext) -> CsvRecordReader:
    return CsvRecordReader(input_file(context.job_parameters))


def _writer(context: StepContext) -> ImportWriter:
    execution = context.job_execution
    use_copy = context.job_parameters.boolean("useCopy")
    return ImportWriter(execution.job_instance_id, execution.id, use_copy)


job = Job(
    JOB_NAME,
    [
        ChunkStep(
            STEP_NAME,
            reader=step_scope(_reader),
            processor=step_scope(lambda context: RecordValidator(context.job_execution.id)),
            writer=step_scope(_writer),
            chunk_size=lambda context: context.job_parameters.long("chunkSize"),
            skippable=(ValidationError, CsvParseError),
            skip_limit=lambda context: context.job_parameters.long("skipLimit"),
        )
    ],
    validator=validate,
    incrementer=RunIdIncrementer(),
    description="Imports a CSV file (id,name,amount,date) into CSV_IMPORT_RECORDS, "
    "skipping and recording bad records.",
    parameters=PARAMETERS,
)
