"""Restartable item readers: a counting base class and a reader over any iterable."""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from jobop.domain import ExecutionContext

T = TypeVar("T")


class ItemCountingReader(ABC, Generic[T]):
    """A reader that counts the items it returns and resumes at that count on restart.

    Subclasses implement `do_open`, `do_read` and `do_close` (which also runs after a
    failed `do_open`, so it must cope with a half-open state). The count is saved as
    `<name>.read.count` in the step's execution context at every `update` (that is, at
    every chunk commit); on `open` with a saved count the reader calls `jump_to_item(n)`,
    which by default reads and discards `n` items and which subclasses override when they
    can seek directly (a byte offset, a key).

    As in Spring Batch, a `do_read` that raises still counts: the record was consumed, so a
    bad record that the step skipped is not read again after a restart.
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None:
        if max_item_count is not None and max_item_count < 0:
            raise ValueError(f"max_item_count must be >= 0, got {max_item_count}")
        # Two readers in one step need distinct names, or their positions collide.
        self.name = name or type(self).__name__
        self.max_item_count = max_item_count
        self.save_state = save_state
        self._count = 0
        self._opened = False

    @property
    def count_key(self) -> str:
        return f"{self.name}.read.count"

    @property
    def item_count(self) -> int:
        """How many items have been read so far, counting those before a restart."""
        return self._count

    def key(self, suffix: str) -> str:
        """An execution-context key in this reader's namespace."""
        return f"{self.name}.{suffix}"

    def open(self, context: ExecutionContext) -> None:
        if self._opened:
            raise RuntimeError(f"reader {self.name!r} is already open")
        self._count = 0
        saved = context.get(self.count_key) if self.save_state else None
        if saved is not None and (
            not isinstance(saved, int) or isinstance(saved, bool) or saved < 0
        ):
            raise ValueError(
                f"reader {self.name!r}: saved {self.count_key} is not a count: {saved!r}"
            )
        try:
            self.do_open()
        except BaseException:
            # Leave nothing open behind a failed open (a file, a cursor).
            self.do_close()
            raise
        self._opened = True
        if saved:
            try:
                self.jump_to_item(saved)
            except BaseException:
                self.close()
                raise
            self._count = saved

    def read(self) -> T | None:
        if not self._opened:
            raise self._not_open()
        if self.max_item_count is not None and self._count >= self.max_item_count:
            return None
        self._count += 1
        item = self.do_read()
        if item is None:
            # The end of the input is not an item.
            self._count -= 1
        return item

    def read_chunk(self, size: int) -> list[T]:
        """Up to `size` items in one call: those that as many calls of `read` would return
        before the end of the input (so fewer only at the end). A chunk step with no read
        listeners and no skip policy reads its chunks this way. An item that raises
        counts, as it does for `read`; the items read before it in the call go with the
        exception, as the chunk reading them fails."""
        if not self._opened:
            raise self._not_open()
        if self.max_item_count is not None:
            size = min(size, self.max_item_count - self._count)
        items: list[T] = []
        try:
            self.do_read_chunk(size, items)
        except BaseException:
            self._count += len(items) + 1
            raise
        self._count += len(items)
        return items

    def update(self, context: ExecutionContext) -> None:
        if not self._opened:
            raise self._not_open()
        if self.save_state:
            context[self.count_key] = self._count

    def close(self) -> None:
        # Close is called whatever the step's outcome, possibly after a failed open.
        self._opened = False
        self.do_close()

    def jump_to_item(self, item_index: int) -> None:
        """Move past the first `item_index` items; the default reads and discards them."""
        for _ in range(item_index):
            try:
                item = self.do_read()
            except Exception:
                # A record that failed before the restart was counted (and skipped) then.
                continue
            if item is None:
                return

    @abstractmethod
    def do_open(self) -> None: ...

    @abstractmethod
    def do_read(self) -> T | None: ...

    def do_read_chunk(self, size: int, items: list[T]) -> None:
        """Append up to `size` items to `items`, fewer only at the end of the input: by
        default `do_read` in a loop; a subclass overrides it when one loop over the chunk
        costs less than a call per item."""
        read, append = self.do_read, items.append
        for _ in range(size):
            item = read()
            if item is None:
                return
            append(item)

    def _not_open(self) -> RuntimeError:
        return RuntimeError(f"reader {self.name!r} is not open: call open() first")

    @abstractmethod
    def do_close(self) -> None: ...


class IterableItemReader(ItemCountingReader[T]):
    """Reads the items of an iterable, restartable at the saved count.

    `source` is either an iterable that can be iterated again on every open (a list, a
    range) or a callable returning a fresh iterator, for generators. A restart skips the
    already-read items. None cannot be an item, since it marks the end of the input.
    """

    def __init__(
        self,
        source: Iterable[T] | Callable[[], Iterable[T]],
        name: str | None = None,
        *,
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None:
        super().__init__(name, max_item_count=max_item_count, save_state=save_state)
        if isinstance(source, Iterator):
            # A one-shot iterator cannot restart from the beginning after a failed open.
            raise TypeError(
                "IterableItemReader needs a re-iterable source or a callable returning a "
                "fresh iterator, not a one-shot iterator or generator"
            )
        self._source = source
        self._iterator: Iterator[T] | None = None

    def do_open(self) -> None:
        source = self._source
        iterable = source() if callable(source) else source
        self._iterator = iter(iterable)

    def do_read(self) -> T | None:
        if self._iterator is None:
            return None
        item = next(self._iterator, None)
        if item is None:
            self._iterator = None
            return None
        return item

    def do_close(self) -> None:
        iterator, self._iterator = self._iterator, None
        close = getattr(iterator, "close", None)
        if callable(close):
            close()  # finishes a generator source, running its cleanup

    def jump_to_item(self, item_index: int) -> None:
        if self._iterator is not None:
            # islice skips in C, far faster than the default read loop.
            next(itertools.islice(self._iterator, item_index, item_index), None)
