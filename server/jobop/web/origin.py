"""What a web page may make the HTTP surface do: cross-site requests and DNS rebinding.

A page on any site can make a browser send "simple" requests (a form post, a fetch with a
`text/plain` body) to the loopback server, and a page whose name was rebound to 127.0.0.1
can read its answers. So, before authentication:

- a state-changing request under /api (any method but GET, HEAD, OPTIONS) with an `Origin`
  header must come from the server's own origin (browsers always send `Origin` on such
  requests; clients that are not browsers send none and pass);
- its body must be `application/json`, which no simple request can send (checked with
  the body, after authentication, so that the refusal is audited: api.json_body);
- the `Host` header must name the server: an IP address (a browser sends one only for a
  page it loaded from that address, which DNS cannot rebind), `localhost`, or a name of
  --http-allowed-hosts. This is checked when no credentials guard the server (no tokens,
  no client certificates, no TLS) or when --http-allowed-hosts is given.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from yarl import URL

from jobop.service.handlers import RateLimitedLog

from .calls import ApiError

log = logging.getLogger(__name__)
_refusal_log = RateLimitedLog(log, burst=10, window=10.0)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FORBIDDEN_ORIGIN = "FORBIDDEN_ORIGIN"
FORBIDDEN_HOST = "FORBIDDEN_HOST"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANY_HOST = "*"


def parse_allowed_hosts(text: str) -> frozenset[str]:
    """--http-allowed-hosts: comma-separated host names (no ports), `*` for any."""
    return frozenset(name.strip().lower().rstrip(".") for name in text.split(",") if name.strip())


def _host_name(authority: str) -> str | None:
    """The host of a `Host` header or an origin's authority, lower case, no port or
    brackets; None when it is not one."""
    try:
        host = URL(f"http://{authority}").raw_host
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _port(url: URL, scheme: str) -> int | None:
    return url.explicit_port or URL(f"{scheme}://x").port


class RequestGuard:
    """The checks above as an aiohttp middleware.

    `allowed_hosts` None: Host is not checked (credentials guard the server); otherwise
    IP addresses, `localhost` and these names (`*`: any) are served.
    """

    def __init__(self, allowed_hosts: Iterable[str] | None) -> None:
        self.allowed_hosts = None if allowed_hosts is None else frozenset(allowed_hosts)

    def host_allowed(self, header: str | None) -> bool:
        allowed = self.allowed_hosts
        if allowed is None or header is None or ANY_HOST in allowed:
            return True  # no Host at all: HTTP/1.0 tools; browsers always send one
        host = _host_name(header)
        if host is None:
            return False
        return host == "localhost" or _is_ip(host) or host in allowed

    @staticmethod
    def same_origin(origin: str, host: str | None) -> bool:
        """Whether `origin` (scheme://host[:port]) is the origin the request was sent to."""
        try:
            url = URL(origin)
        except ValueError:
            return False
        if url.scheme not in ("http", "https") or not url.raw_host or host is None:
            return False  # `null` (sandboxed frames, file:) and anything odd
        try:
            target = URL(f"{url.scheme}://{host}")
        except ValueError:
            return False
        return (url.raw_host.lower(), _port(url, url.scheme)) == (
            (target.raw_host or "").lower(),
            _port(target, url.scheme),
        )

    @web.middleware
    async def middleware(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not self.host_allowed(host):
            raise self._refused(
                request,
                ApiError(
                    "PERMISSION_DENIED",
                    403,
                    f"Host {host!r} is not a name this server serves (an IP address, "
                    "localhost or one of --http-allowed-hosts)",
                    FORBIDDEN_HOST,
                ),
            )
        if request.method in _SAFE_METHODS or not request.path.startswith("/api/"):
            return await handler(request)
        origin = request.headers.get("Origin")
        if origin is not None and not self.same_origin(origin, host):
            raise self._refused(
                request,
                ApiError(
                    "PERMISSION_DENIED",
                    403,
                    f"a request from the page of origin {origin!r} may not change anything "
                    "here: only pages of this server's own origin may",
                    FORBIDDEN_ORIGIN,
                ),
            )
        return await handler(request)

    @staticmethod
    def _refused(request: web.Request, error: ApiError) -> ApiError:
        peer = request.remote or "?"
        _refusal_log.warning(
            "%s %s from %s refused: %s", request.method, request.path, peer, error.message
        )
        return error
