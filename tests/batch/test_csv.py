"""CsvItemReader and CsvItemWriter: parsing, and resuming by byte offset without duplicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from jobop.batch.csv import CsvItemReader, CsvItemWriter, CsvParseError
from jobop.batch.item import Chunk
from jobop.domain import ExecutionContext

PEOPLE = "id,name,amount\n1,Ada,10.50\n2,Grace,20.00\n3,Linus,7.25\n4,Barbara,1.00\n5,Ken,3.00\n"


def read_all(reader: CsvItemReader[Any]) -> list[Any]:
    items = []
    while (item := reader.read()) is not None:
        items.append(item)
    return items


def write_file(tmp_path: Path, text: str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_header_names_the_fields(tmp_path: Path) -> None:
    reader = CsvItemReader(write_file(tmp_path, PEOPLE))
    reader.open(ExecutionContext())
    items = read_all(reader)
    reader.close()
    assert items[0] == {"id": "1", "name": "Ada", "amount": "10.50"}
    assert [item["name"] for item in items] == ["Ada", "Grace", "Linus", "Barbara", "Ken"]


def test_fields_without_header_and_a_mapper(tmp_path: Path) -> None:
    path = write_file(tmp_path, "1;Ada\n2;Grace\n")
    reader = CsvItemReader(
        path,
        header=False,
        fields=["id", "name"],
        delimiter=";",
        mapper=lambda row: (int(row["id"]), row["name"].upper()),
    )
    reader.open(ExecutionContext())
    assert read_all(reader) == [(1, "ADA"), (2, "GRACE")]


def test_fields_replace_the_header_names(tmp_path: Path) -> None:
    reader = CsvItemReader(write_file(tmp_path, PEOPLE), fields=["a", "b", "c"])
    reader.open(ExecutionContext())
    assert reader.read() == {"a": "1", "b": "Ada", "c": "10.50"}


def test_names_are_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs field names"):
        CsvItemReader(write_file(tmp_path, PEOPLE), header=False)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    reader = CsvItemReader(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match=r"CSV input file not found: .*nope\.csv"):
        reader.open(ExecutionContext())


def test_blank_lines_quoted_newlines_crlf_bom_and_skipped_lines(tmp_path: Path) -> None:
    text = '\ufeff# exported\r\nid,note\r\n1,"two\r\nlines"\r\n\r\n2,"a ""quote"""\r\n'
    reader = CsvItemReader(write_file(tmp_path, text), lines_to_skip=1)
    reader.open(ExecutionContext())
    assert read_all(reader) == [
        {"id": "1", "note": "two\r\nlines"},
        {"id": "2", "note": 'a "quote"'},
    ]


def test_bom_before_the_header_is_dropped(tmp_path: Path) -> None:
    reader = CsvItemReader(write_file(tmp_path, "\ufeffid,name\n1,Ada\n"))
    reader.open(ExecutionContext())
    assert reader.read() == {"id": "1", "name": "Ada"}


def test_wrong_field_count_names_the_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = write_file(tmp_path, "id,name\n1,Ada\n2\n3,Linus,extra\n4,Ken\n")
    reader = CsvItemReader(path)
    reader.open(ExecutionContext())
    assert reader.read() == {"id": "1", "name": "Ada"}
    with pytest.raises(CsvParseError, match=r"line 3: expected 2 fields, found 1") as error:
        reader.read()
    assert error.value.line == 3
    assert error.value.text == "2"
    with pytest.raises(CsvParseError, match="line 4: expected 2 fields, found 3"):
        reader.read()
    assert reader.read() == {"id": "4", "name": "Ken"}
    assert reader.item_count == 4  # the two bad records count: they were consumed


def test_lenient_mode_accepts_ragged_rows(tmp_path: Path) -> None:
    reader = CsvItemReader(write_file(tmp_path, "a,b\n1\n1,2,3\n"), strict=False)
    reader.open(ExecutionContext())
    assert read_all(reader) == [{"a": "1"}, {"a": "1", "b": "2"}]


def test_bad_encoding_is_reported_for_that_record_only(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"id,name\n1,Ada\n2,Jos\xe9\n3,Ken\n")
    reader = CsvItemReader(path)
    reader.open(ExecutionContext())
    assert reader.read() == {"id": "1", "name": "Ada"}
    with pytest.raises(CsvParseError, match="line 3: not valid utf-8"):
        reader.read()
    assert reader.read() == {"id": "3", "name": "Ken"}

    latin = CsvItemReader(path, encoding="latin-1")
    latin.open(ExecutionContext())
    assert [row["name"] for row in read_all(latin)] == ["Ada", "José", "Ken"]


def test_bad_bytes_inside_a_quoted_record_fail_that_whole_record(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(b'id,note\n1,"a\nb\xe9\nc"\n2,x\n3\n4,y\n')
    reader = CsvItemReader(path, name="in")
    context = ExecutionContext()
    reader.open(context)
    with pytest.raises(CsvParseError, match="line 2: not valid utf-8") as error:
        reader.read()
    # The record's three lines, not a piece of it; parsing goes on after its last line.
    assert error.value.text == '1,"a\nb\ufffd\nc"'
    assert (reader.record_line, reader.line) == (2, 4)
    assert reader.read() == {"id": "2", "note": "x"}
    assert reader.record_line == 5
    with pytest.raises(CsvParseError, match="line 6: expected 2 fields, found 1") as error:
        reader.read()
    assert error.value.text == "3"
    assert reader.read() == {"id": "4", "note": "y"}
    assert reader.read() is None
    reader.update(context)
    assert (context["in.offset"], context["in.line"]) == (path.stat().st_size, 7)
    assert context["in.read.count"] == 4


def test_ascii_incompatible_encoding_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not ASCII-compatible"):
        CsvItemReader(write_file(tmp_path, PEOPLE), encoding="utf-16")


def test_update_saves_offset_line_and_count(tmp_path: Path) -> None:
    path = write_file(tmp_path, PEOPLE)
    reader = CsvItemReader(path, name="people")
    context = ExecutionContext()
    reader.open(context)
    reader.read()
    reader.read()
    reader.update(context)
    assert context["people.read.count"] == 2
    assert context["people.line"] == 3
    assert context["people.offset"] == len("id,name,amount\n1,Ada,10.50\n2,Grace,20.00\n")


def test_restart_seeks_to_the_offset_without_reading_the_start(tmp_path: Path) -> None:
    path = write_file(tmp_path, PEOPLE)
    context = ExecutionContext()
    first = CsvItemReader(path)
    first.open(context)
    first.read()
    first.read()
    first.update(context)
    first.read()  # not committed: read again after the restart
    first.close()

    # Garble the records already read, keeping their length: a reader that re-read them
    # (instead of seeking) would fail on them.
    data = path.read_bytes()
    start, end = data.index(b"1,Ada"), data.index(b"3,Linus")
    path.write_bytes(data[:start] + b"x" * (end - start - 1) + b"\n" + data[end:])

    second = CsvItemReader(path)
    second.open(context)
    assert [row["name"] for row in read_all(second)] == ["Linus", "Barbara", "Ken"]
    assert second.item_count == 5


def test_restart_keeps_line_numbers_for_errors(tmp_path: Path) -> None:
    path = write_file(tmp_path, 'id,note\n1,"a\nb"\n2,x\n3\n')
    context = ExecutionContext()
    first = CsvItemReader(path)
    first.open(context)
    first.read()
    first.update(context)
    first.close()
    second = CsvItemReader(path)
    second.open(context)
    assert second.read() == {"id": "2", "note": "x"}
    with pytest.raises(CsvParseError, match="line 5:"):
        second.read()


def test_restart_without_an_offset_skips_records(tmp_path: Path) -> None:
    # State from a reader that saved only the count: skip whole records, even bad ones.
    path = write_file(tmp_path, "id,name\n1,Ada\n2\n\n3,Linus\n4,Ken\n")
    reader = CsvItemReader(path)
    reader.open(ExecutionContext({"CsvItemReader.read.count": 3}))
    assert read_all(reader) == [{"id": "4", "name": "Ken"}]


def test_restart_on_a_shorter_file_fails(tmp_path: Path) -> None:
    path = write_file(tmp_path, PEOPLE)
    context = ExecutionContext({"CsvItemReader.offset": 10_000, "CsvItemReader.line": 50})
    with pytest.raises(ValueError, match="the file changed since the last run"):
        CsvItemReader(path).open(context)


def test_restart_inside_a_line_fails(tmp_path: Path) -> None:
    path = write_file(tmp_path, PEOPLE)
    context = ExecutionContext({"CsvItemReader.offset": 20, "CsvItemReader.line": 2})
    with pytest.raises(ValueError, match="not the start of a line"):
        CsvItemReader(path).open(context)


# --- writer ---------------------------------------------------------------------------


def chunk(items: list[Any], connection: sqlalchemy.Connection | None = None) -> Chunk[Any]:
    return Chunk(items=items, connection=connection)


def test_writer_writes_header_dicts_and_sequences(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    writer: CsvItemWriter[Any] = CsvItemWriter(path, fields=["id", "name"], header=True)
    context = ExecutionContext()
    writer.open(context)
    writer.write(chunk([{"id": 1, "name": "Ada"}, (2, 'say "hi", Grace')]))
    writer.update(context)
    writer.close()
    assert path.read_text() == 'id,name\n1,Ada\n2,"say ""hi"", Grace"\n'
    assert context["CsvItemWriter.written"] == 2
    assert context["CsvItemWriter.offset"] == path.stat().st_size


def test_writer_mapper_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    writer = CsvItemWriter[tuple[int, str]](
        path, fields=["id", "name"], header=True, mapper=lambda p: [p[0], p[1].lower()]
    )
    writer.open(ExecutionContext())
    writer.write(chunk([(1, "Ada\nLovelace"), (2, "GRACE")]))
    writer.close()
    reader = CsvItemReader(path)
    reader.open(ExecutionContext())
    assert read_all(reader) == [{"id": "1", "name": "ada\nlovelace"}, {"id": "2", "name": "grace"}]


def test_restart_truncates_lines_that_were_never_committed(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    context = ExecutionContext()
    writer: CsvItemWriter[Any] = CsvItemWriter(path, fields=["n"], header=True)
    writer.open(context)
    writer.write(chunk([[1], [2]]))
    writer.update(context)
    committed = context.copy()  # what the chunk commit saved
    writer.write(chunk([[3], [4]]))  # the process dies before this chunk commits
    writer.close()
    assert path.read_text() == "n\n1\n2\n3\n4\n"

    restarted: CsvItemWriter[Any] = CsvItemWriter(path, fields=["n"], header=True)
    restarted.open(committed)
    assert path.read_text() == "n\n1\n2\n"
    restarted.write(chunk([[3], [4]]))
    restarted.update(committed)
    restarted.write(chunk([[5]]))
    restarted.update(committed)
    restarted.close()
    assert path.read_text() == "n\n1\n2\n3\n4\n5\n"
    assert committed["CsvItemWriter.written"] == 5


def test_restart_on_a_truncated_file_reports_lost_lines(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("1\n")
    writer: CsvItemWriter[Any] = CsvItemWriter(path)
    with pytest.raises(ValueError, match="lines were lost"):
        writer.open(ExecutionContext({"CsvItemWriter.offset": 100}))


def test_restart_on_a_missing_file_fails(tmp_path: Path) -> None:
    writer: CsvItemWriter[Any] = CsvItemWriter(tmp_path / "gone.csv")
    with pytest.raises(FileNotFoundError, match="is gone"):
        writer.open(ExecutionContext({"CsvItemWriter.offset": 3}))


def test_lines_of_a_rolled_back_chunk_are_removed_on_the_next_write(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"sqlite:///{tmp_path}/tx.db")
    path = tmp_path / "out.csv"
    writer: CsvItemWriter[Any] = CsvItemWriter(path)
    context = ExecutionContext()
    writer.open(context)
    with engine.connect() as connection:
        with connection.begin():
            writer.write(chunk([[1]], connection))
            writer.update(context)
        transaction = connection.begin()
        writer.write(chunk([[2], [3]], connection))
        transaction.rollback()  # e.g. a later writer of the chunk failed
        with connection.begin():
            # Two writes in one transaction (an item-by-item retry) both stay.
            writer.write(chunk([[2]], connection))
            writer.write(chunk([[3]], connection))
            writer.update(context)
    writer.close()
    assert path.read_text() == "1\n2\n3\n"
    assert context["CsvItemWriter.written"] == 3


def test_append_keeps_existing_lines_and_writes_no_second_header(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    path.write_text("n\n0\n")
    writer: CsvItemWriter[Any] = CsvItemWriter(
        path, fields=["n"], header=True, append=True, sync=True
    )
    writer.open(ExecutionContext())
    writer.write(chunk([[1]]))
    writer.update(ExecutionContext())
    writer.close()
    assert path.read_text() == "n\n0\n1\n"


def test_writer_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs the field names"):
        CsvItemWriter(tmp_path / "x.csv", header=True)
    writer: CsvItemWriter[Any] = CsvItemWriter(tmp_path / "x.csv", fields=["a", "b"])
    with pytest.raises(RuntimeError, match="not open"):
        writer.write(chunk([[1]]))
    writer.open(ExecutionContext())
    with pytest.raises(ValueError, match="item has no field 'b'"):
        writer.write(chunk([{"a": 1}]))
    with pytest.raises(TypeError, match="cannot write a int"):
        writer.write(chunk([5]))
    writer.close()
    assert (tmp_path / "x.csv").read_text() == ""


def test_record_line_tells_where_a_record_starts(tmp_path: Path) -> None:
    path = write_file(tmp_path, 'id,note\n1,"a\nb\nc"\n\n2,x\n')
    reader = CsvItemReader(path)
    reader.open(ExecutionContext())
    reader.read()
    assert (reader.record_line, reader.line) == (2, 4)
    reader.read()
    assert (reader.record_line, reader.line) == (6, 6)


def test_a_failed_open_leaves_nothing_open(tmp_path: Path) -> None:
    path = write_file(tmp_path, PEOPLE)
    context = ExecutionContext({"CsvItemReader.offset": 10_000, "CsvItemReader.line": 9})
    reader = CsvItemReader(path)
    with pytest.raises(ValueError, match="file changed"):
        reader.open(context)
    reader.open(ExecutionContext())  # not "already open"
    assert reader.read() == {"id": "1", "name": "Ada", "amount": "10.50"}


def test_read_chunk_gives_the_items_reads_would(tmp_path: Path) -> None:
    text = 'id,note\n1,"a\nb"\n\n2,x\n3,y\n4,z\n'
    one_by_one = CsvItemReader(write_file(tmp_path, text))
    one_by_one.open(ExecutionContext())
    expected = read_all(one_by_one)
    seen_lines: list[int] = []

    def note_line(row: dict[str, str]) -> dict[str, str]:
        seen_lines.append(chunked.record_line)
        return row

    chunked = CsvItemReader(write_file(tmp_path, text), mapper=note_line)
    context = ExecutionContext()
    chunked.open(context)
    assert chunked.read_chunk(3) + chunked.read_chunk(3) == expected
    assert seen_lines == [2, 5, 6, 7]  # each record's own first line, for the mapper
    assert chunked.read_chunk(3) == []
    chunked.update(context)
    assert (context["CsvItemReader.read.count"], context["CsvItemReader.line"]) == (4, 7)


def test_a_bad_record_fails_read_chunk_there_and_reading_goes_on(tmp_path: Path) -> None:
    path = write_file(tmp_path, "id,name\n1,Ada\n2,Grace\n3\n4,Ken\n")
    reader = CsvItemReader(path)
    reader.open(ExecutionContext())
    with pytest.raises(CsvParseError, match=r"line 4: expected 2 fields, found 1"):
        reader.read_chunk(10)
    assert reader.item_count == 3  # as reading one by one: the bad record was consumed
    assert reader.read_chunk(10) == [{"id": "4", "name": "Ken"}]


def test_a_restart_after_chunked_reads_resumes_at_the_saved_offset(tmp_path: Path) -> None:
    path = write_file(tmp_path, PEOPLE)
    context = ExecutionContext()
    first = CsvItemReader(path)
    first.open(context)
    assert [item["id"] for item in first.read_chunk(2)] == ["1", "2"]
    first.update(context)
    first.read_chunk(2)  # not committed: read again after the restart
    first.close()
    again = CsvItemReader(path)
    again.open(context)
    assert [item["id"] for item in again.read_chunk(10)] == ["3", "4", "5"]
