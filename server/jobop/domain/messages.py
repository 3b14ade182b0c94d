"""Stable message codes of jobop's lifecycle log records (catalogued in docs/messages.md).

A record that reports a lifecycle event carries its code as the `message_code`
attribute (`logger.info(..., extra=code.extra)`); the text format prints it before the
message and the JSON format as `"code"`. Codes are never reused or renumbered: alerting
rules and log searches depend on them, as the TERASOLUNA guideline asks.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class MessageCode(Enum):
    """`JOBOP-1xxx` executions, `11xx` steps, `2xxx` the server and its nodes, `3xxx` the
    database."""

    JOB_STARTED = ("JOBOP-1001", "job started")
    JOB_COMPLETED = ("JOBOP-1002", "job completed")
    JOB_FAILED = ("JOBOP-1003", "job failed")
    JOB_STOPPED = ("JOBOP-1004", "job stopped")
    JOB_STOP_REQUESTED = ("JOBOP-1005", "stop requested")
    JOB_RESTARTED = ("JOBOP-1006", "job restarted")
    JOB_ABANDONED = ("JOBOP-1007", "job abandoned")
    JOB_RECOVERED = ("JOBOP-1008", "job recovered")
    OWNER_LOST = ("JOBOP-1009", "owner lost")
    JOB_ENDED_OTHERWISE = ("JOBOP-1010", "job ended with another status")
    JOB_OVERDUE = ("JOBOP-1011", "job overdue")
    STEP_STARTED = ("JOBOP-1101", "step started")
    STEP_COMPLETED = ("JOBOP-1102", "step completed")
    STEP_FAILED = ("JOBOP-1103", "step failed")
    STEP_STOPPED = ("JOBOP-1104", "step stopped")
    SERVER_STARTED = ("JOBOP-2001", "server started")
    SERVER_STOPPING = ("JOBOP-2002", "server shutting down")
    SERVER_STOPPED = ("JOBOP-2003", "server shut down")
    NODE_JOINED = ("JOBOP-2101", "node joined")
    NODE_LOST = ("JOBOP-2102", "node lost")
    DATABASE_UNAVAILABLE = ("JOBOP-3001", "database unavailable")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def title(self) -> str:
        return self.value[1]

    @property
    def extra(self) -> dict[str, Any]:
        """The `extra` of a logging call that reports this event."""
        return {"message_code": self.code}


_JOB_ENDS = {
    "COMPLETED": MessageCode.JOB_COMPLETED,
    "FAILED": MessageCode.JOB_FAILED,
    "STOPPED": MessageCode.JOB_STOPPED,
}
_STEP_ENDS = {
    "COMPLETED": MessageCode.STEP_COMPLETED,
    "FAILED": MessageCode.STEP_FAILED,
    "STOPPED": MessageCode.STEP_STOPPED,
}


def job_ended(status: str) -> MessageCode:
    """The code of a job execution's end with this BatchStatus name."""
    return _JOB_ENDS.get(status, MessageCode.JOB_ENDED_OTHERWISE)


def step_ended(status: str) -> MessageCode:
    """The code of a step execution's end with this BatchStatus name."""
    return _STEP_ENDS.get(status, MessageCode.STEP_FAILED)
