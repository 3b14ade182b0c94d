"""Recording control actions in the audit trail (JOBOP_AUDIT) and in the log.

`AuditRecorder.audited` wraps an action's body: it announces the action to the repository
(whose write then adds the success row in its own transaction), and writes a row of its
own when the action failed or wrote nothing. Log lines carry the message codes
AUDIT-OK, AUDIT-FAILED and AUDIT-REFUSED.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any, TypeVar

from google.protobuf.message import Message
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client.jsonform import request_json

from jobop.batch import logcontext
from jobop.domain.parameters import MASK, SECRET_NAME
from jobop.repository import AuditEvent, AuditTrail, PendingAudit
from jobop.repository.audit import auditing

from .auth import ANONYMOUS, Caller, current_caller
from .errors import reason_for

log = logging.getLogger("jobop.audit")

ResponseT = TypeVar("ResponseT")


def arguments_json(request: Message) -> str:
    """The request in the JSON form REST writes (camelCase, typed parameters), secret-looking
    parameter values masked."""
    try:
        fields = request_json(request)
    except Exception:  # a request that cannot be rendered is still audited
        fields = {"unrenderable": type(request).__name__}
    parameters = fields.get("parameters")
    if isinstance(parameters, dict):
        for name, value in parameters.items():
            if SECRET_NAME.search(name) and isinstance(value, dict):
                parameters[name] = {
                    key: item if key == "identifying" else MASK for key, item in value.items()
                }
    return _ARGUMENTS_ENCODER.encode(fields)


# json.dumps(fields, sort_keys=True, ensure_ascii=False), without making an encoder per call.
_ARGUMENTS_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False)


def _execution_id(response: object) -> int | None:
    execution = getattr(response, "execution", None)
    identifier = getattr(execution, "id", 0)
    return int(identifier) if identifier else None


def _job_name(response: object) -> str | None:
    return getattr(getattr(response, "execution", None), "job_name", "") or None


def _about(event: AuditEvent) -> contextlib.AbstractContextManager[None]:
    """Log records about the event's execution name its job and execution, as those made
    while it runs do."""
    return logcontext.job_context(event.job_name, event.execution_id)


def _request_execution_id(request: object) -> int | None:
    identifier = getattr(request, "execution_id", 0)
    return int(identifier) if isinstance(identifier, int) and identifier > 0 else None


class AuditRecorder:
    def __init__(self, trail: AuditTrail, executor: Executor, node: str) -> None:
        self.trail = trail
        self._executor = executor
        self.node = node

    def event(self, caller: Caller | None, action: str, request: Message) -> AuditEvent:
        caller = caller or Caller(ANONYMOUS, "in-process")
        # A schedule's request names its job inside the schedule, when it does.
        schedule = getattr(request, "schedule", None)
        job_name = getattr(request, "job_name", "") or getattr(schedule, "job_name", "") or None
        return AuditEvent(
            principal=caller.principal.name,
            role=caller.principal.role.label if caller.principal.role else None,
            action=action,
            arguments=arguments_json(request),
            peer=caller.peer,
            node=self.node,
            job_name=job_name,
            execution_id=_request_execution_id(request),
        )

    def start_events(
        self, caller: Caller | None, requests: Sequence[pb.StartRequest]
    ) -> list[AuditEvent]:
        """`event(caller, "StartJobs", request)` of each entry of a StartJobs call, what
        they share (the caller) worked out once. A StartRequest names its job and no
        execution."""
        caller = caller or Caller(ANONYMOUS, "in-process")
        principal = caller.principal.name
        role = caller.principal.role.label if caller.principal.role else None
        return [
            AuditEvent(
                principal=principal,
                role=role,
                action="StartJobs",
                arguments=arguments_json(request),
                peer=caller.peer,
                node=self.node,
                job_name=request.job_name or None,
                execution_id=None,
            )
            for request in requests
        ]

    def audited(self, action: str, body: Callable[..., ResponseT]) -> Callable[..., ResponseT]:
        """`body` (run on a worker thread) with its outcome recorded. Call this on the
        event loop: the caller is read from the call's context here."""
        caller = current_caller.get()

        def run(request: Message, *rest: Any) -> ResponseT:
            event = self.event(caller, action, request)
            with auditing(event) as pending:
                try:
                    response = body(request, *rest)
                except Exception as error:
                    self.failed(event, error)
                    raise
            self.succeeded(pending, _execution_id(response), _job_name(response))
            return response

        run.__name__ = getattr(body, "__name__", action)
        return run

    def succeeded(
        self, pending: PendingAudit, execution_id: int | None, job_name: str | None
    ) -> None:
        """The announced action succeeded (on `execution_id` of `job_name`): its row,
        unless its write carried it, and its AUDIT-OK line."""
        event = pending.event
        execution_id = execution_id or event.execution_id
        job_name = job_name or event.job_name
        if not pending.written:
            # A repeated request id, a stop of an execution that had just ended: no
            # write carried the row.
            self._record(dataclasses.replace(event, execution_id=execution_id, job_name=job_name))
        if not log.isEnabledFor(logging.INFO):  # StartJobs succeeds here once per entry
            return
        with logcontext.job_context(job_name, execution_id):
            log.info(
                "AUDIT-OK %s by %s (%s) from %s: execution %s",
                event.action,
                event.principal,
                event.role,
                event.peer,
                execution_id,
            )

    def failed(self, event: AuditEvent, error: BaseException) -> None:
        """The action failed with `error`: its row and its AUDIT-FAILED line."""
        self._record_failure(event.failed(reason_for(error), str(error)))

    async def refused(
        self,
        caller: Caller | None,
        action: str,
        request: Any,
        reason: str,
        message: str | None = None,
    ) -> None:
        """A control action refused before it ran: not permitted or over a limit
        (AUDIT-REFUSED, a warning), or malformed, `message` saying how (AUDIT-FAILED, as
        the servicer logs the malformed requests it refuses itself)."""
        event = self.event(caller, action, request).failed(reason, message or f"refused: {reason}")
        loop = asyncio.get_running_loop()
        if message is not None:
            await loop.run_in_executor(self._executor, self._record_failure, event)
            return
        event = await loop.run_in_executor(self._executor, self._record, event)
        with _about(event):
            log.warning(
                "AUDIT-REFUSED %s by %s (%s) from %s: %s",
                action,
                event.principal,
                event.role,
                event.peer,
                reason,
            )

    def _record_failure(self, event: AuditEvent) -> None:
        event = self._record(event)
        with _about(event):
            log.info(
                "AUDIT-FAILED %s by %s (%s) from %s: %s",
                event.action,
                event.principal,
                event.role,
                event.peer,
                event.reason,
            )

    def _record(self, event: AuditEvent) -> AuditEvent:
        """The event as recorded: its job named, where the request named only an
        execution of it."""
        try:
            return dataclasses.replace(event, job_name=self.trail.record(event))
        except Exception:
            # The action's own outcome stands; this line is the trace left.
            with _about(event):
                log.exception(
                    "AUDIT-LOST %s by %s: the audit row was not written",
                    event.action,
                    event.principal,
                )
            return event
