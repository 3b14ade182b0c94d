"""Log lines cannot be forged: control and bidi characters in whatever a record holds
(message, arguments, fields, a traceback) are escaped, in text and in JSON."""

from __future__ import annotations

import json
import logging
import sys

import pytest
from jobop.batch.logcontext import BatchFormatter, JsonFormatter, add_context, escape, job_context

FORGED = "x\n2026-12-07 10:00:00,000 INFO  jobop.audit: AUDIT-OK Abandon by root"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("jobop.test", logging.INFO, "f", 1, message, args, None)
    add_context(made)
    made.__dict__.update(extra)
    return made


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\nb", "a\\nb"),
        ("a\r\nb", "a\\r\\nb"),
        ("a\tb", "a\\tb"),
        ("\x00\x1b[2J\x7f", "\\x00\\x1b[2J\\x7f"),
        ("\x85\x9b", "\\x85\\x9b"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("pay\u202etxt.exe", "pay\\u202etxt.exe"),
        ("café ünïcode ✓", "café ünïcode ✓"),
    ],
)
def test_escape_shows_controls_and_keeps_ordinary_text(raw: str, shown: str) -> None:
    assert escape(raw) == shown


def test_every_bidi_control_is_escaped() -> None:
    shown = escape(BIDI)
    assert shown.isascii() and shown.count("\\u") == len(BIDI)


def test_text_record_is_one_line_whatever_its_message_arguments_and_fields_hold() -> None:
    formatter = BatchFormatter()
    line = formatter.format(
        record(
            "starting %s with %r",
            FORGED,
            {"p": "\u202e"},
            message_code="APP\n0001",
            node_id="n\r1",
        )
    )
    assert "\n" not in line and "\r" not in line and "\u202e" not in line
    assert "x\\n2026-12-07 10:00:00,000 INFO  jobop.audit: AUDIT-OK" in line
    assert "APP\\n0001 " in line
    with job_context("job\nname", 7):
        inside = formatter.format(record("hi"))
    assert "\n" not in inside and "[job\\nname #7]" in inside


def test_a_traceback_is_indented_so_no_line_of_it_starts_a_record() -> None:
    try:
        raise ValueError(FORGED + "\u202e")
    except ValueError:
        failed = logging.LogRecord(
            "jobop.test", logging.ERROR, "f", 1, "boom %s", ("a\nb",), sys.exc_info()
        )
    add_context(failed)
    failed.exc_text = "Traceback (most recent call last):\nraw, cached by another formatter"
    lines = BatchFormatter().format(failed).split("\n")
    assert lines[0].endswith("jobop.test: boom a\\nb")
    assert all(line.startswith("  ") for line in lines[1:]), lines
    assert "  Traceback (most recent call last):" in lines
    assert "  2026-12-07 10:00:00,000 INFO  jobop.audit: AUDIT-OK Abandon by root\\u202e" in lines
    assert not any("\u202e" in line or "raw, cached" in line for line in lines)


def test_json_record_keeps_the_values_but_no_raw_control_or_bidi_character() -> None:
    text = JsonFormatter().format(record("param %s", FORGED + BIDI + "\x7f\x85\u2028 café"))
    assert "\n" not in text and text.isascii() is False  # café stays readable
    assert not any(character in text for character in BIDI + "\x7f\x85\u2028")
    assert "\\u202e" in text
    assert json.loads(text)["message"] == "param " + FORGED + BIDI + "\x7f\x85\u2028 café"
