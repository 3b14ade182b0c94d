"""JobInstance, JobExecution, StepExecution and ExecutionContext: the repository's records."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .context_values import (
    INT_MAX,
    INT_MIN,
    TYPE_KEY,
    JavaFloat,
    JavaInteger,
    copy_value,
    snapshot,
)
from .errors import UnreadableContext, UnstorableContext
from .parameters import JobParameters
from .status import BatchStatus, ExitStatus

# The EXIT_MESSAGE columns hold at most this many characters.
EXIT_MESSAGE_LENGTH = 2500


def utcnow() -> datetime:
    """Now, to the millisecond: what every repository column (and a java.sql.Timestamp as
    Spring's JDBC driver for SQLite stores it) keeps, so a saved time reads back equal."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


# Types whose values cannot change in place (a context of these alone is compared with
# what was saved without taking a snapshot).
_SCALARS = frozenset({str, int, bool, float, JavaInteger, JavaFloat, datetime, date, type(None)})


class ExecutionContext(MutableMapping[str, Any]):
    """A step's or job's saved state, tracking whether it changed.

    Values are those of `context_values` (each stands for one Java type, so that a Spring
    Batch application reads the same context) and are checked when they are put, so a bad
    value fails where it is written rather than at the chunk commit. `dirty` compares the
    values with a typed snapshot of what was last saved, so a value changed in place
    (`context["seen"].append(x)`) is saved too.
    """

    __slots__ = (
        "_changed",
        "_edits",
        "_pending",
        "_pending_edits",
        "_saved",
        "_unreadable",
        "_values",
    )

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(values or {})
        self._changed = False
        self._saved = self._snapshot()  # what the repository holds (taken as such)
        # The snapshot of the values last handed to the repository (`storable_values`),
        # and how many puts and deletes had changed them by then.
        self._pending: Any = None
        self._edits = 0
        self._pending_edits = 0
        self._unreadable: UnreadableContext | None = None

    @classmethod
    def unreadable(cls, error: UnreadableContext) -> ExecutionContext:
        """A stored context jobop could not read: using it raises `error`, so nothing is
        ever resumed from (or saved over) a context that was not understood."""
        context = cls()
        context._unreadable = error
        return context

    def _check_readable(self) -> None:
        if self._unreadable is not None:
            raise UnreadableContext(str(self._unreadable))

    def _snapshot(self) -> Any:
        return snapshot(self._values, "execution context")

    def _scalars_only(self) -> bool:
        return all(type(value) in _SCALARS for value in self._values.values())

    @property
    def dirty(self) -> bool:
        """Whether the values differ from what was last saved (or marked saved)."""
        if self._changed:
            return True
        if self._scalars_only():
            return False  # none can change in place: only a put or a delete changes them
        try:
            return bool(self._snapshot() != self._saved)
        except TypeError:
            return True  # a value changed in place into one no Java type holds

    @dirty.setter
    def dirty(self, value: bool) -> None:
        # False: the values last handed to the repository are what it now holds (a put
        # or delete made since they were handed over still makes them differ).
        pending, self._pending = self._pending, None
        if value:
            self._changed = True
        elif pending is not None:
            self._saved = pending
            self._changed = self._edits != self._pending_edits
        elif self._changed or not self._scalars_only():
            self._saved = self._snapshot()
            self._changed = False
        # (else nothing was put and nothing can have changed in place: `_saved` holds)

    def storable_values(self) -> dict[str, Any]:
        """The values, for the repository to save: checked as a whole, since a value put
        may have been changed in place since (UnstorableContext names the first one no
        Java type holds)."""
        self._check_readable()
        try:
            self._pending = self._snapshot()
            self._pending_edits = self._edits
        except TypeError as error:
            raise UnstorableContext(f"{error}; the context cannot be saved") from None
        return self._values

    def drop_unstorable(self) -> list[str]:
        """Remove the entries no Java type holds, so that the rest can be saved; returns
        why each one went."""
        self._check_readable()
        dropped = []
        for key, value in list(self._values.items()):
            try:
                snapshot(value, f"execution context[{key!r}]")
            except TypeError as error:
                dropped.append(str(error))
                del self._values[key]
                self._changed = True
                self._edits += 1
        return dropped

    def __getitem__(self, key: str) -> Any:
        self._check_readable()
        return self._values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_readable()
        if not isinstance(key, str):
            raise TypeError(f"execution context keys are strings, not {type(key).__name__}")
        if key == TYPE_KEY:
            raise TypeError(f"the execution context key {TYPE_KEY!r} is reserved for Jackson")
        previous = self._values.get(key)
        # Spring's readers keep positions as Integers: an int put over one stays one.
        if isinstance(previous, JavaInteger) and type(value) is int and INT_MIN <= value <= INT_MAX:
            value = JavaInteger(value)
        typed = snapshot(value, f"execution context value for {key!r}")
        # Compared typed: 1 == True == 1.0 in Python, but they are different saved values.
        if key in self._values and snapshot(previous) == typed:
            return
        self._values[key] = value
        self._changed = True
        self._edits += 1

    def __delitem__(self, key: str) -> None:
        self._check_readable()
        del self._values[key]
        self._changed = True
        self._edits += 1

    def __iter__(self) -> Iterator[str]:
        self._check_readable()
        return iter(self._values)

    def __len__(self) -> int:
        self._check_readable()
        return len(self._values)

    def copy(self) -> ExecutionContext:
        """A deep copy that is as dirty as this context (it knows the same saved state)."""
        copied = ExecutionContext.__new__(ExecutionContext)
        copied._values = copy_value(self._values)
        # (The snapshot is immutable: shared, not taken again.)
        copied._changed, copied._saved = self._changed, self._saved
        copied._pending, copied._edits, copied._pending_edits = None, 0, 0
        copied._unreadable = self._unreadable
        return copied

    def __repr__(self) -> str:
        return f"ExecutionContext({self._values!r})"


@dataclass(slots=True)
class JobInstance:
    id: int
    job_name: str
    job_key: str = ""
    version: int = 0

    def __str__(self) -> str:
        return f"JobInstance: id={self.id}, version={self.version}, Job=[{self.job_name}]"


@dataclass(slots=True)
class StepExecution:
    step_name: str
    job_execution_id: int
    id: int = 0
    version: int = 0
    status: BatchStatus = BatchStatus.STARTING
    exit_status: ExitStatus = ExitStatus.EXECUTING
    read_count: int = 0
    write_count: int = 0
    filter_count: int = 0
    commit_count: int = 0
    rollback_count: int = 0
    read_skip_count: int = 0
    process_skip_count: int = 0
    write_skip_count: int = 0
    create_time: datetime = field(default_factory=utcnow)
    start_time: datetime | None = None
    end_time: datetime | None = None
    last_updated: datetime | None = None
    execution_context: ExecutionContext = field(default_factory=ExecutionContext)
    # Not Spring's: the jobop node that ran it (a partition's claiming node, else the
    # owner of its job execution); None when unknown. Loaded by the explorer.
    node_id: str | None = None

    @property
    def skip_count(self) -> int:
        return self.read_skip_count + self.process_skip_count + self.write_skip_count

    def summary(self) -> str:
        return (
            f"StepExecution: id={self.id}, version={self.version}, name={self.step_name}, "
            f"status={self.status.value}, exitStatus={self.exit_status.exit_code}, "
            f"readCount={self.read_count}, filterCount={self.filter_count}, "
            f"writeCount={self.write_count}, readSkipCount={self.read_skip_count}, "
            f"writeSkipCount={self.write_skip_count}, "
            f"processSkipCount={self.process_skip_count}, commitCount={self.commit_count}, "
            f"rollbackCount={self.rollback_count}"
        )

    def __str__(self) -> str:
        return self.summary()


@dataclass(slots=True)
class JobExecution:
    job_instance: JobInstance
    job_parameters: JobParameters
    id: int = 0
    version: int = 0
    status: BatchStatus = BatchStatus.STARTING
    exit_status: ExitStatus = ExitStatus.UNKNOWN
    create_time: datetime = field(default_factory=utcnow)
    start_time: datetime | None = None
    end_time: datetime | None = None
    last_updated: datetime | None = None
    step_executions: list[StepExecution] = field(default_factory=list)
    execution_context: ExecutionContext = field(default_factory=ExecutionContext)
    # Set by JobRepository.create_job_execution when it created the instance too: no
    # earlier execution exists, so there are no earlier step executions to look up.
    first_of_instance: bool = field(default=False, compare=False, repr=False)
    # Workload control (jobop's launch request, not Spring's rows): the priority it was
    # launched with, and whether it was found running past its job's maximum duration.
    priority: int = 0
    overdue: bool = False

    @property
    def job_name(self) -> str:
        return self.job_instance.job_name

    @property
    def job_instance_id(self) -> int:
        return self.job_instance.id

    @property
    def is_running(self) -> bool:
        return self.status.is_running

    def step(self, name: str) -> StepExecution | None:
        """The latest step execution of that name in this job execution."""
        for step in reversed(self.step_executions):
            if step.step_name == name:
                return step
        return None

    def summary(self) -> str:
        return (
            f"JobExecution: id={self.id}, version={self.version}, "
            f"startTime={_time(self.start_time)}, endTime={_time(self.end_time)}, "
            f"lastUpdated={_time(self.last_updated)}, status={self.status.value}, "
            f"exitStatus={self.exit_status}, job=[{self.job_instance}], "
            f"jobParameters=[{self.job_parameters}]"
        )

    def __str__(self) -> str:
        return self.summary()


def _time(value: datetime | None) -> str:
    return "null" if value is None else value.isoformat()


# What no repository column stores as text: lone surrogates (Python's `surrogateescape`
# makes them of bytes that are not UTF-8, as in `os.fsdecode(b"caf\xe9.csv")`; UTF-8 has
# no form for them) and NUL (PostgreSQL refuses it in text).
_UNSTORABLE_CHARACTERS = re.compile(r"[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    character = match.group()
    return "\\x00" if character == "\x00" else f"\\u{ord(character):04x}"


def storable_text(text: str) -> str:
    """`text` with what no repository column stores written visibly as Python's escape
    (`caf\\udce9.csv`, `a\\x00b`): the same on every database, so the message reads alike
    wherever it is stored."""
    if _UNSTORABLE_CHARACTERS.search(text) is None:
        return text
    return _UNSTORABLE_CHARACTERS.sub(_escape, text)


def storable_exit_message(message: str) -> str:
    """An exit message as the EXIT_MESSAGE columns keep it: storable, then cut to fit."""
    return truncate_exit_message(storable_text(message))


def storable_exit_status(exit_status: ExitStatus) -> ExitStatus:
    """The exit status as the EXIT_CODE and EXIT_MESSAGE columns keep it (the same object
    when it is stored as it is)."""
    code = storable_text(exit_status.exit_code)[:EXIT_MESSAGE_LENGTH]
    description = storable_exit_message(exit_status.exit_description)
    if code == exit_status.exit_code and description == exit_status.exit_description:
        return exit_status
    return ExitStatus(code, description)


def truncate_exit_message(message: str) -> str:
    """Fit an exit message (often a traceback) into the EXIT_MESSAGE column."""
    if len(message) <= EXIT_MESSAGE_LENGTH:
        return message
    marker = "\n…\n"
    # Keep the head (what failed) and the tail (where it raised).
    head = EXIT_MESSAGE_LENGTH // 2
    tail = EXIT_MESSAGE_LENGTH - head - len(marker)
    return message[:head] + marker + message[-tail:]
