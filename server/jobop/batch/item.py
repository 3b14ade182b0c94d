"""The item-oriented contracts of a chunk step: readers, processors, writers, streams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from jobop.domain import ExecutionContext, StepExecution

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
T_contra = TypeVar("T_contra", contravariant=True)
I_contra = TypeVar("I_contra", contravariant=True)
O_co = TypeVar("O_co", covariant=True)


@runtime_checkable
class ItemStream(Protocol):
    """Something that keeps its position in the step's ExecutionContext across restarts.

    `open` is called once before the first chunk with the step's saved context (empty on a
    first run); `update` before every chunk commit, to write the current position; `close`
    once at the end of the step, whatever its outcome.
    """

    def open(self, context: ExecutionContext) -> None: ...

    def update(self, context: ExecutionContext) -> None: ...

    def close(self) -> None: ...


class ItemReader(Protocol[T_co]):
    """Returns the next item, or None at the end of the input."""

    def read(self) -> T_co | None: ...


class ItemProcessor(Protocol[I_contra, O_co]):
    """Transforms an item; returning None filters it out (counted in FILTER_COUNT)."""

    def process(self, item: I_contra) -> O_co | None: ...


# Chunk is invariant (it holds a list), but a writer of T only ever reads the items.
class ItemWriter(Protocol[T_contra]):  # type: ignore[misc]
    """Writes one chunk of items inside the chunk's transaction."""

    def write(self, chunk: Chunk[T_contra]) -> None: ...


@dataclass(slots=True)
class Chunk(Generic[T]):
    """The items of one chunk and the transaction they commit in.

    `connection` is the chunk's own connection to the repository database: a writer that
    writes there commits together with the step's counters and context, so a crash at any
    instant neither loses nor repeats an item on restart. Writers to other systems are
    at-least-once.

    `skips` are the chunk's skipped items so far, as (item, error) pairs in the order they
    failed (Spring's `Chunk.getSkips()`): `(None, error)` for an item that could not be
    read, `(item, error)` for one skipped in processing or (during a scan) in writing.
    """

    items: list[T]
    connection: Connection | None = None
    step_execution: StepExecution | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    skips: list[tuple[Any, BaseException]] = field(default_factory=list)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
