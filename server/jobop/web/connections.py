"""Bounds on HTTP connections: slow request headers, idle keep-alive, and how many are open.

aiohttp closes an idle keep-alive connection after its `keepalive_timeout` (the idle
bound), but gives a client that sends its request headers a byte at a time that same
long wait, and takes any number of connections. So each connection is served by
`GuardedHandler`, aiohttp's own RequestHandler with two additions:

- a header timer, armed when the connection opens and when the first bytes of a next
  request arrive on an idle one, and cancelled when a request's headers are complete
  (the request reaches the application: `ConnectionGuard.middleware`); when it fires,
  the connection is closed;
- a cap on open connections: one over it is answered 503 and closed at once, and the
  first refusal says so in one WARNING line.

TLS handshakes get the header bound too (`ssl_handshake_timeout`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from jobop.service.errors import RESOURCE_EXHAUSTED

from .calls import ApiError

log = logging.getLogger(__name__)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# How long a connection over the cap is read (and dropped) after its 503, at most.
_REFUSAL_LINGER = 1.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """`jobop serve`'s options of these names (their defaults are there)."""

    header_timeout: float  # --http-header-timeout
    idle_timeout: float  # --http-idle-timeout
    max_connections: int  # --http-max-connections


class ConnectionGuard:
    """The open connections of one HTTP server, and the bounds they are held to."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open = 0
        self._full = False  # the cap was reached and not yet left: logged once
        error = ApiError(
            "UNAVAILABLE",
            503,
            f"the server has {limits.max_connections} open HTTP connections, its limit "
            "(--http-max-connections); try again later",
            RESOURCE_EXHAUSTED,
            {"limit": "http_max_connections"},
        )
        body = json.dumps(error.body(), separators=(",", ":")).encode()
        self.refusal = (
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Retry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
        ) + body

    def admit(self) -> bool:
        if self.open < self.limits.max_connections:
            self.open += 1
            return True
        if not self._full:
            self._full = True
            log.warning(
                "%d HTTP connections are open, the limit (--http-max-connections): new "
                "ones are answered 503 until some close",
                self.open,
            )
        return False

    def release(self) -> None:
        self.open -= 1
        if self._full and self.open < self.limits.max_connections:
            self._full = False
            log.info("HTTP connections below the limit again (%d open)", self.open)

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        """A request reaching the application has its headers complete."""
        protocol = request.protocol
        if not isinstance(protocol, GuardedHandler):
            return await handler(request)
        protocol.request_began()
        try:
            return await handler(request)
        finally:
            protocol.request_ended()


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol, with the header timer and the connection cap."""

    def __init__(self, guard: ConnectionGuard, manager: web.Server, **kwargs: Any) -> None:
        super().__init__(manager, keepalive_timeout=guard.limits.idle_timeout, **kwargs)
        self._guard = guard
        self._admitted = False
        self._busy = False
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.admit():
            assert isinstance(transport, asyncio.Transport)
            transport.write(self._guard.refusal)
            # Read (and drop) the request a moment before closing: closing with it unread
            # would reset the connection, and the client might lose the answer.
            if transport.can_write_eof():
                transport.write_eof()
            self._header_timer = asyncio.get_running_loop().call_later(
                _REFUSAL_LINGER, transport.close
            )
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        if self._admitted:
            self._admitted = False
            self._guard.release()
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        if not self._busy and self._header_timer is None:
            self._arm()  # the first bytes of a next request on an idle connection
        super().data_received(data)

    def request_began(self) -> None:
        self._busy = True
        self._disarm()

    def request_ended(self) -> None:
        self._busy = False

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._header_timer = loop.call_later(self._guard.limits.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expired(self) -> None:
        self._header_timer = None
        if not self._busy:
            log.debug(
                "closed an HTTP connection without complete request headers after %.1f s",
                self._guard.limits.header_timeout,
            )
            self.force_close()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are GuardedHandlers (TCPSite with another protocol)."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
        handler_options: dict[str, Any],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host = host
        self._port = port
        self._guard = guard
        self._handler_options = handler_options

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        manager = self._runner.server
        assert manager is not None
        loop = asyncio.get_running_loop()
        guard, options = self._guard, self._handler_options

        def connection() -> GuardedHandler:
            return GuardedHandler(guard, manager, loop=loop, **options)

        self._server = await loop.create_server(
            connection,
            self._host,
            self._port,
            ssl=self._ssl_context,
            reuse_address=True,
            ssl_handshake_timeout=guard.limits.header_timeout if self._ssl_context else None,
        )
