"""Admission in the operator (docs/workload.md): why a start waits, and the claims of a
node's own new starts taken together.

Which waiting starts a claim takes is decided in the claim's SQL (repository.workload
`admission`, under the job's lock); `waiting_for` says, for one waiting start, which rule
holds it back right now: the job's pause, its limit (for the start's key value, if it has
a key), else nothing but a free worker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from jobop.domain.workload import JobSettings

log = logging.getLogger(__name__)


def waiting_for(job_name: str, settings: JobSettings, key_value: str | None, running: int) -> str:
    """`running`: the slots held by the job's executions (of that key value, if keyed)."""
    if settings.paused:
        return f"{job_name} is paused"
    limit = settings.max_concurrent
    if limit is not None and running >= limit:
        key = settings.concurrency_key
        if key is not None:
            return (
                f"limit {limit} of {job_name} for {key}={key_value or ''} reached "
                f"({running} running)"
            )
        return f"limit {limit} of {job_name} reached ({running} running)"
    return "no free worker"


class _Pending:
    __slots__ = ("claimed", "done", "execution_id", "job_name")

    def __init__(self, execution_id: int, job_name: str) -> None:
        self.execution_id = execution_id
        self.job_name = job_name
        self.claimed = False
        self.done = threading.Event()


class StartAdmission:
    """The claims a node makes of governed jobs' new starts, those that arrive together in
    one transaction: `admit` queues a start, and whichever thread holds the turn claims
    every start queued so far (`claim(starts) -> ids claimed`), so the starts' threads
    never queue one by one on the jobs' admission lock. A claim that fails claims
    nothing (the starts then wait in the queue)."""

    def __init__(self, claim: Callable[[list[tuple[int, str]]], set[int]]) -> None:
        self._claim = claim
        self._queue_lock = threading.Lock()
        self._turn = threading.Lock()
        self._queued: list[_Pending] = []

    def admit(self, execution_id: int, job_name: str) -> bool:
        pending = _Pending(execution_id, job_name)
        with self._queue_lock:
            self._queued.append(pending)
        with self._turn:
            with self._queue_lock:
                batch, self._queued = self._queued, []
            if batch:
                try:
                    claimed = self._claim([(p.execution_id, p.job_name) for p in batch])
                except Exception:
                    log.warning("could not claim new starts", exc_info=True)
                    claimed = set()
                for each in batch:
                    each.claimed = each.execution_id in claimed
                    each.done.set()
        pending.done.wait()
        return pending.claimed
