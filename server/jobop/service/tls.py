"""TLS on the gRPC and HTTP listeners: a certificate that can be replaced without a restart, and
optionally client certificates required and verified (mutual TLS).

grpc asks the credentials' fetcher for a configuration at every new handshake; answering
None keeps the current one. So a rotated certificate (the files changed, or SIGHUP asked
for a reload) is served to the next connection while open connections and their streams
carry on with the one they negotiated.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc

log = logging.getLogger(__name__)


class TlsConfigurationError(ValueError):
    """The certificate, key or client CA cannot be read or does not parse."""


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path | None = None


def _read(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise TlsConfigurationError(f"cannot read {what} {path}: {error.strerror}") from None
    if b"-----BEGIN" not in data:
        raise TlsConfigurationError(f"{what} {path} is not PEM")
    return data


def _stamp(files: TlsFiles) -> tuple[tuple[int, int, int], ...]:
    paths = [files.cert, files.key] + ([files.client_ca] if files.client_ca else [])
    stamps = []
    for path in paths:
        try:
            status = os.stat(path)
        except OSError:
            stamps.append((0, 0, 0))
            continue
        stamps.append((status.st_mtime_ns, status.st_size, status.st_ino))
    return tuple(stamps)


class _ReloadingFiles:
    """The TLS files, re-read into a configuration of type T when they change or when
    `request_reload` (SIGHUP) is called; checked by the caller at each new handshake."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._reload_requested = False
        self._stamp = _stamp(files)
        self._failed_stamp: tuple[tuple[int, int, int], ...] = ()
        self.reloads = 0

    @property
    def mutual(self) -> bool:
        return self.files.client_ca is not None

    def request_reload(self) -> None:
        with self._lock:
            self._reload_requested = True

    def _check(self) -> ssl.SSLContext:
        """The files, verified as a server context (raises TlsConfigurationError)."""
        _read(self.files.cert, "--tls-cert")
        _read(self.files.key, "--tls-key")
        roots = _read(self.files.client_ca, "--tls-client-ca") if self.files.client_ca else None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.files.cert, self.files.key)
            if roots is not None:
                context.load_verify_locations(cadata=roots.decode("ascii", "replace"))
        except (ssl.SSLError, OSError, ValueError) as error:
            raise TlsConfigurationError(
                f"--tls-cert {self.files.cert} / --tls-key {self.files.key}: {error}"
            ) from None
        return context

    def _changed(self) -> bool:
        """Whether the files changed (or a reload was asked for) since the last look."""
        # A stat per file at each handshake; a read only on change.
        with self._lock:
            stamp = _stamp(self.files)
            if not self._reload_requested and stamp == self._stamp:
                return False
            self._reload_requested = False
            self._stamp = stamp
        return True

    def _failed(self, error: TlsConfigurationError) -> None:
        # A half-written file (the key before the certificate): keep serving the old one
        # and try again at the next handshake, warning once per state of the files.
        with self._lock:
            stamp, self._stamp = self._stamp, ()
            warn, self._failed_stamp = self._failed_stamp != stamp, stamp
        if warn:
            log.warning("TLS certificate not reloaded, the current one stays: %s", error)

    def _reloaded(self, surface: str) -> None:
        self.reloads += 1
        log.info("TLS certificate reloaded from %s (%s)", self.files.cert, surface)


class ReloadingServerCredentials(_ReloadingFiles):
    """gRPC server credentials whose certificate is re-read when its files change or when
    `request_reload` (SIGHUP) is called."""

    def __init__(self, files: TlsFiles) -> None:
        super().__init__(files)
        initial = self._configuration()  # raises TlsConfigurationError at start-up
        self.credentials = grpc.dynamic_ssl_server_credentials(
            initial,
            self._fetch,  # type: ignore[arg-type]  # grpc takes None: "no change"
            require_client_authentication=files.client_ca is not None,
        )
        self._http: ReloadingSslContext | None = None

    def request_reload(self) -> None:
        super().request_reload()
        if self._http is not None:
            self._http.request_reload()

    def http_context(self) -> ssl.SSLContext:
        """The HTTP listener's context from the same files, reloaded the same way."""
        if self._http is None:
            self._http = ReloadingSslContext(self.files)
        return self._http.context

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        # grpc would only fail the handshakes: check that the key matches and all parse.
        self._check()
        cert = _read(self.files.cert, "--tls-cert")
        key = _read(self.files.key, "--tls-key")
        roots = _read(self.files.client_ca, "--tls-client-ca") if self.files.client_ca else None
        return grpc.ssl_server_certificate_configuration([(key, cert)], roots)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by grpc's core for every handshake.
        if not self._changed():
            return None
        try:
            configuration = self._configuration()
        except TlsConfigurationError as error:
            self._failed(error)
            return None
        self._reloaded("gRPC")
        return configuration


class ReloadingSslContext(_ReloadingFiles):
    """An ssl.SSLContext for the HTTP listener whose certificate (and client CAs) follow
    the files. asyncio takes one context for the listener; its `sni_callback` runs at
    every ClientHello (with or without SNI) and moves the handshake onto a context built
    from the new files, so new connections get the new certificate and open ones keep
    theirs."""

    def __init__(self, files: TlsFiles) -> None:
        super().__init__(files)
        self.context = self._build()  # raises TlsConfigurationError at start-up
        self._current = self.context

    def _build(self) -> ssl.SSLContext:
        context = self._check()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.files.client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
        context.sni_callback = self._on_client_hello
        return context

    def _on_client_hello(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: object
    ) -> None:
        if self._changed():
            try:
                self._current = self._build()
            except TlsConfigurationError as error:
                self._failed(error)
            else:
                self._reloaded("HTTP")
        if connection.context is not self._current:
            connection.context = self._current
