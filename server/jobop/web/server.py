"""The HTTP admin surface on --http-address: REST API, SSE, OpenAPI, /metrics, dashboard.

aiohttp's AppRunner serves it on the gRPC server's event loop, in the same process: no
thread of its own, no signal handling of its own (`jobop serve` owns SIGTERM).
"""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from jobop.operator import JobOperator
from jobop.repository.queue_depth import waiting_starts
from jobop.service import JobOperatorServicer

from .api import RestApi, error_response, json_response
from .calls import ApiError
from .connections import ConnectionGuard, ConnectionLimits, GuardedSite
from .health import Readiness, health_routes
from .http_log import ServerLog
from .metrics import Metrics
from .openapi import openapi_document
from .origin import RequestGuard
from .schedules import ScheduleApi
from .security import HttpSecurity, check_routes

log = logging.getLogger(__name__)

# Upper bound of a request body: a Start's parameters are limited far below this.
MAX_BODY_BYTES = 1 << 20
# How long open requests (SSE streams first of all) get to finish at shutdown.
SHUTDOWN_TIMEOUT = 5.0

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# The dashboard's page runs its own scripts and styles (files, nothing inline), shows its own
# icon and talks to its own API (fetch and the event streams); never framed, no <base>.
DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# Every other answer is data (JSON, metrics, event streams, the page's files): opened in a
# browser, nothing in it may run, load or be framed.
DATA_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The server's own requests keep their Referer and Origin; other sites get neither.
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": DATA_CSP,
}


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Every error leaves as `{"error": {...}}`, whether ours or aiohttp's (404, 405)."""
    try:
        return await handler(request)
    except ApiError as error:
        return error_response(error)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        reason = error.reason.upper().replace(" ", "_")
        body = ApiError.http(error.status, reason, error.reason).body()
        return json_response(body, status=error.status, headers=_allow(error))
    except Exception as error:
        if isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG:
            # A static file path longer than the file system takes names no file.
            return error_response(ApiError.http(404, "NOT_FOUND", "Not Found"))
        # The web layer's own checks raise the service's errors; anything else is a bug.
        api_error = ApiError.of(error)
        if api_error.reason == "INTERNAL":
            log.exception("internal error serving %s %s", request.method, request.path)
        return error_response(api_error)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """On every response as its headers go out (streams and files too); a handler's own
    policy (the dashboard page's) stays."""
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


def _allow(error: web.HTTPException) -> dict[str, str]:
    allow = error.headers.get("Allow")
    return {"Allow": allow} if allow else {}


def create_app(
    servicer: JobOperatorServicer,
    operator: JobOperator,
    metrics: Metrics,
    *,
    security: HttpSecurity,
    serve_api: bool = True,
    guard: RequestGuard | None = None,
    readiness: Readiness | None = None,
) -> web.Application:
    """The aiohttp application; with `serve_api` false (role worker) only /metrics.

    Every route passes `security`'s middleware; one without a policy entry is refused here,
    at start-up, rather than served unchecked. `guard` (origin.py) checks Host, Origin and
    body types before that; without one, Host is not checked. With `readiness`, /healthz
    and /readyz are served (health.py).
    """
    guard = guard or RequestGuard(None)
    app = web.Application(
        middlewares=[metrics.http.middleware, _errors, guard.middleware, security.middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app.on_response_prepare.append(_security_headers)
    # The queue's gauges are read from the repository at each scrape, on every node.
    metrics.follow_queue(
        lambda: waiting_starts(operator.repository.engine), lambda: operator.registry.names()
    )
    app.router.add_get("/metrics", metrics.handle)
    if readiness is not None:
        app.router.add_routes(health_routes(readiness))
    if not serve_api:
        check_routes(app, security.policy)
        return app
    app.router.add_routes(RestApi(servicer, operator).routes())
    app.router.add_routes(ScheduleApi(servicer, operator).routes())
    document = openapi_document()

    async def openapi(request: web.Request) -> web.Response:
        return json_response(document)

    app.router.add_get("/openapi.json", openapi)
    # The dashboard: static files of the package, no build step.
    dashboard = resources.files("jobop.web") / "dashboard"
    index = (dashboard / "index.html").read_bytes()
    icon = (dashboard / "favicon.svg").read_bytes()

    async def home(request: web.Request) -> web.Response:
        return web.Response(
            body=index,
            content_type="text/html",
            charset="utf-8",
            headers={"Content-Security-Policy": DASHBOARD_CSP},
        )

    async def favicon(request: web.Request) -> web.Response:
        # Where browsers look when a page (the OpenAPI document, /metrics) names no icon.
        return web.Response(body=icon, content_type="image/svg+xml")

    app.router.add_get("/", home)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static("/static", str(dashboard), show_index=False)
    check_routes(app, security.policy)
    return app


class HttpServer:
    """The admin surface bound on one address; `start` and `stop` on the serving loop."""

    def __init__(
        self,
        app: web.Application,
        address: str,
        limits: ConnectionLimits,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise OSError(f"--http-address {address!r} is not HOST:PORT")
        self.host = host.strip("[]")
        self._port = int(port)
        self._guard = ConnectionGuard(limits)
        app.middlewares.insert(0, self._guard.middleware)  # before the app is frozen
        self._handler_options: dict[str, Any] = {
            "access_log": None,
            "logger": ServerLog(logging.getLogger("aiohttp.server")),
        }
        self._runner = web.AppRunner(
            app,
            handler_cancellation=True,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            **self._handler_options,
        )
        self.port = 0
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context is not None else "http"

    async def start(self) -> None:
        await self._runner.setup()
        site = GuardedSite(
            self._runner,
            self.host,
            self._port,
            self._guard,
            self._handler_options,
            ssl_context=self.ssl_context,
        )
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            raise OSError(f"cannot listen on {self.host}:{self._port}: {error.strerror}") from None
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        await self._runner.cleanup()
