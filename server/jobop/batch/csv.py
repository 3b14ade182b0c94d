"""Restartable CSV file reader and writer that keep their byte position across restarts."""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import operator
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar, overload

from .readers import ItemCountingReader

if TYPE_CHECKING:
    from sqlalchemy import RootTransaction

    from jobop.domain import ExecutionContext

    from .item import Chunk

T = TypeVar("T")

PathLike = str | os.PathLike[str]


class CsvParseError(ValueError):
    """A record of a CSV file could not be read: bad quoting, encoding or field count.

    Raised by `CsvItemReader.read` after the record was consumed, so a step that skips it
    (a read skip) carries on with the next record, and a restart does not read it again.
    """

    def __init__(self, message: str, *, path: str, line: int, text: str) -> None:
        super().__init__(f"{path}, line {line}: {message}")
        self.reason = message
        self.path = path
        self.line = line
        self.text = text


def _check_ascii_compatible(encoding: str) -> None:
    # Positions are found by splitting bytes at b"\n", which needs "\n" to be that byte.
    if "\n".encode(encoding) != b"\n":
        raise ValueError(
            f"encoding {encoding!r} is not ASCII-compatible; CSV files are read and written "
            "by byte offset, which needs an encoding such as utf-8, latin-1 or cp1252"
        )


class CsvItemReader(ItemCountingReader[T]):
    """Reads the records of a CSV file as dicts (or whatever `mapper` makes of them).

    Field names come from the header line (`header=True`, the default) or from `fields`
    (which, given together with a header, replaces the header's names). Each record
    becomes a dict of field name to text; `mapper` may turn that dict into something else.
    Blank lines are skipped. A record whose field count differs from the names is a
    `CsvParseError` when `strict` (the default).

    Restart: at every chunk commit the reader saves the byte offset just after the last
    record read (`<name>.offset`) and the line number (`<name>.line`) besides the item
    count; a restart seeks straight to that offset instead of reading the file again. If
    the file no longer matches (shorter, or the offset is not at a line start), the open
    fails rather than silently importing from the wrong place. Records may span lines
    (quoted newlines). The file must use "\\n" or "\\r\\n" line endings and an
    ASCII-compatible encoding; a UTF-8 byte-order mark is ignored.
    """

    @overload
    def __init__(
        self: CsvItemReader[dict[str, str]],
        path: PathLike,
        *,
        name: str | None = None,
        fields: Sequence[str] | None = None,
        header: bool = True,
        mapper: None = None,
        encoding: str = "utf-8",
        lines_to_skip: int = 0,
        strict: bool = True,
        delimiter: str = ",",
        quotechar: str = '"',
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None: ...

    @overload
    def __init__(
        self,
        path: PathLike,
        *,
        name: str | None = None,
        fields: Sequence[str] | None = None,
        header: bool = True,
        mapper: Callable[[dict[str, str]], T],
        encoding: str = "utf-8",
        lines_to_skip: int = 0,
        strict: bool = True,
        delimiter: str = ",",
        quotechar: str = '"',
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None: ...

    def __init__(
        self,
        path: PathLike,
        *,
        name: str | None = None,
        fields: Sequence[str] | None = None,
        header: bool = True,
        mapper: Callable[[dict[str, str]], T] | None = None,
        encoding: str = "utf-8",
        lines_to_skip: int = 0,
        strict: bool = True,
        delimiter: str = ",",
        quotechar: str = '"',
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None:
        super().__init__(name, max_item_count=max_item_count, save_state=save_state)
        if not header and not fields:
            raise ValueError("CsvItemReader needs field names: pass fields= or header=True")
        if lines_to_skip < 0:
            raise ValueError(f"lines_to_skip must be >= 0, got {lines_to_skip}")
        _check_ascii_compatible(encoding)
        self.path = os.fspath(path)
        self.header = header
        self.fields: list[str] | None = list(fields) if fields else None
        self.mapper = mapper
        self.encoding = encoding
        self.lines_to_skip = lines_to_skip
        self.strict = strict
        self.delimiter, self.quotechar = delimiter, quotechar
        self.fieldnames: list[str] | None = None
        self._file: IO[bytes] | None = None
        # Lines are decoded and parsed in C (csv.reader over a map of the binary file's
        # lines), with no Python code per line: the byte offset is the file's position
        # (neither reads ahead), the line number `_base` plus the parser's count.
        self._decode = operator.methodcaller("decode", encoding)
        self._rows: Any = None  # the csv.reader (its line_num counts its lines)
        self._base = 0  # physical lines before the parser's first
        self._record_start = 0  # physical lines before the record last read
        # A line start whose line number is known (open, a chunk's update, an error): a
        # record's lines are read again from there for an error's text.
        self._mark = (0, 0)
        self._offset = 0  # the offset and line once the file is closed
        self._line = 0
        self._data_start = 0
        self._resume: tuple[int, int] | None = None

    @property
    def offset_key(self) -> str:
        return self.key("offset")

    @property
    def line_key(self) -> str:
        return self.key("line")

    @property
    def line(self) -> int:
        """The number of the last physical line consumed (1-based)."""
        rows = self._rows
        return self._line if rows is None else self._base + rows.line_num

    @property
    def offset(self) -> int:
        """The byte offset just after the last line consumed."""
        file = self._file
        return self._offset if file is None else file.tell()

    @property
    def record_line(self) -> int:
        """The line on which the record last read (or failed) starts, e.g. for a mapper
        or a rejects report; a quoted field may carry the record over several lines."""
        return self._record_start + 1

    def open(self, context: ExecutionContext) -> None:
        self._resume = None
        if self.save_state:
            offset, line = context.get(self.offset_key), context.get(self.line_key)
            if isinstance(offset, int) and isinstance(line, int):
                self._resume = (offset, line)
        super().open(context)
        if self._resume is not None:
            # A saved offset without a count (jump_to_item was not called) still applies.
            resume, self._resume = self._resume, None
            try:
                self._seek(*resume)
            except BaseException:
                self.close()
                raise

    def update(self, context: ExecutionContext) -> None:
        super().update(context)
        offset, line = self.offset, self.line
        self._mark = (offset, line)
        if self.save_state:
            context[self.offset_key] = offset
            context[self.line_key] = line

    def do_open(self) -> None:
        try:
            self._file = file = open(self.path, "rb")  # noqa: SIM115 - closed in do_close
        except FileNotFoundError:
            raise FileNotFoundError(f"CSV input file not found: {self.path}") from None
        # A byte-order mark, as spreadsheet programs write: not part of the first line.
        start = 0
        if codecs.lookup(self.encoding).name == "utf-8" and file.read(3) == codecs.BOM_UTF8:
            start = 3
        self._start_rows(start, 0)
        for _ in range(self.lines_to_skip):
            if not file.readline():
                break
            self._base += 1
        if self.header:
            try:
                names = self._next_record()
            except CsvParseError as error:
                raise self._error(f"bad header: {error.reason}") from error
            self.fieldnames = self.fields or names
        else:
            self.fieldnames = self.fields
        self._data_start = file.tell()
        self._mark = (self._data_start, self.line)

    def jump_to_item(self, item_index: int) -> None:
        if self._resume is not None:
            offset, line = self._resume
            self._resume = None
            self._seek(offset, line)
            return
        # No saved offset (state saved by another reader version): skip whole records
        # without parsing them into items, so a bad record cannot fail the restart.
        skipped = 0
        while skipped < item_index:
            try:
                row = self._next_record()
            except CsvParseError:
                row = ["malformed"]  # still a record, counted when it was read
            if row is None:
                return
            skipped += 1

    def do_read(self) -> T | None:
        items: list[T] = []
        self._parse(1, items, as_items=True)
        return items[0] if items else None

    def do_read_chunk(self, size: int, items: list[T]) -> None:
        self._parse(size, items, as_items=True)

    def do_close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._offset, self._line = self.offset, self.line
        file, self._file = self._file, None
        self._rows = None
        if file is not None:
            file.close()

    def _start_rows(self, offset: int, line: int) -> None:
        """Parse from byte `offset`, the start of line `line` + 1."""
        file = self._file
        assert file is not None
        file.seek(offset)
        self._base = self._record_start = line
        self._mark = (offset, line)
        self._rows = csv.reader(
            map(self._decode, file), delimiter=self.delimiter, quotechar=self.quotechar
        )

    def _next_record(self) -> list[str] | None:
        """The next record that is not a blank line; None at the end of the file."""
        records: list[list[str]] = []
        self._parse(1, records, as_items=False)
        return records[0] if records else None

    def _parse(self, size: int, out: list[Any], *, as_items: bool) -> None:
        """Append up to `size` records that are not blank lines to `out` (fewer only at
        the end of the file): as items (checked against the field names, then mapped) or
        as parsed fields. One loop for a whole chunk: a Python call per record would cost
        more than parsing it."""
        rows = self._rows
        if rows is None:
            return
        base, names, mapper = self._base, self.fieldnames or [], self.mapper
        strict = as_items and self.strict
        append = out.append
        wanted = len(out) + size
        while len(out) < wanted:
            self._record_start = base + rows.line_num
            try:
                row = next(rows, None)
            except csv.Error as error:
                raise self._error(str(error)) from error
            except UnicodeDecodeError as error:
                raise self._undecodable(error) from error
            if row is None:
                return
            if not row:
                continue
            if not as_items:
                append(row)
                continue
            if strict and len(row) != len(names):
                raise self._error(f"expected {len(names)} fields, found {len(row)}")
            item = dict(zip(names, row, strict=False))
            append(item if mapper is None else mapper(item))

    def _undecodable(self, error: UnicodeDecodeError) -> CsvParseError:
        """A line of the record would not decode, and the parser lost the record there:
        read the whole record again from its start, decoded with replacement characters,
        and go on parsing after it (the record was consumed, as any bad record is)."""
        file = self._file
        assert file is not None
        first = self._record_start + 1
        self._skip_to(first)
        consumed: list[bytes] = []

        def lines() -> Iterator[str]:
            for raw in file:
                consumed.append(raw)
                yield raw.decode(self.encoding, errors="replace")

        with contextlib.suppress(csv.Error):
            next(csv.reader(lines(), delimiter=self.delimiter, quotechar=self.quotechar), None)
        self._start_rows(file.tell(), first - 1 + len(consumed))
        self._record_start = first - 1
        text = b"".join(consumed).decode(self.encoding, errors="replace").rstrip("\r\n")
        message = f"not valid {self.encoding}: {error.reason}"
        return CsvParseError(message, path=self.path, line=first, text=text)

    def _skip_to(self, line: int) -> None:
        """Position the file at the start of physical line `line`, from the mark."""
        file = self._file
        assert file is not None
        offset, at = self._mark
        file.seek(offset)
        while at < line - 1 and file.readline():
            at += 1

    def _seek(self, offset: int, line: int) -> None:
        file = self._file
        assert file is not None
        size = os.fstat(file.fileno()).st_size
        if not self._data_start <= offset <= size:
            raise ValueError(
                f"cannot resume {self.path} at byte {offset}: the file is {size} bytes and its "
                f"records start at byte {self._data_start}; the file changed since the last run"
            )
        if offset > self._data_start:
            file.seek(offset - 1)
            if file.read(1) != b"\n":
                raise ValueError(
                    f"cannot resume {self.path} at byte {offset}: it is not the start of a "
                    "line; the file changed since the last run"
                )
        self._start_rows(offset, line)

    def _error(self, message: str) -> CsvParseError:
        """The error for the record last read, with its lines (read again for the text)."""
        file = self._file
        assert file is not None
        here, last, first = file.tell(), self.line, self.record_line
        self._skip_to(first)
        lines = [file.readline() for _ in range(first, last + 1)]
        file.seek(here)
        self._mark = (here, last)
        text = b"".join(lines).decode(self.encoding, errors="replace").rstrip("\r\n")
        return CsvParseError(message, path=self.path, line=first, text=text)


class CsvItemWriter(Generic[T]):
    """Writes items as CSV lines to a file, restartable without duplicating a line.

    Items are dicts (written in `fields` order), sequences, or whatever `mapper` turns
    into a sequence of values. With `header=True` the field names head a new file.

    Restart and delivery: each chunk's lines are written (and flushed) during the chunk,
    before its transaction commits; `update`, just before the commit, saves the byte
    offset after them (`<name>.offset`) in the step's execution context, which commits with
    the chunk. If the process dies between the file write and the commit, the file holds
    lines that the saved offset does not: on restart the writer truncates the file back to
    the saved offset and those items are written again, so once the restarted step ends,
    every line is in the file exactly once. Likewise, when a chunk rolls back and the step
    carries on (a skip), the next write truncates the rolled-back chunk's lines away.

    What truncation does not cover, where delivery is at-least-once: a commit that fails
    after `update` while the step carries on; lines of an item whose savepoint rolls back
    while the chunk commits (an item-by-item scan after a write error, when a writer
    after this one fails on the item); a crash before the first commit of a step
    that appends to an existing file (`append=True`: no offset was saved yet); and power
    loss after a commit when `sync` is off (the committed offset may then lie past the
    durable end of the file, which the restart reports as an error). Anything reading the
    file while the step runs can see lines of a chunk that is later rolled back.
    """

    def __init__(
        self,
        path: PathLike,
        *,
        name: str | None = None,
        fields: Sequence[str] | None = None,
        header: bool = False,
        mapper: Callable[[T], Sequence[Any]] | None = None,
        encoding: str = "utf-8",
        append: bool = False,
        sync: bool = False,
        delimiter: str = ",",
        quotechar: str = '"',
        quoting: int = csv.QUOTE_MINIMAL,
        lineterminator: str = "\n",
        save_state: bool = True,
    ) -> None:
        if header and not fields:
            raise ValueError("CsvItemWriter(header=True) needs the field names in fields=")
        _check_ascii_compatible(encoding)
        self.path = os.fspath(path)
        self.name = name or type(self).__name__
        self.fields = list(fields) if fields else None
        self.header = header
        self.mapper = mapper
        self.encoding = encoding
        self.append = append
        self.sync = sync
        self.save_state = save_state
        self._format: dict[str, Any] = {
            "delimiter": delimiter,
            "quotechar": quotechar,
            "quoting": quoting,
            "lineterminator": lineterminator,
        }
        self._file: IO[bytes] | None = None
        self._offset = 0
        self._saved_offset = 0
        self._written = 0
        self._saved_written = 0
        self._write_tx: RootTransaction | None = None

    @property
    def offset_key(self) -> str:
        return f"{self.name}.offset"

    @property
    def written_key(self) -> str:
        return f"{self.name}.written"

    def open(self, context: ExecutionContext) -> None:
        if self._file is not None:
            raise RuntimeError(f"writer {self.name!r} is already open")
        saved = context.get(self.offset_key) if self.save_state else None
        if saved is not None:
            self._reopen(int(saved), int(context.get(self.written_key, 0)))
            return
        self._file = open(self.path, "ab" if self.append else "wb")  # noqa: SIM115
        self._offset = self._file.seek(0, os.SEEK_END)
        self._written = 0
        if self.header and self.fields and self._offset == 0:
            self._write_bytes(self._format_rows([self.fields]))
        self._saved_offset, self._saved_written = self._offset, self._written
        self._write_tx = None

    def write(self, chunk: Chunk[T]) -> None:
        if self._file is None:
            raise RuntimeError(f"writer {self.name!r} is not open: call open() first")
        tx = chunk.connection.get_transaction() if chunk.connection is not None else None
        if self._offset != self._saved_offset and tx is not None and tx is not self._write_tx:
            # Lines from a transaction that ended without update(): it rolled back.
            self._truncate(self._saved_offset)
            self._written = self._saved_written
        self._write_tx = tx
        rows = [self._row(item) for item in chunk.items]
        self._write_bytes(self._format_rows(rows))
        self._written += len(rows)

    def update(self, context: ExecutionContext) -> None:
        if self._file is None:
            raise RuntimeError(f"writer {self.name!r} is not open: call open() first")
        if self.sync:
            # Durable before the commit, so a committed offset never points past the data.
            os.fsync(self._file.fileno())
        self._saved_offset, self._saved_written = self._offset, self._written
        if self.save_state:
            context[self.offset_key] = self._offset
            context[self.written_key] = self._written

    def close(self) -> None:
        file, self._file = self._file, None
        self._write_tx = None
        if file is not None:
            file.close()

    def _reopen(self, offset: int, written: int) -> None:
        try:
            file = open(self.path, "r+b")  # noqa: SIM115
        except FileNotFoundError:
            raise FileNotFoundError(
                f"cannot restart writing {self.path}: the file written by the previous run is gone"
            ) from None
        size = file.seek(0, os.SEEK_END)
        if size < offset:
            file.close()
            raise ValueError(
                f"cannot restart writing {self.path}: it is {size} bytes but {offset} were "
                "committed; lines were lost (use sync=True to make commits durable)"
            )
        # Drop the lines of chunks that were written but never committed.
        file.truncate(offset)
        file.seek(offset)
        self._file = file
        self._offset = self._saved_offset = offset
        self._written = self._saved_written = written
        self._write_tx = None

    def _truncate(self, offset: int) -> None:
        assert self._file is not None
        self._file.truncate(offset)
        self._file.seek(offset)
        self._offset = offset

    def _row(self, item: T) -> Sequence[Any]:
        if self.mapper is not None:
            return self.mapper(item)
        if isinstance(item, Mapping):
            if self.fields is None:
                raise ValueError(
                    f"writer {self.name!r} got a dict item but has no fields= to order its values"
                )
            try:
                return [item[field] for field in self.fields]
            except KeyError as error:
                raise ValueError(f"item has no field {error.args[0]!r}: {item!r}") from None
        if isinstance(item, Sequence) and not isinstance(item, str | bytes):
            return item
        raise TypeError(
            f"writer {self.name!r} cannot write a {type(item).__name__}: give a mapper= "
            "that turns it into a sequence of values"
        )

    def _format_rows(self, rows: Sequence[Sequence[Any]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, **self._format).writerows(rows)
        return buffer.getvalue().encode(self.encoding)

    def _write_bytes(self, data: bytes) -> None:
        assert self._file is not None
        self._file.write(data)
        # Flushed per chunk, so a crash after the commit cannot lose committed lines to a
        # buffer (the OS still holds them unless sync=True).
        self._file.flush()
        self._offset += len(data)
