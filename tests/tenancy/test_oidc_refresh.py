"""A single sign-on session after the login (tenancy.oidc_session), against the real provider process: groups
read again with the refresh token at most every OIDC_REFRESH_INTERVAL, a removed account ends the session,
a provider without refresh tokens sends the browser through it again, a provider that is down is given a
grace period, and signing out ends the provider's session too (RP-initiated logout)."""

from __future__ import annotations

import html
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.utils import timezone

from tenancy import oidc
from tenancy.models import GroupRole, Membership, OidcIdentity
from tests.fakes.oidc import FakeProvider
from tests.tenancy.oidc_fixtures import ACCOUNTS, configure, oidc_provider, sign_in  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db
PROJECT = "/tenants/acme/projects/research/"


@pytest.fixture
def oidc_base_url():
    return "http://testserver"


@pytest.fixture
def sso(settings, world, oidc_provider):  # noqa: F811
    """alice signed in: ml-engineers edit project research, acme-readers read tenant acme."""
    configure(settings, oidc_provider, "http://testserver/oidc/callback/")
    settings.OIDC_REFRESH_INTERVAL = 1
    GroupRole.objects.create(project=world.project_a, group="ml-engineers", role=Membership.EDITOR)
    GroupRole.objects.create(tenant=world.tenant_a, group="acme-readers", role=Membership.VIEWER)
    client = Client()
    assert sign_in(client, oidc_provider, "alice").status_code == 302
    return client


def _role(client) -> str:
    answer = client.get(PROJECT)
    assert answer.status_code == 200, answer.status_code
    return re.search(r"your role: (\w+)", answer.content.decode()).group(1)


def _wait_interval():
    time.sleep(1.1)


def test_a_group_removed_at_the_provider_takes_its_role_away_at_the_next_refresh(sso, oidc_provider):  # noqa: F811
    identity = OidcIdentity.objects.get(user__username="alice")
    assert identity.refresh_token and identity.refreshed_at is not None
    assert _role(sso) == "write"
    oidc_provider.set_accounts({**ACCOUNTS, "alice": {"groups": ["acme-readers"]}})
    assert _role(sso) == "write"  # read again at most every interval, not at every request
    _wait_interval()
    assert _role(sso) == "read"
    identity.refresh_from_db()
    assert identity.groups == ["acme-readers"]
    # The provider rotates refresh tokens: the next refresh must use the new one.
    oidc_provider.set_accounts(ACCOUNTS)
    _wait_interval()
    assert _role(sso) == "write"
    assert "refresh_token" not in str(dict(sso.session))


def test_an_account_removed_at_the_provider_ends_the_session(sso, oidc_provider):  # noqa: F811
    oidc_provider.set_accounts({k: v for k, v in ACCOUNTS.items() if k != "alice"})
    _wait_interval()
    answer = sso.get(PROJECT, follow=True)
    assert answer.redirect_chain[0][0] == f"/login/?next={PROJECT.replace('/', '%2F')}"
    assert "Test IdP has ended your sign-in (invalid_grant). Sign in again." in answer.content.decode()
    assert sso.get(PROJECT).status_code == 302
    assert "_auth_user_id" not in sso.session


def test_an_htmx_request_is_sent_to_the_login_page_of_its_page(sso, oidc_provider):  # noqa: F811
    oidc_provider.set_accounts({})
    _wait_interval()
    answer = sso.get(
        f"{PROJECT}members/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL=f"http://testserver{PROJECT}"
    )
    assert answer.status_code == 200
    assert answer["HX-Redirect"] == f"/login/?next={PROJECT.replace('/', '%2F')}"


def test_a_provider_that_is_down_gets_a_grace_period(settings, sso, oidc_provider):  # noqa: F811
    oidc_provider.stop()
    _wait_interval()
    assert _role(sso) == "write"  # goes on with the groups it has; asks again a minute later
    assert sso.session[oidc_session_retry_key()] > time.time()
    OidcIdentity.objects.filter(user__username="alice").update(
        refreshed_at=timezone.now() - timedelta(seconds=3)
    )
    session = sso.session
    del session[oidc_session_retry_key()]
    session.save()
    answer = sso.get(PROJECT, follow=True)
    assert "could not be reached to confirm your groups" in answer.content.decode()
    assert "_auth_user_id" not in sso.session


def oidc_session_retry_key() -> str:
    from tenancy.oidc_session import RETRY_KEY

    return RETRY_KEY


def test_a_provider_without_refresh_tokens_sends_the_browser_through_it_again(settings, world, tmp_path):
    provider = FakeProvider(
        tmp_path / "accounts.json", "http://testserver/oidc/callback/", refresh_tokens=False
    )
    provider.set_accounts(ACCOUNTS)
    provider.start()
    try:
        configure(settings, provider, "http://testserver/oidc/callback/")
        settings.OIDC_REFRESH_INTERVAL = 1
        client = Client()
        assert sign_in(client, provider, "alice").status_code == 302
        assert OidcIdentity.objects.get(user__username="alice").refresh_token == ""
        assert client.get("/").status_code == 200
        _wait_interval()
        answer = client.get(PROJECT)
        assert answer.status_code == 302
        assert answer["Location"] == f"/oidc/login/?next={PROJECT.replace('/', '%2F')}"
        # Through the provider again: back where the user was, with the groups read anew.
        assert sign_in(client, provider, "alice", next_path=PROJECT)["Location"] == PROJECT
    finally:
        provider.stop()


def test_sign_out_ends_the_provider_session_too(sso, oidc_provider):  # noqa: F811
    answer = sso.post("/logout/")
    assert "_auth_user_id" not in sso.session
    end = urlsplit(answer["Location"])
    assert f"{end.scheme}://{end.netloc}" == oidc_provider.issuer and end.path == "/session/end"
    query = parse_qs(end.query)
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert query["client_id"] == ["paletteai-admin"] and query["id_token_hint"][0].count(".") == 2
    # The provider accepts the hint and the return address (without its session cookie, nothing to confirm:
    # it sends the browser straight back; the browser test confirms a real provider session's end).
    provider = requests.Session()
    page = provider.get(answer["Location"], timeout=10)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    back = provider.post(html.unescape(action), data=fields, allow_redirects=False, timeout=10)
    assert back.status_code in (302, 303) and back.headers["Location"].startswith("http://testserver/login/")


def test_a_local_session_signs_out_locally(world):
    client = world.client_for(world.owner)
    answer = client.post("/logout/")
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert client.get("/logout/").status_code == 405


def test_the_provider_origin_may_receive_the_sign_out_form(settings, sso, oidc_provider):  # noqa: F811
    policy = sso.get("/")["Content-Security-Policy"]
    assert f"form-action 'self' {oidc_provider.issuer};" in policy
    settings.OIDC_ISSUER = ""
    assert "form-action 'self';" in Client().get("/login/")["Content-Security-Policy"]


def test_the_session_keeps_no_token_in_clear(sso):
    stored = dict(sso.session)
    assert stored[oidc.SESSION_ID_TOKEN] and stored[oidc.SESSION_ID_TOKEN].count(".") != 2
    raw = OidcIdentity.objects.filter(user__username="alice").values_list("refresh_token", flat=True)
    assert raw  # read through the field: plain; the column itself is encrypted (core.fields)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM tenancy_oidcidentity")
        (column,) = cursor.fetchone()
    assert column != raw[0] and column.startswith("gAAAA")
