"""Which process runs an execution, recorded so that a dead owner can be told from a live one.

The runner stores `jobop.owner` = {"host", "pid", "started"} in the job ExecutionContext
when an execution starts, for people reading the context. Whether an owner lives is the
node lease's business (JOBOP_NODE, see jobop.operator.node); `is_alive` is the quicker
answer for a process on this host: the pid no longer exists, or now belongs to a process
that started at another time (pids are reused).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

OWNER_KEY = "jobop.owner"


def _stat(pid: int) -> list[str] | None:
    """Fields 3 and on of /proc/PID/stat (Linux), or None where there is no such file."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text[text.rfind(")") + 2 :].split()


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux), or None if unknown."""
    fields = _stat(pid)
    try:
        return None if fields is None else int(fields[19])  # field 22 of stat(5)
    except (IndexError, ValueError):
        return None


def current_owner() -> dict[str, Any]:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "started": process_start_ticks(pid)}


class OwnerUnknown(Exception):
    """The owner runs on another host: whether it lives cannot be checked from here."""


def is_alive(owner: Mapping[str, Any]) -> bool:
    """Whether the recorded owner process still runs. Raises OwnerUnknown for another host."""
    host = owner.get("host")
    if host != socket.gethostname():
        raise OwnerUnknown(f"the execution is owned by a process on host {host!r}")
    pid = owner.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    fields = _stat(pid)
    if fields is None:
        return True  # no /proc here: the pid exists, trust it
    if fields[0] in ("Z", "X"):
        return False  # killed, waiting for its parent to reap it
    started = owner.get("started")
    try:
        # A different start time means the pid was reused by another process.
        return started is None or int(fields[19]) == started
    except (IndexError, ValueError):
        return True
