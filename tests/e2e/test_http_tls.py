"""TLS and mutual TLS on the HTTP listener of a real `jobop serve`, from the same
--tls-cert/--tls-key/--tls-client-ca as gRPC: HTTPS works and plaintext does not, mTLS
refuses a client without a certificate or with one of another CA and names the caller by
its certificate, and a rotated certificate is served to new connections."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import test_tls
from certificates import CertificateAuthority, Issued
from cryptography import x509
from e2e_support import ServerFactory
from test_auth import TOKENS, tokens_file
from test_tls import TwoPrincipals

sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

# The gRPC tests' server with a viewer's certificate and one naming two principals.
two_principals = test_tls.two_principals


def _context(ca: Path, client: Issued | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def _reply(
    url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, Any]:
    call = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(call, timeout=10, context=context) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())


def _get(url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None) -> int:
    return _reply(url, context, headers)[0]


def _serial(address: str, ca: Path) -> int:
    host, _, port = address.rpartition(":")
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        _context(ca).wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


@sqlite_only
def test_https_with_tokens_and_a_rotated_certificate(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    import grpc

    ca = CertificateAuthority(tmp_path, "main")
    first = ca.issue("jobop-server", server=True, file_stem="server")
    server = start_server(
        "--tls-cert",
        str(first.cert),
        "--tls-key",
        str(first.key),
        "--tokens-file",
        str(tokens_file(tmp_path)),
        credentials=grpc.ssl_channel_credentials(ca.cert_path.read_bytes()),
    )
    url = f"https://localhost:{server.http_address.rpartition(':')[2]}/api/jobs"
    viewer = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    assert _get(url, _context(ca.cert_path), viewer) == 200
    assert _get(url, _context(ca.cert_path)) == 401
    # Plaintext HTTP gets no answer from a TLS listener.
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"http://{server.http_address}/api/jobs", timeout=10)
    assert _serial(server.http_address, ca.cert_path) == first.serial

    second = ca.issue("jobop-server", server=True, file_stem="server")
    deadline = time.monotonic() + 10
    while _serial(server.http_address, ca.cert_path) != second.serial:
        assert time.monotonic() < deadline, "the new certificate was never served over HTTP"
        time.sleep(0.1)
    assert _get(url, _context(ca.cert_path), viewer) == 200
    server.process.send_signal(signal.SIGHUP)
    time.sleep(0.2)
    assert _serial(server.http_address, ca.cert_path) == second.serial
    assert "TLS certificate reloaded from" in server.log()
    assert "(HTTP)" in server.log()


@sqlite_only
def test_mutual_tls_on_http_names_the_caller_by_its_certificate(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    import grpc

    ca = CertificateAuthority(tmp_path, "main")
    clients = CertificateAuthority(tmp_path, "clients")
    other = CertificateAuthority(tmp_path, "other")
    server_cert = ca.issue("jobop-server", server=True)
    payroll = clients.issue("payroll")
    nobody = clients.issue("nobody")
    forged = other.issue("payroll")
    principals = tmp_path / "principals.toml"
    principals.write_text('[principals]\npayroll = "operator"\n')
    server = start_server(
        "--tls-cert",
        str(server_cert.cert),
        "--tls-key",
        str(server_cert.key),
        "--tls-client-ca",
        str(clients.cert_path),
        "--principals-file",
        str(principals),
        credentials=grpc.ssl_channel_credentials(
            ca.cert_path.read_bytes(), payroll.key.read_bytes(), payroll.cert.read_bytes()
        ),
    )
    base = f"https://localhost:{server.http_address.rpartition(':')[2]}"
    assert _get(f"{base}/api/jobs", _context(ca.cert_path, payroll)) == 200
    assert _get(f"{base}/api/audit", _context(ca.cert_path, payroll)) == 200
    # Verified, but its principal has no role: known, not permitted.
    assert _get(f"{base}/api/jobs", _context(ca.cert_path, nobody)) == 403
    for context in (_context(ca.cert_path), _context(ca.cert_path, forged)):
        with pytest.raises((urllib.error.URLError, ssl.SSLError, ConnectionError)):
            _get(f"{base}/api/jobs", context)


@sqlite_only
def test_https_refuses_a_certificate_naming_two_principals(two_principals: TwoPrincipals) -> None:
    server, ca = two_principals.server, two_principals.ca
    viewer, both = two_principals.viewer, two_principals.both
    base = f"https://localhost:{server.http_address.rpartition(':')[2]}"
    assert _get(f"{base}/api/jobs", _context(ca.cert_path, viewer)) == 200
    status, body = _reply(
        f"{base}/api/executions/1/abandon", _context(ca.cert_path, viewer), method="POST"
    )
    assert status == 403 and "(viewer)" in body["error"]["message"]
    # The certificate naming the admin too is nobody: 401, on reads and on an abandon.
    for method, path in (("GET", "/api/jobs"), ("POST", "/api/executions/1/abandon")):
        status, body = _reply(f"{base}{path}", _context(ca.cert_path, both), method=method)
        assert (status, body["error"]["reason"]) == (401, "UNAUTHENTICATED"), body
        assert "the client certificate is ambiguous: it has 2 " in body["error"]["message"]
