"""Readers, processors and writers for the batch engine tests, with controllable failures."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jobop.batch import Chunk, ChunkStep, Job, Step, StepContext
from jobop.batch.readers import ItemCountingReader
from jobop.domain import ExecutionContext
from sqlalchemy import BigInteger, Column, Engine, MetaData, Table, insert, select

_metadata = MetaData()
OUT = Table(
    "batch_test_out",
    _metadata,
    Column("item", BigInteger, primary_key=True, autoincrement=False),
    Column("job_execution_id", BigInteger, nullable=False),
)


class OutTable:
    """A table in the repository database that writers fill inside the chunk transaction;
    its primary key makes a duplicate write fail loudly."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        _metadata.create_all(engine)

    def items(self) -> list[int]:
        with self.engine.connect() as connection:
            return [row.item for row in connection.execute(select(OUT).order_by(OUT.c.item))]

    def by_execution(self) -> dict[int, list[int]]:
        found: dict[int, list[int]] = {}
        with self.engine.connect() as connection:
            for row in connection.execute(select(OUT).order_by(OUT.c.item)):
                found.setdefault(row.job_execution_id, []).append(row.item)
        return found


class TableWriter:
    """Inserts every item, then raises if a bad one was among them (so that only a
    rollback keeps the good ones out)."""

    def __init__(
        self,
        fail_on: Iterable[int] = (),
        *,
        error: type[Exception] = ValueError,
        failures: int | None = None,
    ) -> None:
        self.fail_on = set(fail_on)
        self.error = error
        self.failures_left = failures  # None: fail every time
        self.calls: list[list[int]] = []

    def write(self, chunk: Chunk[int]) -> None:
        assert chunk.connection is not None and chunk.step_execution is not None
        self.calls.append(list(chunk))
        execution_id = chunk.step_execution.job_execution_id
        chunk.connection.execute(
            insert(OUT), [{"item": item, "job_execution_id": execution_id} for item in chunk]
        )
        bad = [item for item in chunk if item in self.fail_on]
        if bad and self.failures_left != 0:
            if self.failures_left is not None:
                self.failures_left -= 1
            raise self.error(f"cannot write item {bad[0]}")


class ListWriter:
    """Keeps the items in memory (no SQL: for statement counting)."""

    def __init__(self) -> None:
        self.items: list[Any] = []

    def write(self, chunk: Chunk[Any]) -> None:
        self.items.extend(chunk)


class NumberReader(ItemCountingReader[int]):
    """1..count; raises `error` when reading the items in `fail_on` (once each)."""

    def __init__(
        self,
        count: int,
        fail_on: Iterable[int] = (),
        *,
        error: type[Exception] = ValueError,
        name: str = "numbers",
    ) -> None:
        super().__init__(name)
        self.count = count
        self.fail_on = set(fail_on)
        self.error = error
        self._next = 1

    def do_open(self) -> None:
        self._next = 1

    def do_read(self) -> int | None:
        if self._next > self.count:
            return None
        item = self._next
        self._next += 1
        if item in self.fail_on:
            self.fail_on.discard(item)
            raise self.error(f"cannot read item {item}")
        return item

    def jump_to_item(self, item_index: int) -> None:
        self._next = item_index + 1

    def do_close(self) -> None:
        pass


class RangeReader(ItemCountingReader[int]):
    """The partition's minValue..maxValue (from its step context)."""

    def __init__(self, context: StepContext) -> None:
        super().__init__("range")
        self.first = int(context.execution_context["minValue"])
        self.last = int(context.execution_context["maxValue"])
        self._next = self.first

    def do_open(self) -> None:
        self._next = self.first

    def do_read(self) -> int | None:
        if self._next > self.last:
            return None
        self._next += 1
        return self._next - 1

    def jump_to_item(self, item_index: int) -> None:
        self._next = self.first + item_index

    def do_close(self) -> None:
        pass


class Processor:
    """Raises on `fail_on` items (`failures` times each; None: always), filters `filter_out`."""

    def __init__(
        self,
        fail_on: Iterable[int] = (),
        *,
        filter_out: Iterable[int] = (),
        error: type[Exception] = ValueError,
        failures: int | None = None,
    ) -> None:
        self.fail_on = set(fail_on)
        self.filter_out = set(filter_out)
        self.error = error
        self.failures = failures
        self.attempts: dict[int, int] = {}

    def process(self, item: int) -> int | None:
        if item in self.fail_on:
            attempts = self.attempts.get(item, 0) + 1
            self.attempts[item] = attempts
            if self.failures is None or attempts <= self.failures:
                raise self.error(f"cannot process item {item}")
        if item in self.filter_out:
            return None
        return item


class RecordingStream:
    """An ItemStream that records its calls; `fail_update_at` makes the n-th update raise."""

    def __init__(self, events: list[str], name: str, fail_update_at: int | None = None) -> None:
        self.events = events
        self.name = name
        self.updates = 0
        self.fail_update_at = fail_update_at

    def open(self, context: ExecutionContext) -> None:
        self.events.append(f"{self.name}.open({dict(context).get(self.name + '.updates', 0)})")

    def update(self, context: ExecutionContext) -> None:
        self.updates += 1
        if self.updates == self.fail_update_at:
            raise RuntimeError(f"{self.name}: update {self.updates} fails")
        context[self.name + ".updates"] = self.updates
        self.events.append(f"{self.name}.update")

    def close(self) -> None:
        self.events.append(f"{self.name}.close")


def chunk_job(name: str, step: Step | None = None, **step_options: Any) -> Job:
    """A one-step job; `step_options` build a ChunkStep named 'step' if no step is given."""
    return Job(name, [step or ChunkStep("step", **step_options)])


def call_once(action: Callable[[], object]) -> Callable[..., None]:
    """A hook that runs `action` the first time it is called only."""
    done = False

    def hook(*_args: Any) -> None:
        nonlocal done
        if not done:
            done = True
            action()

    return hook
