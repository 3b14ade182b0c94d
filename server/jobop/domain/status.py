"""BatchStatus and ExitStatus with Spring Batch's ordering and combination rules."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar


class BatchStatus(enum.Enum):
    """The status of an execution, ordered from best to worst as in Spring Batch."""

    COMPLETED = "COMPLETED"
    STARTING = "STARTING"
    STARTED = "STARTED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    FAILED = "FAILED"
    ABANDONED = "ABANDONED"
    UNKNOWN = "UNKNOWN"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, BatchStatus):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, BatchStatus):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, BatchStatus):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, BatchStatus):
            return NotImplemented
        return self.rank >= other.rank

    @property
    def is_running(self) -> bool:
        return self in (BatchStatus.STARTING, BatchStatus.STARTED, BatchStatus.STOPPING)

    @property
    def is_unsuccessful(self) -> bool:
        return self in (BatchStatus.FAILED, BatchStatus.ABANDONED, BatchStatus.UNKNOWN)

    def upgrade_to(self, other: BatchStatus) -> BatchStatus:
        """Combine two statuses the way Spring does when a step's status reaches its job.

        Anything worse than STARTED wins outright; otherwise COMPLETED wins over the
        in-flight states, so a finished step moves its job forward.
        """
        if self > BatchStatus.STARTED or other > BatchStatus.STARTED:
            return max(self, other)
        if BatchStatus.COMPLETED in (self, other):
            return BatchStatus.COMPLETED
        return max(self, other)

    @classmethod
    def parse(cls, text: str) -> BatchStatus:
        try:
            return cls(text)
        except ValueError:
            return cls.UNKNOWN


_RANK = {status: index for index, status in enumerate(BatchStatus)}


# Severity of the standard exit codes; any other code is custom and ranks above them all.
_SEVERITY = {"EXECUTING": 1, "COMPLETED": 2, "NOOP": 3, "STOPPED": 4, "FAILED": 5, "UNKNOWN": 6}
_CUSTOM_SEVERITY = 7


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """The exit code of a step or job and a free-text description."""

    exit_code: str
    exit_description: str = ""

    UNKNOWN: ClassVar[ExitStatus]
    EXECUTING: ClassVar[ExitStatus]
    COMPLETED: ClassVar[ExitStatus]
    NOOP: ClassVar[ExitStatus]
    FAILED: ClassVar[ExitStatus]
    STOPPED: ClassVar[ExitStatus]

    @property
    def severity(self) -> int:
        return _SEVERITY.get(self.exit_code, _CUSTOM_SEVERITY)

    def and_(self, other: ExitStatus) -> ExitStatus:
        """Keep the more severe code (ties: alphabetically greater); join descriptions."""
        if self.severity > other.severity or (
            self.severity == other.severity and self.exit_code >= other.exit_code
        ):
            code = self.exit_code
        else:
            code = other.exit_code
        return ExitStatus(code, _join(self.exit_description, other.exit_description))

    def replace_exit_code(self, code: str) -> ExitStatus:
        return ExitStatus(code, self.exit_description)

    def add_exit_description(self, description: str) -> ExitStatus:
        return ExitStatus(self.exit_code, _join(self.exit_description, description))

    @property
    def is_running(self) -> bool:
        return self.exit_code in ("EXECUTING", "UNKNOWN")

    def __str__(self) -> str:
        return f"exitCode={self.exit_code};exitDescription={self.exit_description}"


def _join(first: str, second: str) -> str:
    if first and second and first != second:
        return f"{first}; {second}"
    return first or second


ExitStatus.UNKNOWN = ExitStatus("UNKNOWN")
ExitStatus.EXECUTING = ExitStatus("EXECUTING")
ExitStatus.COMPLETED = ExitStatus("COMPLETED")
ExitStatus.NOOP = ExitStatus("NOOP")
ExitStatus.FAILED = ExitStatus("FAILED")
ExitStatus.STOPPED = ExitStatus("STOPPED")
