"""Assembles the grpc.aio server: the JobOperatorService, health checking and reflection."""

from __future__ import annotations

import collections
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio  # type: ignore[attr-defined]
from grpc_reflection.v1alpha import reflection

from jobop.operator import JobOperator

from .auth import Authenticator
from .handlers import SERVICE, add_job_operator_service
from .interceptor import SecurityInterceptor
from .limits import Limits
from .servicer import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_POLL_INTERVAL,
    SERVICE_NAME,
    JobOperatorServicer,
)
from .tls import ReloadingServerCredentials
from .validation import MAX_REQUEST_BYTES

# The transport refuses (RESOURCE_EXHAUSTED) only what is far beyond any valid request; up
# to this size an oversized request reaches our checks and gets INVALID_ARGUMENT.
MAX_RECEIVE_MESSAGE_BYTES = 16 * MAX_REQUEST_BYTES


class HealthServicer(health_aio.HealthServicer):  # type: ignore[misc]
    """grpc's asyncio health servicer, with a Watch that keeps following a service however
    many of its watchers come and go.

    The library's Watch forgets a service's watchers as soon as any one of them ends, so
    that the others miss every later change (grpc/grpc#43403); and it writes while holding
    the service's lock, so that `set` waits on a slow client. Client-side health checking
    (one Watch per connection of every client) depends on both."""

    def __init__(self) -> None:
        super().__init__()
        self._watching: collections.Counter[str] = collections.Counter()
        self._closed = False

    async def Watch(
        self, request: health_pb2.HealthCheckRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        service = request.service
        self._watching[service] += 1
        condition = self._server_watchers[service]
        sent = None
        try:
            while not self._closed:
                async with condition:
                    # `set` changes the status with this lock held: a change made while
                    # we write is seen here, one made while we wait wakes us.
                    while (status := self._status(service)) == sent and not self._closed:
                        await condition.wait()
                if status != sent:
                    await context.write(health_pb2.HealthCheckResponse(status=status))
                    sent = status
        finally:
            self._watching[service] -= 1
            if not self._watching[service]:
                del self._watching[service]
                self._server_watchers.pop(service, None)

    async def end_watches(self) -> None:
        """End every Watch stream (after its latest status): the server is stopping, and
        a stream still open when it stops is cancelled with a traceback in the log."""
        self._closed = True
        for condition in list(self._server_watchers.values()):
            async with condition:
                condition.notify_all()

    async def _set(self, service: str, status: int) -> None:
        # The status first, then the wake-up of the service's current watchers: a watcher
        # that starts while we wait for the lock reads the new status already.
        self._server_status[service] = status
        condition = self._server_watchers.get(service)
        if condition is not None:
            async with condition:
                condition.notify_all()

    def _status(self, service: str) -> int:
        return int(self._server_status.get(service, health_pb2.HealthCheckResponse.SERVICE_UNKNOWN))


@dataclass
class ServerOptions:
    address: str = "127.0.0.1:50051"
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    poll_interval: float = DEFAULT_POLL_INTERVAL
    # HTTP/2 keepalive pings from the server, and a maximum connection age so that clients
    # spread over replicas again after a scale-up (0: no limit).
    keepalive_time: float = 60.0
    keepalive_timeout: float = 20.0
    max_connection_age: float = 0.0
    max_connection_age_grace: float = 30.0
    # gRPC cancels a call its server has not taken up within this many seconds (its
    # default: 30); the server takes calls up on the event loop, so a busy loop makes
    # streams opened in a burst end CANCELLED at exactly this age.
    max_unrequested_time: float = 30.0
    # TLS (None: plaintext) and who may call what (the default lets everyone do anything:
    # `jobop serve` allows that on loopback only).
    tls: ReloadingServerCredentials | None = None
    authenticator: Authenticator = field(default_factory=Authenticator)
    limits: Limits = field(default_factory=Limits)


@dataclass
class JobopServer:
    """A bound, not yet started server and the pieces that shutdown needs."""

    server: grpc.aio.Server
    servicer: JobOperatorServicer
    health: HealthServicer
    port: int
    serve_api: bool = True
    security: SecurityInterceptor | None = None

    async def close_streams(self) -> None:
        """End the open watch streams: JobOperatorService's and health's."""
        self.servicer.close_streams()
        await self.health.end_watches()

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        await self.health.set("", status)
        if self.serve_api:
            await self.health.set(SERVICE_NAME, status)


def channel_options(options: ServerOptions) -> list[tuple[str, int]]:
    result = [
        # gRPC sets SO_REUSEPORT by default: a second server on a busy port would then
        # share it silently, and calls would split between two repositories.
        ("grpc.so_reuseport", 0),
        ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", int(options.keepalive_time * 1000)),
        ("grpc.keepalive_timeout_ms", int(options.keepalive_timeout * 1000)),
        # Let clients ping while streams idle between heartbeats, but not flood us.
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.server_max_unrequested_time_in_server", max(1, round(options.max_unrequested_time))),
    ]
    if options.max_connection_age > 0:
        result.append(("grpc.max_connection_age_ms", int(options.max_connection_age * 1000)))
        result.append(
            ("grpc.max_connection_age_grace_ms", int(options.max_connection_age_grace * 1000))
        )
    return result


async def create_server(
    operator: JobOperator,
    executor: Executor,
    options: ServerOptions,
    *,
    serve_api: bool = True,
    interceptors: Sequence[grpc.aio.ServerInterceptor[Any, Any]] = (),
) -> JobopServer:
    """Build and bind the server (call inside the event loop that will run it).

    With `serve_api` false (role worker) only health and reflection are served.
    """
    servicer = JobOperatorServicer(
        operator,
        executor,
        heartbeat_interval=options.heartbeat_interval,
        poll_interval=options.poll_interval,
    )
    interceptor = SecurityInterceptor(
        SERVICE.full_name, options.authenticator, options.limits, servicer.audit.refused
    )
    # The caller's interceptors (traces, metrics) outermost: they see refused calls too.
    server = grpc.aio.server(
        options=channel_options(options), interceptors=[*interceptors, interceptor]
    )
    names = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME]
    if serve_api:
        add_job_operator_service(servicer, server)
        names.append(SERVICE.full_name)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(names, server)
    try:
        if options.tls is None:
            port = server.add_insecure_port(options.address)
        else:
            port = server.add_secure_port(options.address, options.tls.credentials)
    except RuntimeError as error:  # grpc reports a failed bind so
        raise OSError(f"cannot listen on {options.address}: {error}") from error
    if port == 0:
        raise OSError(f"cannot listen on {options.address}")
    jobop_server = JobopServer(server, servicer, health, port, serve_api, interceptor)
    await jobop_server.set_serving(True)
    return jobop_server
