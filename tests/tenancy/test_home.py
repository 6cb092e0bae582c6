"""The home page (`/`) and the Compute overview (compute:home): what a user sees, in bounded queries."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from compute.models import ComputePool, DiscoveryRun, EdgeHost
from core.models import WorkerHeartbeat
from integrations.models import PaletteCheck
from tenancy import overview
from tenancy.models import Project, Tenant
from tests.integrations.conftest import configure_palette

A100 = {"vendor": "NVIDIA", "model": "GA100 [A100 PCIe 40GB]", "count": 4}
T4 = {"vendor": "NVIDIA", "model": "TU104GL [Tesla T4]", "count": 1}
PALETTE = {
    "apiKey": "home-key-0123456789",
    "hostUrl": "https://palette.example.com",
    "tenant": "acme",
    "defaultProjectID": "0123456789abcdef01234567",
}


def add_hosts(project, eligible=2, other=1, gpus=(A100,)):
    for i in range(eligible + other):
        EdgeHost.objects.create(
            project=project,
            uid=f"{project.name}-h{i}",
            name=f"{project.name}-h{i}",
            eligible=i < eligible,
            gpus=list(gpus),
            gpu_total=sum(g["count"] for g in gpus),
            fingerprint=str(i),
        )


def add_pool(project, name, status):
    return ComputePool.objects.create(
        project=project,
        name=name,
        bundle_name="edge-infra",
        vip=f"10.{project.pk // 250 % 250}.{project.pk % 250}.{len(name)}",  # unique per project and name
        status=status,
    )


def connected(owner):
    field = "project" if isinstance(owner, Project) else "tenant"
    return PaletteCheck.objects.create(
        **{field: owner},
        status=PaletteCheck.SUCCEEDED,
        outcome=PaletteCheck.CONNECTED,
        finished=timezone.now(),
    )


def row_of(html: str, marker: str) -> str:
    start = html.index(marker)
    return html[start : html.index("</tr>", start)]


def test_home_shows_each_visible_project_with_its_status_and_counts(world):
    configure_palette(world.tenant_a, PALETTE)
    connected(world.tenant_a)
    add_hosts(world.project_a, eligible=2, other=1)
    add_pool(world.project_a, "ready-one", ComputePool.READY)
    failed = add_pool(world.project_a, "broken", ComputePool.FAILED)
    DiscoveryRun.objects.create(project=world.project_a, status=DiscoveryRun.FAILED)
    old = DiscoveryRun.objects.create(project=world.project_a, status=DiscoveryRun.FAILED)
    DiscoveryRun.objects.filter(pk=old.pk).update(created=timezone.now() - timedelta(days=8))  # too old
    response = world.client_for(world.owner).get(reverse("tenancy:home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Globex" not in html  # another tenant's is never shown
    tenant_row = row_of(html, 'data-tenant="acme"')
    assert "Connected" in tenant_row and reverse("integrations:tenant_settings", args=["acme"]) in tenant_row
    project = row_of(html, 'data-project="acme/research"')
    assert "Connected" in project  # inherited from the tenant's check
    assert "2 of 3 hosts eligible · 8 GPUs" in project
    assert reverse("compute:inventory", args=["acme", "research"]) in project
    assert "1 Ready" in project and "1 Failed" in project
    assert reverse("compute:pools", args=["acme", "research"]) in project
    assert "1 failed discovery run" in project and "2 failed" not in project
    assert "pool broken: Failed" in project
    assert reverse("compute:pool_detail", args=["acme", "research", failed.uuid]) in project


def test_home_names_a_project_without_integration_and_failed_checks(world):
    PaletteCheck.objects.create(
        tenant=world.tenant_b, status=PaletteCheck.SUCCEEDED, outcome=PaletteCheck.FAILED_OUTCOME
    )
    html = world.client_for(world.outsider).get(reverse("tenancy:home")).content.decode()
    assert "Not configured" in row_of(html, 'data-project="globex/ops"')
    assert "1 failed connection check" in row_of(html, 'data-tenant="globex"')
    assert "no hosts discovered" in html and "no pools" in html


def test_home_of_an_empty_install_leads_to_onboarding(db, django_user_model):
    user = django_user_model.objects.create_superuser("first", password="correct-horse-battery-9")
    from django.test import Client

    client = Client()
    client.force_login(user)
    html = client.get(reverse("tenancy:home")).content.decode()
    assert "Nothing set up yet" in html and 'href="/onboarding/"' in html and "Start onboarding" in html


def test_home_costs_fixed_queries_however_many_tenants_and_projects(world, django_assert_max_num_queries):
    for t in range(6):
        tenant = Tenant.objects.create(name=f"t{t}", display_name=f"T{t}")
        connected(tenant)
        for p in range(3):
            project = Project.objects.create(
                tenant=tenant, name=f"p{p}", display_name=f"P{p}", namespace=f"t{t}-p{p}"
            )
            add_hosts(project, eligible=1, other=1)
            add_pool(project, f"pool{p}", ComputePool.PROVISIONING)
            DiscoveryRun.objects.create(project=project, status=DiscoveryRun.FAILED)
    client = world.client_for(world.superuser)
    with django_assert_max_num_queries(20):
        html = client.get(reverse("tenancy:home")).content.decode()
    assert html.count('class="home-project"') == 20 and html.count('class="home-tenant"') == 8
    assert html.count("1 Provisioning") == 18


def test_home_is_calm_in_the_first_minutes_and_warns_after(world, monkeypatch):
    client = world.client_for(world.owner)
    monkeypatch.setattr(overview, "STARTED", timezone.now())
    html = client.get(reverse("tenancy:home")).content.decode()
    assert "Waiting for the first worker" in html and "No worker" not in html
    monkeypatch.setattr(overview, "STARTED", timezone.now() - timedelta(minutes=10))
    html = client.get(reverse("tenancy:home")).content.decode()
    assert "No worker has answered yet" in html and "badge-warn" in html
    WorkerHeartbeat.objects.create(status=WorkerHeartbeat.SUCCEEDED, finished=timezone.now())
    assert "Workers answering" in client.get(reverse("tenancy:home")).content.decode()


def test_compute_overview_lists_each_project_with_gpus_pools_and_discovery(world):
    add_hosts(world.project_a, eligible=2, other=1, gpus=(A100, T4))
    add_pool(world.project_a, "ready-one", ComputePool.READY)
    DiscoveryRun.objects.create(
        project=world.project_a, status=DiscoveryRun.SUCCEEDED, finished=timezone.now()
    )
    response = world.client_for(world.owner).get(reverse("compute:home"))
    assert response.status_code == 200  # a page, never the project list's redirect
    html = response.content.decode()
    row = row_of(html, 'data-project="acme/research"')
    assert "2 of 3" in row and "A100 40GB ×8" in row and "T4 ×2" in row
    assert "1 Ready" in row and "Succeeded" in row
    assert reverse("compute:inventory", args=["acme", "research"]) in row
    assert reverse("compute:pools", args=["acme", "research"]) in row
    assert "globex" not in html


def test_compute_overview_costs_fixed_queries(world, django_assert_max_num_queries):
    for p in range(15):
        project = Project.objects.create(
            tenant=world.tenant_a, name=f"c{p}", display_name=f"C{p}", namespace=f"acme-c{p}"
        )
        add_hosts(project, eligible=1, other=0)
        add_pool(project, "pool", ComputePool.READY)
        DiscoveryRun.objects.create(project=project, status=DiscoveryRun.SUCCEEDED, finished=timezone.now())
    client = world.client_for(world.superuser)
    with django_assert_max_num_queries(12):
        html = client.get(reverse("compute:home")).content.decode()
    assert html.count("A100 40GB ×4") == 15
