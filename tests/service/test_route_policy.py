"""Every HTTP route of the application has an entry in the route policy (an RPC of the
policy table, a role, or open), and an application with an unchecked route is refused
when it is built."""

from __future__ import annotations

from typing import Any, cast

import pytest
from aiohttp import web
from jobop.service.auth import CONTROL_ACTIONS, POLICY, Authenticator
from jobop.service.limits import Limits, StartRate, StreamSlots
from jobop.web import Metrics, create_app
from jobop.web.security import (
    METRICS_ROUTE,
    OPEN,
    ROUTE_POLICY,
    HttpSecurity,
    check_routes,
    route_key,
)


def _security() -> HttpSecurity:
    limits = Limits()
    return HttpSecurity(Authenticator(), StreamSlots(limits), StartRate(limits))


def _app(serve_api: bool = True) -> web.Application:
    # The routes are declared without touching the servicer or the operator.
    nothing = cast(Any, None)

    async def ready() -> bool:
        return True

    return create_app(
        nothing, nothing, Metrics(), security=_security(), serve_api=serve_api, readiness=ready
    )


def test_every_route_has_an_entry_and_every_entry_a_route() -> None:
    app = _app()
    served = {route_key(route) for route in app.router.routes()}
    assert served == set(ROUTE_POLICY) | {METRICS_ROUTE}
    probes = {("GET", "/healthz"), ("GET", "/readyz")}
    worker = {route_key(route) for route in _app(serve_api=False).router.routes()}
    assert worker == {METRICS_ROUTE, *probes}


def test_entries_name_rpcs_of_the_policy_table_and_control_routes_their_action() -> None:
    for (method, path), rule in ROUTE_POLICY.items():
        assert rule.rpc is None or rule.rpc in POLICY, (method, path)
        assert rule is OPEN or rule.rpc or rule.role, (method, path)
        if method in ("POST", "PUT"):
            # A write names its control action: .../start Start, .../next
            # StartNextInstance, .../pause PauseJob, PUT .../settings UpdateJobSettings,
            # POST /api/schedules CreateSchedule, .../{name}/pause PauseSchedule.
            assert rule.rpc in CONTROL_ACTIONS, (method, path)
            if path.startswith("/api/schedules"):
                expected = {
                    ("POST", "/api/schedules"): "createschedule",
                    ("PUT", "/api/schedules/{name}"): "updateschedule",
                }.get((method, path), path.rsplit("/", 1)[-1] + "schedule")
                assert rule.rpc.lower() == expected, (path, rule)
                continue
            if rule.rpc == "StartJobs":  # POST /api/jobs/start: many starts at once
                assert path == "/api/jobs/start", (path, rule)
                continue
            verb = rule.rpc.lower().removeprefix("start").removeprefix("update")
            # BulkStop .../executions/stop, CancelBulkOperation .../{id}/cancel.
            verb = verb.removeprefix("bulk").removesuffix("bulkoperation")
            verb = verb.removesuffix("instance").replace("job", "") or "start"
            assert path.lower().endswith(verb), (path, rule)
    assert all(
        rule is OPEN for (_, path), rule in ROUTE_POLICY.items() if not path.startswith("/api")
    )


def test_a_route_without_an_entry_is_refused() -> None:
    app = _app()

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/unchecked", handler)
    with pytest.raises(RuntimeError, match="GET /api/unchecked has no entry"):
        check_routes(app, _security().policy)


def test_both_surfaces_count_a_caller_under_one_key() -> None:
    from jobop.service.auth import ANONYMOUS, Principal, Role, limit_key

    # Anonymous callers by host (the peer as gRPC writes it; HTTP writes it the same way).
    assert limit_key(ANONYMOUS, "ipv4:10.0.0.7:50123") == "anonymous@ipv4:10.0.0.7"
    assert limit_key(ANONYMOUS, "ipv6:[::1]:8080") == "anonymous@ipv6:[::1]"
    assert limit_key(Principal("ci", Role.OPERATOR, "token"), "ipv4:10.0.0.7:1") == "ci"
