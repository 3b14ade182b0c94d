"""ItemCountingReader and IterableItemReader: counting, saving and resuming a position."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from jobop.batch.readers import ItemCountingReader, IterableItemReader
from jobop.domain import ExecutionContext


def read_all(reader: IterableItemReader[int] | ItemCountingReader[int]) -> list[int]:
    items = []
    while (item := reader.read()) is not None:
        items.append(item)
    return items


def test_reads_every_item_then_none() -> None:
    reader = IterableItemReader([1, 2, 3])
    reader.open(ExecutionContext())
    assert read_all(reader) == [1, 2, 3]
    assert reader.read() is None
    assert reader.item_count == 3
    reader.close()


def test_update_saves_the_count_under_the_reader_name() -> None:
    reader = IterableItemReader(range(10), name="numbers")
    context = ExecutionContext()
    reader.open(context)
    for _ in range(4):
        reader.read()
    reader.update(context)
    assert context["numbers.read.count"] == 4
    assert context.dirty


def test_default_name_is_the_class_name() -> None:
    reader = IterableItemReader([1])
    context = ExecutionContext()
    reader.open(context)
    reader.read()
    reader.update(context)
    assert context["IterableItemReader.read.count"] == 1


def test_restart_resumes_after_the_saved_count() -> None:
    context = ExecutionContext()
    first = IterableItemReader(range(1, 11), name="n")
    first.open(context)
    assert [first.read() for _ in range(3)] == [1, 2, 3]
    first.update(context)
    first.read()  # read after the last commit: not saved, so read again on restart
    first.close()

    second = IterableItemReader(range(1, 11), name="n")
    second.open(context)
    assert second.item_count == 3
    assert read_all(second) == [4, 5, 6, 7, 8, 9, 10]
    second.update(context)
    assert context["n.read.count"] == 10


def test_restart_with_a_generator_factory() -> None:
    def numbers() -> Iterator[int]:
        yield from range(1, 6)

    context = ExecutionContext({"gen.read.count": 2})
    reader = IterableItemReader(numbers, name="gen")
    reader.open(context)
    assert read_all(reader) == [3, 4, 5]


def test_restart_past_the_end_reads_nothing() -> None:
    reader = IterableItemReader([1, 2], name="short")
    reader.open(ExecutionContext({"short.read.count": 5}))
    assert reader.read() is None


def test_generator_source_is_closed_with_the_reader() -> None:
    closed = []

    def numbers() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            closed.append(True)

    reader = IterableItemReader(numbers)
    reader.open(ExecutionContext())
    reader.read()
    reader.close()
    assert closed == [True]


def test_one_shot_iterator_is_refused() -> None:
    with pytest.raises(TypeError, match="re-iterable"):
        IterableItemReader(iter([1, 2]))


def test_max_item_count_stops_early() -> None:
    reader = IterableItemReader(range(100), max_item_count=3)
    reader.open(ExecutionContext())
    assert read_all(reader) == [0, 1, 2]


def test_save_state_false_neither_saves_nor_resumes() -> None:
    context = ExecutionContext({"r.read.count": 2})
    reader = IterableItemReader([1, 2, 3], name="r", save_state=False)
    reader.open(context)
    assert read_all(reader) == [1, 2, 3]
    reader.update(context)
    assert context["r.read.count"] == 2


def test_read_before_open_is_an_error() -> None:
    reader = IterableItemReader([1])
    with pytest.raises(RuntimeError, match="not open"):
        reader.read()


def test_a_corrupt_saved_count_is_reported() -> None:
    reader = IterableItemReader([1], name="r")
    with pytest.raises(ValueError, match=r"r\.read\.count is not a count"):
        reader.open(ExecutionContext({"r.read.count": "three"}))


class Records(ItemCountingReader[int]):
    """Numbers 1..size where `bad` raises, recording how a restart positions it."""

    def __init__(self, size: int, bad: int = 0, fast_seek: bool = False) -> None:
        super().__init__("records")
        self.size, self.bad, self.fast_seek = size, bad, fast_seek
        self.position = 0
        self.reads = 0
        self.jumps: list[int] = []
        self.closed = False

    def do_open(self) -> None:
        self.position = 0

    def do_read(self) -> int | None:
        self.reads += 1
        if self.position >= self.size:
            return None
        self.position += 1
        if self.position == self.bad:
            raise ValueError(f"bad record {self.position}")
        return self.position

    def do_close(self) -> None:
        self.closed = True

    def jump_to_item(self, item_index: int) -> None:
        self.jumps.append(item_index)
        if self.fast_seek:
            self.position = item_index
        else:
            super().jump_to_item(item_index)


def test_a_failed_read_counts_so_a_skipped_record_is_not_read_again() -> None:
    context = ExecutionContext()
    reader = Records(6, bad=3)
    reader.open(context)
    assert [reader.read(), reader.read()] == [1, 2]
    with pytest.raises(ValueError, match="bad record 3"):
        reader.read()
    reader.update(context)
    assert context["records.read.count"] == 3
    reader.close()

    again = Records(6, bad=3)
    again.open(context)
    assert read_all(again) == [4, 5, 6]


def test_subclass_jump_to_item_replaces_reading() -> None:
    reader = Records(1000, fast_seek=True)
    reader.open(ExecutionContext({"records.read.count": 990}))
    assert reader.jumps == [990]
    assert reader.reads == 0
    assert read_all(reader) == list(range(991, 1001))


def test_default_jump_reads_and_discards() -> None:
    reader = Records(10)
    reader.open(ExecutionContext({"records.read.count": 4}))
    assert reader.reads == 4
    assert reader.read() == 5


def test_close_reaches_the_subclass_and_allows_reopening() -> None:
    reader = Records(2)
    reader.open(ExecutionContext())
    reader.close()
    assert reader.closed
    reader.open(ExecutionContext())
    assert read_all(reader) == [1, 2]


def test_read_chunk_returns_what_reads_would_fewer_only_at_the_end() -> None:
    reader = Records(7)
    reader.open(ExecutionContext())
    assert reader.read_chunk(3) == [1, 2, 3]
    assert reader.read() == 4
    assert reader.read_chunk(3) == [5, 6, 7]
    assert reader.read_chunk(3) == []
    assert reader.item_count == 7


def test_read_chunk_stops_at_max_item_count() -> None:
    reader = IterableItemReader(range(1, 100), max_item_count=5)
    reader.open(ExecutionContext())
    assert reader.read_chunk(4) == [1, 2, 3, 4]
    assert reader.read_chunk(4) == [5]
    assert reader.read_chunk(4) == []
    assert reader.item_count == 5


def test_a_failed_read_chunk_counts_the_record_that_raised_as_read_does() -> None:
    context = ExecutionContext()
    reader = Records(6, bad=3)
    reader.open(context)
    with pytest.raises(ValueError, match="bad record 3"):
        reader.read_chunk(5)
    assert reader.item_count == 3  # 1, 2 and the bad one: consumed
    assert reader.read_chunk(5) == [4, 5, 6]


def test_read_chunk_before_open_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not open"):
        IterableItemReader([1]).read_chunk(1)
