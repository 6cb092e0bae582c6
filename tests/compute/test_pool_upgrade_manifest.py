"""A Ready pool's profile upgrade from the command line and its manifest (pool_plan shows the version changes
and the PATCH; apply starts an in-place upgrade, a repave only with spec.upgrade.allowRepave; one change at a
time), and a new required variable given on the upgrade page or in spec.profileVariables, which reaches
Palette's PATCH and never a page or an output."""

from __future__ import annotations

import json

import yaml
from django.db import connection
from django.urls import reverse

from compute.models import ClusterProfile, ComputePool, ProfileSync
from compute.profiles import sync_profiles
from compute.spec import spec_of
from core.models import AuditEntry
from palette.sim.state import Profile
from palette.spec import load_spec
from tests.compute.pool_fixtures import drive, fast_sim, new_pool, pool_project  # noqa: F401
from tests.compute.test_pool_upgrade import _patches, _ready_old_pool
from tests.compute.test_pools_cli import run

ARGS = ["acme", "research"]
TOKEN = "CNRY-upgrade-lic-5Rz8Kq1Vw3"  # the masked value: searched for everywhere it must not be
ADDON = "licensed-addon"


def _manifest(tmp_path, pool, **spec_changes) -> str:
    """The pool's own manifest (as export writes it), with `spec_changes` set."""
    doc = spec_of(pool).to_manifest()
    doc["spec"].update(spec_changes)
    path = tmp_path / f"{pool.name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def _with_addon(project, sim, pool):
    """Add-on `licensed-addon` 1.0.0 (a masked required variable and a plain one, neither with a default) in
    Palette, synced, and added to the pool's bundle: an in-place upgrade that needs two values."""
    with sim.state.lock:
        packs = next(p.packs for p in sim.state.profiles.values() if p.name == "nvidia-gpu-operator")
    sim.state.add_profile(
        Profile(
            uid="ad0000000000000000000b01",
            name=ADDON,
            version="1.0.0",
            cloud_type="edge-native",
            type="add-on",
            scope="project",
            project_uid=sim.project_uids[0],
            packs=[dict(p) for p in packs],
            created="2026-01-12T08:00:00.000Z",
            variables=[
                {
                    "name": "license_key",
                    "displayName": "License key",
                    "format": "string",
                    "regex": "^[A-Za-z0-9-]{12,}$",
                    "required": True,
                    "isSensitive": True,
                },
                {"name": "region", "displayName": "Region", "format": "string", "required": True},
            ],
        )
    )
    assert sync_profiles(ProfileSync.objects.create(project=project)).status == "succeeded"
    addon = ClusterProfile.objects.get(project=project, name=ADDON)
    bundle = pool.bundle
    bundle.profiles = [
        *bundle.profiles,
        {"uid": addon.uid, "name": ADDON, "version": "1.0.0", "type": "add-on"},
    ]
    bundle.save()
    pool.refresh_from_db()
    return addon


def test_pool_plan_prints_the_upgrade_and_its_patch(pool_project, fast_sim, tmp_path):
    pool, new = _ready_old_pool(pool_project)
    old_uid = pool.request["spec"]["profiles"][0]["uid"]
    code, out, err = run("pool_plan", "-f", _manifest(tmp_path, pool))
    assert code == 1, err  # the repave is not confirmed: apply would refuse it
    assert "edge-k3s-infra (infra): 1.2.0 → 1.3.0" in out and "nodes repaved: yes" in out
    assert "✗ blocked:" in out and "allowRepave: true" in out
    assert f"Request: PATCH /v1/spectroclusters/{pool.cluster_uid}/profiles" in out
    code, out, err = run(
        "pool_plan", "-f", _manifest(tmp_path, pool, upgrade={"allowRepave": True}), "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["ready"] is True
    [change] = data["changes"]
    assert change["kind"] == "upgrade" and change["repave"] is True and change["blocked"] == []
    assert change["profiles"] == [
        {"name": "edge-k3s-infra", "type": "infra", "action": "upgrade", "from": "1.2.0", "to": "1.3.0"}
    ]
    [request] = change["requests"]
    assert (
        request["method"] == "PATCH" and request["path"] == f"/v1/spectroclusters/{pool.cluster_uid}/profiles"
    )
    assert request["body"]["profiles"][0]["uid"] == new.uid
    assert request["body"]["profiles"][0]["replaceWithProfile"] == old_uid
    load_spec().validate_request("PATCH", "/v1/spectroclusters/{uid}/profiles", request["body"])
    # The existing pool by name: its readiness report and the pending upgrade.
    code, out, _ = run("pool_plan", pool.name, "-n", pool.namespace)
    assert code == 0 and "Pending changes:" in out and "1.2.0 → 1.3.0" in out and "Request: PATCH" in out
    data = json.loads(run("pool_plan", pool.name, "-n", pool.namespace, "--json")[1])
    assert [c["kind"] for c in data["changes"]] == ["upgrade"] and "requirements" in data
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY and _patches(fast_sim) == []


def test_apply_refuses_a_repave_without_confirmation_and_upgrades_with_it(pool_project, fast_sim, tmp_path):
    pool, new = _ready_old_pool(pool_project)
    code, out, err = run("apply", "-f", _manifest(tmp_path, pool))
    assert code == 1 and "spec.upgrade" in err and "allowRepave: true" in err and "repaves the nodes" in err
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY and _patches(fast_sim) == []
    confirmed = _manifest(tmp_path, pool, upgrade={"allowRepave": True})
    code, out, err = run("apply", "-f", confirmed)
    assert code == 0, err
    assert "upgrading profiles: edge-k3s-infra 1.2.0 → 1.3.0 (nodes repaved)" in out
    pool.refresh_from_db()
    assert pool.status == ComputePool.UPDATING and pool.operation == ComputePool.UPGRADE
    # Applied again while it runs: the same upgrade, nothing new.
    code, out, err = run("apply", "-f", confirmed)
    assert code == 0 and "unchanged" in out, err
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert (
        fast_sim.state.clusters[pool.cluster_uid].profile_uids[0] == new.uid and len(_patches(fast_sim)) == 1
    )
    # Up to date now: the exported manifest round-trips as unchanged, with or without the confirmation.
    exported = list(yaml.safe_load_all(run("export", "-n", pool.namespace)[1]))
    doc = next(d for d in exported if d and d["kind"] == "ComputePool")
    assert "upgrade" not in doc["spec"]
    for path in (_manifest(tmp_path, pool), confirmed):
        code, out, err = run("apply", "-f", path)
        assert code == 0 and "unchanged" in out, err
    assert run("pool_plan", "-f", confirmed)[1].count("Unchanged") == 1


def test_apply_upgrades_add_ons_in_place_and_one_change_at_a_time(pool_project, fast_sim, tmp_path):
    pool = drive(new_pool(pool_project, "addon-pool"))
    addon = ClusterProfile.objects.get(project=pool_project, name="nvidia-gpu-operator")
    pool.bundle.profiles = [
        *pool.bundle.profiles,
        {"uid": addon.uid, "name": addon.name, "version": addon.version, "type": addon.profile_type},
    ]
    pool.bundle.save()
    pool.refresh_from_db()
    # An upgrade and a scale in one apply: refused, saying how to go on.
    doc = spec_of(pool).to_manifest()
    deployment = doc["spec"]["clusterVariant"]["dedicated"]["paletteClusterDeploymentConfig"]
    deployment["nodePoolRequirements"]["controlPlanePool"]["nodeCount"] = 3
    both = tmp_path / "both.yaml"
    both.write_text(yaml.safe_dump(doc))
    code, _, err = run("apply", "-f", str(both))
    assert code == 1 and "one change at a time" in err and "upgrade first" in err
    code, out, err = run("apply", "-f", _manifest(tmp_path, pool))
    assert code == 0 and "(in place)" in out, err
    pool = drive(pool)
    assert (
        pool.status == ComputePool.READY
        and addon.uid in fast_sim.state.clusters[pool.cluster_uid].profile_uids
    )
    code, out, err = run("apply", "-f", _manifest(tmp_path, pool))
    assert code == 0 and "unchanged" in out, err


def _secret_free(pool, *texts):
    for text in texts:
        assert TOKEN not in text
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret_variables, request::text FROM compute_computepool WHERE id = %s", [pool.pk]
        )
        stored, request = cursor.fetchone()
    assert TOKEN not in stored and TOKEN not in request
    audit = json.dumps(list(AuditEntry.objects.values_list("verb", "changes")))
    assert TOKEN not in audit


def test_the_upgrade_page_asks_for_a_new_required_variable(world, pool_project, fast_sim):
    pool = drive(new_pool(pool_project, "lic-pool"))
    addon = _with_addon(pool_project, fast_sim, pool)
    client = world.client_for(world.editor)
    url = reverse("compute:pool_upgrade", args=[*ARGS, pool.uuid])
    page = client.get(url).content.decode()
    assert 'type="password" name="var-0"' in page and 'type="text" name="var-1"' in page
    assert 'id="upgrade-problems"' not in page
    refused = client.post(url, {"var-0": "short", "var-1": ""}).content.decode()
    assert "License key (license_key): the value does not match" in refused
    assert "Region (region) is required" in refused and "short" not in refused
    assert _patches(fast_sim) == []
    response = client.post(url, {"var-0": TOKEN, "var-1": "eu-west"})
    assert response.status_code == 302
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert fast_sim.state.clusters[pool.cluster_uid].variables[addon.uid] == {
        "license_key": TOKEN,
        "region": "eu-west",
    }
    assert pool.variables[ADDON] == {"region": "eu-west"}
    export = run("export", "-n", pool.namespace, "--show-secrets")[1]
    assert TOKEN in export  # stored (encrypted) with the pool, like the wizard's values
    pages = [client.get(u).content.decode() for u in (url, pool.get_absolute_url())]
    _secret_free(
        pool,
        *pages,
        run("export", "-n", pool.namespace)[1],
        run("pool_plan", pool.name, "-n", pool.namespace)[1],
    )


def test_a_manifest_gives_the_new_required_variable(pool_project, fast_sim, tmp_path):
    pool = drive(new_pool(pool_project, "lic-pool"))
    addon = _with_addon(pool_project, fast_sim, pool)
    code, out, err = run("pool_plan", "-f", _manifest(tmp_path, pool))
    assert (
        code == 1 and "requires variable license_key" in out and "spec.profileVariables.licensed-addon" in out
    )
    code, _, err = run("apply", "-f", _manifest(tmp_path, pool))
    assert code == 1 and "spec.profileVariables.licensed-addon.license_key" in err
    values = {**spec_of(pool).manifest_variables(), ADDON: {"license_key": TOKEN, "region": "ap-south"}}
    path = _manifest(tmp_path, pool, profileVariables=values)
    code, out, err = run("pool_plan", "-f", path, "--json")
    assert code == 0, err
    body = json.loads(out)["changes"][0]["requests"][0]["body"]
    assert {"name": "license_key", "value": "REDACTED"} in body["profiles"][0]["variables"]
    code, applied, err = run("apply", "-f", path)
    assert code == 0 and "in place" in applied, err
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert fast_sim.state.clusters[pool.cluster_uid].variables[addon.uid]["license_key"] == TOKEN
    exported = run("export", "-n", pool.namespace)[1]
    assert "license_key: REDACTED" in exported
    _secret_free(pool, out, applied, err, exported)
    # The export, applied back (REDACTED keeps the stored value): unchanged.
    back = tmp_path / "back.yaml"
    back.write_text(exported)
    code, out, err = run("apply", "-f", str(back))
    assert code == 0 and "computepool/lic-pool -n acme-research unchanged" in out, err
