"""TLS and mutual TLS on a real `jobop serve`, with certificates made at test time: TLS
works, mTLS refuses a client without a certificate and one signed by another CA, and a
rotated certificate is served to new connections without a restart and without ending
the streams that are open."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from certificates import CertificateAuthority, Issued, served_serial
from e2e_support import ServerFactory, ServerProcess, error_of, run_jobctl, run_serve
from grpc_health.v1 import health_pb2, health_pb2_grpc
from jobop_client._proto.jobop.v1 import job_operator_pb2 as pb
from jobop_client._proto.jobop.v1 import job_operator_pb2_grpc as pb_grpc

# The transport does not depend on the database.
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _credentials(
    ca: Path, cert: Path | None = None, key: Path | None = None
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def _tls_args(issued: Issued) -> list[str]:
    return ["--tls-cert", str(issued.cert), "--tls-key", str(issued.key)]


def _job_names(address: str, credentials: grpc.ChannelCredentials) -> list[str]:
    with grpc.secure_channel(address, credentials) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        return list(stub.GetJobNames(pb.GetJobNamesRequest(), timeout=10).job_names)


@sqlite_only
def test_tls_serves_clients_that_trust_the_ca_and_refuses_plaintext(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path, "main")
    server_cert = ca.issue("jobop-server", server=True)
    server = start_server(
        *_tls_args(server_cert),
        credentials=_credentials(ca.cert_path),
    )
    assert "demoChunkJob" in _job_names(server.address, _credentials(ca.cert_path))
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        code, _ = _plain_error(lambda: stub.GetJobNames(pb.GetJobNamesRequest(), timeout=5))
    assert code == grpc.StatusCode.UNAVAILABLE
    # A CA the server's certificate does not chain to: the client refuses the server.
    stranger = CertificateAuthority(tmp_path, "stranger")
    with pytest.raises(grpc.RpcError) as caught:
        _job_names(server.address, _credentials(stranger.cert_path))
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]

    # jobctl with --ca, with the old --ca-cert, and with JOBOP_CA.
    for args, env in (
        (("--ca", str(ca.cert_path)), {}),
        (("--ca-cert", str(ca.cert_path)), {}),
        ((), {"JOBOP_CA": str(ca.cert_path)}),
    ):
        result = run_jobctl(server.address, *args, "jobs", **env)
        assert result.returncode == 0, result.stderr
        assert "demoChunkJob" in result.stdout
    assert "plaintext" not in server.log() and "TLS, no credentials" in server.log()


@sqlite_only
def test_mutual_tls_needs_a_certificate_of_the_client_ca(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path, "main")
    clients = CertificateAuthority(tmp_path, "clients")
    other = CertificateAuthority(tmp_path, "other")
    server_cert = ca.issue("jobop-server", server=True)
    payroll = clients.issue("payroll", uris=("spiffe://example.org/payroll",))
    nobody = clients.issue("nobody")
    forged = other.issue("payroll")
    principals = tmp_path / "principals.toml"
    principals.write_text('[principals]\npayroll = "operator"\n')
    good = _credentials(ca.cert_path, payroll.cert, payroll.key)
    server = start_server(
        *_tls_args(server_cert),
        "--tls-client-ca",
        str(clients.cert_path),
        "--principals-file",
        str(principals),
        credentials=good,
    )
    assert "demoChunkJob" in _job_names(server.address, good)
    for credentials in (
        _credentials(ca.cert_path),  # no client certificate
        _credentials(ca.cert_path, forged.cert, forged.key),  # signed by another CA
    ):
        with pytest.raises(grpc.RpcError) as caught:
            _job_names(server.address, credentials)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
    # A verified certificate whose principal has no role: known, but not permitted.
    with grpc.secure_channel(
        server.address, _credentials(ca.cert_path, nobody.cert, nobody.key)
    ) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        code, reason, _ = error_of(lambda: stub.GetJobNames(pb.GetJobNamesRequest(), timeout=10))
        assert (code, reason) == (grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
        # Health stays open to probes.
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert health.status == health_pb2.HealthCheckResponse.SERVING

    # jobctl with --cert/--key, and with the environment; without a certificate: exit 3.
    ok = run_jobctl(
        server.address,
        "--ca",
        str(ca.cert_path),
        "--cert",
        str(payroll.cert),
        "--key",
        str(payroll.key),
        "jobs",
    )
    assert ok.returncode == 0, ok.stderr
    env_ok = run_jobctl(
        server.address,
        "jobs",
        JOBOP_CA=str(ca.cert_path),
        JOBOP_CERT=str(payroll.cert),
        JOBOP_KEY=str(payroll.key),
    )
    assert env_ok.returncode == 0, env_ok.stderr
    refused = run_jobctl(server.address, "--ca", str(ca.cert_path), "jobs")
    assert refused.returncode == 3, refused.stderr
    denied = run_jobctl(
        server.address,
        "--ca",
        str(ca.cert_path),
        "--cert",
        str(nobody.cert),
        "--key",
        str(nobody.key),
        "jobs",
    )
    assert denied.returncode == 7, denied.stderr
    assert len(denied.stderr.strip().splitlines()) == 1
    assert "has no role" in denied.stderr


@sqlite_only
def test_the_principal_can_be_a_subject_alternative_name(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path, "main")
    server_cert = ca.issue("jobop-server", server=True)
    client = ca.issue("ignored-cn", uris=("spiffe://example.org/scheduler",))
    principals = tmp_path / "principals.toml"
    principals.write_text('[principals]\n"spiffe://example.org/scheduler" = "viewer"\n')
    credentials = _credentials(ca.cert_path, client.cert, client.key)
    server = start_server(
        *_tls_args(server_cert),
        "--tls-client-ca",
        str(ca.cert_path),
        "--tls-principal",
        "san",
        "--principals-file",
        str(principals),
        credentials=credentials,
    )
    with grpc.secure_channel(server.address, credentials) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        assert stub.GetJobNames(pb.GetJobNamesRequest(), timeout=10).job_names
        code, _, message = error_of(lambda: stub.Abandon(pb.AbandonRequest(execution_id=1)))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "spiffe://example.org/scheduler" in message and "viewer" in message


# Two principals, one name each: a certificate holding both names must name neither.
TWO_PRINCIPALS = (
    '[principals]\n"admin-svc" = "admin"\n"viewer-svc" = "viewer"\n'
    '"spiffe://example.org/admin-svc" = "admin"\n"spiffe://example.org/viewer-svc" = "viewer"\n'
)
# For --tls-principal cn and san: a certificate naming the viewer alone, and one naming both
# (two CNs, gRPC's x509_common_name had the first and the ssl module's subject the last;
# two URI SANs).
AMBIGUOUS: dict[str, dict[str, Any]] = {
    "cn": {"subject": "CN=admin-svc,CN=viewer-svc"},
    "san": {"uris": ("spiffe://example.org/admin-svc", "spiffe://example.org/viewer-svc")},
}


@dataclass
class TwoPrincipals:
    """A mutual-TLS server naming callers by `source` (cn or san), the CA of both sides, a
    client certificate of the viewer alone and one that names the admin too."""

    server: ServerProcess
    ca: CertificateAuthority
    viewer: Issued
    both: Issued


@pytest.fixture(params=["cn", "san"])
def two_principals(
    request: pytest.FixtureRequest, start_server: ServerFactory, tmp_path: Path
) -> TwoPrincipals:
    source: str = request.param
    ca = CertificateAuthority(tmp_path, "main")
    server_cert = ca.issue("jobop-server", server=True)
    viewer = ca.issue("viewer-svc", uris=("spiffe://example.org/viewer-svc",))
    both = ca.issue("both", **AMBIGUOUS[source])
    principals = tmp_path / "principals.toml"
    principals.write_text(TWO_PRINCIPALS)
    server = start_server(
        *_tls_args(server_cert),
        "--tls-client-ca",
        str(ca.cert_path),
        "--tls-principal",
        source,
        "--principals-file",
        str(principals),
        credentials=_credentials(ca.cert_path, viewer.cert, viewer.key),
    )
    return TwoPrincipals(server, ca, viewer, both)


@sqlite_only
def test_a_certificate_naming_two_principals_is_refused(two_principals: TwoPrincipals) -> None:
    server, ca = two_principals.server, two_principals.ca
    viewer, both = two_principals.viewer, two_principals.both
    with grpc.secure_channel(
        server.address, _credentials(ca.cert_path, viewer.cert, viewer.key)
    ) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        assert stub.GetJobNames(pb.GetJobNamesRequest(), timeout=10).job_names
        code, _, message = error_of(lambda: stub.Abandon(pb.AbandonRequest(execution_id=1)))
        assert code == grpc.StatusCode.PERMISSION_DENIED and "(viewer)" in message
    with grpc.secure_channel(
        server.address, _credentials(ca.cert_path, both.cert, both.key)
    ) as channel:
        stub = pb_grpc.JobOperatorServiceStub(channel)
        for call in (
            lambda: stub.GetJobNames(pb.GetJobNamesRequest(), timeout=10),
            lambda: stub.Abandon(pb.AbandonRequest(execution_id=1), timeout=10),
        ):
            code, reason, message = error_of(call)
            assert (code, reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED")
            assert "the client certificate is ambiguous: it has 2 " in message


@sqlite_only
def test_a_rotated_certificate_is_served_without_a_restart_or_a_dropped_stream(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    ca = CertificateAuthority(tmp_path, "main")
    first = ca.issue("jobop-server", server=True, file_stem="server")
    credentials = _credentials(ca.cert_path)
    server = start_server(
        *_tls_args(first),
        "--stream-heartbeat",
        "1",
        credentials=credentials,
    )
    assert served_serial(server.address, ca.cert_path) == first.serial
    channel = grpc.secure_channel(server.address, credentials)
    try:
        stream = pb_grpc.JobOperatorServiceStub(channel).WatchExecutions(
            pb.WatchExecutionsRequest(), timeout=60
        )
        assert next(stream).heartbeat

        # The files replaced in place, as cert-manager or certbot do.
        second = ca.issue("jobop-server", server=True, file_stem="server")
        assert second.cert == first.cert
        deadline = time.monotonic() + 10
        while served_serial(server.address, ca.cert_path) != second.serial:
            assert time.monotonic() < deadline, "the new certificate was never served"
            time.sleep(0.1)
        # The stream opened before the rotation carries on.
        assert next(stream).heartbeat

        # SIGHUP re-reads even when the files look unchanged.
        server.process.send_signal(signal.SIGHUP)
        time.sleep(0.2)
        assert served_serial(server.address, ca.cert_path) == second.serial
        assert next(stream).heartbeat
        stream.cancel()
    finally:
        channel.close()
    assert server.log().count("TLS certificate reloaded") >= 2
    assert server.process.poll() is None


def test_bad_tls_files_refuse_to_start_with_one_line(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path, "main")
    issued = ca.issue("jobop-server", server=True)
    other = ca.issue("other", server=True)
    cases = [
        (["--tls-cert", str(issued.cert)], "--tls-cert and --tls-key go together"),
        (["--tls-cert", str(issued.cert), "--tls-key", str(other.key)], "--tls-cert"),
        (["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(issued.key)], "cannot"),
        (["--tls-client-ca", str(ca.cert_path)], "--tls-client-ca needs --tls-cert"),
    ]
    for extra, message in cases:
        completed = run_serve(tmp_path, "--grpc-address", "127.0.0.1:0", *extra)
        assert completed.returncode == 2, (extra, completed.stderr)
        lines = completed.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (extra, completed.stderr)


def _plain_error(call: object) -> tuple[grpc.StatusCode, str]:
    try:
        call()  # type: ignore[operator]
    except grpc.RpcError as error:
        return error.code(), error.details() or ""  # type: ignore[attr-defined]
    raise AssertionError("the call succeeded")
