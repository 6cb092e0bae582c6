from __future__ import annotations

import pytest

from tests.browser import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_logs_in_creates_a_project_and_lists_it(live_server, page):
    from django.contrib.auth import get_user_model

    from tenancy.models import Membership, Tenant

    tenant = Tenant.objects.create(name="acme", display_name="Acme")
    owner = get_user_model().objects.create_user("owner", password=PASSWORD)
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.TENANT_ADMIN)

    log_in(page, live_server, "owner", next_path="/tenants/acme/", lands="/tenants/acme/")
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


def test_deleting_a_project_asks_first_and_does_nothing_when_cancelled(live_server, page):
    from django.contrib.auth import get_user_model

    from tenancy.models import Membership, Project, Tenant

    tenant = Tenant.objects.create(name="acme", display_name="Acme")
    Project.objects.create(tenant=tenant, name="vision", display_name="Vision", namespace="acme-vision")
    owner = get_user_model().objects.create_user("owner", password=PASSWORD)
    Membership.objects.create(user=owner, tenant=tenant, role=Membership.TENANT_ADMIN)
    log_in(page, live_server, "owner", next_path="/tenants/acme/", lands="/tenants/acme/")
    page.goto(f"{live_server.url}/tenants/acme/projects/vision/")

    asked: list[str] = []

    def answer(dialog, accept: bool):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    page.click("text=Delete project")
    page.wait_for_timeout(300)  # a submitted form would be navigating by now
    assert asked == [
        "Delete project vision with its Settings, Secrets (also in Kubernetes) and profile bundles? "
        "Refused while a compute pool is not Deleted."
    ]
    assert page.url.endswith("/tenants/acme/projects/vision/")
    assert Project.objects.filter(name="vision").exists()

    page.once("dialog", lambda dialog: answer(dialog, True))
    page.click("text=Delete project")
    page.wait_for_url(f"{live_server.url}/tenants/acme/")
    assert len(asked) == 2 and not Project.objects.filter(name="vision").exists()
