"""SQL item reader (keyset paging) and writer (executemany or PostgreSQL COPY)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from sqlalchemy import Table, TableClause, insert, text, tuple_
from sqlalchemy.exc import DatabaseError

from .readers import ItemCountingReader
from .store import read_connection

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, Executable, Row, RowMapping, Select
    from sqlalchemy.sql.elements import ColumnElement

    from jobop.domain import ExecutionContext

    from .item import Chunk

T = TypeVar("T")

log = logging.getLogger(__name__)


def create_tables_if_absent(connection: Connection, *tables: Table) -> None:
    """CREATE TABLE IF NOT EXISTS for a job's own tables, inside the caller's (chunk)
    transaction, so a writer can create its target on first use."""
    if connection.dialect.name != "postgresql":
        for table in tables:
            table.create(connection, checkfirst=True)
        return
    # Two first runs may race to create them; the loser's savepoint rolls back, and the
    # tables are there either way.
    savepoint = connection.begin_nested()
    try:
        for table in tables:
            table.create(connection, checkfirst=True)
    except DatabaseError:
        savepoint.rollback()
    else:
        savepoint.commit()


# JSON-native values: what a saved key may hold in the execution context.
_JSON_SCALARS = (int, float, str, bool)


class SqlItemReader(ItemCountingReader[T]):
    """Reads the rows of a SELECT page by page in key order, restartable after the last key.

    Pages are fetched by keyset (`WHERE key > :last ORDER BY key LIMIT :page_size`), not
    OFFSET: a page costs the same at row one million as at row one, and rows that the
    step itself inserts or deletes meanwhile cannot shift the position. The key is one or
    more columns of the statement (`key="id"` or `key=("day", "id")`) that are unique
    and not null, such as the primary key; their values must be JSON scalars (int, str),
    since the last one read is saved as `<name>.last.key` at every chunk commit and a
    restart resumes after it. The statement must not have its own ORDER BY or LIMIT.

    Each page is read on a connection of its own from `engine`, returned to the pool right
    after, so the reader never holds a transaction or locks across chunks and never reads
    inside the chunk's write transaction. Rows become dicts unless `mapper` says otherwise.
    """

    @overload
    def __init__(
        self: SqlItemReader[dict[str, Any]],
        engine: Engine,
        statement: Select[Any],
        key: str | Sequence[str],
        *,
        page_size: int = 1000,
        mapper: None = None,
        name: str | None = None,
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None: ...

    @overload
    def __init__(
        self,
        engine: Engine,
        statement: Select[Any],
        key: str | Sequence[str],
        *,
        page_size: int = 1000,
        mapper: Callable[[RowMapping], T],
        name: str | None = None,
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None: ...

    def __init__(
        self,
        engine: Engine,
        statement: Select[Any],
        key: str | Sequence[str],
        *,
        page_size: int = 1000,
        mapper: Callable[[RowMapping], T] | None = None,
        name: str | None = None,
        max_item_count: int | None = None,
        save_state: bool = True,
    ) -> None:
        super().__init__(name, max_item_count=max_item_count, save_state=save_state)
        if page_size < 1:
            raise ValueError(f"page_size must be >= 1, got {page_size}")
        names = [key] if isinstance(key, str) else list(key)
        if not names:
            raise ValueError("SqlItemReader needs at least one key column")
        selected = [str(column.key) for column in statement.selected_columns]
        missing = [name for name in names if name not in selected]
        if missing:
            raise ValueError(
                f"key column(s) {', '.join(missing)} not selected by the statement "
                f"(it selects {', '.join(selected)})"
            )
        self.engine = engine
        self.statement = statement
        self.page_size = page_size
        self.mapper = mapper
        self._key_names = names
        self._key_columns: list[ColumnElement[Any]] = [
            statement.selected_columns[name] for name in names
        ]
        self._key_positions = [selected.index(name) for name in names]
        self._page: Sequence[Row[Any]] = ()
        self._index = 0
        self._exhausted = False
        self._last_key: list[Any] | None = None
        self._restored_key: list[Any] | None = None

    @property
    def last_key_key(self) -> str:
        return self.key("last.key")

    def open(self, context: ExecutionContext) -> None:
        saved = context.get(self.last_key_key) if self.save_state else None
        if saved is not None and (
            not isinstance(saved, list) or len(saved) != len(self._key_names)
        ):
            raise ValueError(
                f"reader {self.name!r}: saved {self.last_key_key} {saved!r} does not match the "
                f"key columns {self._key_names}"
            )
        self._restored_key = saved
        super().open(context)

    def update(self, context: ExecutionContext) -> None:
        super().update(context)
        if self.save_state and self._last_key is not None:
            for name, value in zip(self._key_names, self._last_key, strict=True):
                if not isinstance(value, _JSON_SCALARS):
                    raise TypeError(
                        f"reader {self.name!r}: key column {name!r} holds a "
                        f"{type(value).__name__}, which cannot be saved for a restart; use an "
                        "integer or text key"
                    )
            context[self.last_key_key] = list(self._last_key)

    def do_open(self) -> None:
        self._page, self._index, self._exhausted = (), 0, False
        self._last_key = self._restored_key

    def jump_to_item(self, item_index: int) -> None:
        # With a saved key the next page starts right after it; otherwise count rows.
        if self._restored_key is None:
            super().jump_to_item(item_index)

    def do_read(self) -> T | None:
        if self._index >= len(self._page):
            if self._exhausted:
                return None
            self._fetch_page()
            if not self._page:
                return None
        row = self._page[self._index]
        self._index += 1
        self._last_key = [row[position] for position in self._key_positions]
        if self.mapper is None:
            return cast(T, dict(row._mapping))
        return self.mapper(row._mapping)

    def do_close(self) -> None:
        self._page, self._index = (), 0

    def page_statement(self) -> Select[Any]:
        """The statement of the next page, after the last key read."""
        statement = self.statement
        last = self._last_key
        if last is not None:
            if len(self._key_columns) == 1:
                statement = statement.where(self._key_columns[0] > last[0])
            else:
                # Row-value comparison: PostgreSQL, and SQLite since 3.15.
                statement = statement.where(tuple_(*self._key_columns) > tuple_(*last))
        return statement.order_by(None).order_by(*self._key_columns).limit(self.page_size)

    def _fetch_page(self) -> None:
        # No transaction: on SQLite a reader must not take the write lock that the chunk's
        # transaction, on another connection of this very thread, may be holding.
        with read_connection(self.engine) as connection:
            self._page = connection.execute(self.page_statement()).fetchall()
        self._index = 0
        # A short page is the last one: no query just to learn that the next is empty.
        self._exhausted = len(self._page) < self.page_size


class SqlItemWriter(Generic[T]):
    """Writes each chunk with one executemany of an INSERT (or any statement) per chunk.

    `target` is a table (rows are inserted into it), a SQLAlchemy statement, or SQL text
    with `:name` parameters. Items are mappings of column or parameter name to value, or
    whatever `mapper` turns into one.

    The chunk is written on `chunk.connection`, the chunk's own transaction in the
    repository database, so the rows commit together with the step's counters and
    position: exactly once across crashes and restarts. With `engine=` the writer writes
    to another database instead, in a transaction of its own per chunk that commits before
    the chunk's: at-least-once (a crash between the two commits repeats the chunk).

    `use_copy=True` (a table target only) streams the chunk with PostgreSQL's COPY through
    the psycopg connection underneath the chunk's connection, in the same transaction;
    several times faster than executemany. On another database it falls back to
    executemany, so one job definition runs on SQLite and PostgreSQL alike.

    `assert_updates=True` fails the chunk when the database reports fewer affected rows
    than items, for UPDATE or DELETE statements that must match every item.
    """

    def __init__(
        self,
        target: TableClause | Executable | str,
        *,
        mapper: Callable[[T], Mapping[str, Any]] | None = None,
        columns: Sequence[str] | None = None,
        use_copy: bool = False,
        assert_updates: bool = False,
        engine: Engine | None = None,
    ) -> None:
        if use_copy and not isinstance(target, TableClause):
            raise ValueError("SqlItemWriter(use_copy=True) needs a table as its target")
        self.table = target if isinstance(target, TableClause) else None
        self.statement: Executable
        if isinstance(target, TableClause):
            self.statement = insert(target)
        elif isinstance(target, str):
            self.statement = text(target)
        else:
            self.statement = target
        if columns is not None and self.table is not None:
            unknown = [name for name in columns if name not in self.table.c]
            if unknown:
                raise ValueError(f"table {self.table.name} has no column(s) {', '.join(unknown)}")
        self.mapper = mapper
        self.columns = list(columns) if columns is not None else None
        self.use_copy = use_copy
        self.assert_updates = assert_updates
        self.engine = engine
        self._warned_copy = False
        self._direct: dict[tuple[str, str, tuple[str, ...]], str | None] = {}

    def write(self, chunk: Chunk[T]) -> None:
        if not chunk.items:
            return
        rows = self._rows(chunk.items)
        if self.engine is not None:
            with self.engine.begin() as connection:
                self._write(connection, rows)
            return
        if chunk.connection is None:
            raise RuntimeError(
                "SqlItemWriter needs the chunk's connection (chunk.connection is None): run it "
                "in a chunk step on a SQL repository, or give it engine= to write elsewhere"
            )
        self._write(chunk.connection, rows)

    def _rows(self, items: Sequence[T]) -> list[Mapping[str, Any]]:
        mapper = self.mapper
        if mapper is not None:
            return [mapper(item) for item in items]
        first = items[0]
        if not isinstance(first, Mapping):
            raise TypeError(
                f"SqlItemWriter cannot write a {type(first).__name__}: items must be mappings "
                "of column name to value, or give a mapper="
            )
        return cast("list[Mapping[str, Any]]", items)

    def _write(self, connection: Connection, rows: list[Mapping[str, Any]]) -> None:
        if self.use_copy:
            if connection.dialect.name == "postgresql":
                self._copy(connection, rows)
                return
            if not self._warned_copy:
                self._warned_copy = True
                log.info(
                    "COPY needs PostgreSQL; writing with executemany on %s", connection.dialect.name
                )
        direct = self._direct_insert(connection, tuple(self.columns or rows[0]))
        if direct is not None:
            # The driver takes the rows as they are (and ignores keys it does not need).
            result = connection.exec_driver_sql(direct, rows)
        else:
            if self.columns is not None and self.table is not None:
                rows = [{name: row[name] for name in self.columns} for row in rows]
            result = connection.execute(self.statement, rows)
        if self.assert_updates:
            affected = result.rowcount
            if affected >= 0 and affected < len(rows):
                raise RuntimeError(
                    f"expected every one of {len(rows)} items to change a row, but only "
                    f"{affected} rows changed"
                )

    def _direct_insert(self, connection: Connection, keys: tuple[str, ...]) -> str | None:
        """The INSERT as driver SQL, when the driver can take the items' dicts unchanged.

        SQLAlchemy's executemany costs a few microseconds per row to process parameters
        (about 15% of the whole on PostgreSQL); needless when no column converts its
        values, no Python-side default fills a missing column, and the driver's
        parameters are named. Otherwise (e.g. SQLite's Numeric and Date conversions)
        None, and the statement goes through SQLAlchemy.
        """
        dialect = connection.dialect
        cache_key = (dialect.name, dialect.driver, keys)
        if cache_key in self._direct:
            return self._direct[cache_key]
        sql = None
        table = self.table
        if (
            table is not None
            and dialect.paramstyle in ("pyformat", "named")
            and all(key in table.c for key in keys)
            and all(
                table.c[key].type.dialect_impl(dialect).bind_processor(dialect) is None
                for key in keys
            )
            and all(
                getattr(column, "default", None) is None
                for column in table.c
                if column.key not in keys
            )
        ):
            compiled = insert(table).compile(dialect=dialect, column_keys=list(keys))
            # Escaped parameter names would no longer match the dict keys.
            if not compiled.positional and not compiled.escaped_bind_names:
                sql = compiled.string
        self._direct[cache_key] = sql
        return sql

    def _copy(self, connection: Connection, rows: list[Mapping[str, Any]]) -> None:
        from psycopg import sql

        assert self.table is not None
        columns = self.columns or list(rows[0])
        preparer = connection.dialect.identifier_preparer
        # Quoted exactly as SQLAlchemy quotes them in its own INSERT, so both paths agree.
        statement = "COPY {} ({}) FROM STDIN".format(
            preparer.format_table(self.table),
            ", ".join(preparer.quote(name) for name in columns),
        )
        driver = connection.connection.driver_connection
        if driver is None:
            raise RuntimeError("the chunk's connection has no open psycopg connection")
        with driver.cursor() as cursor, cursor.copy(sql.SQL(statement)) as copy:
            write_row = copy.write_row
            try:
                for row in rows:
                    write_row([row[name] for name in columns])
            except KeyError as error:
                raise ValueError(f"an item has no value for column {error.args[0]!r}") from None
