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


def sign_in(client, provider: FakeProvider, login: str, next_path: str = "/", before_callback=None):
    """A whole sign-in with Django's test client: the console's side through `client`, the provider's
    development login page through `requests` (the browser flow is tests/browser/test_oidc_login.py).
    `before_callback(client)` runs just before the provider's answer reaches the console. Returns the
    console's answer to the callback."""
    import re
    from urllib.parse import urljoin, urlsplit

    import requests

    location = client.get(f"/oidc/login/?next={next_path}")["Location"]
    browser = requests.Session()
    for _ in range(10):
        if location.startswith("http://testserver/"):
            parts = urlsplit(location)
            if before_callback is not None:
                before_callback(client)
            return client.get(f"{parts.path}?{parts.query}")
        answer = browser.get(location, allow_redirects=False, timeout=10)
        if answer.status_code == 200:  # the login form
            action = re.search(r'<form[^>]*action="([^"]+)"', answer.text).group(1)
            answer = browser.post(
                urljoin(location, action),
                data={"prompt": "login", "login": login, "password": "any"},
                allow_redirects=False,
                timeout=10,
            )
        location = urljoin(location, answer.headers["Location"])
    raise AssertionError(f"the sign-in did not come back to the console: {location}")
