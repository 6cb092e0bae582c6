from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_in_creates_a_project_and_lists_it(live_server, page):
    from django.contrib.auth import get_user_model

    from tenancy.models import Membership, Tenant

    tenant = Tenant.objects.create(name="acme", display_name="Acme")
    owner = get_user_model().objects.create_user("owner", password=PASSWORD)
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.TENANT_ADMIN)

    page.goto(f"{live_server.url}/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/tenants/acme/")
    page.click("text=New project")

    # A bad namespace first: the htmx form re-renders with the message, nothing is lost.
    page.fill("#id_name", "vision")
    page.fill("#id_display_name", "Computer vision")
    page.fill("#id_namespace", "kube-vision")
    page.click("text=Create project")
    page.wait_for_selector("text=reserved for the system")
    assert page.input_value("#id_display_name") == "Computer vision"

    page.fill("#id_namespace", "acme-vision")
    page.click("text=Create project")
    page.wait_for_url(f"{live_server.url}/tenants/acme/projects/vision/")
    assert "Project vision created" in page.content()

    page.goto(f"{live_server.url}/projects/")
    assert page.locator("#project-table").inner_text().count("acme-vision") == 1
