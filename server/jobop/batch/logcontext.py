"""Which job, execution, step and node a log record came from, and the two log formats.

The runner sets three context variables while a job runs; a LogRecord factory copies them
onto every record as `job_name`, `job_execution_id` and `step_name` (None outside a job), so
any handler and formatter can show them, whichever library logged. Context variables
follow the worker thread that runs the job, so concurrent executions never mix. Every
record also gets the process's `node_id` (`host:pid` unless `set_node_id` names it).

`BatchFormatter` writes one human-readable line per record; `JsonFormatter` one JSON
object per line, for log collectors.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import os
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


class BatchFormatter(logging.Formatter):
    """Puts the message code, `[job #execution step]` and, inside an execution, `@node`
    before the logger name when a record has them."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(
            fmt
            or "%(asctime)s %(levelname)-5s %(code_prefix)s%(batch_context)s%(node_prefix)s"
            "%(name)s: %(message)s",
            datefmt,
        )

    def format(self, record: logging.LogRecord) -> str:
        job_name = getattr(record, "job_name", None)
        record.batch_context = describe(
            job_name,
            getattr(record, "job_execution_id", None),
            getattr(record, "step_name", None),
        )
        code = getattr(record, "message_code", None)
        record.code_prefix = f"{code} " if code else ""
        node = getattr(record, "node_id", None)
        record.node_prefix = f"@{node} " if node and job_name else ""
        return super().format(record)


def describe(job_name: str | None, execution_id: int | None, step_name: str | None) -> str:
    if job_name is None:
        return ""
    parts = [job_name]
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
        return json.dumps(entry, default=str, ensure_ascii=False)


def current_job_name() -> str | None:
    """The name of the job running on this thread (None outside a job)."""
    return _job_name.get()


@contextmanager
def job_context(job_name: str, execution_id: int) -> Iterator[None]:
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
