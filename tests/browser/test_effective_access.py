from __future__ import annotations

import pytest

from tests.browser import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DN = "cn=ml,ou=groups,dc=example,dc=com"


def test_it_maps_a_group_on_the_project_page_and_the_access_page_shows_who_it_gives_the_role(
    live_server, page
):
    from django.contrib.auth import get_user_model

    from core.models import AuditEntry
    from tenancy.models import Membership, OidcIdentity, Project, Tenant

    User = get_user_model()
    tenant = Tenant.objects.create(name="acme", display_name="Acme")
    Project.objects.create(tenant=tenant, name="research", display_name="Research", namespace="acme-research")
    owner = User.objects.create_user("owner", password=PASSWORD)
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.TENANT_ADMIN)
    alice = User.objects.create_user("alice")
    OidcIdentity.objects.create(
        user=alice, issuer="https://idp.example", subject="alice-sub", groups=[DN, "x"]
    )

    project_path = "/tenants/acme/projects/research/"
    log_in(page, live_server, "owner", next_path=project_path, lands=project_path)
    page.click("text=Change roles from groups")

    # A tab inside a group name first: the message names the line, what was typed stays.
    page.fill("#id_groups-editor", "ml-engineers\nbad\tname")
    page.click("text=Save roles from groups")
    page.wait_for_selector("text=Line 2")
    assert page.input_value("#id_groups-editor") == "ml-engineers\nbad\tname"
    assert "control characters" in page.inner_text("#group-roles")

    page.fill("#id_groups-editor", DN)
    page.click("text=Save roles from groups")
    page.wait_for_selector(f"#group-roles-table code:text-is('{DN}')")
    assert "roles from groups saved" in page.inner_text("#messages")
    assert AuditEntry.objects.get().changes["roleMapping"] == {"old": "(none)", "new": f"editor: {DN}"}

    page.click("text=Who has access and why")
    page.wait_for_url(f"{live_server.url}{project_path}access/")
    row = page.locator("#people-table tr", has_text="alice")
    assert "write" in row.inner_text() and "Editor of the project" in row.inner_text()
    assert DN in row.inner_text() and "alice-sub" in row.inner_text()
    owner_row = page.locator("#people-table tr", has_text="owner").inner_text()
    assert "Tenant admin of tenant acme" in owner_row and "local membership" in owner_row

    # The tenant admin follows alice's name to her access page, then opens their own from the menu.
    row.locator("a", has_text="alice").click()
    page.wait_for_selector("text=Access of alice")
    assert DN in page.inner_text("#access-table")
    page.click("text=My access")
    page.wait_for_selector("h1:text-is('My access')")
    assert "Tenant admin" in page.inner_text("#access-table")
