"""Single sign-on in Chromium through a real OpenID provider process (tests/fakes/oidc_provider.mjs): the
roles its groups grant, taken away at the next login when the provider drops the group; a wrong client
secret is a clear page."""

from __future__ import annotations

import re

import pytest

from core.models import AuditEntry
from tests.tenancy.oidc_fixtures import ACCOUNTS, configure, oidc_provider  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def oidc_base_url(live_server):
    return live_server.url


def _sign_in(page, live_server, login: str) -> None:
    # The provider's development login page (not the console's) links a web font; the test machine is offline.
    page.route(
        "https://fonts.googleapis.com/**", lambda route: route.fulfill(content_type="text/css", body="")
    )
    page.goto(f"{live_server.url}/login/")
    page.click("#oidc-login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any")
    page.click("button[type=submit]")


def _acme():
    from tenancy.models import GroupRole, Membership, Project, Tenant

    tenant = Tenant.objects.create(name="acme", display_name="Acme")
    project = Project.objects.create(
        tenant=tenant, name="vision", display_name="Vision", namespace="acme-vision"
    )
    GroupRole.objects.create(tenant=tenant, group="acme-readers", role=Membership.VIEWER)
    GroupRole.objects.create(project=project, group="ml-engineers", role=Membership.EDITOR)
    return tenant, project


def test_it_signs_in_with_the_roles_of_its_groups_and_loses_a_removed_one(
    settings, live_server, page, oidc_provider
):  # noqa: F811
    from django.contrib.auth import get_user_model

    from tenancy import access

    configure(settings, oidc_provider, f"{live_server.url}/oidc/callback/")
    tenant, project = _acme()
    _sign_in(page, live_server, "alice")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/tenants/acme/projects/vision/")
    assert "your role: write" in page.content()
    assert "ml-engineers" in page.locator("#group-roles").inner_text()
    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password()
    assert access.project_role(alice, project) == access.WRITE
    signed_in = AuditEntry.objects.filter(user=alice, verb__startswith="signed in with").latest("created")
    assert (
        sorted(signed_in.changes["groups"]) == ["acme-readers", "ml-engineers"]
        and signed_in.changes["subject"]
    )

    oidc_provider.set_accounts({**ACCOUNTS, "alice": {"groups": ["acme-readers"]}})
    page.context.clear_cookies()
    _sign_in(page, live_server, "alice")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/tenants/acme/projects/vision/")
    assert "your role: read" in page.content()
    alice = get_user_model().objects.get(username="alice")
    assert access.project_role(alice, project) == access.READ


def test_no_groups_claim_signs_in_with_no_role_and_says_whom_to_ask(
    settings, live_server, page, oidc_provider
):  # noqa: F811
    configure(settings, oidc_provider, f"{live_server.url}/oidc/callback/")
    _acme()
    _sign_in(page, live_server, "nogroups")
    page.wait_for_url(f"{live_server.url}/")
    text = " ".join(page.content().split())
    assert "sent no groups (groups claim), so you have no role here" in text


def test_a_wrong_client_secret_is_a_clear_page(settings, live_server, page, oidc_provider, browser_errors):  # noqa: F811
    configure(settings, oidc_provider, f"{live_server.url}/oidc/callback/", secret="not-the-secret-at-all")
    browser_errors.allow("HTTP 502")
    browser_errors.allow("502 (Bad Gateway)")
    _sign_in(page, live_server, "alice")
    page.wait_for_selector("#oidc-error")
    text = page.locator("#oidc-error").inner_text()
    assert "Test IdP refused this console" in text and "OIDC_CLIENT_SECRET" in text
    assert "not-the-secret-at-all" not in page.content()


def test_a_group_removed_at_the_provider_is_gone_after_the_refresh_and_sign_out_ends_both_sessions(
    settings, live_server, page, oidc_provider
):  # noqa: F811
    configure(settings, oidc_provider, f"{live_server.url}/oidc/callback/")
    settings.OIDC_REFRESH_INTERVAL = 2
    _acme()
    _sign_in(page, live_server, "alice")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/tenants/acme/projects/vision/")
    assert "your role: write" in page.content()

    # Removed from ml-engineers at the provider: the same session loses the role once it is refreshed.
    oidc_provider.set_accounts({**ACCOUNTS, "alice": {"groups": ["acme-readers"]}})
    page.wait_for_timeout(2200)
    page.reload()
    assert "your role: read" in page.content()
    assert "Log out alice" in page.content()

    # Sign out: the provider asks to confirm, then sends the browser back to the console's login page.
    page.click("text=Log out alice")
    page.click("button[name=logout]")
    page.wait_for_url(re.compile(re.escape(f"{live_server.url}/login/") + r"(\?state=.*)?$"))
    assert page.locator("#oidc-login").is_visible()
    page.goto(f"{live_server.url}/tenants/acme/projects/vision/")
    page.wait_for_url(f"{live_server.url}/login/?next=/tenants/acme/projects/vision/")
    # The provider's session is over too: signing in asks for the account again.
    page.click("#oidc-login")
    page.wait_for_selector("input[name=login]")
