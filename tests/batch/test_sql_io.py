"""SqlItemReader (keyset paging, restart after the last key) and SqlItemWriter, on both DBs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from jobop.batch.item import Chunk
from jobop.batch.sql import SqlItemReader, SqlItemWriter
from jobop.domain import ExecutionContext
from jobop.repository.engine import create_engine
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    TypeDecorator,
    bindparam,
    event,
    func,
    select,
    update,
)

metadata = MetaData()
people = Table(
    "io_people",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", String(50), nullable=False),
    Column("amount", Numeric(12, 2)),
)
visits = Table(
    "io_visits",
    metadata,
    Column("day", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("who", String(50)),
)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def fill(engine: Engine, count: int) -> None:
    with engine.begin() as connection:
        connection.execute(
            people.insert(), [{"id": i, "name": f"p{i}", "amount": i} for i in range(1, count + 1)]
        )


def read_all(reader: SqlItemReader[Any]) -> list[Any]:
    items = []
    while (item := reader.read()) is not None:
        items.append(item)
    return items


def count_statements(engine: Engine) -> list[str]:
    statements: list[str] = []

    def before(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", before)
    return statements


def test_reads_every_row_in_key_order_page_by_page(engine: Engine) -> None:
    fill(engine, 25)
    statements = count_statements(engine)
    reader = SqlItemReader(engine, select(people), key="id", page_size=10)
    reader.open(ExecutionContext())
    items = read_all(reader)
    reader.close()
    assert [item["id"] for item in items] == list(range(1, 26))
    assert items[0] == {"id": 1, "name": "p1", "amount": 1}
    # Three pages; the short last one ends the input without a fourth query.
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3
    # Pages after the first start after the last key read (SQLite's dialect renders a
    # constant OFFSET 0 with every LIMIT, so the key condition is what to look for).
    assert ["io_people.id >" in s for s in selects] == [False, True, True]


def test_filters_and_a_mapper(engine: Engine) -> None:
    fill(engine, 10)
    statement = select(people.c.id, people.c.name).where(people.c.id % 2 == 0)
    reader = SqlItemReader(engine, statement, key="id", page_size=2, mapper=lambda r: r["name"])
    reader.open(ExecutionContext())
    assert read_all(reader) == ["p2", "p4", "p6", "p8", "p10"]


def test_restart_resumes_after_the_saved_key(engine: Engine) -> None:
    fill(engine, 30)
    context = ExecutionContext()
    first = SqlItemReader(engine, select(people), key="id", page_size=7, name="people")
    first.open(context)
    assert [first.read()["id"] for _ in range(12)] == list(range(1, 13))  # type: ignore[index]
    first.update(context)
    first.read()  # after the last commit: read again on restart
    first.close()
    assert context["people.last.key"] == [12]
    assert context["people.read.count"] == 12

    # Rows before the position disappear meanwhile: with OFFSET paging the restart would
    # skip five rows it never read; by key it carries on at 13.
    with engine.begin() as connection:
        connection.execute(people.delete().where(people.c.id <= 5))

    second = SqlItemReader(engine, select(people), key="id", page_size=7, name="people")
    second.open(context)
    assert [item["id"] for item in read_all(second)] == list(range(13, 31))
    assert second.item_count == 30


def test_composite_key(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            visits.insert(),
            [{"day": d, "seq": s, "who": f"{d}-{s}"} for d in (1, 2, 3) for s in (1, 2, 3)],
        )
    context = ExecutionContext()
    first = SqlItemReader(engine, select(visits), key=("day", "seq"), page_size=2)
    first.open(context)
    assert [first.read()["who"] for _ in range(4)] == ["1-1", "1-2", "1-3", "2-1"]  # type: ignore[index]
    first.update(context)
    first.close()
    assert context["SqlItemReader.last.key"] == [2, 1]
    second = SqlItemReader(engine, select(visits), key=("day", "seq"), page_size=2)
    second.open(context)
    assert [item["who"] for item in read_all(second)] == ["2-2", "2-3", "3-1", "3-2", "3-3"]


def test_reads_while_a_chunk_transaction_holds_the_write_lock(engine: Engine) -> None:
    # The chunk's write transaction (BEGIN IMMEDIATE on SQLite) is open on another connection
    # of the same thread: the reader must not wait for it, or the step deadlocks.
    fill(engine, 5)
    reader = SqlItemReader(engine, select(people), key="id", page_size=2)
    reader.open(ExecutionContext())
    with engine.begin() as connection:
        connection.execute(people.insert(), {"id": 100, "name": "new", "amount": 0})
        assert [item["id"] for item in read_all(reader)] == [1, 2, 3, 4, 5]


def test_key_must_be_selected() -> None:
    engine = sqlalchemy.create_engine("sqlite://")
    with pytest.raises(ValueError, match=r"key column.*id not selected"):
        SqlItemReader(engine, select(people.c.name), key="id")


def test_unsaveable_key_values_are_reported(engine: Engine) -> None:
    fill(engine, 1)
    statement = select(people.c.amount, people.c.name)
    reader = SqlItemReader(engine, statement, key="amount")
    context = ExecutionContext()
    reader.open(context)
    reader.read()
    if engine.dialect.name == "postgresql":
        # NUMERIC comes back as Decimal, which JSON cannot hold.
        with pytest.raises(TypeError, match="key column 'amount' holds a Decimal"):
            reader.update(context)


def test_corrupt_saved_key_is_reported(engine: Engine) -> None:
    reader = SqlItemReader(engine, select(people), key="id")
    with pytest.raises(ValueError, match="does not match the key columns"):
        reader.open(ExecutionContext({"SqlItemReader.last.key": [1, 2]}))


# --- writer ---------------------------------------------------------------------------


def names(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(select(people.c.name).order_by(people.c.id)))


def rows(start: int, stop: int) -> list[dict[str, Any]]:
    return [{"id": i, "name": f"w{i}", "amount": i / 4} for i in range(start, stop)]


@pytest.mark.parametrize("use_copy", [False, True], ids=["executemany", "copy"])
def test_writer_writes_in_the_chunk_transaction(engine: Engine, use_copy: bool) -> None:
    writer: SqlItemWriter[dict[str, Any]] = SqlItemWriter(people, use_copy=use_copy)
    statements = count_statements(engine)
    with engine.begin() as connection:
        writer.write(Chunk(rows(1, 1001), connection=connection))
    # One statement for the whole chunk (COPY does not pass through SQLAlchemy at all).
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == (0 if use_copy and engine.dialect.name == "postgresql" else 1)

    with engine.connect() as connection:
        transaction = connection.begin()
        writer.write(Chunk(rows(1001, 1011), connection=connection))
        transaction.rollback()  # the chunk failed: its rows go with it
    assert names(engine) == [f"w{i}" for i in range(1, 1001)]
    with engine.connect() as connection:
        total = connection.scalar(select(func.sum(people.c.amount)))
    assert float(total) == sum(i / 4 for i in range(1, 1001))


def test_copy_quotes_names_like_sqlalchemy(engine: Engine) -> None:
    table = Table(
        "IO_Mixed_Case", MetaData(), Column("Id", Integer, primary_key=True), Column("Note", String)
    )
    table.create(engine)
    writer: SqlItemWriter[dict[str, Any]] = SqlItemWriter(table, use_copy=True)
    with engine.begin() as connection:
        writer.write(Chunk([{"Id": 1, "Note": "tab\there"}, {"Id": 2, "Note": None}], connection))
    with engine.connect() as connection:
        assert connection.execute(select(table).order_by(table.c.Id)).all() == [
            (1, "tab\there"),
            (2, None),
        ]


def test_writer_mapper_columns_and_text_sql(engine: Engine) -> None:
    writer = SqlItemWriter[tuple[int, str]](
        people, mapper=lambda p: {"id": p[0], "name": p[1], "amount": None}, columns=["id", "name"]
    )
    with engine.begin() as connection:
        writer.write(Chunk([(1, "a"), (2, "b")], connection))
    upper: SqlItemWriter[dict[str, Any]] = SqlItemWriter(
        "UPDATE io_people SET name = :name WHERE id = :id", assert_updates=True
    )
    with engine.begin() as connection:
        upper.write(Chunk([{"id": 1, "name": "A"}, {"id": 2, "name": "B"}], connection))
    assert names(engine) == ["A", "B"]


def test_assert_updates_fails_when_an_item_matches_no_row(engine: Engine) -> None:
    fill(engine, 2)
    statement = update(people).where(people.c.id == bindparam("key")).values(name=bindparam("n"))
    writer: SqlItemWriter[dict[str, Any]] = SqlItemWriter(statement, assert_updates=True)
    with (
        pytest.raises(RuntimeError, match=r"every one of 2 items.*only 1 rows changed"),
        engine.begin() as connection,
    ):
        writer.write(Chunk([{"key": 1, "n": "x"}, {"key": 99, "n": "y"}], connection))
    assert names(engine) == ["p1", "p2"]


def test_writer_to_another_database_commits_on_its_own(engine: Engine) -> None:
    writer: SqlItemWriter[dict[str, Any]] = SqlItemWriter(people, engine=engine)
    writer.write(Chunk(rows(1, 4)))
    assert names(engine) == ["w1", "w2", "w3"]


def test_writer_errors_are_clear(engine: Engine) -> None:
    with pytest.raises(ValueError, match="needs a table"):
        SqlItemWriter("INSERT INTO io_people VALUES (:id)", use_copy=True)
    with pytest.raises(ValueError, match="has no column"):
        SqlItemWriter(people, columns=["id", "nope"])
    writer: SqlItemWriter[Any] = SqlItemWriter(people)
    with pytest.raises(RuntimeError, match="needs the chunk's connection"):
        writer.write(Chunk(rows(1, 2)))
    with engine.begin() as connection, pytest.raises(TypeError, match="items must be mappings"):
        writer.write(Chunk([(1, "a")], connection))
    writer.write(Chunk([]))  # an empty chunk writes nothing, wherever


class Shouting(TypeDecorator[str]):
    """A column type that converts on the way in: the writer must not bypass it."""

    impl = String(50)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else value.upper()


def test_writer_applies_column_types_and_defaults(engine: Engine) -> None:
    table = Table(
        "io_converted",
        MetaData(),
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("loud", Shouting),
        Column("origin", String(20), default="jobop"),
    )
    table.create(engine)
    writer: SqlItemWriter[dict[str, Any]] = SqlItemWriter(table)
    with engine.begin() as connection:
        writer.write(Chunk([{"id": 1, "loud": "hi"}, {"id": 2, "loud": "there"}], connection))
    with engine.connect() as connection:
        assert connection.execute(select(table).order_by(table.c.id)).all() == [
            (1, "HI", "jobop"),
            (2, "THERE", "jobop"),
        ]
