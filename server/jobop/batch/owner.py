"""Which process runs an execution, recorded so that a dead owner can be told from a live one.

The runner stores `jobop.owner` = {"host", "pid", "started"} in the job ExecutionContext
when an execution starts. Recovering (`jobop run --recover`, the Recover RPC) marks an
execution FAILED only when that process is gone: same host, and the pid no longer exists
or now belongs to a process that started at another time (pids are reused). An owner on
another host cannot be checked: it is presumed alive until the execution has not changed
for REMOTE_OWNER_STALE_AFTER.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from jobop.domain import JobExecution, JobExecutionAlreadyRunning, JobExecutionNotRunning, utcnow

OWNER_KEY = "jobop.owner"

# An execution owned by a process on another host is presumed dead once nothing about it
# (the job's row, any step's row: every chunk commit touches one) changed for this long.
REMOTE_OWNER_STALE_AFTER = timedelta(minutes=10)


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


def check_owner_gone(execution: JobExecution, *, own: Mapping[str, Any] | None = None) -> None:
    """Raise unless `execution` is running and its owner is gone, i.e. it may be recovered.

    `own`: the caller's own owner record; an execution it owns is taken as orphaned (the
    caller knows it runs it no more)."""
    if not execution.is_running:
        raise JobExecutionNotRunning(
            f"job execution {execution.id} is {execution.status.value}, not running: "
            "there is nothing to recover"
        )
    owner = execution.execution_context.get(OWNER_KEY)
    if not isinstance(owner, dict):
        return  # never started by a runner that records its owner
    if own is not None and all(owner.get(k) == own.get(k) for k in ("host", "pid", "started")):
        return
    try:
        alive = is_alive(owner)
    except OwnerUnknown as error:
        if _is_stale(execution):
            return
        raise JobExecutionAlreadyRunning(
            f"job execution {execution.id}: {error}, whose liveness cannot be checked from "
            f"here; it changed within the last {REMOTE_OWNER_STALE_AFTER}, so it is presumed "
            "alive"
        ) from None
    if alive:
        raise JobExecutionAlreadyRunning(
            f"job execution {execution.id} is still running in process {owner.get('pid')} "
            f"on {owner.get('host')}"
        )


def _is_stale(execution: JobExecution) -> bool:
    times = [execution.last_updated] + [step.last_updated for step in execution.step_executions]
    latest = max((time for time in times if time is not None), default=None)
    return latest is None or utcnow() - latest > REMOTE_OWNER_STALE_AFTER
