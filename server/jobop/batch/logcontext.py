"""Which job, execution and step a log record came from.

The runner sets three context variables while a job runs; a LogRecord factory copies them
onto every record as `job_name`, `job_execution_id` and `step_name` (None outside a job), so
any handler and formatter can show them, whichever library logged. Context variables
follow the worker thread that runs the job, so concurrent executions never mix.
"""

from __future__ import annotations

import contextvars
import logging
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


def add_context(record: logging.LogRecord) -> None:
    """Set the three attributes on a record from the current context."""
    record.job_name = _job_name.get()
    record.job_execution_id = _job_execution_id.get()
    record.step_name = _step_name.get()


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
    """Puts `[job #execution step]` before the logger name when a record has them."""

    def __init__(self, fmt: str | None = None, datefmt: str | None = None) -> None:
        super().__init__(
            fmt or "%(asctime)s %(levelname)-5s %(batch_context)s%(name)s: %(message)s",
            datefmt,
        )

    def format(self, record: logging.LogRecord) -> str:
        record.batch_context = describe(
            getattr(record, "job_name", None),
            getattr(record, "job_execution_id", None),
            getattr(record, "step_name", None),
        )
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
