"""Who a client certificate names: the one rule for the gRPC and the HTTP surfaces, for a
certificate the TLS handshake verified and for one a trusted mesh proxy describes in
Envoy's x-forwarded-client-cert header.

A certificate names its principal only when it names exactly one: a subject with two
common names (or, with `--tls-principal san`, two URI SANs) is refused as ambiguous rather
than read as whichever one a parser happens to meet first.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID

PRINCIPAL_SOURCES = ("cn", "san")


class UnclearIdentity(ValueError):
    """A certificate (or forwarded header) that does not name exactly one principal: it
    names none, several, or cannot be read."""


@dataclass(frozen=True, slots=True)
class CertificateIdentity:
    """The names a verified certificate carries: its subject's common names and its URI
    and DNS subject alternative names, each as many as it holds."""

    common_names: tuple[str, ...] = ()
    uris: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, subject: x509.Name, uris: tuple[str, ...], dns_names: tuple[str, ...]
    ) -> CertificateIdentity:
        common_names = tuple(
            str(attribute.value)
            for attribute in subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        )
        return cls(common_names, uris, dns_names)

    def principal(self, source: str) -> str:
        """The one name `source` (cn or san) takes from this certificate; UnclearIdentity
        when it has none or more than one. With san a URI SAN (a SPIFFE ID) names the
        caller, else a DNS SAN."""
        if source == "cn":
            kind, names = "common name (CN)", self.common_names
        elif source == "san":
            kind, names = ("URI SAN", self.uris) if self.uris else ("DNS SAN", self.dns_names)
        else:
            raise ValueError(f"principal source must be one of {PRINCIPAL_SOURCES}")
        names = tuple(name for name in names if name)
        if not names:
            wanted = "common name (CN)" if source == "cn" else "URI or DNS SAN"
            raise UnclearIdentity(f"the client certificate has no {wanted}")
        if len(names) > 1:
            listed = ", ".join(repr(name) for name in names)
            raise UnclearIdentity(
                f"the client certificate is ambiguous: it has {len(names)} {kind}s ({listed})"
            )
        return names[0]


@functools.lru_cache(maxsize=256)
def certificate_identity(certificate: bytes) -> CertificateIdentity:
    """The identity of a certificate as PEM (gRPC's auth context) or DER (the ssl module's
    peer certificate); ValueError when it does not parse. Cached: a connection's calls
    present the same bytes."""
    if certificate.lstrip().startswith(b"-----BEGIN"):
        parsed = x509.load_pem_x509_certificate(certificate)
    else:
        parsed = x509.load_der_x509_certificate(certificate)
    try:
        sans = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        uris: list[str] = []
        dns_names: list[str] = []
    else:
        uris = sans.get_values_for_type(x509.UniformResourceIdentifier)
        dns_names = sans.get_values_for_type(x509.DNSName)
    return CertificateIdentity.of(parsed.subject, tuple(uris), tuple(dns_names))


# -- Envoy's x-forwarded-client-cert ------------------------------------------------------

# One Key=Value pair and the separator after it: `;` between a proxy's pairs, `,` between
# proxies' elements, or the end. A quoted value runs to the first `"` not preceded by a
# backslash; Envoy writes the subject inside the quotes as RFC 2253 prints it, so its
# backslashes are the DN's own escapes and are kept for the DN parser.
_PAIR = re.compile(r'[ \t]*([A-Za-z]+)=(?:"((?:[^"\\]|\\.)*)"|([^",;]*))[ \t]*(;|,|\Z)', re.DOTALL)


def forwarded_elements(header: str) -> list[list[tuple[str, str]]]:
    """The header's elements (one per proxy, oldest first), each a list of (key in lower
    case, value) pairs; UnclearIdentity naming the position where it stops parsing."""
    elements: list[list[tuple[str, str]]] = []
    pairs: list[tuple[str, str]] = []
    position = 0
    while True:
        match = _PAIR.match(header, position)
        if match is None:
            raise UnclearIdentity(
                f"x-forwarded-client-cert is malformed at character {position + 1}"
            )
        key, quoted, plain, separator = match.groups()
        pairs.append((key.lower(), quoted if quoted is not None else plain))
        position = match.end()
        if separator != ";":
            elements.append(pairs)
            pairs = []
        if not separator:
            return elements


@functools.lru_cache(maxsize=256)
def forwarded_identity(header: str, source: str = "cn") -> CertificateIdentity:
    """The client certificate the nearest proxy (the header's last element) describes;
    UnclearIdentity when the header is malformed or, when `source` is cn, its Subject is
    not one RFC 4514 DN (with san the subject names no one and is left unread). Cached: a
    mesh's callers send the same header on every call, and reading a DN takes ~0.1 ms."""
    element = forwarded_elements(header)[-1]
    subjects = [value for key, value in element if key == "subject"] if source == "cn" else []
    if len(subjects) > 1:
        raise UnclearIdentity("x-forwarded-client-cert has more than one Subject")
    subject = x509.Name([])
    if subjects:
        try:
            subject = x509.Name.from_rfc4514_string(subjects[0])
        except ValueError:
            raise UnclearIdentity(
                f"x-forwarded-client-cert's Subject {subjects[0][:200]!r} is not an RFC 4514 "
                "distinguished name"
            ) from None
    uris = tuple(value for key, value in element if key == "uri")
    dns_names = tuple(value for key, value in element if key == "dns")
    return CertificateIdentity.of(subject, uris, dns_names)
