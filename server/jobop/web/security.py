"""The one place where every HTTP request is authenticated and authorized, with the same
authenticator, policy table, limits and audit trail as the gRPC interceptor.

Each route has an entry in `ROUTE_POLICY`: the RPC it stands for (checked against
`auth.POLICY`), a role for REST-only routes, or open (the dashboard's static files, the
OpenAPI document). `create_app` refuses to build an application with a route that has no
entry, so a new route cannot be served unchecked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from jobop.service.auth import (
    CONTROL_ACTIONS,
    Authenticator,
    Caller,
    Credentials,
    PermissionDenied,
    Principal,
    Role,
    Unauthenticated,
    authorize,
    authorize_role,
    current_caller,
    limit_key,
)
from jobop.service.errors import PERMISSION_DENIED, RESOURCE_EXHAUSTED, UNAUTHENTICATED
from jobop.service.handlers import RateLimitedLog
from jobop.service.limits import RATE_LIMITED, LimitExceeded, StartRate, StreamSlots

from .api import json_response, path_request
from .calls import ApiError

log = logging.getLogger(__name__)
_refusal_log = RateLimitedLog(log, burst=10, window=10.0)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RefusalHook = Callable[[Caller, str, Any, str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Rule:
    """What a route needs: the RPC it stands for, or (REST-only) a role; neither: open."""

    rpc: str | None = None
    role: Role | None = None
    what: str = ""
    stream: bool = False  # an SSE stream: counts against the stream limits


OPEN = Rule()


def rpc(name: str, *, stream: bool = False) -> Rule:
    return Rule(rpc=name, stream=stream)


def needs(role: Role, what: str) -> Rule:
    return Rule(role=role, what=what)


# Keyed by (method, the route's canonical path). HEAD follows GET (aiohttp adds it).
ROUTE_POLICY: Mapping[tuple[str, str], Rule] = {
    ("POST", "/api/jobs/start"): rpc("StartJobs"),
    ("POST", "/api/jobs/{jobName}/start"): rpc("Start"),
    ("POST", "/api/jobs/{jobName}/next"): rpc("StartNextInstance"),
    ("POST", "/api/executions/{executionId}/stop"): rpc("Stop"),
    ("POST", "/api/executions/{executionId}/restart"): rpc("Restart"),
    ("POST", "/api/executions/{executionId}/abandon"): rpc("Abandon"),
    ("POST", "/api/executions/{executionId}/recover"): rpc("Recover"),
    ("POST", "/api/executions/stop"): rpc("BulkStop"),
    ("POST", "/api/executions/abandon"): rpc("BulkAbandon"),
    ("POST", "/api/executions/restart"): rpc("BulkRestart"),
    ("POST", "/api/executions/recover"): rpc("BulkRecover"),
    ("GET", "/api/operations/{id}"): rpc("GetBulkOperation"),
    ("POST", "/api/operations/{id}/cancel"): rpc("CancelBulkOperation"),
    ("GET", "/api/jobs"): rpc("GetJobNames"),
    ("GET", "/api/jobs/{jobName}"): rpc("DescribeJobs"),
    ("GET", "/api/jobs/{jobName}/executions"): rpc("ListJobExecutions"),
    ("GET", "/api/jobs/{jobName}/runningExecutions"): rpc("GetRunningExecutions"),
    ("GET", "/api/jobs/{jobName}/instances"): rpc("ListJobInstances"),
    ("GET", "/api/instances/{jobInstanceId}/executions"): rpc("ListJobExecutions"),
    ("GET", "/api/executions"): rpc("ListJobExecutions"),
    ("GET", "/api/executions/count"): rpc("CountJobExecutions"),
    ("GET", "/api/executions/{executionId}"): rpc("GetJobExecution"),
    ("GET", "/api/executions/{executionId}/steps"): rpc("GetJobExecution"),
    ("GET", "/api/executions/{executionId}/summary"): rpc("GetSummary"),
    ("GET", "/api/executions/{executionId}/stepSummaries"): rpc("GetStepExecutionSummaries"),
    ("GET", "/api/executions/{executionId}/parameters"): rpc("GetParameters"),
    ("GET", "/api/executions/{executionId}/context"): needs(Role.VIEWER, "read execution contexts"),
    ("GET", "/api/executions/{executionId}/events"): rpc("WatchExecution", stream=True),
    ("GET", "/api/events"): rpc("WatchExecutions", stream=True),
    ("GET", "/api/nodes"): needs(Role.VIEWER, "list the nodes"),
    ("GET", "/api/audit"): rpc("ListAuditEvents"),
    # schedules (web/schedules.py)
    ("POST", "/api/schedules"): rpc("CreateSchedule"),
    ("GET", "/api/schedules"): rpc("ListSchedules"),
    ("GET", "/api/schedules/preview"): rpc("PreviewSchedule"),
    ("GET", "/api/schedules/{name}"): rpc("GetSchedule"),
    ("PUT", "/api/schedules/{name}"): rpc("UpdateSchedule"),
    ("DELETE", "/api/schedules/{name}"): rpc("DeleteSchedule"),
    ("POST", "/api/schedules/{name}/pause"): rpc("PauseSchedule"),
    ("POST", "/api/schedules/{name}/resume"): rpc("ResumeSchedule"),
    ("POST", "/api/schedules/{name}/trigger"): rpc("TriggerSchedule"),
    ("GET", "/api/schedules/{name}/fires"): rpc("ListScheduleFires"),
    ("GET", "/api/jobs/{jobName}/settings"): rpc("GetJobSettings"),
    ("PUT", "/api/jobs/{jobName}/settings"): rpc("UpdateJobSettings"),
    ("POST", "/api/jobs/{jobName}/pause"): rpc("PauseJob"),
    ("POST", "/api/jobs/{jobName}/resume"): rpc("ResumeJob"),
    ("GET", "/api/settings"): rpc("GetJobSettings"),
    ("GET", "/api/queue"): rpc("ListQueue"),
    # The dashboard's page and files hold no data; the API calls it makes are checked.
    ("GET", "/"): OPEN,
    ("GET", "/favicon.ico"): OPEN,
    ("GET", "/static"): OPEN,
    ("GET", "/openapi.json"): OPEN,
    # Probes carry no tokens and the answers hold no data, as gRPC health (health.py).
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
}

METRICS_ROUTE = ("GET", "/metrics")


def metrics_rule(role: Role | None) -> Rule:
    """--metrics-role: open (None, the default: scrapers rarely carry tokens) or a role."""
    return OPEN if role is None else needs(role, "read /metrics")


def route_key(route: web.AbstractRoute) -> tuple[str, str]:
    method = "GET" if route.method == "HEAD" else route.method
    resource = route.resource
    return (method, resource.canonical if resource is not None else "")


def check_routes(app: web.Application, policy: Mapping[tuple[str, str], Rule]) -> None:
    """RuntimeError naming the first route that has no entry in `policy`."""
    for route in app.router.routes():
        if route_key(route) not in policy:
            method, path = route_key(route)
            raise RuntimeError(f"HTTP route {method} {path} has no entry in ROUTE_POLICY")


def _certificate(request: web.Request) -> bytes | None:
    """The TLS peer's verified certificate (DER), named by `certificates.certificate_identity`
    like the gRPC surface's."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if ssl_object is None:
        return None
    der: bytes | None = ssl_object.getpeercert(binary_form=True)
    return der or None


def peer_of(request: web.Request) -> str:
    """The peer as gRPC writes it (ipv4:HOST:PORT), so both surfaces' audit rows compare."""
    transport = request.transport
    address = transport.get_extra_info("peername") if transport is not None else None
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"ipv6:[{host}]:{port}" if ":" in str(host) else f"ipv4:{host}:{port}"
    return request.remote or "?"


class HttpSecurity:
    """The middleware's state: the authenticator and the gRPC interceptor's limit objects."""

    def __init__(
        self,
        authenticator: Authenticator,
        streams: StreamSlots,
        start_rate: StartRate,
        on_refused: RefusalHook | None = None,
        metrics_role: Role | None = None,
    ) -> None:
        self.authenticator = authenticator
        self.streams = streams
        self.start_rate = start_rate
        self.on_refused = on_refused
        self.policy: dict[tuple[str, str], Rule] = {
            **ROUTE_POLICY,
            METRICS_ROUTE: metrics_rule(metrics_role),
        }

    def credentials(self, request: web.Request) -> Credentials:
        authenticator = self.authenticator
        if not authenticator.enabled:
            return Credentials()
        return Credentials(
            authorization=request.headers.get("Authorization"),
            certificate=_certificate(request) if authenticator.client_certificates else None,
            forwarded_client_cert=request.headers.get("x-forwarded-client-cert")
            if authenticator.trust_forwarded_identity
            else None,
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        route = request.match_info.route
        if request.match_info.http_exception is not None:
            return await handler(request)  # no such route or method: 404/405, no handler runs
        rule = self.policy.get(route_key(route))
        if rule is None:
            raise _denied(f"{request.method} {route_key(route)[1]} is not in the route policy")
        if rule is OPEN:
            return await handler(request)
        try:
            principal = self.authenticator.authenticate(self.credentials(request))
        except Unauthenticated as error:
            _refusal_log.warning(
                "%s %s from %s refused: %s", request.method, request.path, peer_of(request), error
            )
            return _unauthenticated(str(error))
        try:
            if rule.rpc is not None:
                if rule.rpc in RATE_LIMITED:  # before authorizing: refused actions count too
                    self.start_rate.take(_limit_key(principal, request))
                authorize(principal, rule.rpc)
            else:
                assert rule.role is not None
                authorize_role(principal, rule.role, rule.what)
        except PermissionDenied as error:
            _refusal_log.warning(
                "%s %s from %s refused: %s", request.method, request.path, peer_of(request), error
            )
            await self._refused(principal, request, rule, PERMISSION_DENIED)
            raise _denied(str(error)) from None
        except LimitExceeded as error:
            await self._refused(principal, request, rule, RESOURCE_EXHAUSTED)
            raise _exhausted(error) from None
        if rule.stream:
            key = _limit_key(principal, request)
            try:
                self.streams.acquire(key)
            except LimitExceeded as error:
                raise _exhausted(error) from None
            token = current_caller.set(Caller(principal, peer_of(request)))
            try:
                return await handler(request)
            finally:
                current_caller.reset(token)
                self.streams.release(key)
        # Every handler knows its caller: the audit names it, reads mask what its role may
        # not see.
        token = current_caller.set(Caller(principal, peer_of(request)))
        try:
            return await handler(request)
        finally:
            current_caller.reset(token)

    async def _refused(
        self, principal: Principal, request: web.Request, rule: Rule, reason: str
    ) -> None:
        if self.on_refused is not None and rule.rpc in CONTROL_ACTIONS:
            caller = Caller(principal, peer_of(request))
            await self.on_refused(caller, rule.rpc, path_request(rule.rpc, request), reason)


def _limit_key(principal: Principal, request: web.Request) -> str:
    return limit_key(principal, peer_of(request) if principal.method == "none" else "")


def _unauthenticated(message: str) -> web.Response:
    error = ApiError("UNAUTHENTICATED", 401, message, UNAUTHENTICATED)
    # RFC 6750: the scheme to use; a wrong token is `invalid_token`.
    challenge = 'Bearer realm="jobop"'
    if "not known" in message or "not `Bearer" in message:
        challenge += ', error="invalid_token"'
    return json_response(error.body(), status=401, headers={"WWW-Authenticate": challenge})


def _denied(message: str) -> ApiError:
    return ApiError("PERMISSION_DENIED", 403, message, PERMISSION_DENIED)


def _exhausted(error: LimitExceeded) -> ApiError:
    return ApiError(
        "RESOURCE_EXHAUSTED", 429, str(error), RESOURCE_EXHAUSTED, {"limit": error.limit}
    )
