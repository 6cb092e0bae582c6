"""The home page, the Compute navigation entry and the onboarding wizard's address, as a user sees them."""

from __future__ import annotations

import re

import pytest

from tests.browser import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _world():
    """Tenant acme (connected) with project research (2 of 3 hosts eligible, a Ready pool) for `owner`; tenant
    globex that owner does not see."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from compute.models import ComputePool, DiscoveryRun, EdgeHost
    from integrations.models import PaletteCheck
    from tenancy.models import Membership, Project, Tenant
    from tests.integrations.conftest import configure_palette
    from tests.tenancy.test_home import PALETTE

    acme = Tenant.objects.create(name="acme", display_name="Acme")
    Tenant.objects.create(name="globex", display_name="Globex")
    research = Project.objects.create(
        tenant=acme, name="research", display_name="Research", namespace="acme-r"
    )
    owner = get_user_model().objects.create_user("owner", password=PASSWORD)
    Membership.objects.create(user=owner, tenant=acme, role=Membership.TENANT_ADMIN)
    configure_palette(acme, PALETTE)
    PaletteCheck.objects.create(
        tenant=acme, status=PaletteCheck.SUCCEEDED, outcome=PaletteCheck.CONNECTED, finished=timezone.now()
    )
    gpus = [{"vendor": "NVIDIA", "model": "GA100 [A100 PCIe 40GB]", "count": 2}]
    for i in range(3):
        EdgeHost.objects.create(
            project=research,
            uid=f"h{i}",
            name=f"h{i}",
            eligible=i < 2,
            gpus=gpus,
            gpu_total=2,
            fingerprint="x",
        )
    ComputePool.objects.create(
        project=research, name="gpu-a", bundle_name="edge-infra", vip="10.0.0.5", status=ComputePool.READY
    )
    DiscoveryRun.objects.create(project=research, status=DiscoveryRun.SUCCEEDED, finished=timezone.now())


def test_home_shows_the_tenant_and_project_with_status_and_counts_and_links_work(live_server, page):
    _world()
    log_in(page, live_server, "owner", lands="/")
    assert page.locator("h1").inner_text() == "Home"
    assert page.locator("text=Globex").count() == 0
    assert "Connected" in page.locator('tr[data-tenant="acme"]').inner_text()
    row = page.locator('tr[data-project="acme/research"]')
    text = row.inner_text()
    assert "Connected" in text and "2 of 3 hosts eligible · 4 GPUs" in text and "1 Ready" in text
    row.locator("text=2 of 3 hosts eligible").click()
    page.wait_for_url(f"{live_server.url}/tenants/acme/projects/research/compute/")
    page.go_back()
    page.locator('tr[data-project="acme/research"] >> text=1 Ready').click()
    page.wait_for_url(f"{live_server.url}/tenants/acme/projects/research/compute/pools/")
    assert "gpu-a" in page.content()
    page.go_back()
    page.locator('tr[data-tenant="acme"] >> text=Connected').click()
    page.wait_for_url(f"{live_server.url}/tenants/acme/settings/")


def test_compute_in_the_navigation_opens_the_overview_not_the_project_list(live_server, page):
    _world()
    log_in(page, live_server, "owner", lands="/")
    page.click("header nav >> text=Compute")
    page.wait_for_url(f"{live_server.url}/compute/")
    assert page.locator("h1").inner_text() == "Compute"
    assert page.locator('header a[aria-current="page"]').inner_text() == "Compute"
    row = page.locator('tr[data-project="acme/research"]')
    assert "A100 40GB ×4" in row.inner_text() and "1 Ready" in row.inner_text()
    row.locator("text=Pools").click()
    page.wait_for_url(f"{live_server.url}/tenants/acme/projects/research/compute/pools/")


def test_the_onboarding_address_follows_a_newly_created_tenant_and_survives_a_reload(live_server, page):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    log_in(page, live_server, "root", lands="/")
    page.click("#onboarding-cta >> text=Start onboarding")
    page.click("#start-onboarding")
    page.wait_for_url(re.compile(r"/onboarding/[0-9a-f-]+/tenant/$"))
    page.fill("#id_new-name", "demo")
    page.fill("#id_new-display_name", "Demo")
    page.click("text=Create tenant and continue")
    page.wait_for_url(re.compile(r"/onboarding/[0-9a-f-]+/project/\?tenant=demo$"))
    page.reload()
    assert re.search(r"/project/\?tenant=demo$", page.url)
    assert "demo" in page.locator("#wizard-step").inner_text()
    page.fill("#id_new-name", "edge")
    page.fill("#id_new-display_name", "Edge")
    page.fill("#id_new-namespace", "demo-edge")
    page.click("text=Create project and continue")
    page.wait_for_url(re.compile(r"/palette/\?tenant=demo&project=edge$"))
    page.go_back()  # the project step, as it was: the wizard takes the session's tenant and project
    page.wait_for_url(re.compile(r"/project/\?tenant=demo(&project=edge)?$"))
