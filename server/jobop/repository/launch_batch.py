"""Group commit of launches on PostgreSQL: Starts that arrive together share one statement.

A launch of a new instance is one statement (instance, execution, parameters, context,
launch request, NOTIFY and audit row as data-modifying CTEs). When several threads launch
at once (a server's RPC threads under load), `LaunchBatch` writes all that are waiting in
one statement and one commit, which costs the database and the client library a little
more than one launch instead of one each.

Leader and followers, no thread of its own: a launch that finds no statement in flight
writes at once, so a lone Start waits for nothing. Launches arriving meanwhile queue; when
the statement ends, the first of them leads the next batch with all that queued. Each
launch gets its own outcome: its ids, or None when its instance already existed (the
caller then names the existing instance, as before). A batch that fails for a reason other
than the database being unreachable is written again one launch at a time, so one bad
launch fails alone; nothing was written by the failed statement (it is atomic).

Two launches of one instance never share a batch (the second waits for the next one and
then finds the instance); a batch inserts its instances in key order, so two replicas'
batches wait for each other's keys in one order and cannot deadlock.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .engine import is_database_unavailable

# Each launch: a new instance and its first execution, parameters, context, launch request
# (with the NOTIFY of a request left for another node) and audit row, outside any explicit
# transaction (one round trip). A launch whose instance exists gets no row back and wrote
# nothing. Ids come from the columns' defaults, which name the sequences Spring Batch of
# the repository's version draws from. A start of a governed job (a limit or a pause,
# declared: `governed`, or in JOBOP_JOB_SETTINGS) is never claimed here (`gov`): the
# accepting node then claims it under the job's admission lock if it may run, and
# announces it only if not (the caller knows).
# (A SELECT in WITH runs only if referenced: hence `announced`.) The launches and their
# parameters arrive as two JSON arrays, one text parameter each whatever the batch's size
# (an array per column costs the client more per launch); the audit columns are NULL for
# a launch that is not audited.
PG_LAUNCH_BATCH = """\
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(launches)s::jsonb) AS i(ord int, job_name text,
        job_key text, now timestamp, short_context text, serialized_context text,
        request_launch boolean, claimed_by text, priority int, governed boolean,
        a_occurred_at timestamp,
        a_principal text, a_role text, a_action text, a_arguments text, a_peer text,
        a_node text)
), inst AS (
    INSERT INTO batch_job_instance (version, job_name, job_key)
    SELECT 0, job_name, job_key FROM input ORDER BY ord
    ON CONFLICT (job_name, job_key) DO NOTHING
    RETURNING job_instance_id, job_name, job_key
), won AS (
    SELECT input.*, inst.job_instance_id FROM inst JOIN input USING (job_name, job_key)
), exe AS (
    INSERT INTO batch_job_execution (version, job_instance_id,
        create_time, status, exit_code, exit_message, last_updated)
    SELECT 0, job_instance_id, now, %(status)s, %(exit_code)s, '', now
    FROM won ORDER BY ord
    RETURNING job_execution_id, job_instance_id
), new AS (
    SELECT won.*, exe.job_execution_id FROM exe JOIN won USING (job_instance_id)
), par AS (
    INSERT INTO batch_job_execution_params (job_execution_id, parameter_name,
        parameter_type, parameter_value, identifying)
    SELECT new.job_execution_id, p.parameter_name, p.parameter_type, p.parameter_value,
        p.identifying
    FROM new JOIN jsonb_to_recordset(%(parameters)s::jsonb) AS p(ord int,
        parameter_name text, parameter_type text, parameter_value text, identifying text)
        USING (ord)
), ctx AS (
    INSERT INTO batch_job_execution_context (job_execution_id, short_context,
        serialized_context)
    SELECT job_execution_id, short_context, serialized_context FROM new
), gov AS (
    SELECT new.job_execution_id, CASE WHEN new.governed OR EXISTS (SELECT 1
        FROM jobop_job_settings s WHERE s.job_name = new.job_name
        AND (s.max_concurrent IS NOT NULL OR s.paused = 'Y'))
        THEN NULL ELSE new.claimed_by END AS node_id
    FROM new WHERE request_launch
), req AS (
    INSERT INTO jobop_launch_request (job_execution_id, job_name, created, node_id, claimed,
        priority)
    SELECT job_execution_id, job_name, now, gov.node_id,
        CASE WHEN gov.node_id IS NULL THEN NULL ELSE now END, priority
    FROM new JOIN gov USING (job_execution_id)
    RETURNING job_execution_id, node_id
), ntf AS (
    SELECT pg_notify('jobop', 'l ' || job_execution_id) FROM new
    WHERE request_launch AND claimed_by IS NULL
), aud AS (
    INSERT INTO jobop_audit (occurred_at, principal, role, action, job_name,
        job_execution_id, arguments, peer, node, succeeded)
    SELECT a_occurred_at, a_principal, a_role, a_action, job_name,
        job_execution_id, a_arguments, a_peer, a_node, 'Y'
    FROM new WHERE a_action IS NOT NULL
)
SELECT ord, job_instance_id, job_execution_id, (SELECT count(*) FROM ntf) AS announced,
    (SELECT node_id FROM gov WHERE gov.job_execution_id = new.job_execution_id) AS claimed_by
FROM new"""

_LAUNCH_COLUMNS = (
    "job_name",
    "job_key",
    "now",
    "short_context",
    "serialized_context",
    "request_launch",
    "claimed_by",
    "priority",
    "governed",
)
_AUDIT_COLUMNS = ("occurred_at", "principal", "role", "action", "arguments", "peer", "node")

# A batch's statement grows with it; past this many the queue waits for the next batch.
MAX_BATCH = 64


@dataclass(eq=False)
class Launch:
    """One launch's columns: `values` (job_name, job_key, now, short_context,
    serialized_context, request_launch, claimed_by, priority, governed), its parameters'
    rows (those of `rows.parameter_rows`; their execution id is the launch's own) and its
    audit row's columns, or None when it is not audited."""

    values: dict[str, Any]
    parameters: list[dict[str, Any]]
    audit: dict[str, Any] | None
    # Filled in by the batch that wrote it.
    ids: tuple[int, int] | None = None
    # Whether its launch request was claimed by `claimed_by` (not when the job is governed).
    claimed: bool = False
    error: BaseException | None = None
    lead: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple[str, str]:
        return self.values["job_name"], self.values["job_key"]


def batch_parameters(launches: Sequence[Launch], constants: dict[str, Any]) -> dict[str, Any]:
    """The bind parameters of PG_LAUNCH_BATCH for these launches, in this order."""
    rows: list[dict[str, Any]] = []
    parameters: list[dict[str, Any]] = []
    for ord_, launch in enumerate(launches):
        row = {"ord": ord_, **{column: launch.values[column] for column in _LAUNCH_COLUMNS}}
        if launch.audit is not None:
            row.update({"a_" + column: launch.audit[column] for column in _AUDIT_COLUMNS})
        rows.append(row)
        parameters += ({**parameter, "ord": ord_} for parameter in launch.parameters)
    return {
        "launches": json.dumps(rows, default=_json_value),
        "parameters": json.dumps(parameters),  # the rows' job_execution_id is ignored
        **constants,
    }


def _json_value(value: object) -> str:
    if isinstance(value, datetime):  # naive, in the columns' time zone
        return value.isoformat()
    raise TypeError(f"not a launch column: {value!r}")


class LaunchBatch:
    """Writes launches, those that wait together in one statement (see the module).

    `write(launches)` runs the statement for a batch and returns, by position in the
    batch, the (instance id, execution id) of each launch that created its instance.
    """

    def __init__(
        self,
        write: Callable[[list[Launch]], dict[int, tuple[int, int]]],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._queue: list[Launch] = []
        self._writing = False
        # Statements run and launches written, for the tests and the bench.
        self.statements = 0
        self.launches = 0

    def launch(self, launch: Launch) -> tuple[int, int] | None:
        """Write `launch` (alone or with others); its ids, or None if the instance existed."""
        with self._lock:
            self._queue.append(launch)
            launch.lead = not self._writing
            self._writing = True
        if not launch.lead:
            launch.done.wait()
        if launch.lead:
            self._lead()
        if launch.error is not None:
            raise launch.error
        return launch.ids

    def launch_many(self, launches: Sequence[Launch]) -> None:
        """Write `launches` (one call's, StartJobs), in as few batches as they fit, beside
        whatever other threads launch meanwhile. Each gets its ids (None: its instance
        existed) or its `error`; nothing is raised for one launch's failure."""
        if not launches:
            return
        with self._lock:
            self._queue.extend(launches)
            launches[0].lead = not self._writing
            self._writing = True
        # Ours stay in the queue in our order, so the first of ours not yet written is the
        # first of ours that can be handed the lead: waiting for them in order is enough.
        for launch in launches:
            if not launch.lead:
                launch.done.wait()
            if launch.lead:
                self._lead()

    def _lead(self) -> None:
        """Write what waits (the leader first), then hand over to the next in the queue."""
        batch = self._take()
        try:
            self._write_batch(batch)
        except BaseException as error:  # interrupted: no launch of the batch may pass
            for launch in batch:
                launch.error = launch.error or error
            raise
        finally:
            with self._lock:
                following = self._queue[0] if self._queue else None
                self._writing = following is not None
                if following is not None:
                    following.lead = True
            for launch in batch:
                launch.lead = False
                launch.done.set()
            if following is not None:
                following.done.set()

    def _take(self) -> list[Launch]:
        """The waiting launches, at most one per instance and `max_batch` in all, in key
        order; the others stay queued for the next batch."""
        with self._lock:
            batch: list[Launch] = []
            left: list[Launch] = []
            keys: set[tuple[str, str]] = set()
            for launch in self._queue:
                if len(batch) < self._max_batch and launch.key not in keys:
                    keys.add(launch.key)
                    batch.append(launch)
                else:
                    left.append(launch)
            self._queue[:] = left
        batch.sort(key=lambda launch: launch.key)
        return batch

    def _write_batch(self, batch: list[Launch]) -> None:
        try:
            self._record(batch, self._write(batch))
        except Exception as error:
            if len(batch) == 1 or is_database_unavailable(error):
                for launch in batch:
                    launch.error = error
                return
            for launch in batch:  # find the one that fails; the others are written
                try:
                    self._record([launch], self._write([launch]))
                except Exception as alone:
                    launch.error = alone

    def _record(self, batch: list[Launch], written: dict[int, tuple[int, int]]) -> None:
        self.statements += 1
        self.launches += len(batch)
        for position, launch in enumerate(batch):
            launch.ids = written.get(position)
