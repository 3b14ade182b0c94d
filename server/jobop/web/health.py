"""`GET /healthz` (liveness) and `GET /readyz` (readiness) for probes that speak HTTP only.

Liveness is 200 whenever the process answers at all. Readiness is what gRPC health checking
says for the server as a whole (service ""): SERVING (200) unless the database cannot be
reached or the server is shutting down (503), so both surfaces report one state.

Both are open, like gRPC health: probes (kubelet, load balancers) carry no tokens, and the
answers hold no data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from grpc_health.v1 import health_pb2

from .api import json_response
from .calls import CallContext

Readiness = Callable[[], Awaitable[bool]]


def grpc_readiness(health: Any) -> Readiness:
    """Readiness read from the gRPC health servicer (grpc_health's aio HealthServicer)."""
    request = health_pb2.HealthCheckRequest(service="")

    async def ready() -> bool:
        response = await health.Check(request, CallContext().as_grpc())
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    return ready


def health_routes(ready: Readiness) -> list[web.RouteDef]:
    async def healthz(request: web.Request) -> web.Response:
        return json_response({"status": "SERVING"})

    async def readyz(request: web.Request) -> web.Response:
        if await ready():
            return json_response({"status": "SERVING"})
        return json_response({"status": "NOT_SERVING"}, status=503)

    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
