"""REST faults on a real `jobop serve`: a request aiohttp cannot parse is one WARNING line
(no ERROR, no traceback) and a 400; a database outage answers 503 DATABASE_UNAVAILABLE
and the same routes answer again once it is back."""

from __future__ import annotations

import socket
import time

import pytest
from e2e_support import ServerFactory, ServerProcess
from jobop.repository import create_engine, init_schema
from pgcluster import Cluster, control
from rest_support import error_of, open_events, request
from test_replicas import REPLICA, own_cluster, wait_until

__all__ = ["own_cluster"]  # the fixture, used by name below


def raw_http(server: ServerProcess, data: bytes) -> bytes:
    host, _, port = server.http_address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_malformed_request_is_one_warning_line_and_a_400(start_server: ServerFactory) -> None:
    server = start_server()
    probes = [
        b"GET /api/jobs HTTP/1.1\r\nHost: x\r\nX-Probe: a\x00b\r\n\r\n",  # schemathesis' NUL
        b"GET /api/jobs HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n",
    ]
    for probe in probes:
        status_line = raw_http(server, probe).split(b"\r\n", 1)[0]
        assert status_line.split()[1] == b"400", (probe, status_line)
    assert request(server.http_url, "GET", "/api/jobs").status == 200  # still serving

    def refused() -> list[str]:
        return [line for line in server.log().splitlines() if "malformed HTTP request" in line]

    wait_until(lambda: len(refused()) == len(probes), 10)
    assert all(" WARNING " in line and "aiohttp.server" in line for line in refused())
    assert "Traceback" not in server.log() and " ERROR " not in server.log()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_database_outage_answers_503_database_unavailable(
    start_server: ServerFactory, own_cluster: Cluster
) -> None:
    db_url = own_cluster.create_database("rest_outage")
    engine = create_engine(db_url)
    try:
        init_schema(engine)
    finally:
        engine.dispose()
    server = start_server(*REPLICA, db=db_url)
    base = server.http_url
    started = request(base, "POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"n": 1}})
    assert started.status == 201, started.body
    execution_id = started.body["id"]
    assert request(base, "GET", "/readyz").body == {"status": "SERVING"}
    control(own_cluster, "stop", "-m", "fast")
    try:
        # Readiness follows the database, as gRPC health does; liveness stays.
        wait_until(lambda: request(base, "GET", "/readyz").status == 503, 60)
        assert request(base, "GET", "/readyz").body == {"status": "NOT_SERVING"}
        assert request(base, "GET", "/healthz").status == 200
        for method, path, body in (
            ("GET", f"/api/executions/{execution_id}", None),
            ("GET", "/api/jobs/demoTaskletJob/executions", None),
            ("POST", "/api/jobs/demoTaskletJob/start", {"parameters": {"n": 2}}),
            ("GET", "/api/nodes", None),
        ):
            reply = request(base, method, path, body)
            assert error_of(reply)[:3] == (503, "UNAVAILABLE", "DATABASE_UNAVAILABLE"), path
        # StartJobs answers each entry on its own: each with the outage's error.
        many = {"starts": [{"jobName": "demoTaskletJob", "parameters": {"n": n}} for n in (3, 4)]}
        reply = request(base, "POST", "/api/jobs/start", many)
        assert reply.status == 200, reply.body
        assert [(r["error"]["code"], r["error"]["reason"]) for r in reply.body["results"]] == [
            ("UNAVAILABLE", "DATABASE_UNAVAILABLE")
        ] * 2
    finally:
        control(own_cluster, "start")
    # A pooled connection from before the outage may fail one call; then it answers.
    deadline = time.monotonic() + 10
    while (reply := request(base, "GET", f"/api/executions/{execution_id}")).status == 503:
        assert time.monotonic() < deadline, reply.body
        time.sleep(0.1)
    assert reply.status == 200 and reply.body["id"] == execution_id
    wait_until(lambda: request(base, "GET", "/readyz").status == 200, 60)
    # Sent again once the database is back, the same entries start: nothing was written.
    results = request(base, "POST", "/api/jobs/start", many).body["results"]
    assert [next(iter(result)) for result in results] == ["execution", "execution"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_hostile_bodies_and_paths_are_400_or_404_never_500(start_server: ServerFactory) -> None:
    server = start_server()
    base = server.http_url
    json_type = {"Content-Type": "application/json"}
    deep = b'{"parameters": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for path, raw in (
        ("/api/jobs/demoTaskletJob/start", deep),
        ("/api/jobs/demoTaskletJob/start", b'{"parameters": {"\\ud800": 1}}'),
        ("/api/jobs/demoTaskletJob/start", b'{"requestId": "\\udfff"}'),
        ("/api/jobs/demoTaskletJob/next", b'{"requestId": "a\\ud800b"}'),
        ("/api/executions/1/restart", b'{"requestId": "\\ud800"}'),
    ):
        reply = request(base, "POST", path, raw=raw, headers=json_type)
        assert error_of(reply)[:2] == (400, "INVALID_ARGUMENT"), (path, raw[:40], reply.body)
    for path in (
        "/api/jobs/%ED%A0%80/executions",
        "/api/audit?job=%ED%A0%80",
        "/api/events?job=%ff",
    ):
        reply = request(base, "GET", path)
        assert reply.status < 500, (path, reply.body)
    long_static = request(base, "GET", "/static/" + "a" * 5000)
    assert error_of(long_static)[:2] == (404, "NOT_FOUND"), long_static.body
    long_unknown = request(base, "GET", "/" + "b" * 5000)
    assert error_of(long_unknown)[:2] == (404, "NOT_FOUND"), long_unknown.body
    assert request(base, "GET", "/api/jobs").status == 200
    assert "Traceback" not in server.log() and " ERROR " not in server.log()


def _closed_by_server(connection: socket.socket, dribble: bytes = b"", timeout: float = 60) -> bool:
    """Whether the server closes `connection` within `timeout`, sending `dribble` a byte
    at a time meanwhile (a client that never finishes its request headers)."""
    deadline = time.monotonic() + timeout
    connection.settimeout(0.25)
    sent = 0
    while time.monotonic() < deadline:
        try:
            if dribble:
                connection.sendall(dribble[sent % len(dribble) : sent % len(dribble) + 1])
                sent += 1
            if connection.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True  # reset
    return False


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_slow_headers_and_idle_connections_are_closed(start_server: ServerFactory) -> None:
    server = start_server(
        "--http-header-timeout", "1", "--http-idle-timeout", "2", "--stream-heartbeat", "1"
    )
    host, _, port = server.http_address.rpartition(":")
    address = (host, int(port))
    stream = open_events(server.http_url, "/api/events")  # a long request: left alone
    with (
        socket.create_connection(address) as silent,
        socket.create_connection(address) as slow,
        socket.create_connection(address) as idle,
        socket.create_connection(address) as slow_second,
    ):
        slow.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: localhost\r\n")
        idle.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n")
        slow_second.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        assert slow_second.recv(65536).startswith(b"HTTP/1.1 200")
        slow_second.sendall(b"GET /api/jobs HTTP/1.1\r\n")  # a next request, never finished
        assert _closed_by_server(silent)
        assert _closed_by_server(slow, b"X-Slow: a\r\n")
        assert _closed_by_server(slow_second, b"X-Slow: a\r\n")
        assert _closed_by_server(idle)
    # The event stream outlived both bounds: heartbeats still come.
    assert stream.status == 200
    heartbeats = 0
    for line in stream.response:
        heartbeats += line.startswith(b":")
        if heartbeats == 5:
            break
    stream.close()
    assert request(server.http_url, "GET", "/api/jobs").status == 200


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_open_http_connections_are_capped_with_one_log_line(start_server: ServerFactory) -> None:
    server = start_server("--http-max-connections", "3")
    host, _, port = server.http_address.rpartition(":")
    address = (host, int(port))
    held = [socket.create_connection(address, timeout=30) for _ in range(3)]
    try:
        for connection in held:  # each served once, then kept open (keep-alive)
            connection.sendall(b"GET /api/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        for _ in range(3):
            answer = raw_http(server, b"GET /api/jobs HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert answer.startswith(b"HTTP/1.1 503"), answer
            assert b'"limit":"http_max_connections"' in answer
        lines = [line for line in server.log().splitlines() if "--http-max-connections" in line]
        assert len(lines) == 1 and " WARNING " in lines[0], lines
        held.pop().close()
        again = b"GET /api/jobs HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        wait_until(lambda: raw_http(server, again).startswith(b"HTTP/1.1 200"), 30)
    finally:
        for connection in held:
            connection.close()
