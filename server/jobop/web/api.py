"""The REST routes under /api: the JobOperatorService's RPCs in JSON.

Each route builds the RPC's request message from the path, the query and the JSON body and
awaits the servicer's method (see `calls`). The paths are the proto's `google.api.http`
bindings, so Envoy's gRPC-JSON transcoder serves the same paths (with proto3 JSON bodies).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from aiohttp import web
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb

from jobop.operator import JobOperator
from jobop.service import JobOperatorServicer
from jobop.service import validation as check
from jobop.service.auth import current_caller
from jobop.service.errors import InvalidArgument

from . import representation as rep
from .calls import ApiError, CallContext, call, first
from .contexts import context_body
from .events import execution_events, executions_events

_INT64_MAX = 2**63 - 1
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(body: object, status: int = 200, **kw: Any) -> web.Response:
    return web.json_response(body, status=status, dumps=_dumps, **kw)


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def _context_dumps(value: object) -> str:
    # Context values are the job's: dates, decimals and NaN become their text.
    return json.dumps(_finite(value), separators=(",", ":"), default=str, allow_nan=False)


def _finite(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def error_response(error: ApiError) -> web.Response:
    return json_response(error.body(), status=error.http_status)


def _whole(text: str, limit: int) -> int | None:
    if text.isascii() and text.isdigit() and int(text) <= limit:
        return int(text)
    return None


def path_id(request: web.Request, name: str, field: str) -> int:
    """A 64-bit id from the path (the servicer refuses 0 with its own message)."""
    text = request.match_info[name]
    value = _whole(text, _INT64_MAX)
    if value is None:
        message = f"{field} must be a positive id, not {text!r}"
        raise ApiError.of(InvalidArgument(message, field=field))
    return value


def query_int(request: web.Request, name: str, field: str) -> int:
    text = request.query.get(name, "")
    value = _whole(text, 2**31 - 1) if text else 0
    if value is None:
        raise ApiError.of(
            InvalidArgument(f"{name} must be a whole number, not {text!r}", field=field)
        )
    return value


def query_bool(request: web.Request, name: str) -> bool:
    text = request.query.get(name, "false").lower()
    if text not in ("true", "false"):
        raise ApiError.of(InvalidArgument(f"{name} must be true or false", field=name))
    return text == "true"


def query_time(request: web.Request, name: str, target: Any) -> None:
    """The query parameter `name` (an RFC 3339 time with its offset), when given, into the
    Timestamp `target`."""
    text = request.query.get(name)
    if text is not None:
        time_value(name, text, target)


def time_value(name: str, text: str, target: Any) -> None:
    """`text`, an RFC 3339 time with its offset, into the Timestamp `target` (`name` is the
    field a refusal names)."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError.of(
            InvalidArgument(
                f"{name} must be an RFC 3339 time with its offset, not {text!r}", field=name
            )
        )
    try:
        target.FromDatetime(moment)
    except (OverflowError, ValueError):
        raise ApiError.of(InvalidArgument(f"{name} {text!r} is out of range", field=name)) from None


async def json_body(request: web.Request, allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON object ({} when there is no body), with only `allowed` keys.

    Any other Content-Type, or a body with none, is refused (415): no web page can make a
    browser send a JSON body to another site without asking it first (origin.py)."""
    if (
        "Content-Type" in request.headers or request.body_exists
    ) and request.content_type != "application/json":
        shown = request.headers.get("Content-Type", "none")
        raise ApiError(
            "INVALID_ARGUMENT",
            415,
            f"the body must be application/json, not {shown}",
            UNSUPPORTED_MEDIA_TYPE,
            {"field": "body"},
        )
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
        # JSON's escapes can spell lone surrogates, which no UTF-8 field can hold.
        json.dumps(body, ensure_ascii=False).encode()
    except RecursionError:
        raise ApiError.of(InvalidArgument("the body is nested too deep", field="body")) from None
    except UnicodeEncodeError:
        message = "the body holds a lone surrogate escape (\\ud800-\\udfff): not valid Unicode"
        raise ApiError.of(InvalidArgument(message, field="body")) from None
    except (ValueError, UnicodeDecodeError):
        raise ApiError.of(InvalidArgument("the body is not JSON", field="body")) from None
    if not isinstance(body, dict):
        raise ApiError.of(InvalidArgument("the body must be a JSON object", field="body"))
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError.of(
            InvalidArgument(f"unknown field {unknown[0]!r} in the body", field=unknown[0])
        )
    return body


def path_request(rpc: str, request: web.Request) -> Any:
    """The RPC's request message as far as the path tells it, for the audit row of a
    request refused before its body was read (or a body that was malformed)."""
    message = getattr(pb, f"{rpc}Request")()
    info = request.match_info
    if "jobName" in info and hasattr(message, "job_name"):
        message.job_name = info["jobName"]
    if "name" in info and hasattr(message, "name"):
        message.name = info["name"]  # a schedule's
    execution_id = _whole(info.get("executionId", ""), _INT64_MAX)
    if execution_id and hasattr(message, "execution_id"):
        message.execution_id = execution_id
    return message


def _request_id(body: dict[str, Any]) -> str:
    value = body.get("requestId", "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ApiError.of(InvalidArgument("requestId must be a string", field="request_id"))
    return value


_START_KEYS = ("jobName", "parameters", "requestId", "priority")
_STATUS_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _start_entry(entry: object, index: int) -> pb.StartRequest:
    """One entry of a StartJobs body, as a Start's body and path would give it."""
    field = f"starts[{index}]"
    if not isinstance(entry, dict):
        raise ApiError.of(InvalidArgument(f"{field} must be a JSON object", field=field))
    unknown = sorted(set(entry) - set(_START_KEYS))
    if unknown:
        raise ApiError.of(
            InvalidArgument(
                f"{field} has unknown keys {', '.join(unknown)}; allowed: "
                + ", ".join(_START_KEYS),
                field=field,
            )
        )
    name = entry.get("jobName")
    if not isinstance(name, str):
        raise ApiError.of(
            InvalidArgument(f"{field}.jobName must be a string", field=f"{field}.jobName")
        )
    try:
        return pb.StartRequest(
            job_name=name,
            parameters=rep.parameters_from_json(entry.get("parameters")),
            request_id=_request_id(entry),
            priority=rep.priority_from_json(entry),
        )
    except ApiError:
        raise
    except Exception as error:
        refusal = ApiError.of(error)
        refusal.message = f"{field}: {refusal.message}"
        raise refusal from None


# COMPLETED, STARTING, ... as the tables and the JSON spell them.
_STATUSES = {
    name.removeprefix("BATCH_STATUS_"): value for name, value in pb.BatchStatus.items() if value
}

# The executions' filter, as the query of a listing and the `filter` object of a bulk
# operation's body name it: the repeatable names and their ExecutionFilter field, the time
# ranges' names (`since`/`until` bound the create time), then `param`, `node`, `overdue`.
FILTER_LISTS = {"job": "job_names", "status": "statuses", "exitCode": "exit_codes"}
FILTER_TIMES = {
    "since": ("created", "since"),
    "until": ("created", "until"),
    "startedSince": ("started", "since"),
    "startedUntil": ("started", "until"),
    "endedSince": ("ended", "since"),
    "endedUntil": ("ended", "until"),
}
FILTER_NAMES = (*FILTER_LISTS, *FILTER_TIMES, "param", "node", "overdue")
PARAMETER_PREFIX = "param."


def _filter(
    lists: dict[str, list[str]],
    times: dict[str, str],
    parameters: list[tuple[str, str]],
    node: str,
    overdue: bool | None,
    prefix: str = "",
) -> pb.ExecutionFilter:
    """The ExecutionFilter of the values named as FILTER_NAMES name them; a refusal names
    `prefix` + the name. The servicer checks the values themselves."""
    selection = pb.ExecutionFilter(node_id=node)
    for name, field in FILTER_LISTS.items():
        values = lists.get(name, [])
        if name != "status":
            getattr(selection, field).extend(values)
            continue
        for text in values:
            if text.upper() not in _STATUSES:
                shown = ", ".join(_STATUSES)
                message = f"{prefix}status must be one of {shown}, not {text!r}"
                raise ApiError.of(InvalidArgument(message, field=f"{prefix}status"))
            selection.statuses.append(_STATUSES[text.upper()])
    for name, text in times.items():
        window, side = FILTER_TIMES[name]
        time_value(prefix + name, text, getattr(getattr(selection, window), side))
    for name, value in parameters:
        selection.parameters.append(pb.ParameterFilter(name=name, value=value))
    if overdue is not None:
        selection.overdue = overdue
    return selection


def execution_filter(request: web.Request) -> pb.ExecutionFilter:
    """The executions' filter from the query: repeatable `job`, `status` and `exitCode`,
    the times of FILTER_TIMES (RFC 3339), `param.NAME=VALUE` (repeatable names), `node` and
    `overdue` (true or false)."""
    query = request.query
    parameters = [
        (key.removeprefix(PARAMETER_PREFIX), value)
        for key, value in query.items()
        if key.startswith(PARAMETER_PREFIX)
    ]
    return _filter(
        {name: query.getall(name, []) for name in FILTER_LISTS},
        {name: query[name] for name in FILTER_TIMES if name in query},
        parameters,
        query.get("node", ""),
        query_bool(request, "overdue") if "overdue" in query else None,
    )


def body_filter(value: object) -> pb.ExecutionFilter:
    """A body's `filter` object: the query's names (FILTER_NAMES), a list of strings (or
    one string) for each repeatable one, `param` an object of NAME: VALUE, `overdue` true
    or false. Refusals name `filter.NAME`."""
    if value is None:
        return pb.ExecutionFilter()
    if not isinstance(value, dict):
        raise ApiError.of(InvalidArgument("filter must be a JSON object", field="filter"))
    unknown = sorted(set(value) - set(FILTER_NAMES))
    if unknown:
        names = ", ".join(FILTER_NAMES)
        message = f"unknown field {unknown[0]!r} in the filter (it takes {names})"
        raise ApiError.of(InvalidArgument(message, field=f"filter.{unknown[0]}"))
    lists = {name: _strings(value.get(name), f"filter.{name}") for name in FILTER_LISTS}
    times = {}
    for name in FILTER_TIMES:
        text = value.get(name)
        if text is not None:
            times[name] = _string(text, f"filter.{name}", "an RFC 3339 time")
    parameters = value.get("param") or {}
    if not isinstance(parameters, dict):
        message = "filter.param must be an object of NAME: VALUE"
        raise ApiError.of(InvalidArgument(message, field="filter.param"))
    pairs = [
        (name, _parameter_text(item, f"filter.param.{name}")) for name, item in parameters.items()
    ]
    node = value.get("node")
    overdue = value.get("overdue")
    if overdue is not None and not isinstance(overdue, bool):
        message = "filter.overdue must be true, false or null"
        raise ApiError.of(InvalidArgument(message, field="filter.overdue"))
    node_id = "" if node is None else _string(node, "filter.node", "a node id")
    return _filter(lists, times, pairs, node_id, overdue, prefix="filter.")


def _string(value: object, field: str, what: str) -> str:
    if not isinstance(value, str):
        raise ApiError.of(InvalidArgument(f"{field} must be {what} (a string)", field=field))
    return value


def _strings(value: object, field: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        message = f"{field} must be a list of strings (or one string)"
        raise ApiError.of(InvalidArgument(message, field=field))
    return value


def _parameter_text(value: object, field: str) -> str:
    # As stored: a long 7 is "7" (a JSON number is taken as its text), a string as is.
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    message = f"{field} must be the value as stored, a string (or a whole number)"
    raise ApiError.of(InvalidArgument(message, field=field))


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise ApiError.of(InvalidArgument(f"{name} must be true or false", field=name))
    return value


def _ids(value: object) -> list[int]:
    """A body's `ids`: execution ids, as numbers or as strings of digits (64-bit ids do
    not survive JavaScript's numbers)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ApiError.of(InvalidArgument("ids must be a list of execution ids", field="ids"))
    ids = []
    for item in value:
        number = item if isinstance(item, int) and not isinstance(item, bool) else None
        if isinstance(item, str):
            number = _whole(item, _INT64_MAX)
        if number is None or not 0 < number <= _INT64_MAX:
            message = f"ids must hold positive execution ids, not {item!r}"[:200]
            raise ApiError.of(InvalidArgument(message, field="ids"))
        ids.append(number)
    return ids


class RestApi:
    """The /api routes over one servicer (and the operator, for what no RPC returns)."""

    def __init__(self, servicer: JobOperatorServicer, operator: JobOperator) -> None:
        self.servicer = servicer
        self.operator = operator

    def routes(self) -> list[web.RouteDef]:
        s = self
        return [
            web.post("/api/jobs/start", s.start_jobs),
            web.post("/api/jobs/{jobName}/start", s.start),
            web.post("/api/jobs/{jobName}/next", s.start_next_instance),
            # Bulk operations (before the single actions: "stop" is not an id).
            web.post("/api/executions/stop", s.bulk_stop),
            web.post("/api/executions/abandon", s.bulk_abandon),
            web.post("/api/executions/restart", s.bulk_restart),
            web.post("/api/executions/recover", s.bulk_recover),
            web.get("/api/operations/{id}", s.bulk_operation),
            web.post("/api/operations/{id}/cancel", s.cancel_bulk_operation),
            web.post("/api/executions/{executionId}/stop", s.stop),
            web.post("/api/executions/{executionId}/restart", s.restart),
            web.post("/api/executions/{executionId}/abandon", s.abandon),
            web.post("/api/executions/{executionId}/recover", s.recover),
            web.get("/api/jobs", s.jobs),
            web.get("/api/jobs/{jobName}", s.job),
            web.get("/api/jobs/{jobName}/executions", s.job_executions),
            web.get("/api/jobs/{jobName}/runningExecutions", s.running_executions),
            web.get("/api/jobs/{jobName}/instances", s.job_instances),
            web.get("/api/instances/{jobInstanceId}/executions", s.instance_executions),
            # Before /api/executions/{executionId}: "count" is not an id.
            web.get("/api/executions", s.executions),
            web.get("/api/executions/count", s.count_executions),
            web.get("/api/executions/{executionId}", s.execution),
            web.get("/api/executions/{executionId}/steps", s.steps),
            web.get("/api/executions/{executionId}/summary", s.summary),
            web.get("/api/executions/{executionId}/stepSummaries", s.step_summaries),
            web.get("/api/executions/{executionId}/parameters", s.parameters),
            web.get("/api/executions/{executionId}/context", s.context),
            web.get("/api/executions/{executionId}/events", s.execution_events),
            web.get("/api/events", s.events),
            web.get("/api/nodes", s.nodes),
            web.get("/api/audit", s.audit),
            web.get("/api/jobs/{jobName}/settings", s.job_settings),
            web.put("/api/jobs/{jobName}/settings", s.update_job_settings),
            web.post("/api/jobs/{jobName}/pause", s.pause_job),
            web.post("/api/jobs/{jobName}/resume", s.resume_job),
            web.get("/api/settings", s.settings),
            web.get("/api/queue", s.queue),
        ]

    # -- launching -------------------------------------------------------------------

    async def _launched(
        self, request: web.Request, execution: pb.JobExecution, context: CallContext
    ) -> web.StreamResponse:
        """201 with the execution and its Location; the launch proceeds once it is sent."""
        response = json_response(
            rep.execution_json(execution),
            status=201,
            headers={"Location": f"/api/executions/{execution.id}"},
        )
        try:
            await response.prepare(request)
            await response.write_eof()
        finally:
            context.done()
        return response

    async def _message(
        self, request: web.Request, rpc: str, build: Callable[[], Awaitable[Any]]
    ) -> Any:
        """The RPC's request message built by `build` from the HTTP request. One that cannot
        be built (a malformed body, path id or parameter) is refused here, and audited as
        the servicer audits the requests it refuses."""
        try:
            return await build()
        except Exception as error:
            refusal = error if isinstance(error, ApiError) else ApiError.of(error)
            await self.servicer.audit.refused(
                current_caller.get(),
                rpc,
                path_request(rpc, request),
                refusal.reason,
                refusal.message,
            )
            raise refusal from None

    async def start(self, request: web.Request) -> web.StreamResponse:
        async def build() -> pb.StartRequest:
            body = await json_body(request, ("parameters", "requestId", "priority"))
            return pb.StartRequest(
                job_name=request.match_info["jobName"],
                parameters=rep.parameters_from_json(body.get("parameters")),
                request_id=_request_id(body),
                priority=rep.priority_from_json(body),
            )

        message = await self._message(request, "Start", build)
        context = CallContext()
        response = await call(self.servicer.Start, message, context)
        return await self._launched(request, response.execution, context)

    async def start_jobs(self, request: web.Request) -> web.StreamResponse:
        """StartJobs: `{"starts": [{"jobName", "parameters", "requestId", "priority"}]}` ->
        200 `{"results": [{"execution": {...}} | {"error": {...}}]}`, one per entry in
        order. A body whose JSON is malformed (an entry that is not an object, a key or a
        type that does not fit) is refused whole (400); what a Start would refuse is
        answered per entry."""

        async def build() -> pb.StartJobsRequest:
            body = await json_body(request, ("starts",))
            starts = body.get("starts")
            if not isinstance(starts, list):
                raise ApiError.of(
                    InvalidArgument("starts must be a JSON array of starts", field="starts")
                )
            check.starts_count(len(starts))
            return pb.StartJobsRequest(
                starts=[_start_entry(entry, index) for index, entry in enumerate(starts)]
            )

        message = await self._message(request, "StartJobs", build)
        context = CallContext()
        response = await call(self.servicer.StartJobs, message, context)
        results: list[dict[str, Any]] = []
        for result in response.results:
            if result.HasField("execution"):
                results.append({"execution": rep.execution_json(result.execution)})
            else:
                error = result.error
                results.append(
                    {
                        "error": {
                            "code": _STATUS_CODES.get(error.code, grpc.StatusCode.UNKNOWN).name,
                            "reason": error.reason,
                            "message": error.message,
                            "metadata": dict(error.metadata),
                        }
                    }
                )
        reply = json_response({"results": results})
        try:
            await reply.prepare(request)
            await reply.write_eof()
        finally:
            context.done()  # the executions go to the workers once the answer is sent
        return reply

    async def start_next_instance(self, request: web.Request) -> web.StreamResponse:
        async def build() -> pb.StartNextInstanceRequest:
            body = await json_body(request, ("requestId", "priority"))
            return pb.StartNextInstanceRequest(
                job_name=request.match_info["jobName"],
                request_id=_request_id(body),
                priority=rep.priority_from_json(body),
            )

        message = await self._message(request, "StartNextInstance", build)
        context = CallContext()
        response = await call(self.servicer.StartNextInstance, message, context)
        return await self._launched(request, response.execution, context)

    async def restart(self, request: web.Request) -> web.StreamResponse:
        async def build() -> pb.RestartRequest:
            body = await json_body(request, ("requestId", "priority"))
            return pb.RestartRequest(
                execution_id=path_id(request, "executionId", "execution_id"),
                request_id=_request_id(body),
                priority=rep.priority_from_json(body),
            )

        message = await self._message(request, "Restart", build)
        context = CallContext()
        response = await call(self.servicer.Restart, message, context)
        return await self._launched(request, response.execution, context)

    # -- controlling -----------------------------------------------------------------

    async def _execution_action(self, request: web.Request, rpc: str) -> web.Response:
        """Stop or Abandon: an execution id in the path, no body."""

        async def build() -> Any:
            await json_body(request, ())
            execution_id = path_id(request, "executionId", "execution_id")
            return getattr(pb, f"{rpc}Request")(execution_id=execution_id)

        message = await self._message(request, rpc, build)
        response = await call(getattr(self.servicer, rpc), message)
        return json_response(rep.execution_json(response.execution))

    async def stop(self, request: web.Request) -> web.Response:
        return await self._execution_action(request, "Stop")

    async def abandon(self, request: web.Request) -> web.Response:
        return await self._execution_action(request, "Abandon")

    async def recover(self, request: web.Request) -> web.Response:
        """Recover; the optional body `{"force": true}` recovers an execution no jobop
        node owns (a Spring Batch application's), whose owner the caller knows is dead."""

        async def build() -> pb.RecoverRequest:
            body = await json_body(request, ("force",))
            force = body.get("force", False)
            if not isinstance(force, bool):
                raise ApiError.of(InvalidArgument("force must be true or false", field="force"))
            execution_id = path_id(request, "executionId", "execution_id")
            return pb.RecoverRequest(execution_id=execution_id, force=force)

        message = await self._message(request, "Recover", build)
        response = await call(self.servicer.Recover, message)
        return json_response(rep.execution_json(response.execution))

    # -- bulk operations -------------------------------------------------------------

    async def _bulk(self, request: web.Request, rpc: str) -> web.Response:
        """BulkStop, BulkAbandon, BulkRestart, BulkRecover: the body's `filter` (the
        listing's query names, see body_filter) and `ids` select; 202 with the operation as
        accepted (it runs on the server: GET /api/operations/{id} follows it), or for
        `dryRun` 200 with the count and the first ids."""

        async def build() -> Any:
            allowed = ("filter", "ids", "dryRun") + (("force",) if rpc == "BulkRecover" else ())
            body = await json_body(request, allowed)
            # No filter (absent or null) is none: {} alone selects nothing and is refused.
            selection = pb.ExecutionSelection(execution_ids=_ids(body.get("ids")))
            if body.get("filter") is not None:
                selection.filter.CopyFrom(body_filter(body["filter"]))
            message = getattr(pb, f"{rpc}Request")(
                selection=selection, dry_run=_flag(body, "dryRun")
            )
            if rpc == "BulkRecover":
                message.force = _flag(body, "force")
            return message

        message = await self._message(request, rpc, build)
        operation = (await first(getattr(self.servicer, rpc), message)).operation
        return json_response(
            rep.bulk_operation_json(operation),
            status=200 if operation.dry_run else 202,
            headers={} if operation.dry_run else {"Location": f"/api/operations/{operation.id}"},
        )

    async def bulk_stop(self, request: web.Request) -> web.Response:
        return await self._bulk(request, "BulkStop")

    async def bulk_abandon(self, request: web.Request) -> web.Response:
        return await self._bulk(request, "BulkAbandon")

    async def bulk_restart(self, request: web.Request) -> web.Response:
        return await self._bulk(request, "BulkRestart")

    async def bulk_recover(self, request: web.Request) -> web.Response:
        return await self._bulk(request, "BulkRecover")

    async def bulk_operation(self, request: web.Request) -> web.Response:
        message = pb.GetBulkOperationRequest(id=path_id(request, "id", "id"))
        response = await call(self.servicer.GetBulkOperation, message)
        return json_response(rep.bulk_operation_json(response.operation))

    async def cancel_bulk_operation(self, request: web.Request) -> web.Response:
        async def build() -> pb.CancelBulkOperationRequest:
            await json_body(request, ())
            return pb.CancelBulkOperationRequest(id=path_id(request, "id", "id"))

        message = await self._message(request, "CancelBulkOperation", build)
        response = await call(self.servicer.CancelBulkOperation, message)
        return json_response(rep.bulk_operation_json(response.operation))

    # -- reading ---------------------------------------------------------------------

    async def jobs(self, request: web.Request) -> web.Response:
        """The catalogue, each job with its latest execution; `jobNames` are those this
        server runs (the registered ones), as before the catalogue."""
        names = (await call(self.servicer.GetJobNames, pb.GetJobNamesRequest())).job_names
        catalogue = await call(self.servicer.DescribeJobs, pb.DescribeJobsRequest())
        jobs = []
        for job in catalogue.jobs:
            latest = await call(
                self.servicer.ListJobExecutions,
                pb.ListJobExecutionsRequest(job_name=job.job_name, page_size=1),
            )
            execution = rep.execution_json(latest.executions[0]) if latest.executions else None
            jobs.append({**rep.job_description_json(job), "latestExecution": execution})
        return json_response({"jobNames": list(names), "jobs": jobs})

    async def job(self, request: web.Request) -> web.Response:
        name = request.match_info["jobName"]
        found = await call(self.servicer.DescribeJobs, pb.DescribeJobsRequest(job_names=[name]))
        return json_response(rep.job_description_json(found.jobs[0]))

    async def job_executions(self, request: web.Request) -> web.Response:
        name = request.match_info["jobName"]
        if query_bool(request, "running"):
            ids = await call(
                self.servicer.GetRunningExecutions, pb.GetRunningExecutionsRequest(job_name=name)
            )
            executions = []
            for execution_id in ids.execution_ids:
                try:
                    found = await call(
                        self.servicer.GetJobExecution,
                        pb.GetJobExecutionRequest(execution_id=execution_id),
                    )
                except ApiError as error:
                    if error.reason == "NO_SUCH_JOB_EXECUTION":
                        continue  # deleted meanwhile
                    raise
                executions.append(rep.execution_json(found.execution))
            return json_response({"executions": executions, "nextPageToken": ""})
        return await self._list_executions(request, pb.ListJobExecutionsRequest(job_name=name))

    async def instance_executions(self, request: web.Request) -> web.Response:
        instance_id = path_id(request, "jobInstanceId", "job_instance_id")
        return await self._list_executions(
            request, pb.ListJobExecutionsRequest(job_instance_id=instance_id)
        )

    async def _list_executions(
        self, request: web.Request, message: pb.ListJobExecutionsRequest
    ) -> web.Response:
        message.page_size = query_int(request, "pageSize", "page_size")
        message.page_token = request.query.get("pageToken", "")
        message.filter.CopyFrom(execution_filter(request))
        order = request.query.get("order", "newest")
        if order not in ("newest", "oldest"):
            raise ApiError.of(InvalidArgument("order must be newest or oldest", field="order"))
        message.oldest_first = order == "oldest"
        response = await call(self.servicer.ListJobExecutions, message)
        return json_response(
            {
                "executions": [rep.execution_json(item) for item in response.executions],
                "nextPageToken": response.next_page_token,
            }
        )

    async def executions(self, request: web.Request) -> web.Response:
        """Executions of every job, or of the `job`s, filtered (execution_filter)."""
        return await self._list_executions(request, pb.ListJobExecutionsRequest())

    async def count_executions(self, request: web.Request) -> web.Response:
        message = pb.CountJobExecutionsRequest(filter=execution_filter(request))
        response = await call(self.servicer.CountJobExecutions, message)
        return json_response({"count": response.count})

    async def running_executions(self, request: web.Request) -> web.Response:
        message = pb.GetRunningExecutionsRequest(job_name=request.match_info["jobName"])
        response = await call(self.servicer.GetRunningExecutions, message)
        return json_response({"executionIds": list(response.execution_ids)})

    async def job_instances(self, request: web.Request) -> web.Response:
        message = pb.ListJobInstancesRequest(
            job_name=request.match_info["jobName"],
            page_size=query_int(request, "pageSize", "page_size"),
            page_token=request.query.get("pageToken", ""),
        )
        response = await call(self.servicer.ListJobInstances, message)
        return json_response(
            {
                "jobInstances": [rep.instance_json(item) for item in response.job_instances],
                "nextPageToken": response.next_page_token,
            }
        )

    async def _get_execution(self, request: web.Request) -> pb.JobExecution:
        execution_id = path_id(request, "executionId", "execution_id")
        message = pb.GetJobExecutionRequest(execution_id=execution_id)
        return (await call(self.servicer.GetJobExecution, message)).execution

    async def execution(self, request: web.Request) -> web.Response:
        return json_response(rep.execution_json(await self._get_execution(request)))

    async def steps(self, request: web.Request) -> web.Response:
        execution = await self._get_execution(request)
        steps = [rep.step_json(step) for step in execution.step_executions]
        return json_response({"stepExecutions": steps})

    async def summary(self, request: web.Request) -> web.Response:
        execution_id = path_id(request, "executionId", "execution_id")
        message = pb.GetSummaryRequest(execution_id=execution_id)
        response = await call(self.servicer.GetSummary, message)
        return json_response({"summary": response.summary})

    async def step_summaries(self, request: web.Request) -> web.Response:
        execution_id = path_id(request, "executionId", "execution_id")
        message = pb.GetStepExecutionSummariesRequest(execution_id=execution_id)
        response = await call(self.servicer.GetStepExecutionSummaries, message)
        # JSON object keys are strings, as proto3 JSON writes a map<int64, string>.
        summaries = {str(key): response.summaries[key] for key in sorted(response.summaries)}
        return json_response({"summaries": summaries})

    async def parameters(self, request: web.Request) -> web.Response:
        execution_id = path_id(request, "executionId", "execution_id")
        message = pb.GetParametersRequest(execution_id=execution_id)
        response = await call(self.servicer.GetParameters, message)
        return json_response({"parameters": rep.parameters_json(response.parameters)})

    async def context(self, request: web.Request) -> web.Response:
        """The job's and each step's execution context: the dashboard shows them, and the
        gRPC API has no message for them (their values are whatever the job put there)."""
        execution_id = check.execution_id(path_id(request, "executionId", "execution_id"))
        execution = await asyncio.to_thread(
            functools.partial(self.operator.get_job_execution, execution_id, contexts=True)
        )
        body = context_body(execution, _context_dumps)  # capped: see web/contexts.py
        return web.json_response(body, dumps=_context_dumps)

    async def nodes(self, request: web.Request) -> web.Response:
        """The cluster's nodes with their lease state: REST's own, as no RPC lists nodes."""
        include_gone = not query_bool(request, "live")
        nodes = await asyncio.to_thread(self.operator.list_nodes, include_gone=include_gone)
        return json_response({"nodes": [rep.node_json(node) for node in nodes]})

    async def audit(self, request: web.Request) -> web.Response:
        """ListAuditEvents: newest first, `job` and `since` (RFC 3339) filters, paged."""
        message = pb.ListAuditEventsRequest(
            job_name=request.query.get("job", ""),
            page_size=query_int(request, "pageSize", "page_size"),
            page_token=request.query.get("pageToken", ""),
        )
        query_time(request, "since", message.since)
        response = await call(self.servicer.ListAuditEvents, message)
        return json_response(
            {
                "events": [rep.audit_event_json(event) for event in response.events],
                "nextPageToken": response.next_page_token,
            }
        )

    # -- workload control -----------------------------------------------------------

    async def job_settings(self, request: web.Request) -> web.Response:
        """GetJobSettings of one job."""
        message = pb.GetJobSettingsRequest(job_names=[request.match_info["jobName"]])
        response = await call(self.servicer.GetJobSettings, message)
        return json_response(rep.workload_json(response.jobs[0]))

    async def settings(self, request: web.Request) -> web.Response:
        """GetJobSettings of the jobs named by `job` (repeatable); none: every job with
        settings (registered here, or with run-time values). The dashboard's poll."""
        message = pb.GetJobSettingsRequest(job_names=request.query.getall("job", []))
        response = await call(self.servicer.GetJobSettings, message)
        return json_response({"jobs": [rep.workload_json(job) for job in response.jobs]})

    async def update_job_settings(self, request: web.Request) -> web.Response:
        """UpdateJobSettings: the body's fields are the mask; `null` clears one."""

        async def build() -> pb.UpdateJobSettingsRequest:
            body = await json_body(request, tuple(rep.SETTING_FIELDS))
            if not body:
                names = ", ".join(rep.SETTING_FIELDS)
                raise ApiError.of(
                    InvalidArgument(
                        f"the body names no setting to change (any of {names})", field="body"
                    )
                )
            settings, mask = rep.settings_from_json(body)
            message = pb.UpdateJobSettingsRequest(
                job_name=request.match_info["jobName"], settings=settings
            )
            message.update_mask.paths.extend(mask)
            return message

        message = await self._message(request, "UpdateJobSettings", build)
        response = await call(self.servicer.UpdateJobSettings, message)
        return json_response(rep.workload_json(response.job))

    async def pause_job(self, request: web.Request) -> web.Response:
        """PauseJob; the optional body `{"stopRunning": true}` stops its running ones too."""

        async def build() -> pb.PauseJobRequest:
            body = await json_body(request, ("stopRunning",))
            stop_running = body.get("stopRunning", False)
            if not isinstance(stop_running, bool):
                message = "stopRunning must be true or false"
                raise ApiError.of(InvalidArgument(message, field="stopRunning"))
            return pb.PauseJobRequest(
                job_name=request.match_info["jobName"], stop_running=stop_running
            )

        message = await self._message(request, "PauseJob", build)
        response = await call(self.servicer.PauseJob, message)
        return json_response(
            {
                **rep.workload_json(response.job),
                "stoppedExecutionIds": list(response.stopped_execution_ids),
            }
        )

    async def resume_job(self, request: web.Request) -> web.Response:
        async def build() -> pb.ResumeJobRequest:
            await json_body(request, ())
            return pb.ResumeJobRequest(job_name=request.match_info["jobName"])

        message = await self._message(request, "ResumeJob", build)
        response = await call(self.servicer.ResumeJob, message)
        return json_response(rep.workload_json(response.job))

    async def queue(self, request: web.Request) -> web.Response:
        """ListQueue: the waiting starts in run order, of every job or of `job`."""
        message = pb.ListQueueRequest(
            job_name=request.query.get("job", ""),
            page_size=query_int(request, "pageSize", "page_size"),
        )
        response = await call(self.servicer.ListQueue, message)
        return json_response(
            {
                "executions": [rep.queued_json(entry) for entry in response.executions],
                "total": response.total,
            }
        )

    # -- streams ---------------------------------------------------------------------

    async def execution_events(self, request: web.Request) -> web.StreamResponse:
        execution_id = path_id(request, "executionId", "execution_id")
        # EventSource resends the last `id:` (our version) when it reconnects.
        after = request.headers.get("Last-Event-ID") or request.query.get("afterVersion") or "0"
        after_version = _whole(after, _INT64_MAX)
        if after_version is None:
            raise ApiError.of(
                InvalidArgument(
                    f"Last-Event-ID / afterVersion must be a version number, not {after!r}",
                    field="after_version",
                )
            )
        message = pb.WatchExecutionRequest(execution_id=execution_id, after_version=after_version)
        return await execution_events(request, self.servicer.WatchExecution(message, _stream()))

    async def events(self, request: web.Request) -> web.StreamResponse:
        message = pb.WatchExecutionsRequest(job_name=request.query.get("job", ""))
        return await executions_events(request, self.servicer.WatchExecutions(message, _stream()))


def _stream() -> Any:
    return CallContext().as_grpc()
