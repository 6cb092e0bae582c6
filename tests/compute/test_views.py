from __future__ import annotations

import pytest
from django.urls import reverse

from compute.discovery import run_discovery
from compute.models import DiscoveryRun, EdgeHost


def url(name, **kw):
    return reverse(f"compute:{name}", kwargs={"tenant": "acme", "project": "research", **kw})


@pytest.fixture
def discovered(connected_project):
    run = run_discovery(DiscoveryRun.objects.create(project=connected_project))
    assert run.status == "succeeded", run.first_error
    return connected_project


def test_it_shows_the_grid_with_reasons_and_sync_status(world, discovered):
    body = world.client_for(world.viewer).get(url("inventory")).content.decode()
    assert "Synced" in body and "eligible" in body and "missing tag palette.ai=true" in body
    assert "Discover now" not in body  # read-only


@pytest.mark.parametrize(
    "params,check",
    [
        ({"eligible": "yes"}, lambda h: h.eligible),
        ({"status": "in-use"}, lambda h: h.state == "in-use"),
        ({"arch": "arm64"}, lambda h: h.architecture == "arm64"),
        ({"health": "unhealthy"}, lambda h: h.health == "unhealthy"),
        ({"tag": "palette.ai:true"}, lambda h: h.tags.get("palette.ai") == "true"),
    ],
)
def test_it_filters_on_the_server(world, discovered, params, check):
    client = world.client_for(world.owner)
    response = client.get(url("inventory"), {**params, "sort": "-cpu"})
    rows = response.context["page"].object_list
    assert rows and all(check(h) for h in rows)
    cpus = [h.cpu_cores or 0 for h in rows]
    assert cpus == sorted(cpus, reverse=True)
    fragment = client.get(
        url("inventory"), {**params, "sort": "-cpu"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "<html" not in fragment and 'id="grid"' in fragment
    assert fragment.count("<tr>") == len(rows) + 1  # header row + one per host


def test_it_filters_by_gpu_model(world, discovered):
    host = EdgeHost.objects.exclude(gpu_models="").first()
    model = host.gpus[0]["model"]
    response = world.client_for(world.owner).get(url("inventory"), {"gpu": model})
    rows = response.context["page"].object_list
    assert rows and all(model in [g["model"] for g in h.gpus] for h in rows)
    assert model in response.context["facets"]["gpu_models"]  # whole model names, spaces and all


def test_the_first_page_costs_the_same_queries_at_any_size(
    world, connected_project, django_assert_num_queries
):
    def make(n, start):
        EdgeHost.objects.bulk_create(
            [
                EdgeHost(
                    project=connected_project,
                    uid=f"h-{start + i}",
                    name=f"h-{start + i}",
                    fingerprint="x",
                    state="ready",
                    health="healthy",
                    cpu_cores=8,
                    memory_mib=16384,
                    tags={"palette.ai": "true"},
                    gpus=[{"vendor": "NVIDIA", "model": "A100", "count": 2, "memoryMiB": 40960}],
                    gpu_total=2,
                    gpu_models="A100",
                    eligible=True,
                )
                for i in range(n)
            ]
        )

    client = world.client_for(world.owner)
    make(10, 0)
    client.get(url("inventory"))  # warm caches (session, content types)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(url("inventory"))
    make(2000, 10)
    with CaptureQueriesContext(connection) as large:
        response = client.get(url("inventory"))
    assert len(large) == len(small), [q["sql"][:90] for q in large.captured_queries]
    assert response.context["page"].paginator.count == 2010


def test_it_starts_discovery_once_and_polls_until_done(
    world, connected_project, django_capture_on_commit_callbacks
):
    client = world.client_for(world.editor)
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(url("discover"), HTTP_HX_REQUEST="true")
        client.post(url("discover"), HTTP_HX_REQUEST="true")
    assert DiscoveryRun.objects.filter(project=connected_project).count() == 1 and len(callbacks) == 1
    response = client.get(url("discovery_status"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "every 1s" in response.content.decode()
    run_discovery(DiscoveryRun.objects.get())
    response = client.get(url("discovery_status"), HTTP_HX_REQUEST="true")
    assert response.status_code == 286 and "Synced" in response.content.decode()


def test_it_says_since_when_palette_is_unreachable(world, connected_project):
    DiscoveryRun.objects.create(
        project=connected_project, status="failed", first_error="Palette unreachable: TLS: unknown authority"
    )
    body = world.client_for(world.owner).get(url("inventory")).content.decode()
    assert "Palette unreachable since" in body and "TLS: unknown authority" in body


def test_it_shows_host_detail_with_history(world, discovered, sim):
    host = EdgeHost.objects.filter(eligible=True).first()
    sim.state.update_host(host.uid, health="unhealthy", health_message="fan failure")
    run_discovery(DiscoveryRun.objects.create(project=discovered))
    body = world.client_for(world.viewer).get(url("host_detail", host=host.uuid)).content.decode()
    assert "unhealthy: fan failure" in body and "updated" in body and "added" in body
    assert world.client_for(world.outsider).get(url("host_detail", host=host.uuid)).status_code == 404


def test_it_changes_the_discovery_tag_and_rechecks(world, discovered):
    eligible_before = EdgeHost.objects.filter(eligible=True).count()
    assert (
        world.client_for(world.viewer)
        .post(url("policy_save"), {"tag_key": "team", "tag_value": "ml"})
        .status_code
        == 403
    )
    response = world.client_for(world.owner).post(
        url("policy_save"), {"tag_key": "team", "tag_value": "ml"}, follow=True
    )
    assert f"{eligible_before} hosts changed eligibility" in response.content.decode()
    assert not EdgeHost.objects.filter(eligible=True).exists()
    response = world.client_for(world.owner).post(
        url("policy_save"), {"tag_key": "bad key!", "tag_value": ""}, follow=True
    )
    assert "A tag key uses letters" in response.content.decode()


@pytest.mark.parametrize(
    "name,method",
    [("inventory", "get"), ("discover", "post"), ("discovery_status", "get"), ("policy_save", "post")],
)
def test_it_hides_compute_from_outsiders(world, connected_project, name, method):
    assert getattr(world.client_for(world.outsider), method)(url(name)).status_code == 404


def test_it_charts_capacity_and_counts_readiness(world, discovered):
    client = world.client_for(world.owner)
    response = client.get(reverse("compute:capacity", kwargs={"tenant": "acme"}))
    data = response.context["data"]
    assert (
        data["labels"] == ["research"] and data["hosts"][0] == EdgeHost.objects.filter(eligible=True).count()
    )
    assert 'id="capacity-data"' in response.content.decode()
    body = client.get(
        reverse("tenancy:project_detail", kwargs={"tenant": "acme", "project": "research"})
    ).content.decode()
    assert "hosts eligible" in body
    assert (
        world.client_for(world.outsider)
        .get(reverse("compute:capacity", kwargs={"tenant": "acme"}))
        .status_code
        == 404
    )
