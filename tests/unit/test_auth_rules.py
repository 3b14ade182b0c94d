"""The pieces of authentication that need no server: the forwarded-identity header, the
certificates' principals, the tokens file, the authenticator's decisions and the per-caller
limits."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pytest
from certificates import CertificateAuthority
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from jobop.service import auth
from jobop.service.auth import (
    Authenticator,
    Credentials,
    PrincipalsFile,
    Role,
    TokensFile,
    Unauthenticated,
)
from jobop.service.certificates import (
    UnclearIdentity,
    certificate_identity,
    forwarded_elements,
    forwarded_identity,
)
from jobop.service.limits import LimitExceeded, Limits, StartRate, StreamSlots


def _tokens(tmp_path: Path, body: str) -> TokensFile:
    path = tmp_path / "tokens.toml"
    path.write_text(body)
    return TokensFile(path, "--tokens-file")


def test_a_tokens_file_holds_digests_never_tokens(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()
    tokens = _tokens(
        tmp_path, f'[[tokens]]\nsha256 = "{digest}"\nprincipal = "ci"\nrole = "operator"\n'
    )
    entry = tokens.find("s3cret")
    assert entry is not None and (entry.principal, entry.role) == ("ci", Role.OPERATOR)
    assert tokens.find("s3cre") is None and tokens.find("") is None
    for body, message in (
        ('[[tokens]]\nsha256 = "s3cret"\nprincipal = "ci"\nrole = "operator"\n', "64 hex"),
        (f'[[tokens]]\nsha256 = "{digest}"\nrole = "operator"\n', "principal"),
        (f'[[tokens]]\nsha256 = "{digest}"\nprincipal = "x"\nrole = "root"\n', "unknown role"),
        ("tokens = 3\n", "array of tables"),
        ("not toml [", "--tokens-file"),
    ):
        with pytest.raises(ValueError, match=message):
            _tokens(tmp_path, body)


def test_the_authenticator_keeps_unknown_and_unpermitted_apart(tmp_path: Path) -> None:
    principals_path = tmp_path / "principals.toml"
    principals_path.write_text('[principals]\npayroll = "admin"\n')
    ca = CertificateAuthority(tmp_path, "clients")
    authenticator = Authenticator(
        tokens=_tokens(tmp_path, ""),
        principals=PrincipalsFile(principals_path, "--principals-file"),
        client_certificates=True,
    )
    with pytest.raises(Unauthenticated, match="no credentials"):
        authenticator.authenticate(Credentials())
    with pytest.raises(Unauthenticated, match="not known"):
        authenticator.authenticate(Credentials(authorization="Bearer x"))
    cert = Credentials(certificate=ca.issue("payroll").cert.read_bytes())
    assert authenticator.authenticate(cert).role is Role.ADMIN
    stranger = Credentials(certificate=ca.issue("stranger").cert.read_bytes())
    assert authenticator.authenticate(stranger).role is None  # PERMISSION_DENIED later
    with pytest.raises(Unauthenticated, match="does not parse"):
        authenticator.authenticate(Credentials(certificate=b"not a certificate"))
    # A forwarded header is ignored unless trusted.
    forwarded = Credentials(forwarded_client_cert='Subject="CN=payroll"')
    with pytest.raises(Unauthenticated):
        authenticator.authenticate(forwarded)
    assert not Authenticator().enabled
    assert Authenticator().authenticate(forwarded).name == "anonymous"


# Envoy's documented examples (configuration/http/http_conn_man/headers), whose Subject is
# in OpenSSL's old one-line form, and the RFC 2253 form Envoy writes today.
_HASH = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"
ENVOY_ONE = (
    f"By=http://frontend.lyft.com;Hash={_HASH};"
    'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com'
)
ENVOY_TWO = (
    f"By=http://frontend.lyft.com;Hash={_HASH};URI=http://testclient.lyft.com,"
    f"By=http://backend.lyft.com;Hash={_HASH[::-1]};URI=http://frontend.lyft.com"
)
ENVOY_DNS = (
    f"By=http://frontend.lyft.com;Hash={_HASH};"
    'Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com;'
    "DNS=lyft.com;DNS=www.lyft.com"
)
ENVOY_RFC2253 = (
    f'By=spiffe://mesh/jobop;Hash={_HASH};Subject="CN=Test Client,OU=Lyft,L=San Francisco,'
    'ST=CA,C=US";URI=spiffe://mesh/client'
)


def test_envoys_documented_headers_parse() -> None:
    assert forwarded_elements(ENVOY_TWO) == [
        [
            ("by", "http://frontend.lyft.com"),
            ("hash", _HASH),
            ("uri", "http://testclient.lyft.com"),
        ],
        [
            ("by", "http://backend.lyft.com"),
            ("hash", _HASH[::-1]),
            ("uri", "http://frontend.lyft.com"),
        ],
    ]
    # The nearest proxy's element (the last) describes the caller.
    assert forwarded_identity(ENVOY_TWO).principal("san") == "http://frontend.lyft.com"
    assert forwarded_elements(ENVOY_DNS)[0][-2:] == [("dns", "lyft.com"), ("dns", "www.lyft.com")]
    dns = forwarded_identity(ENVOY_DNS, "san")
    assert dns.dns_names == ("lyft.com", "www.lyft.com")
    assert dns.principal("san") == "http://testclient.lyft.com"  # a URI SAN names it
    assert forwarded_identity(ENVOY_ONE, "san").principal("san") == "http://testclient.lyft.com"
    assert forwarded_identity(ENVOY_RFC2253).principal("cn") == "Test Client"
    assert forwarded_identity(ENVOY_RFC2253, "san").principal("san") == "spiffe://mesh/client"
    # The old one-line subject is no RFC 4514 name (a `/` may be part of a value as well as
    # a separator): it names no one by its CN.
    for header in (ENVOY_ONE, ENVOY_DNS):
        with pytest.raises(UnclearIdentity, match="not an RFC 4514"):
            forwarded_identity(header, "cn")
    assert forwarded_identity("By=x;DNS=a.example;DNS=b.example").dns_names == (
        "a.example",
        "b.example",
    )


@pytest.mark.parametrize(
    ("subject", "cn"),
    [
        # A comma escaped inside the subject belongs to the OU: the only CN is viewer-svc.
        (r"OU=x\,CN=admin-svc,CN=viewer-svc", "viewer-svc"),
        (r"CN=payroll,O=Example\, Inc.", "payroll"),
        (r"CN=a\"b,O=x", 'a"b'),  # the DN's escaped quote does not end the header's value
        (r"CN=back\\slash", "back\\slash"),
        (r"CN=x\2C y", "x, y"),
        ("O=Example", None),
        ("", None),
    ],
)
def test_a_forwarded_subject_is_read_as_an_rfc_4514_name(subject: str, cn: str | None) -> None:
    identity = forwarded_identity(f'By=spiffe://mesh/jobop;Subject="{subject}";URI=spiffe://c')
    if cn is None:
        with pytest.raises(UnclearIdentity, match="no common name"):
            identity.principal("cn")
    else:
        assert identity.principal("cn") == cn


@pytest.mark.parametrize(
    ("header", "refusal"),
    [
        ('Subject="CN=viewer-svc,CN=admin-svc"', "ambiguous: it has 2 common name"),
        ('Subject="CN=viewer-svc+CN=admin-svc"', "ambiguous: it has 2 common name"),
        ('Subject="CN=admin-svc";Subject="CN=viewer-svc"', "more than one Subject"),
        ('Subject="CN=admin-svc', "malformed at character 1"),
        ('Subject="CN=admin-svc"x;URI=y', "malformed at character 1"),
        ('By=x;Subject="CN=a";', "malformed at character 21"),
        ("", "no credentials"),
        (" ", "malformed at character 1"),
        ("Subject", "malformed"),
        ('Subject="CN=admin-svc\\";URI=spiffe://x"', "not an RFC 4514"),  # one value
        ('Subject="CN=x\\"', "malformed"),
        ('Subject="CN=x\\zz"', "not an RFC 4514"),
        ("Subject=CN=viewer-svc,CN=admin-svc", "no common name"),  # unquoted: 2 elements
    ],
)
def test_hostile_forwarded_headers_are_refused(header: str, refusal: str) -> None:
    authenticator = Authenticator(trust_forwarded_identity=True)
    with pytest.raises(Unauthenticated, match=refusal.replace("(", r"\(")):
        authenticator.authenticate(Credentials(forwarded_client_cert=header))


def test_a_certificate_with_two_names_names_no_one(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path, "clients")
    pem = ca.issue("x", subject="CN=admin-svc,CN=viewer-svc").cert.read_bytes()
    identity = certificate_identity(pem)
    assert identity.common_names == ("viewer-svc", "admin-svc")  # the certificate's order
    # gRPC hands over PEM, the ssl module DER: the same identity either way.
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    assert certificate_identity(der) == identity
    authenticator = Authenticator(client_certificates=True)
    with pytest.raises(Unauthenticated, match=r"ambiguous: it has 2 common name \(CN\)s"):
        authenticator.authenticate(Credentials(certificate=pem))
    multivalued = ca.issue("x", subject="CN=admin-svc+CN=viewer-svc").cert.read_bytes()
    with pytest.raises(Unauthenticated, match="ambiguous"):
        authenticator.authenticate(Credentials(certificate=multivalued))
    no_cn = ca.issue("x", subject="O=Example", uris=("spiffe://a",)).cert.read_bytes()
    with pytest.raises(Unauthenticated, match="has no common name"):
        authenticator.authenticate(Credentials(certificate=no_cn))

    # --tls-principal san: one URI SAN names the caller (DNS names beside it do not count);
    # without URIs, one DNS SAN; more than one of the kind that names it is ambiguous.
    by_san = Authenticator(client_certificates=True, principal_source="san")
    cases = {
        ca.issue("a", uris=("spiffe://a",), dns_names=("a.example", "b.example")): "spiffe://a",
        ca.issue("b", dns_names=("b.example",)): "b.example",
    }
    for issued, name in cases.items():
        assert by_san.authenticate(Credentials(certificate=issued.cert.read_bytes())).name == name
    for issued, refusal in (
        (ca.issue("c", uris=("spiffe://a", "spiffe://b")), "2 URI SANs"),
        (ca.issue("d", dns_names=("a.example", "b.example")), "2 DNS SANs"),
        (ca.issue("e"), "has no URI or DNS SAN"),
    ):
        with pytest.raises(Unauthenticated, match=refusal):
            by_san.authenticate(Credentials(certificate=issued.cert.read_bytes()))


def _token_entry(token: str, principal: str, role: str) -> str:
    digest = hashlib.sha256(token.encode()).hexdigest()
    return f'[[tokens]]\nsha256 = "{digest}"\nprincipal = "{principal}"\nrole = "{role}"\n'


def test_an_empty_or_broken_tokens_file_admits_no_one_until_mended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(auth, "_CHECK_INTERVAL", 0.0)  # re-read at every use
    caplog.set_level(logging.INFO, logger=auth.__name__)
    admin = _token_entry("adm1n", "root", "admin")
    tokens = _tokens(tmp_path, admin)
    authenticator = Authenticator(tokens=tokens)
    assert authenticator.authenticate(Credentials(authorization="Bearer adm1n")).name == "root"

    def refuses_everyone() -> None:
        assert authenticator.enabled
        for credentials in (
            Credentials(),
            Credentials(authorization="Bearer adm1n"),
            Credentials(authorization="Bearer anything"),
        ):
            with pytest.raises(Unauthenticated):
                authenticator.authenticate(credentials)

    def warnings(text: str) -> int:
        return sum(text in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)

    # Every token revoked: no one gets in, and the log says so once, not per request.
    tokens.path.write_text("# every token revoked\n")
    refuses_everyone()
    refuses_everyone()
    assert warnings("holds no tokens: every bearer token is refused") == 1
    # A broken version counts as empty too, however many times it is tried.
    tokens.path.write_text("[[tokens]]\nsha256 = 'plaintext'\n")
    refuses_everyone()
    refuses_everyone()
    assert warnings("every bearer token is refused until it is mended") == 1
    tokens.path.unlink()
    refuses_everyone()
    # Mended: the token is back without a restart, and the log says that too.
    tokens.path.write_text(admin)
    assert authenticator.authenticate(Credentials(authorization="Bearer adm1n")).role is Role.ADMIN
    assert warnings("is valid again: 1 tokens") == 1


def test_an_empty_tokens_file_at_start_up_admits_no_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    authenticator = Authenticator(tokens=_tokens(tmp_path, "# no one yet\n"))
    assert authenticator.enabled
    for credentials in (Credentials(), Credentials(authorization="Bearer x")):
        with pytest.raises(Unauthenticated):
            authenticator.authenticate(credentials)
    assert "holds no tokens" in caplog.text
    assert "bearer tokens (0 in" in authenticator.describe()


def test_the_start_rate_is_a_token_bucket_per_caller() -> None:
    rate = StartRate(Limits(start_rate=20.0, start_burst=3))
    for _ in range(3):
        rate.take("a")
    with pytest.raises(LimitExceeded) as caught:
        rate.take("a")
    assert caught.value.limit == "start_rate"
    rate.take("b")  # another caller has a bucket of its own
    time.sleep(0.06)  # 20 per second: one token back after 50 ms
    rate.take("a")


def test_stream_slots_count_per_caller_and_in_all() -> None:
    slots = StreamSlots(Limits(max_streams=3, max_streams_per_caller=2))
    slots.acquire("a")
    slots.acquire("a")
    with pytest.raises(LimitExceeded, match="per caller"):
        slots.acquire("a")
    slots.acquire("b")
    with pytest.raises(LimitExceeded, match="--max-streams 3"):
        slots.acquire("c")
    slots.release("a")
    slots.acquire("c")
    assert slots.total == 3


def test_the_documented_limit_defaults_are_the_ones_applied() -> None:
    import argparse
    import re

    from jobop.app.security import add_security_arguments, security_from_arguments

    parser = argparse.ArgumentParser()
    add_security_arguments(parser)
    helps = {action.dest: action.help or "" for action in parser._actions}
    limits = security_from_arguments(parser.parse_args([])).limits
    for name in ("max_streams", "max_streams_per_caller", "start_rate", "start_burst"):
        shown = re.search(r"\(default (\d+)\)", helps[name])
        assert shown is not None, name
        assert float(shown.group(1)) == getattr(limits, name), name
    assert limits == Limits()
