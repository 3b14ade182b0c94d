"""Who is calling and what they may do: roles, the policy table, and the credentials
(bearer tokens, client certificates, a mesh's forwarded identity) that name a principal.

Framework-neutral on purpose: the gRPC interceptor (interceptor.py) uses it now and the
HTTP middleware will use the same `POLICY` and `Authenticator`, so that one table decides
for every surface.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import os
import re
import threading
import time
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from .certificates import (
    PRINCIPAL_SOURCES,
    CertificateIdentity,
    UnclearIdentity,
    certificate_identity,
    forwarded_identity,
)

log = logging.getLogger(__name__)


class Role(enum.IntEnum):
    """Each role may do what the ones below it may."""

    VIEWER = 1  # reads and streams
    OPERATOR = 2  # + start, next, stop, restart, recover, the audit trail
    ADMIN = 3  # + abandon

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(role.name.lower() for role in cls)
            raise ValueError(f"unknown role {text!r}: use one of {names}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


# The one policy table: every RPC of jobop.v1.JobOperatorService and its minimum role. A
# test compares it with the proto's list, so a new RPC cannot be served unchecked; the
# HTTP routes name the RPC they stand for and are checked against the same entry.
POLICY: Mapping[str, Role] = {
    "Start": Role.OPERATOR,
    "StartNextInstance": Role.OPERATOR,
    "Stop": Role.OPERATOR,
    "Restart": Role.OPERATOR,
    "Abandon": Role.ADMIN,
    "Recover": Role.OPERATOR,
    "GetRunningExecutions": Role.VIEWER,
    "GetSummary": Role.VIEWER,
    "GetStepExecutionSummaries": Role.VIEWER,
    "GetJobNames": Role.VIEWER,
    "GetParameters": Role.VIEWER,
    "GetJobExecution": Role.VIEWER,
    "ListJobInstances": Role.VIEWER,
    "ListJobExecutions": Role.VIEWER,
    "CountJobExecutions": Role.VIEWER,
    "WatchExecution": Role.VIEWER,
    "WatchExecutions": Role.VIEWER,
    "ListAuditEvents": Role.OPERATOR,
    "DescribeJobs": Role.VIEWER,
    "GetJobSettings": Role.VIEWER,
    "UpdateJobSettings": Role.ADMIN,
    "PauseJob": Role.OPERATOR,
    "ResumeJob": Role.OPERATOR,
    "ListQueue": Role.VIEWER,
    # schedules (docs/schedules.md)
    "CreateSchedule": Role.OPERATOR,
    "GetSchedule": Role.VIEWER,
    "ListSchedules": Role.VIEWER,
    "UpdateSchedule": Role.OPERATOR,
    "DeleteSchedule": Role.OPERATOR,
    "PauseSchedule": Role.OPERATOR,
    "ResumeSchedule": Role.OPERATOR,
    "TriggerSchedule": Role.OPERATOR,
    "ListScheduleFires": Role.VIEWER,
    "PreviewSchedule": Role.VIEWER,
    # executions at scale (docs/operations.md): a bulk action needs the role of the action
    "StartJobs": Role.OPERATOR,
    "BulkStop": Role.OPERATOR,
    "BulkAbandon": Role.ADMIN,
    "BulkRestart": Role.OPERATOR,
    "BulkRecover": Role.OPERATOR,
    "GetBulkOperation": Role.VIEWER,
    "WatchBulkOperation": Role.VIEWER,
    "CancelBulkOperation": Role.OPERATOR,
}

# Probes and tooling: open to anyone who reaches the port.
OPEN_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)

# The control actions: audited, whatever their outcome.
CONTROL_ACTIONS = frozenset(
    {
        "Start",
        "StartNextInstance",
        "Stop",
        "Restart",
        "Abandon",
        "Recover",
        "UpdateJobSettings",
        "PauseJob",
        "ResumeJob",
        "CreateSchedule",
        "UpdateSchedule",
        "DeleteSchedule",
        "PauseSchedule",
        "ResumeSchedule",
        "TriggerSchedule",
        "StartJobs",
        "BulkStop",
        "BulkAbandon",
        "BulkRestart",
        "BulkRecover",
        "CancelBulkOperation",
    }
)


class Unauthenticated(Exception):
    """No credentials, or credentials that name nobody (UNAUTHENTICATED, HTTP 401)."""


class PermissionDenied(Exception):
    """A known principal whose role does not allow the call (PERMISSION_DENIED, HTTP 403)."""


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role | None  # None: authenticated, but given no role
    method: str  # token, certificate, forwarded, none


ANONYMOUS = Principal("anonymous", Role.ADMIN, "none")


@dataclass(frozen=True, slots=True)
class Caller:
    """The principal of the call being served and where it came from."""

    principal: Principal
    peer: str


current_caller: ContextVar[Caller | None] = ContextVar("jobop_current_caller", default=None)


def limit_key(principal: Principal, peer: str) -> str:
    """Whom the per-caller limits count: the principal; without authentication everyone is
    `anonymous`, told apart by address (`peer` as gRPC writes it, ipv4:HOST:PORT), so a
    caller is the same one on the gRPC and the HTTP port."""
    if principal.method == "none":
        host = peer.rpartition(":")[0] or peer
        return f"anonymous@{host}"
    return principal.name


def authorize(principal: Principal, rpc: str) -> None:
    """PermissionDenied unless the principal's role reaches the RPC's entry in POLICY (an
    RPC missing from the table is refused: fail closed)."""
    needed = POLICY.get(rpc)
    if needed is None:
        raise PermissionDenied(f"{rpc} is not in the policy table")
    authorize_role(principal, needed, f"call {rpc}")


def authorize_role(principal: Principal, needed: Role, what: str) -> None:
    """PermissionDenied unless the principal's role reaches `needed` (the REST-only routes,
    which stand for no RPC, name their role directly)."""
    if principal.role is None:
        raise PermissionDenied(f"principal {principal.name!r} has no role")
    if principal.role < needed:
        raise PermissionDenied(
            f"principal {principal.name!r} ({principal.role.label}) may not {what}: "
            f"it needs {needed.label}"
        )


def token_digest(token: str) -> str:
    """What a tokens file holds instead of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# -- files reloaded on change ------------------------------------------------------------

_CHECK_INTERVAL = 1.0


class _ReloadingToml:
    """A TOML file parsed by `parse`, re-read when it changes (checked at most once a
    second, when used). Configured, it stays in force for the life of the process: a
    version that does not parse (half written, deleted, a typo) counts as empty, so it
    admits no one until a good version comes back; each change of state is logged once."""

    admits_when_empty = "it admits no one"  # what an unreadable version means, for the log

    def __init__(self, path: Path, option: str) -> None:
        self.path = path
        self.option = option
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._stamp = self._current_stamp()
        self._broken = False
        self._load(initial=True)

    def _current_stamp(self) -> tuple[int, int, int]:
        try:
            status = os.stat(self.path)
        except OSError:
            return (0, 0, 0)
        return (status.st_mtime_ns, status.st_size, status.st_ino)

    def _load(self, *, initial: bool) -> None:
        try:
            with open(self.path, "rb") as file:
                document = tomllib.load(file)
            self.parse(document)
        except (OSError, tomllib.TOMLDecodeError, ValueError, TypeError) as error:
            message = f"{self.option} {self.path}: {getattr(error, 'strerror', None) or error}"
            if initial:
                raise ValueError(message) from None
            self.parse({})  # fail closed: nothing from a file that cannot be read
            self._broken = True
            log.warning("%s; %s until it is mended", message, self.admits_when_empty)
            return
        empty = self.empty_warning()
        if empty is not None:
            log.warning("%s %s %s", self.option, self.path, empty)
        elif self._broken:
            log.warning("%s %s is valid again: %s", self.option, self.path, self.summary())
        elif not initial:
            log.info("%s %s reloaded: %s", self.option, self.path, self.summary())
        self._broken = empty is not None

    def parse(self, document: dict[str, object]) -> None:
        raise NotImplementedError

    def summary(self) -> str:
        raise NotImplementedError

    def empty_warning(self) -> str | None:
        """What to warn of when a good version holds nothing (None: not empty)."""
        return None

    def refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < _CHECK_INTERVAL:
            return
        with self._lock:
            if now - self._checked < _CHECK_INTERVAL:
                return
            self._checked = now
            stamp = self._current_stamp()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            self._load(initial=False)


@dataclass(frozen=True, slots=True)
class _TokenEntry:
    digest: bytes
    principal: str
    role: Role


_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


class TokensFile(_ReloadingToml):
    """`[[tokens]]` entries of `sha256` (the token's SHA-256 in hex), `principal`, `role`."""

    _entries: tuple[_TokenEntry, ...] = ()
    admits_when_empty = "every bearer token is refused"

    def parse(self, document: dict[str, object]) -> None:
        items = document.get("tokens", [])
        if not isinstance(items, list):
            raise ValueError("`tokens` must be an array of tables ([[tokens]])")
        entries = []
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise ValueError(f"tokens entry {number} is not a table")
            digest = str(item.get("sha256", "")).strip().lower()
            if not _HEX_DIGEST.fullmatch(digest):
                raise ValueError(
                    f"tokens entry {number}: sha256 must be 64 hex digits (the token's "
                    "SHA-256, never the token itself)"
                )
            principal = str(item.get("principal", "")).strip()
            if not principal:
                raise ValueError(f"tokens entry {number}: principal is missing")
            role = Role.parse(str(item.get("role", "")))
            entries.append(_TokenEntry(bytes.fromhex(digest), principal, role))
        self._entries = tuple(entries)

    def summary(self) -> str:
        return f"{len(self._entries)} tokens"

    def empty_warning(self) -> str | None:
        if self._entries:
            return None
        return "holds no tokens: every bearer token is refused until it does"

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, token: str) -> _TokenEntry | None:
        self.refresh()
        presented = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        found = None
        # Every entry compared, in constant time each: the time says nothing of the match.
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, presented) and found is None:
                found = entry
        return found


class PrincipalsFile(_ReloadingToml):
    """`[principals]`: certificate or forwarded principal = role."""

    _roles: Mapping[str, Role] = {}
    admits_when_empty = "no certificate or forwarded principal has a role"

    def parse(self, document: dict[str, object]) -> None:
        table = document.get("principals", {})
        if not isinstance(table, dict):
            raise ValueError("`principals` must be a table of principal = role")
        self._roles = {str(name): Role.parse(str(role)) for name, role in table.items()}

    def summary(self) -> str:
        return f"{len(self._roles)} principals"

    def role_of(self, principal: str) -> Role | None:
        self.refresh()
        return self._roles.get(principal)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a call presented: the authorization header, the verified client certificate,
    the forwarded-identity header."""

    authorization: str | None = None
    certificate: bytes | None = None  # PEM or DER, as the transport hands it over
    forwarded_client_cert: str | None = None


class Authenticator:
    """Turns a call's credentials into a Principal, or raises Unauthenticated.

    With no credential source configured every caller is `anonymous` with the admin role:
    `jobop serve` then binds only to loopback unless told --insecure.
    """

    def __init__(
        self,
        *,
        tokens: TokensFile | None = None,
        principals: PrincipalsFile | None = None,
        client_certificates: bool = False,
        trust_forwarded_identity: bool = False,
        principal_source: str = "cn",
    ) -> None:
        if principal_source not in PRINCIPAL_SOURCES:
            raise ValueError(f"principal source must be one of {PRINCIPAL_SOURCES}")
        self.tokens = tokens
        self.principals = principals
        self.client_certificates = client_certificates
        self.trust_forwarded_identity = trust_forwarded_identity
        self.principal_source = principal_source

    @property
    def enabled(self) -> bool:
        # Whether a source is configured, never what its file holds now: an empty tokens
        # file admits no one, it does not open the door.
        return self.tokens is not None or self.client_certificates or self.trust_forwarded_identity

    def describe(self) -> str:
        sources = []
        if self.tokens is not None:
            sources.append(f"bearer tokens ({len(self.tokens)} in {self.tokens.path})")
        if self.client_certificates:
            sources.append(f"client certificates ({self.principal_source})")
        if self.trust_forwarded_identity:
            sources.append("x-forwarded-client-cert")
        return ", ".join(sources) or "none"

    def authenticate(self, credentials: Credentials) -> Principal:
        if not self.enabled:
            return ANONYMOUS
        if credentials.authorization is not None:
            return self._from_token(credentials.authorization)
        if self.client_certificates and credentials.certificate is not None:
            try:
                identity = certificate_identity(credentials.certificate)
            except ValueError as error:
                raise Unauthenticated(f"the client certificate does not parse: {error}") from None
            return self._from_certificate(identity, "certificate")
        if self.trust_forwarded_identity and credentials.forwarded_client_cert:
            try:
                identity = forwarded_identity(
                    credentials.forwarded_client_cert, self.principal_source
                )
            except UnclearIdentity as error:
                raise Unauthenticated(str(error)) from None
            return self._from_certificate(identity, "forwarded")
        raise Unauthenticated(
            "no credentials: send a bearer token (jobctl --token or JOBOP_TOKEN)"
            + (" or a client certificate" if self.client_certificates else "")
        )

    def _from_token(self, authorization: str) -> Principal:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the authorization header is not `Bearer TOKEN`")
        if self.tokens is None:
            raise Unauthenticated("this server accepts no bearer tokens")
        entry = self.tokens.find(token.strip())
        if entry is None:
            raise Unauthenticated("the bearer token is not known to this server")
        return Principal(entry.principal, entry.role, "token")

    def _from_certificate(self, identity: CertificateIdentity, method: str) -> Principal:
        try:
            name = identity.principal(self.principal_source)
        except UnclearIdentity as error:
            what = "x-forwarded-client-cert: " if method == "forwarded" else ""
            raise Unauthenticated(what + str(error)) from None
        role = self.principals.role_of(name) if self.principals else None
        return Principal(name, role, method)
