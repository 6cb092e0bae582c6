from __future__ import annotations

import json

import pytest

from integrations.credentials import CredentialError, merge, normalize_host_url, parse_palette_json

UID = "65f0a1b2c3d4e5f60718293a"


@pytest.mark.parametrize(
    "value,expected",
    [
        ("api.spectrocloud.com", "https://api.spectrocloud.com"),
        ("https://Palette.Example.com/", "https://palette.example.com"),
        ("https://palette.example.com:8443/v1", "https://palette.example.com:8443"),
        ("93.184.216.34", "https://93.184.216.34"),  # a private address needs PALETTE_ALLOWED_NETWORKS
    ],
)
def test_it_normalizes_host_urls(value, expected):
    assert normalize_host_url(value) == expected


@pytest.mark.parametrize(
    "value,message",
    [
        ("", "Enter Palette's API host"),
        ("http://palette.example.com", "Plain http:// is refused"),
        ("ftp://palette.example.com", "ftp:// is not supported"),
        ("https://user:pw@palette.example.com", "Remove the user name or password"),
        ("https://palette.example.com/#frag", "fragment"),
        ("https://palette.example.com/?a=1", "query"),
        ("https://palette.example.com:99999", "port"),
        ("https://bad_host!.com", "not a valid host name"),
    ],
)
def test_it_explains_bad_host_urls(value, message):
    with pytest.raises(CredentialError, match=message) as info:
        normalize_host_url(value)
    assert info.value.field == "hostUrl"


def test_it_allows_http_only_when_enabled(settings):
    settings.ALLOW_HTTP_PALETTE = True
    assert normalize_host_url("http://lab:8080") == "http://lab:8080"


def _doc(**values):
    base = {
        "apiKey": "abcdefghijkl",
        "hostUrl": "api.spectrocloud.com",
        "tenant": "acme",
        "defaultProjectID": UID,
    }
    base.update(values)
    return json.dumps({k: v for k, v in base.items() if v is not None})


@pytest.mark.parametrize(
    "text,field,message",
    [
        ("not json", "palette", "must hold a JSON object"),
        ("[1, 2]", "palette", "must hold a JSON object"),
        (_doc(apiKey=None), "apiKey", "missing apiKey"),
        (_doc(defaultProjectID="Default"), "defaultProjectID", "looks like a project name"),
        (_doc(defaultProjectID=UID.upper()), "defaultProjectID", "lowercase hex"),
        (_doc(skipSSLCertificateVerification="yes"), "skipSSLCertificateVerification", "true or false"),
        (_doc(apiKey="short"), "apiKey", "does not look like a Palette API key"),
        (_doc(tenant=7), "tenant", "must be a string"),
        (_doc(extra="x"), "palette", "Unknown field"),
        (_doc(tlsSecretRef="Bad Name"), "tlsSecretRef", "must name a Secret"),
    ],
)
def test_it_explains_bad_palette_json(text, field, message):
    with pytest.raises(CredentialError, match=message) as info:
        parse_palette_json(text)
    assert info.value.field == field
    assert "abcdefghijkl" not in str(info.value)


def test_it_refuses_skipping_tls_when_the_policy_forbids_it(settings):
    settings.ALLOW_INSECURE_PALETTE_TLS = False
    with pytest.raises(CredentialError, match="ALLOW_INSECURE_PALETTE_TLS=false"):
        parse_palette_json(_doc(skipSSLCertificateVerification=True))


def test_it_accepts_partial_and_name_when_asked():
    assert parse_palette_json(
        json.dumps({"defaultProjectID": "Default"}), partial=True, allow_project_name=True
    ) == {"defaultProjectID": "Default"}


def test_it_merges_field_by_field_with_the_project_winning():
    merged = merge(
        {"hostUrl": "https://t", "tenant": "acme", "apiKey": "k1"},
        {"tenant": "acme-dev", "skipSSLCertificateVerification": False},
    )
    assert merged["hostUrl"] == ("https://t", "tenant")
    assert merged["tenant"] == ("acme-dev", "project")
    assert merged["skipSSLCertificateVerification"] == (False, "project")
    assert merged["defaultProjectID"] == ("", "default")


def test_it_inherits_the_connection_as_one_unit():
    tenant = {
        "hostUrl": "https://t",
        "tenant": "acme",
        "apiKey": "k1",
        "skipSSLCertificateVerification": True,
        "tlsSecretRef": "t-ca",
        "defaultProjectID": "a" * 24,
    }
    # A project that sets only its host gets no key and no trust from the tenant: nothing to send the key
    # elsewhere.
    merged = merge(tenant, {"hostUrl": "https://evil"})
    assert merged["hostUrl"] == ("https://evil", "project")
    assert merged["apiKey"] == ("", "default")
    assert merged["skipSSLCertificateVerification"] == (False, "default")
    assert merged["tlsSecretRef"] == ("", "default")
    assert merged["defaultProjectID"] == ("a" * 24, "tenant")
    # Skipping verification or a CA of its own is an override of the connection too.
    assert merge(tenant, {"skipSSLCertificateVerification": True})["apiKey"] == ("", "default")
    assert merge(tenant, {"tlsSecretRef": "p-ca"})["hostUrl"] == ("", "default")
    # Verifying alone only tightens: the tenant's host, key and CA stay, verification comes back on.
    merged = merge(tenant, {"skipSSLCertificateVerification": False, "defaultProjectID": "b" * 24})
    assert merged["apiKey"] == ("k1", "tenant") and merged["tlsSecretRef"] == ("t-ca", "tenant")
    assert merged["skipSSLCertificateVerification"] == (False, "project")
    assert merged["defaultProjectID"] == ("b" * 24, "project")
