"""`jobop serve`'s security options: TLS, credentials, limits, and the loopback rule.

Without any credential source (tokens, client certificates, a trusted forwarded identity)
every caller may do anything, so the listener must be on loopback unless --insecure says
that this is intended.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when serving: `jobop run` and `jobop db` need no gRPC
    from jobop.service.auth import Authenticator, Role
    from jobop.service.limits import Limits
    from jobop.service.tls import ReloadingServerCredentials


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("security (see the README's Security section)")
    group.add_argument("--tls-cert", metavar="FILE", help="PEM certificate (chain) to serve")
    group.add_argument("--tls-key", metavar="FILE", help="PEM private key of --tls-cert")
    group.add_argument(
        "--tls-client-ca",
        metavar="FILE",
        help="require client certificates signed by these PEM CAs (mutual TLS); the "
        "certificate names the caller",
    )
    group.add_argument(
        "--tls-principal",
        choices=("cn", "san"),
        default="cn",
        help="what names a client certificate's principal: its subject's common name or "
        "a subject alternative name (a URI, else a DNS name); a certificate naming more "
        "than one is refused (default %(default)s)",
    )
    group.add_argument(
        "--tokens-file",
        metavar="FILE",
        help="bearer tokens (TOML [[tokens]] sha256, principal, role); re-read on change",
    )
    group.add_argument(
        "--principals-file",
        metavar="FILE",
        help="roles of certificate and forwarded principals (TOML [principals] name = role)",
    )
    group.add_argument(
        "--trust-forwarded-identity",
        action="store_true",
        help="take the caller from Envoy's x-forwarded-client-cert header (only behind a "
        "proxy that sets it and that alone can reach this port)",
    )
    group.add_argument(
        "--insecure",
        action="store_true",
        # An image's default (deploy/) can say it in the environment.
        default=os.environ.get("JOBOP_INSECURE", "").lower() in ("1", "true", "yes"),
        help="allow a non-loopback address without credentials: anyone who reaches it may "
        "do anything (env JOBOP_INSECURE=true)",
    )
    group.add_argument(
        "--metrics-role",
        choices=("open", "viewer", "operator", "admin"),
        default="open",
        help="who may read /metrics: anyone (open, the default: scrapers seldom carry "
        "tokens) or callers with at least this role",
    )
    group.add_argument(
        "--max-streams",
        metavar="N",
        type=positive_int,
        default=None,
        help="open watch streams in all (default 4000)",
    )
    group.add_argument(
        "--max-streams-per-caller",
        metavar="N",
        type=positive_int,
        default=None,
        help="open watch streams per caller (default 1000)",
    )
    group.add_argument(
        "--start-rate",
        metavar="PER_SECOND",
        type=positive_float,
        default=None,
        help="sustained launches (Start, StartNextInstance, Restart) per caller and "
        "second (default 1000)",
    )
    group.add_argument(
        "--start-burst",
        metavar="N",
        type=positive_int,
        default=None,
        help="launches a caller may make at once before --start-rate applies (default 1000)",
    )


@dataclass
class Security:
    tls: ReloadingServerCredentials | None
    authenticator: Authenticator
    limits: Limits
    metrics_role: Role | None = None  # None: /metrics is open


class SecurityConfigurationError(ValueError):
    """A bad combination or an unreadable file: `jobop serve` exits 2 with this line."""


def security_from_arguments(args: argparse.Namespace) -> Security:
    from jobop.service.auth import Authenticator, PrincipalsFile, Role, TokensFile
    from jobop.service.limits import Limits
    from jobop.service.tls import ReloadingServerCredentials, TlsConfigurationError, TlsFiles

    if bool(args.tls_cert) != bool(args.tls_key):
        raise SecurityConfigurationError("--tls-cert and --tls-key go together")
    if args.tls_client_ca and not args.tls_cert:
        raise SecurityConfigurationError("--tls-client-ca needs --tls-cert and --tls-key")
    tls = None
    try:
        if args.tls_cert:
            files = TlsFiles(
                Path(args.tls_cert),
                Path(args.tls_key),
                Path(args.tls_client_ca) if args.tls_client_ca else None,
            )
            tls = ReloadingServerCredentials(files)
        tokens = TokensFile(Path(args.tokens_file), "--tokens-file") if args.tokens_file else None
        principals = (
            PrincipalsFile(Path(args.principals_file), "--principals-file")
            if args.principals_file
            else None
        )
    except (TlsConfigurationError, ValueError) as error:
        raise SecurityConfigurationError(str(error)) from None
    authenticator = Authenticator(
        tokens=tokens,
        principals=principals,
        client_certificates=tls is not None and tls.mutual,
        trust_forwarded_identity=args.trust_forwarded_identity,
        principal_source=args.tls_principal,
    )
    limits = Limits()
    for name in ("max_streams", "max_streams_per_caller", "start_rate", "start_burst"):
        if getattr(args, name) is not None:
            setattr(limits, name, getattr(args, name))
    metrics_role = None if args.metrics_role == "open" else Role.parse(args.metrics_role)
    return Security(tls, authenticator, limits, metrics_role)


def is_loopback(address: str) -> bool:
    """Whether HOST:PORT (or unix:PATH) can only be reached from this machine."""
    if address.startswith("unix:"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).partition("%")[0]).is_loopback for info in infos
    )


def check_exposure(
    address: str, security: Security, insecure: bool, option: str = "--grpc-address"
) -> str | None:
    """None when `address` (given as `option`) may be served; else the one-line reason to
    refuse."""
    if security.authenticator.enabled or insecure or is_loopback(address):
        return None
    return (
        f"{option} {address} is not a loopback address and no credentials are "
        "configured (--tokens-file, --tls-client-ca or --trust-forwarded-identity): "
        "configure some, or pass --insecure to let anyone who reaches it do anything"
    )
