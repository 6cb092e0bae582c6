"""The Compute Pool wizard: each step's validation, live counts from the evaluator, the review, Create,
permissions."""

from __future__ import annotations

import re

from django.urls import reverse

from compute.models import ClusterProfile, ComputePool, EdgeHost, ProfileBundle
from compute.readiness import evaluate, gather
from tests.compute.pool_fixtures import ED25519, fast_sim, pool_project, spec_for, wizard_vip  # noqa: F401

ARGS = ["acme", "research"]


def step(name: str) -> str:
    return reverse("compute:pool_wizard", args=[*ARGS, name])


NODES = {
    "cp_count": "1",
    "cp_worker_eligible": "on",
    "cp_architecture": "amd64",
    "cp_cpu": "4",
    "cp_memory_gib": "8",
    "cp_groups": "palette.ai=true",
    "worker_architecture": "amd64",
    "worker_count": "1",
    "worker_groups": "palette.ai=true",
}


def walk_to_review(client, **nodes) -> str:
    """Fill in every step; the VIP it chose (a free address in a subnet of the hosts the pool would use)."""
    vip = ""
    for name, data in (
        ("general", {"name": "web-pool", "description": "Web tier", "labels": "team=web"}),
        ("variant", {"variant": "dedicated"}),
        ("bundle", {"bundle": "edge-infra"}),
        ("nodes", {**NODES, **nodes}),
        ("network", {"ssh_keys": ED25519, "deletion_policy": "delete"}),
    ):
        if name == "network":
            vip = data["vip"] = wizard_vip(client)
        response = client.post(step(name), data)
        assert response.status_code == 302, (
            name,
            re.findall(r"field-error[^>]*>([^<]*)", response.content.decode()),
        )
    return vip


def errors(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', response.content.decode())


def test_it_validates_every_step_and_keeps_the_draft(world, pool_project):
    client = world.client_for(world.editor)
    page = client.get(reverse("compute:pool_create", args=ARGS))
    assert (
        page.status_code == 200
        and "New compute pool" in page.content.decode()
        and "Step 1 of 7: General" in page.content.decode()
    )

    assert any("lowercase" in e for e in errors(client.post(step("general"), {"name": "Web_Pool"})))
    assert "is not a valid label" in " ".join(
        errors(client.post(step("general"), {"name": "web-pool", "labels": "team=a b"}))
    )
    response = client.post(
        step("general"), {"name": "web-pool", "labels": "team=web"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 204 and response["HX-Location"] == step("variant")
    assert 'value="web-pool"' in client.get(step("general")).content.decode()  # the draft survives a reload

    assert "This field is required." in errors(client.post(step("variant"), {}))
    assert client.post(step("variant"), {"variant": "shared"}).status_code == 302
    assert any("Select a valid choice" in e for e in errors(client.post(step("bundle"), {"bundle": "nope"})))
    assert client.post(step("bundle"), {"bundle": "edge-infra"})["Location"] == step("variables")
    assert client.post(step("variables"), {})["Location"] == step(
        "nodes"
    )  # edge-k3s-infra's one variable has a default

    assert any(
        "Select a valid choice" in e for e in errors(client.post(step("nodes"), {**NODES, "cp_count": "2"}))
    )
    single = errors(client.post(step("nodes"), {**NODES, "cp_worker_eligible": ""}))
    assert any("must run workloads" in e for e in single)
    assert "is not key=value" in " ".join(errors(client.post(step("nodes"), {**NODES, "cp_groups": "=x"})))
    assert client.post(step("nodes"), NODES).status_code == 302

    assert any(
        "not an IPv4 address" in e
        for e in errors(client.post(step("network"), {"vip": "10.30.0", "deletion_policy": "delete"}))
    )
    vip = wizard_vip(client)
    assert errors(
        client.post(step("network"), {"vip": vip, "ssh_keys": "not a key", "deletion_policy": "delete"})
    )
    assert client.post(step("network"), {"vip": vip, "ssh_keys": ED25519, "deletion_policy": "delete"})[
        "Location"
    ] == step("review")

    ComputePool.objects.create(project=pool_project, name="taken", bundle_name="edge-infra", vip="10.30.0.99")
    assert "already has a pool called taken" in " ".join(
        errors(client.post(step("general"), {"name": "taken"}))
    )
    assert client.get(step("nope")).status_code == 404


def test_it_counts_matching_hosts_and_gpus_with_the_evaluator(world, pool_project):
    client = world.client_for(world.editor)
    walk_to_review(client)
    url = reverse("compute:pool_wizard_counts", args=ARGS)
    gpu_hosts = [
        h
        for h in EdgeHost.objects.filter(
            project=pool_project, gone=False, eligible=True, architecture="amd64"
        )
        if any((g.get("vendor") or "").lower() == "nvidia" for g in h.gpus)
    ]
    assert gpu_hosts, "the simulator inventory has NVIDIA hosts"
    nodes = {
        **NODES,
        "worker_name": "gpu",
        "worker_gpu_family": "NVIDIA",
        "worker_gpu_count": "1",
        "worker_count": "2",
        "worker2_name": "cpu",
        "worker2_count": "1",
        "worker2_cpu": "4",
    }
    response = client.post(url, nodes, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and 'id="counts"' in body

    # The same numbers from the evaluator itself, and the GPU pool's matching hosts counted by hand.
    spec = spec_for(
        pool_project,
        "web-pool",
        vip="10.30.0.5",
        workers=[
            {
                "name": "gpu",
                "nodeCount": 2,
                "architecture": "amd64",
                "gpu": {"family": "NVIDIA", "gpuCount": 1},
            },
            {"name": "cpu", "nodeCount": 1, "architecture": "amd64", "cpu": {"cpuCount": 4}},
        ],
    )
    inputs = gather(pool_project, spec)
    report = evaluate(inputs)
    gpus = {h.uid: h.gpu_total for h in inputs.hosts}
    usable = [
        h
        for h in gpu_hosts
        if h.state == "ready" and h.health == "healthy" and (h.tags or {}).get("palette.ai") == "true"
    ]
    rows = dict(re.findall(r'data-pool="([\w-]+)">.*?<td class="matching">(\d+)</td>', body, re.S))
    shown_gpus = dict(re.findall(r'data-pool="([\w-]+)">.*?<td class="gpus">(\d+)</td>', body, re.S))
    assert int(rows["gpu"]) == len(usable) > 0
    assert int(shown_gpus["gpu"]) == sum(gpus[u] for u in report.hosts["gpu"]) > 0
    for name in ("control-plane", "cpu"):
        requirement = next(
            r
            for r in report.requirements
            if r.name.lower().startswith(name if name != "cpu" else "worker pool cpu")
        )
        assert f": found {rows[name]}" in requirement.reason
        assert int(shown_gpus[name]) == sum(gpus[u] for u in report.hosts[name])

    # An impossible filter: zero matching, and the fragment says so.
    body = client.post(url, {**NODES, "cp_cpu": "4096"}, HTTP_HX_REQUEST="true").content.decode()
    assert (
        re.search(r'data-pool="control-plane">.*?<td class="matching">0</td>', body, re.S)
        and "not enough hosts" in body
    )
    body = client.post(url, {**NODES, "cp_cpu": "-3"}, HTTP_HX_REQUEST="true").content.decode()
    assert (
        "greater than or equal to 0" in body
        and "matching" not in body.split('class="errors"')[0].split("<h3>")[0]
    )
    page = client.get(step("nodes")).content.decode()
    assert 'hx-trigger="change, keyup changed delay:300ms"' in page and 'id="counts"' in page


def test_it_reviews_the_request_and_creates_a_pool(world, pool_project):
    client = world.client_for(world.editor)
    vip = walk_to_review(client)
    body = client.get(step("review")).content.decode()
    assert 'id="readiness">ready' in body and "POST /v1/spectroclusters/edge-native" in body
    assert (
        "acme-research-web-pool" in body
        and "&quot;controlPlaneEndpoint&quot;" in body
        and "disabled" not in body.split('id="create-pool"')[1][:20]
    )
    response = client.post(step("review"))
    pool = ComputePool.objects.get(name="web-pool")
    assert response.status_code == 302 and response["Location"].endswith(f"/pools/{pool.uuid}/")
    assert (
        pool.status == ComputePool.PENDING
        and pool.labels == {"team": "web"}
        and pool.description == "Web tier"
    )
    assert pool.vip == vip and pool.bundle.name == "edge-infra" and pool.variant == "dedicated"
    assert 'value="web-pool"' not in client.get(step("general")).content.decode()  # the draft is gone


def test_it_refuses_to_create_a_blocked_pool(world, pool_project):
    client = world.client_for(world.editor)
    walk_to_review(client, cp_cpu="4096")
    body = client.get(step("review")).content.decode()
    assert 'id="readiness">blocked' in body and "with fewer than 4096 cores" in body
    assert "disabled" in body.split('id="create-pool"')[1][:20]
    response = client.post(step("review"))
    assert response.status_code == 200 and "Not ready to provision" in response.content.decode()
    assert not ComputePool.objects.filter(name="web-pool").exists()


def test_it_creates_a_bundle_from_synced_profiles(world, pool_project):
    client = world.client_for(world.editor)
    url = reverse("compute:pool_wizard_bundle", args=ARGS)
    base = ClusterProfile.objects.filter(
        project=pool_project, profile_type__in=("infra", "cluster"), cloud_type="edge-native", present=True
    ).first()
    addon = ClusterProfile.objects.filter(
        project=pool_project, profile_type="add-on", cloud_type__in=("edge-native", "all"), present=True
    ).first()
    data = {
        "bundle-name": "edge-infra",
        "bundle-bundle_type": "Fullstack",
        "bundle-version": "2",
        "bundle-base": base.uid,
    }
    assert "already has a bundle called edge-infra" in " ".join(errors(client.post(url, data)))
    assert "This field is required." in errors(
        client.post(url, {**data, "bundle-name": "b2", "bundle-base": ""})
    )
    response = client.post(url, {**data, "bundle-name": "b2", "bundle-addons": [addon.uid] if addon else []})
    assert response.status_code == 302 and response["Location"] == step("bundle")
    bundle = ProfileBundle.objects.get(project=pool_project, name="b2")
    assert (
        bundle.bundle_type == "Fullstack" and bundle.version == "2" and bundle.profiles[0]["uid"] == base.uid
    )
    assert len(bundle.profiles) == (2 if addon else 1)
    assert 'value="b2" selected' in client.get(step("bundle")).content.decode()  # picked for the draft


def test_it_keeps_the_wizard_from_viewers_and_outsiders(world, pool_project):
    viewer, outsider = world.client_for(world.viewer), world.client_for(world.outsider)
    posts = [
        step("general"),
        step("review"),
        reverse("compute:pool_wizard_counts", args=ARGS),
        reverse("compute:pool_wizard_bundle", args=ARGS),
        reverse("compute:pool_wizard_reset", args=ARGS),
    ]
    for url in posts:
        assert viewer.post(url, {"name": "x"}).status_code == 403
        assert outsider.post(url, {"name": "x"}).status_code == 404
    for url in (step("general"), step("nodes"), step("review")):
        assert viewer.get(url).status_code == 403 and outsider.get(url).status_code == 404
    assert (
        world.client_for(world.editor).get(reverse("compute:pool_wizard_counts", args=ARGS)).status_code
        == 405
    )
    assert not ComputePool.objects.exists() and ProfileBundle.objects.count() == 1


def test_it_summarises_pools_on_the_project_page(world, pool_project):
    from compute.provisioning import create_pool

    client = world.client_for(world.viewer)
    page = client.get(reverse("tenancy:project_detail", args=ARGS)).content.decode()
    summary = reverse("compute:pools", args=ARGS) + "?summary=1"
    assert f'hx-get="{summary}"' in page
    assert "No compute pools yet." in client.get(summary, HTTP_HX_REQUEST="true").content.decode()
    spec = spec_for(pool_project, "web-pool", vip="10.30.0.5")
    pool = create_pool(pool_project, spec, ProfileBundle.objects.get(name="edge-infra"), source="test")
    ComputePool.objects.filter(pk=pool.pk).update(status=ComputePool.READY)
    body = client.get(summary, HTTP_HX_REQUEST="true").content.decode()
    assert (
        "<html" not in body
        and 'id="pools-summary"' in body
        and "web-pool" in body
        and "Ready" in body
        and "Create one" not in body
    )
    assert "1 pool: 1 Ready." in client.get(reverse("tenancy:project_detail", args=ARGS)).content.decode()


def test_it_takes_more_worker_pools_one_slot_at_a_time(world, pool_project):
    client = world.client_for(world.editor)
    walk_to_review(client)

    def slots() -> list[str]:
        return re.findall(r'data-slot="(\d+)"', client.get(step("nodes")).content.decode())

    assert slots() == ["1"]  # no worker pool yet: one empty slot
    response = client.post(step("nodes"), {**NODES, "worker_name": "w1", "add_worker": "1"})
    assert response.status_code == 302 and response["Location"] == step("nodes") + "#worker-pools"
    assert slots() == ["1", "2", "3"]  # w1, the empty slot it already had, and the one asked for
    assert (
        client.post(
            step("nodes"), {**NODES, "add_worker": "1", "worker_name": "w1", "worker2_name": "w2"}
        ).status_code
        == 302
    )
    assert slots() == ["1", "2", "3", "4"]

    # Eight named pools: the most the wizard takes, and it says how to have more.
    named = {f"{'worker_' if i == 1 else f'worker{i}_'}name": f"w{i}" for i in range(1, 9)}
    counts = {f"{'worker_' if i == 1 else f'worker{i}_'}count": "1" for i in range(1, 9)}
    assert client.post(step("nodes"), {**NODES, **named, **counts}).status_code == 302
    page = client.get(step("nodes")).content.decode()
    assert re.findall(r'data-slot="(\d+)"', page) == [str(i) for i in range(1, 9)]
    assert 'id="add-worker"' not in page and "The wizard takes 8 worker pools" in page
    review = client.get(step("review")).content.decode()
    assert all(f"<li>w{i}:" in review for i in range(1, 9)), re.findall(r"<li>[\w-]+:", review)


def test_the_live_counts_name_the_fields_an_earlier_step_left_empty(world, pool_project):
    client = world.client_for(world.editor)  # straight to the node-pool step, nothing entered before
    body = client.post(
        reverse("compute:pool_wizard_counts", args=ARGS), NODES, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Name: This field is required." in body and "Profile bundle: This field is required." in body
    assert "None:" not in body


def test_the_stepper_ticks_only_the_steps_the_draft_fills_in(world, pool_project):
    client = world.client_for(world.editor)

    def stepper(name: str) -> dict[str, str]:
        html = client.get(step(name)).content.decode()
        ol = html[
            html.index('id="pool-wizard-steps"') : html.index("</ol>", html.index('id="pool-wizard-steps"'))
        ]
        return dict(
            (label, css)
            for css, label in re.findall(r'<li class="(\w*)"[^>]*>\s*(?:<a [^>]*>|<span>)\d+\. ([\w ]+)', ol)
        )

    assert stepper("nodes") == {
        "General": "todo",
        "Variant": "done",
        "Profile bundle": "todo",
        "Profile variables": "done",
        "Node pools": "current",
        "Network": "",
        "Review": "",
    }  # variant and variables have defaults
    client.post(step("general"), {"name": "web-pool"})
    client.post(step("bundle"), {"bundle": "edge-infra"})
    assert stepper("nodes")["General"] == stepper("nodes")["Profile bundle"] == "done"
