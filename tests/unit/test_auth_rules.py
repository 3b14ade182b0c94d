"""The pieces of authentication that need no server: the forwarded-identity header, the
tokens file, the authenticator's decisions and the per-caller limits."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pytest
from jobop.service import auth
from jobop.service.auth import (
    Authenticator,
    CertificateIdentity,
    Credentials,
    PrincipalsFile,
    Role,
    TokensFile,
    Unauthenticated,
    parse_forwarded_client_cert,
)
from jobop.service.limits import LimitExceeded, Limits, StartRate, StreamSlots


def test_forwarded_client_cert_takes_the_nearest_proxys_element() -> None:
    header = (
        'By=spiffe://a;Subject="CN=first";URI=spiffe://first,'
        'By=spiffe://b;Hash=ff;Subject="CN=payroll, O=Example\\, Inc.";'
        "URI=spiffe://mesh/payroll;DNS=payroll.local"
    )
    identity = parse_forwarded_client_cert(header)
    assert identity == CertificateIdentity("payroll", ("spiffe://mesh/payroll", "payroll.local"))
    assert parse_forwarded_client_cert("") is None
    assert parse_forwarded_client_cert("By=x;Hash=y") is None
    assert parse_forwarded_client_cert('Subject="O=NoCommonName"') is None


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
    authenticator = Authenticator(
        tokens=_tokens(tmp_path, ""),
        principals=PrincipalsFile(principals_path, "--principals-file"),
        client_certificates=True,
    )
    with pytest.raises(Unauthenticated, match="no credentials"):
        authenticator.authenticate(Credentials())
    with pytest.raises(Unauthenticated, match="not known"):
        authenticator.authenticate(Credentials(authorization="Bearer x"))
    cert = Credentials(certificate=CertificateIdentity("payroll", ()))
    assert authenticator.authenticate(cert).role is Role.ADMIN
    stranger = Credentials(certificate=CertificateIdentity("stranger", ()))
    assert authenticator.authenticate(stranger).role is None  # PERMISSION_DENIED later
    # A forwarded header is ignored unless trusted.
    forwarded = Credentials(forwarded_client_cert='Subject="CN=payroll"')
    with pytest.raises(Unauthenticated):
        authenticator.authenticate(forwarded)
    assert not Authenticator().enabled
    assert Authenticator().authenticate(forwarded).name == "anonymous"


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
