"""The HTTP surface's cross-site and DNS rebinding rules (web/origin.py), rule by rule."""

from __future__ import annotations

from jobop.web.origin import RequestGuard, parse_allowed_hosts


def test_without_credentials_only_ip_addresses_localhost_and_listed_names_are_served() -> None:
    guard = RequestGuard(parse_allowed_hosts("jobs.example.com, Ops.Internal."))
    for host in (
        "127.0.0.1:8080",
        "localhost:8080",
        "LOCALHOST",
        "[::1]:8080",
        "10.1.2.3",
        "jobs.example.com:443",
        "ops.internal",
        None,  # HTTP/1.0 tools send none; browsers always do
    ):
        assert guard.host_allowed(host), host
    for host in ("evil.example:8080", "localhost.evil.example", "127.0.0.1.nip.io", "", "a b"):
        assert not guard.host_allowed(host), host
    assert RequestGuard(None).host_allowed("evil.example")  # credentials configured
    assert RequestGuard(parse_allowed_hosts("*")).host_allowed("evil.example")
    assert not RequestGuard(frozenset()).host_allowed("evil.example")


def test_an_origin_is_the_request_s_own_only_with_the_same_host_and_port() -> None:
    same = RequestGuard.same_origin
    assert same("http://127.0.0.1:8080", "127.0.0.1:8080")
    assert same("http://LOCALHOST:8080", "localhost:8080")
    assert same("https://jobs.example.com", "jobs.example.com")  # default ports
    assert same("https://jobs.example.com", "jobs.example.com:443")
    assert same("http://[::1]:8080", "[::1]:8080")
    assert not same("http://evil.example", "127.0.0.1:8080")
    assert not same("http://127.0.0.1:9999", "127.0.0.1:8080")
    assert not same("http://localhost:8080", "127.0.0.1:8080")
    assert not same("null", "127.0.0.1:8080")
    assert not same("file://", "127.0.0.1:8080")
    assert not same("http://127.0.0.1:8080", None)


def test_the_application_refuses_before_any_route_or_credential_check_runs() -> None:
    import asyncio
    from typing import Any, cast

    from aiohttp.test_utils import TestClient, TestServer
    from jobop.service.auth import Authenticator
    from jobop.service.limits import Limits, StartRate, StreamSlots
    from jobop.web import Metrics, create_app
    from jobop.web.security import HttpSecurity

    limits = Limits()
    security = HttpSecurity(Authenticator(), StreamSlots(limits), StartRate(limits))
    nothing = cast(Any, None)  # no route that reaches the servicer runs here
    app = create_app(nothing, nothing, Metrics(), security=security, guard=RequestGuard(set()))

    async def run() -> None:
        async with TestClient(TestServer(app)) as client:
            evil = {"Origin": "http://evil.example", "Content-Type": "application/json"}
            reply = await client.post("/api/executions/1/stop", data=b"{}", headers=evil)
            assert reply.status == 403
            assert (await reply.json())["error"]["reason"] == "FORBIDDEN_ORIGIN"
            reply = await client.get("/openapi.json", headers={"Host": "evil.example:80"})
            assert reply.status == 403
            assert (await reply.json())["error"]["reason"] == "FORBIDDEN_HOST"
            assert (await client.get("/openapi.json", headers={"Host": "localhost"})).status == 200
            assert (await client.get("/openapi.json")).status == 200  # 127.0.0.1:PORT

    asyncio.run(run())
