"""Fixtures for single sign-on tests: the real provider process and the console configured against it."""

from __future__ import annotations

import pytest

from tests.fakes.oidc import CLIENT_ID, CLIENT_SECRET, FakeProvider

ACCOUNTS = {
    "alice": {"groups": ["ml-engineers", "acme-readers"]},
    "bob": {"groups": ["acme-admins"]},
    "nogroups": {},
}


def configure(settings, provider: FakeProvider, redirect_uri: str, secret: str = CLIENT_SECRET) -> None:
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = secret
    settings.OIDC_SCOPES = "openid email profile groups"
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_REDIRECT_URI = redirect_uri


@pytest.fixture
def oidc_provider(tmp_path, request):
    """The provider for a console at `oidc_base_url` (live_server's in browser tests, the test client's
    otherwise)."""
    base = request.getfixturevalue("oidc_base_url")
    provider = FakeProvider(tmp_path / "accounts.json", f"{base}/oidc/callback/")
    provider.set_accounts(ACCOUNTS)
    provider.start()
    yield provider
    provider.stop()
