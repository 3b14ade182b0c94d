"""Mapping a job's exit code to a process exit code, and the mapping files."""

from __future__ import annotations

from pathlib import Path

import pytest
from jobop_client.exit_codes import (
    DEFAULT_EXIT_CODES,
    load_exit_codes,
    map_exit_code,
    parse_exit_codes,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("COMPLETED", 0),
        ("NOOP", 0),
        ("STOPPED", 255),
        ("FAILED", 255),
        ("ABANDONED", 255),
        ("UNKNOWN", 255),
        ("CUSTOM FAILED", 255),
        ("", 255),
    ],
)
def test_default_map(code: str, expected: int) -> None:
    assert map_exit_code(code) == expected


def test_overrides_add_and_replace_entries() -> None:
    overrides = {"CUSTOM FAILED": 100, "STOPPED": 3}
    assert map_exit_code("CUSTOM FAILED", overrides) == 100
    assert map_exit_code("STOPPED", overrides) == 3
    assert map_exit_code("FAILED", overrides) == 255
    assert map_exit_code("COMPLETED", overrides) == 0


@pytest.mark.parametrize(
    "text",
    [
        '{"CUSTOM FAILED": 100, "COMPLETED": 0}',  # JSON
        '"CUSTOM FAILED" = 100\nCOMPLETED = 0\n',  # TOML document
        '{"CUSTOM FAILED" = 100, COMPLETED = 0}',  # TOML inline table, as in docs/cli.md
    ],
)
def test_mapping_files_in_json_and_toml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "codes"
    path.write_text(text)
    assert load_exit_codes(path) == {"CUSTOM FAILED": 100, "COMPLETED": 0}


def test_an_empty_file_maps_nothing() -> None:
    assert parse_exit_codes("  \n") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"X": "one"}', "must be a whole number, not 'one'"),
        ('{"X": true}', "must be a whole number"),
        ('{"X": 256}', "between 0 and 255, not 256"),
        ("X = -1", "between 0 and 255"),
        ("[X]\nY = 1", "must be a whole number"),
        ("[1, 2]", "neither JSON nor TOML"),
        ("{nope", "neither JSON nor TOML"),
        ("X == 1", "neither JSON nor TOML"),
    ],
)
def test_bad_mapping_files_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "codes.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        load_exit_codes(path)
    assert str(path) in str(caught.value)


def test_a_missing_file_is_a_readable_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"cannot read exit-code file .*No such file"):
        load_exit_codes(tmp_path / "missing.json")


def test_the_default_map_cannot_be_changed_by_accident() -> None:
    with pytest.raises(TypeError):
        DEFAULT_EXIT_CODES["COMPLETED"] = 1  # type: ignore[index]
