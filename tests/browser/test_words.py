"""Words and colours that must agree with what is true: a project inheriting its tenant's working
integration, and chart series told apart."""

from __future__ import annotations

import pytest

from tests.browser import log_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_project_under_a_working_tenant_integration_does_not_ask_for_one(live_server, page):
    from tests.conftest import World
    from tests.integrations.conftest import configure_palette
    from tests.tenancy.test_home import PALETTE

    world = World()  # owner administers tenant acme and its project research
    configure_palette(world.tenant_a, PALETTE)
    log_in(page, live_server, "owner", lands="/")
    page.goto(f"{live_server.url}/tenants/acme/projects/research/settings/")
    tokens = page.locator("#tokens").inner_text()
    assert "Add the Palette integration first" not in tokens
    assert "This project uses tenant acme's Palette integration" in tokens
    page.click("#tokens-inherit >> a")
    page.wait_for_url(f"{live_server.url}/tenants/acme/settings/")


def test_the_capacity_chart_gives_each_series_its_own_colour(live_server, page):
    from django.contrib.auth import get_user_model

    from compute.models import EdgeHost
    from tenancy.models import Membership, Project, Tenant

    acme = Tenant.objects.create(name="acme", display_name="Acme")
    research = Project.objects.create(
        tenant=acme, name="research", display_name="Research", namespace="acme-r"
    )
    owner = get_user_model().objects.create_user("owner", password=PASSWORD)
    Membership.objects.create(user=owner, tenant=acme, role=Membership.TENANT_ADMIN)
    for i, model in enumerate(["GA100 [A100 PCIe 40GB]", "TU104GL [Tesla T4]"]):
        gpus = [{"vendor": "NVIDIA", "model": model, "count": 1}]
        EdgeHost.objects.create(
            project=research,
            uid=f"h{i}",
            name=f"h{i}",
            eligible=True,
            gpus=gpus,
            gpu_total=1,
            fingerprint="x",
        )
    log_in(page, live_server, "owner", lands="/")
    page.goto(f"{live_server.url}/tenants/acme/")
    chart = "Chart.getChart(document.querySelector('canvas[data-chart]'))"
    page.wait_for_function(f"() => window.Chart && {chart}")
    colours = page.evaluate(f"() => {chart}.data.datasets.map(d => [d.label, d.backgroundColor])")
    assert [label for label, _ in colours] == [
        "eligible hosts",
        "GA100 [A100 PCIe 40GB]",
        "TU104GL [Tesla T4]",
    ]
    assert len({colour for _, colour in colours}) == 3, colours
