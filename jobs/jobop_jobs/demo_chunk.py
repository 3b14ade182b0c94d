"""demoChunkJob: the integers 1..items, written as rows of DEMO_ITEMS in the chunk's own
transaction, so that every item is in the table exactly once whatever happens to the job.

ITEM is the primary key: a later instance that writes the same item takes the row over
(upsert), so instances can run again and side by side, and JOB_EXECUTION_ID tells which
execution wrote each item last.

Parameters (declared: others are refused): `items` (identifying, default 100), `chunkSize`
(default 10), `itemDelayMs` (a sleep per item read, default 0), `failAtItem` (the processor
raises on that item in the instance's first execution only, so that a restart gets past it;
default 0 = never).
"""

from __future__ import annotations

import time
from typing import Any

from jobop.batch import (
    Chunk,
    ChunkStep,
    Job,
    JobExecutionListener,
    RunIdIncrementer,
    StepContext,
    step_scope,
)
from jobop.batch.readers import ItemCountingReader
from jobop.batch.sql import create_tables_if_absent
from jobop.domain import JobExecution, ParameterDeclaration
from sqlalchemy import BigInteger, Column, Connection, MetaData, Table

from ._parameters import at_least

JOB_NAME = "demoChunkJob"
STEP_NAME = "demoChunkStep"
# The job context remembers the instance's first execution (contexts carry over restarts).
FIRST_EXECUTION_KEY = "demoChunkJob.firstExecutionId"

# Lower-case names are unquoted: DEMO_ITEMS, ITEM and JOB_EXECUTION_ID work in plain SQL on
# both databases, like the BATCH_ tables.
DEMO_ITEMS = Table(
    "demo_items",
    MetaData(),
    Column("item", BigInteger, primary_key=True, autoincrement=False),
    Column("job_execution_id", BigInteger, nullable=False),
)


class DemoFailure(RuntimeError):
    """The failure that failAtItem asks for."""


class NumberReader(ItemCountingReader[int]):
    """first..count, with an optional delay per item; jumps straight to a saved position."""

    def __init__(self, count: int, delay_ms: int = 0, *, first: int = 1) -> None:
        super().__init__("numbers")
        self.first = first
        self.count = count
        self.delay = delay_ms / 1000
        self._next = first

    def do_open(self) -> None:
        self._next = self.first

    def do_read(self) -> int | None:
        if self._next > self.count:
            return None
        if self.delay:
            time.sleep(self.delay)
        item = self._next
        self._next += 1
        return item

    def jump_to_item(self, item_index: int) -> None:
        self._next = self.first + item_index

    def do_close(self) -> None:
        pass


class FailAtItemProcessor:
    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at

    def process(self, item: int) -> int:
        if item == self.fail_at:
            raise DemoFailure(f"failAtItem={item}: failing as asked (first execution only)")
        return item


class DemoItemsWriter:
    """Inserts (ITEM, JOB_EXECUTION_ID) rows on the chunk's connection; creates the table
    on first use."""

    def __init__(self, job_execution_id: int) -> None:
        self.job_execution_id = job_execution_id
        self._statement: str | None = None

    def write(self, chunk: Chunk[int]) -> None:
        connection = chunk.connection
        if connection is None:
            raise RuntimeError("DemoItemsWriter writes in the chunk transaction only")
        if self._statement is None:
            create_demo_items(connection)
            self._statement = upsert_sql(connection.dialect.paramstyle)
        execution_id = self.job_execution_id
        # Plain tuples straight to the driver's executemany: no per-row dict or bind
        # processing, so the demo measures the engine rather than the SQL toolkit.
        connection.exec_driver_sql(self._statement, [(item, execution_id) for item in chunk])


def upsert_sql(paramstyle: str) -> str:
    """INSERT ... ON CONFLICT (ITEM) DO UPDATE, with the driver's placeholders."""
    mark = "?" if paramstyle == "qmark" else "%s"
    return (
        f"INSERT INTO demo_items (item, job_execution_id) VALUES ({mark}, {mark}) "
        "ON CONFLICT (item) DO UPDATE SET job_execution_id = excluded.job_execution_id"
    )


def create_demo_items(connection: Connection) -> None:
    create_tables_if_absent(connection, DEMO_ITEMS)


class RememberFirstExecution(JobExecutionListener):
    """Keeps the instance's first execution id in the job context under `key`."""

    def __init__(self, key: str = FIRST_EXECUTION_KEY) -> None:
        self.key = key

    def before_job(self, job_execution: JobExecution) -> None:
        job_execution.execution_context.setdefault(self.key, job_execution.id)


CHUNK_SIZE = ParameterDeclaration(
    "chunkSize",
    "LONG",
    identifying=False,
    default=10,
    description="Items per chunk, each chunk one transaction (at least 1).",
)
ITEM_DELAY_MS = ParameterDeclaration(
    "itemDelayMs",
    "LONG",
    identifying=False,
    default=0,
    description="Milliseconds to sleep per item read: a slow job to watch or stop.",
)
FAIL_AT_ITEM = ParameterDeclaration(
    "failAtItem",
    "LONG",
    identifying=False,
    default=0,
    description="Fail at this item in the instance's first execution only, so that a "
    "restart gets past it (0: never).",
)
PARAMETERS = [
    ParameterDeclaration(
        "items", "LONG", default=100, description="How many integers to write (1..items)."
    ),
    CHUNK_SIZE,
    ITEM_DELAY_MS,
    FAIL_AT_ITEM,
]


def _reader(context: StepContext) -> NumberReader:
    parameters = context.job_parameters
    return NumberReader(parameters.long("items"), parameters.long("itemDelayMs"))


def _processor(context: StepContext) -> Any:
    fail_at = context.job_parameters.long("failAtItem")
    first = context.job_execution_context.get(FIRST_EXECUTION_KEY) == context.job_execution.id
    return FailAtItemProcessor(fail_at) if fail_at and first else None


def _chunk_size(context: StepContext) -> int:
    return context.job_parameters.long("chunkSize")


job = Job(
    JOB_NAME,
    [
        ChunkStep(
            STEP_NAME,
            reader=step_scope(_reader),
            processor=step_scope(_processor),
            writer=step_scope(lambda context: DemoItemsWriter(context.job_execution.id)),
            chunk_size=_chunk_size,
        )
    ],
    validator=at_least(items=0, chunkSize=1, itemDelayMs=0, failAtItem=0),
    incrementer=RunIdIncrementer(),
    listeners=[RememberFirstExecution()],
    description="Writes the integers 1..items into DEMO_ITEMS, one chunk per transaction.",
    parameters=PARAMETERS,
)
