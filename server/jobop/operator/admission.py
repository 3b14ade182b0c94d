"""Why a start waits: the words of the queue's `waiting_for` (docs/workload.md).

Which waiting starts a claim takes is decided in the claim's SQL (repository.workload
`admission`, under the job's lock); this says, for one waiting start, which rule holds it
back right now: the job's pause, its limit (for the start's key value, if it has a key),
else nothing but a free worker.
"""

from __future__ import annotations

from jobop.domain.workload import JobSettings


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
