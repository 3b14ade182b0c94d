"""TLS on the gRPC listener: a certificate that can be replaced without a restart, and
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


class ReloadingServerCredentials:
    """Server credentials whose certificate is re-read when its files change or when
    `request_reload` (SIGHUP) is called."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._lock = threading.Lock()
        self._reload_requested = False
        self._stamp = _stamp(files)
        self._failed_stamp: tuple[tuple[int, int, int], ...] = ()
        self.reloads = 0
        initial = self._configuration()  # raises TlsConfigurationError at start-up
        self.credentials = grpc.dynamic_ssl_server_credentials(
            initial,
            self._fetch,  # type: ignore[arg-type]  # grpc takes None: "no change"
            require_client_authentication=files.client_ca is not None,
        )

    @property
    def mutual(self) -> bool:
        return self.files.client_ca is not None

    def request_reload(self) -> None:
        with self._lock:
            self._reload_requested = True

    def _configuration(self) -> grpc.ServerCertificateConfiguration:
        cert = _read(self.files.cert, "--tls-cert")
        key = _read(self.files.key, "--tls-key")
        roots = _read(self.files.client_ca, "--tls-client-ca") if self.files.client_ca else None
        # grpc would only fail the handshakes: check that the key matches and all parse.
        check = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            check.load_cert_chain(self.files.cert, self.files.key)
            if roots is not None:
                check.load_verify_locations(cadata=roots.decode("ascii", "replace"))
        except (ssl.SSLError, OSError, ValueError) as error:
            raise TlsConfigurationError(
                f"--tls-cert {self.files.cert} / --tls-key {self.files.key}: {error}"
            ) from None
        return grpc.ssl_server_certificate_configuration([(key, cert)], roots)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by grpc's core for every handshake: a stat per file, a read only on change.
        with self._lock:
            stamp = _stamp(self.files)
            if not self._reload_requested and stamp == self._stamp:
                return None
            self._reload_requested = False
            self._stamp = stamp
        try:
            configuration = self._configuration()
        except TlsConfigurationError as error:
            # A half-written file (the key before the certificate): keep serving the old one
            # and try again at the next handshake, warning once per state of the files.
            with self._lock:
                self._stamp = ()
                warn, self._failed_stamp = self._failed_stamp != stamp, stamp
            if warn:
                log.warning("TLS certificate not reloaded, the current one stays: %s", error)
            return None
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", self.files.cert)
        return configuration
