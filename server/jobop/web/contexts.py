"""The body of a context read (`GET /api/executions/{id}/context`), capped in size.

A job may put megabytes into its contexts; a read returns at most `MAX_CONTEXT_BYTES` of
their JSON. Entries are kept in order (the job's context first, then each step's) while
they fit; those that do not are left out whole, and the body says so: `"truncated": true`,
with the size of all the entries (`contextBytes`) and the cap (`limitBytes`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from jobop.domain import JobExecution

MAX_CONTEXT_BYTES = 1024 * 1024


class _Budget:
    def __init__(self, limit: int, dumps: Callable[[object], str]) -> None:
        self.limit = limit
        self.dumps = dumps
        self.left = limit
        self.total = 0  # bytes of every entry, kept or not
        self.truncated = False

    def take(self, context: Mapping[str, Any]) -> dict[str, Any]:
        kept = {}
        for key, value in dict(context).items():
            # ASCII JSON (non-ASCII is escaped): characters are bytes.
            size = len(self.dumps({key: value})) - 1  # one entry and its comma
            self.total += size
            if size <= self.left:
                kept[key] = value
                self.left -= size
            else:
                self.truncated = True
        return kept


def context_body(
    execution: JobExecution, dumps: Callable[[object], str], limit: int = MAX_CONTEXT_BYTES
) -> dict[str, Any]:
    """The route's body; `dumps` writes it (and measures each entry)."""
    budget = _Budget(limit, dumps)
    body: dict[str, Any] = {
        "jobExecutionContext": budget.take(execution.execution_context),
        "stepExecutionContexts": {
            str(step.id): budget.take(step.execution_context) for step in execution.step_executions
        },
        "truncated": budget.truncated,
    }
    if budget.truncated:
        body["contextBytes"] = budget.total
        body["limitBytes"] = budget.limit
    return body
