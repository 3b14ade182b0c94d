"""Overdue executions: the node that runs an execution notices when it runs past its job's
maximum duration, marks it once, reports it and, if the job says so, stops it.

The watcher is an `ExecutionObserver` of its operator: it knows the executions this node
runs without a query. It wakes at the earliest deadline among them, and at least every
`refresh_interval` (the heartbeat interval) while any runs, to read the run-time settings
of their jobs (one query for all of them, only while something runs here) so that a
maximum changed at run time takes effect within that interval. Marking is one UPDATE
whose row count decides who reports (repository.overdue): one WARNING (JOBOP-1011), one
count, one announcement, whoever checks and however often.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Collection
from typing import TYPE_CHECKING

from jobop.batch import logcontext
from jobop.batch.owner import current_owner
from jobop.domain import (
    InvalidSettings,
    JobExecution,
    JobExecutionNotRunning,
    JobSettings,
    SettingsOverride,
    utcnow,
)
from jobop.domain.messages import MessageCode
from jobop.repository import AuditEvent, is_database_unavailable
from jobop.repository.audit import auditing
from jobop.repository.overdue import mark_overdue

from .job_operator import ExecutionObserver

if TYPE_CHECKING:
    from .job_operator import JobOperator

log = logging.getLogger(__name__)

# The principal of the audit row of a Stop made because an execution was overdue.
SYSTEM_PRINCIPAL = "system"


class OverdueWatcher(ExecutionObserver):
    """Watches the executions its operator runs; thread-safe. `close()` ends its thread."""

    def __init__(self, operator: JobOperator, *, refresh_interval: float) -> None:
        self._operator = operator
        self._refresh_interval = refresh_interval
        owner = current_owner()
        self._audit_node = f"{owner['host']}:{owner['pid']}"  # as the audit trail names nodes
        # Held while a mark is written and reported, and by `ended`: the metrics hear of a
        # mark before they hear of the end of its execution (the gauge never goes below 0).
        self._lock = threading.Lock()
        self._checking = threading.Lock()  # one check at a time
        self._running: dict[int, JobExecution] = {}
        self._stopped: set[int] = set()  # stops this watcher requested
        self._settings: dict[str, JobSettings] = {}
        self._settings_read_at = float("-inf")
        self._wakeup = threading.Event()
        self._idle = True  # the last check found nothing to watch: it waits for `running`
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jobop-overdue", daemon=True)
        self._thread.start()

    # -- observing ----------------------------------------------------------------------

    def running(self, execution: JobExecution) -> None:
        with self._lock:
            self._running[execution.id] = execution
            known = self._settings.get(execution.job_name)
            wake = self._idle or known is None or known.max_duration_seconds is not None
        # Its deadline may be the earliest now. A job known to have no maximum is read
        # again at the next refresh anyway: short jobs without one cost no wake-up each.
        if wake:
            self._wakeup.set()

    def ended(self, execution: JobExecution) -> None:
        with self._lock:
            self._running.pop(execution.id, None)
            self._stopped.discard(execution.id)

    def close(self) -> None:
        self._closed.set()
        self._wakeup.set()
        self._thread.join(timeout=5)

    # -- checking -----------------------------------------------------------------------

    def _loop(self) -> None:
        failing = False
        while not self._closed.is_set():
            try:
                due = self.check()
            except Exception as error:
                if not failing:  # the database is away, most likely: say so once
                    log.warning(
                        "could not check for overdue executions: %s",
                        error,
                        exc_info=not is_database_unavailable(error),
                    )
                failing = True
                due = self._refresh_interval
            else:
                failing = False
            self._wakeup.wait(due)
            self._wakeup.clear()

    def check(self) -> float | None:
        """Judge every execution this node runs: mark those past their maximum duration,
        stop the overdue ones whose job says so. Returns the seconds until the next check
        is due (None: nothing runs here, the next `running` wakes the watcher)."""
        with self._checking:
            return self._check()

    def _check(self) -> float | None:
        with self._lock:
            watched = [
                execution
                for execution in self._running.values()
                if not execution.overdue or execution.id not in self._stopped
            ]
            # Idle: the thread waits for `running` (under this lock, so none is missed).
            self._idle = not watched
        if not watched:
            return None
        settings = self._settings_in_force({execution.job_name for execution in watched})
        due = self._refresh_interval
        for execution in watched:
            in_force = settings[execution.job_name]
            if not execution.overdue:
                maximum = in_force.max_duration_seconds
                if maximum is None:
                    continue
                # A start about to run has no start time yet: it starts now, or nearly.
                now = utcnow()
                ran = (now - (execution.start_time or now)).total_seconds()
                if ran < maximum:
                    due = min(due, maximum - ran)
                    continue
                self._mark(execution, ran, in_force)
            if execution.overdue and in_force.stop_when_overdue:
                self._stop(execution)
        return due

    def _settings_in_force(self, job_names: Collection[str]) -> dict[str, JobSettings]:
        """The settings of these jobs: declared, overridden by their run-time values, read
        again once `refresh_interval` has passed (or for a job not read yet)."""
        now = time.monotonic()
        stale = now - self._settings_read_at >= self._refresh_interval
        if stale or not set(job_names) <= set(self._settings):
            overrides = self._operator.workloads.get_overrides(sorted(job_names))
            self._settings = {name: self._in_force(name, overrides.get(name)) for name in job_names}
            self._settings_read_at = now
        return self._settings

    def _in_force(self, job_name: str, override: SettingsOverride | None) -> JobSettings:
        # Only jobs registered here run here.
        declared = self._operator.registry.get(job_name).settings
        if override is None:
            return declared
        try:
            return override.over(declared)
        except InvalidSettings as error:
            # Checked when set, but the declaration may have changed since (a redeploy).
            log.warning("job %s: run-time settings ignored: %s", job_name, error)
            return declared

    def _mark(self, execution: JobExecution, ran: float, in_force: JobSettings) -> None:
        with self._lock:
            if execution.overdue or execution.id not in self._running:
                return  # another check got there first, or it ended meanwhile
            # Set first: the snapshots the runner announces from now on show it (marked or
            # not, an execution that ran this long is overdue).
            execution.overdue = True
            try:
                marked = mark_overdue(self._operator.repository.engine, execution.id)
            except BaseException:
                execution.overdue = False  # the next check tries again
                raise
            if not marked:
                return  # marked before (and reported then), or no longer running
            with logcontext.job_context(execution.job_name, execution.id):
                log.warning(
                    "Job execution %s of %s is overdue: running for %.1f s, past its maximum "
                    "duration of %g s%s",
                    execution.id,
                    execution.job_name,
                    ran,
                    in_force.max_duration_seconds,
                    ": stopping it" if in_force.stop_when_overdue else "",
                    extra=MessageCode.JOB_OVERDUE.extra,
                )
            for observer in self._operator.observers:
                observer.overdue(execution)
        # Watch streams here and, through the relay, on other nodes read it again.
        self._operator.events.publish(
            execution.id, execution.job_name, execution.version, execution.status
        )

    def _stop(self, execution: JobExecution) -> None:
        """Stop it as a Stop call would, audited as the system's action."""
        with self._lock:
            if execution.id in self._stopped or execution.id not in self._running:
                return
            self._stopped.add(execution.id)
        event = AuditEvent(
            principal=SYSTEM_PRINCIPAL,
            role=None,
            action="Stop",
            arguments=json.dumps({"executionId": execution.id, "reason": "overdue"}),
            node=self._audit_node,
            job_name=execution.job_name,
            execution_id=execution.id,
        )
        try:
            with auditing(event):
                self._operator.stop(execution.id)
        except JobExecutionNotRunning:
            pass  # it ended, or is stopping already
        except Exception:
            with self._lock:
                self._stopped.discard(execution.id)  # the next check tries again
            raise
