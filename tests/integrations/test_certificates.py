from __future__ import annotations

import pytest

from integrations.certificates import CertificateError, normalize_pem, parse_ca_bundle

from .conftest import make_cert


def test_it_parses_a_ca_bundle_with_details():
    first, _ = make_cert("Acme Root CA")
    second, _ = make_cert("Acme Issuing CA")
    infos = parse_ca_bundle("junk before\n" + first + second)
    assert [i.subject for i in infos] == ["CN=Acme Root CA", "CN=Acme Issuing CA"]
    assert infos[0].issuer == "CN=Acme Root CA"
    assert len(infos[0].fingerprint_sha256.split(":")) == 32
    assert not infos[0].warning
    assert normalize_pem("junk\n" + first).startswith("-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda: "", "No PEM certificate found"),
        (lambda: "hello world", "No PEM certificate found"),
        (lambda: make_cert("leaf.example.com", ca=False)[0], "is not a CA certificate"),
        (lambda: "".join(make_cert("Root")), "contains a private key"),
        (
            lambda: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "not a valid X.509 certificate",
        ),
        (lambda: b"\x30\x82\x01\x0a\xff", "looks binary"),
    ],
)
def test_it_says_why_a_ca_is_refused(make, message):
    with pytest.raises(CertificateError, match=message):
        parse_ca_bundle(make())


def test_it_warns_about_expired_and_expiring_cas():
    expired, _ = make_cert("Old CA", days=-1, start_days_ago=30)
    soon, _ = make_cert("Soon CA", days=10)
    old_info, soon_info = parse_ca_bundle(expired + soon)
    assert old_info.expired and "expired on" in old_info.warning
    assert soon_info.expiring_soon and "replace it before then" in soon_info.warning
