"""Which job, execution, step and node a log record came from, and the two log formats.

The runner sets three context variables while a job runs; a LogRecord factory copies them
onto every record as `job_name`, `job_execution_id` and `step_name` (None outside a job), so
any handler and formatter can show them, whichever library logged. Context variables
follow the worker thread that runs the job, so concurrent executions never mix. Every
record also gets the process's `node_id` (`host:pid` unless `set_node_id` names it).

`BatchFormatter` writes one human-readable line per record; `JsonFormatter` one JSON
object per line, for log collectors. Values come from callers (a job parameter, a request
id, an exception's message), so neither format lets one write a line of its own or turn
the text around: control and bidi characters are shown as escapes (`escape`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_job_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_name", default=None)
_job_execution_id: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "job_execution_id", default=None
)
_step_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("step_name", default=None)

_install_lock = threading.Lock()
_installed = False
_node_id = f"{socket.gethostname()}:{os.getpid()}"


def set_node_id(node_id: str) -> None:
    """Name this process in every record from now on (a server's node id)."""
    global _node_id
    _node_id = node_id


def node_id() -> str:
    return _node_id


def add_context(record: logging.LogRecord) -> None:
    """Set the context attributes on a record from the current context."""
    record.job_name = _job_name.get()
    record.job_execution_id = _job_execution_id.get()
    record.step_name = _step_name.get()
    record.node_id = _node_id


def install() -> None:
    """Wrap the process's LogRecord factory once so that every record carries the context."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            add_context(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


class BatchContextFilter(logging.Filter):
    """For handlers fed by records made before `install()` (or by another factory)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "job_name"):
            add_context(record)
        return True


# C0 and C1 controls, DEL, the line and paragraph separators, and the bidi controls (marks,
# embeddings, overrides, isolates): shown escaped, so a value cannot start a line of its
# own, move the cursor, or reorder what a terminal shows.
_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029" + _BIDI + "]")
# What JSON text may still hold raw (json.dumps escapes the C0 controls).
_UNSAFE_IN_JSON = re.compile(r"[\x7f-\x9f\u2028\u2029" + _BIDI + "]")
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    character = match[0]
    short = _SHORT_ESCAPES.get(character)
    if short is not None:
        return short
    code = ord(character)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape(text: str) -> str:
    """`text` on one line, its control and bidi characters written as escapes (`\\n`,
    `\\x1b`, `\\u202e`)."""
    return _UNSAFE.sub(_escaped, text)


def _json_escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


class BatchFormatter(logging.Formatter):
    """Puts the message code, `[job #execution step]` and, inside an execution, `@node`
    before the logger name when a record has them.

    The record's line is escaped as a whole (message, arguments, every field), and a
    traceback's lines are escaped and indented: a line that starts in column 0 always
    begins a record."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(
            fmt
            or "%(asctime)s %(levelname)-5s %(code_prefix)s%(batch_context)s%(node_prefix)s"
            "%(name)s: %(message)s",
            datefmt,
        )

    def format(self, record: logging.LogRecord) -> str:
        context = describe(
            getattr(record, "job_name", None),
            getattr(record, "job_execution_id", None),
            getattr(record, "step_name", None),
        )
        record.batch_context = context
        code = getattr(record, "message_code", None)
        record.code_prefix = f"{code} " if code else ""
        node = getattr(record, "node_id", None)
        record.node_prefix = f"@{node} " if node and context else ""
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        lines = [escape(self.formatMessage(record))]
        # Not record.exc_text: another handler's formatter may have cached it unescaped.
        if record.exc_info:
            lines.append(_continuation(self.formatException(record.exc_info)))
        if record.stack_info:
            lines.append(_continuation(self.formatStack(record.stack_info)))
        return "\n".join(lines)


def _continuation(text: str) -> str:
    return "\n".join("  " + escape(line) for line in text.rstrip("\n").split("\n"))


def describe(job_name: str | None, execution_id: int | None, step_name: str | None) -> str:
    if job_name is None and execution_id is None:
        return ""
    parts = [job_name or "?"]
    if execution_id is not None:
        parts.append(f"#{execution_id}")
    if step_name is not None:
        parts.append(step_name)
    return "[" + " ".join(parts) + "] "


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO-8601), level, logger, message, code,
    job_name, job_execution_id, step_name, node_id, thread, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "node_id"):
            add_context(record)
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "code": getattr(record, "message_code", None),
            "job_name": getattr(record, "job_name", None),
            "job_execution_id": getattr(record, "job_execution_id", None),
            "step_name": getattr(record, "step_name", None),
            "node_id": getattr(record, "node_id", None),
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # JSON escapes keep the text exact for a collector and inert in a terminal.
        text = json.dumps(entry, default=str, ensure_ascii=False)
        return _UNSAFE_IN_JSON.sub(_json_escaped, text)


def current_job_name() -> str | None:
    """The name of the job running on this thread (None outside a job)."""
    return _job_name.get()


@contextmanager
def job_context(job_name: str | None, execution_id: int | None) -> Iterator[None]:
    """Records made inside name this job and execution (a record about an execution made
    outside its run, such as an audit line, names them too; None where not known)."""
    name_token = _job_name.set(job_name)
    id_token = _job_execution_id.set(execution_id)
    step_token = _step_name.set(None)
    try:
        yield
    finally:
        _step_name.reset(step_token)
        _job_execution_id.reset(id_token)
        _job_name.reset(name_token)


@contextmanager
def step_context(step_name: str) -> Iterator[None]:
    token = _step_name.set(step_name)
    try:
        yield
    finally:
        _step_name.reset(token)
