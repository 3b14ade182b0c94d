"""TLS and bearer-token credentials for a jobop channel, from files or the environment.

``JobOperatorClient(target, credentials=tls_credentials(ca="ca.pem"),
metadata=token_metadata(token))`` connects over TLS with a token; with ``cert`` and ``key``
it presents a client certificate (mutual TLS). ``JOBOP_CA``, ``JOBOP_CERT``, ``JOBOP_KEY``
and ``JOBOP_TOKEN`` are what jobctl reads when its options are not given.
"""

from __future__ import annotations

from pathlib import Path

import grpc

ENV_CA, ENV_CERT, ENV_KEY, ENV_TOKEN = "JOBOP_CA", "JOBOP_CERT", "JOBOP_KEY", "JOBOP_TOKEN"


class CredentialsError(ValueError):
    """A certificate or key file that cannot be read, or a cert without its key."""


def _read(path: str, option: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise CredentialsError(f"cannot read {option} {path!r}: {error.strerror}") from None


def tls_credentials(
    ca: str | None = None, cert: str | None = None, key: str | None = None
) -> grpc.ChannelCredentials:
    """TLS channel credentials: trust ``ca`` (PEM; default: the system's roots) and present
    ``cert``/``key`` (PEM) as the client certificate when both are given."""
    if bool(cert) != bool(key):
        raise CredentialsError("--cert and --key go together")
    return grpc.ssl_channel_credentials(
        root_certificates=_read(ca, "--ca") if ca else None,
        private_key=_read(key, "--key") if key else None,
        certificate_chain=_read(cert, "--cert") if cert else None,
    )


def token_metadata(token: str | None) -> tuple[tuple[str, str], ...]:
    """Call metadata that presents ``token`` as a bearer token (nothing for None)."""
    return (("authorization", f"Bearer {token}"),) if token else ()
