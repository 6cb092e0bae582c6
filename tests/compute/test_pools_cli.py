"""pool_plan, pool_wait and the ProfileBundle/ComputePool manifests through apply, export and delete."""

from __future__ import annotations

import json
from io import StringIO

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from compute.models import ClusterProfile, ComputePool, EdgeHost, ProfileBundle
from palette.spec import load_spec
from tests.compute.pool_fixtures import (
    ED25519,
    discover,
    drive,
    fast_sim,  # noqa: F401  (a fixture)
    manifest_spec,
    new_pool,
    pool_project,  # noqa: F401  (a fixture)
)


def pool_doc(name: str = "gpu-pool-a", namespace: str = "acme-research", **kwargs) -> dict:
    return {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "ComputePool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": manifest_spec(**kwargs),
    }


def bundle_doc(name: str = "edge-gpu", profiles=None, kind: str = "Infrastructure") -> dict:
    return {
        "apiVersion": "spectrocloud.com/v1beta1",
        "kind": "ProfileBundle",
        "metadata": {"name": name, "namespace": "acme-research"},
        "spec": {
            "type": kind,
            "version": "1",
            "clusterProfiles": profiles
            or [
                {"name": "edge-k3s-infra", "version": "1.3.0"},
                {"name": "nvidia-gpu-operator", "version": "24.6.2"},
            ],
        },
    }


def write(tmp_path, *docs) -> str:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return str(path)


def run(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    except CommandError as exc:  # what manage.py turns into exit status 1
        code = 1
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def test_it_plans_a_manifest_without_creating_anything(pool_project, fast_sim, tmp_path):
    before = len(fast_sim.state.clusters)
    code, out, _ = run("pool_plan", "-f", write(tmp_path, pool_doc()), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["ready"] is True and set(report) >= {"ready", "requirements", "hosts", "request"}
    assert all({"name", "passed", "blocking", "reason"} == set(r) for r in report["requirements"])
    assert len(report["hosts"]["control-plane"]) == 1
    load_spec().validate_request("POST", "/v1/spectroclusters/edge-native", report["request"])
    assert report["request"]["metadata"]["name"] == "acme-research-gpu-pool-a"
    assert ComputePool.objects.count() == 0 and len(fast_sim.state.clusters) == before
    assert not [r for r in fast_sim.seen() if r.method == "POST" and r.path.startswith("/v1/spectroclusters")]


def test_it_exits_1_and_says_why_when_blocked(pool_project, tmp_path):
    doc = pool_doc(cp={"nodeCount": 5, "architecture": "amd64", "cpu": {"cpuCount": 512}})
    code, out, _ = run("pool_plan", "-f", write(tmp_path, doc))
    assert code == 1
    assert "BLOCKED (1 blocking problem)" in out
    assert (
        "✗ Control-plane hosts [blocking]: need 5 control-plane hosts with palette.ai=true, amd64, ≥512 "
        "cores: found 0" in out
    )
    assert "with fewer than 512 cores" in out and "Nothing was created." in out
    code, _, err = run("pool_plan", "-f", write(tmp_path, pool_doc(name="x")))
    assert code == 1 and "3 to 33 characters" in err


def test_it_applies_waits_for_exports_and_deletes_a_pool(world, pool_project, fast_sim, tmp_path):
    path = write(tmp_path, bundle_doc(), pool_doc(name="gpu-pool-b", bundle="edge-gpu"))
    code, out, err = run("apply", "-f", path)
    assert code == 0, err
    assert "profilebundle/edge-gpu -n acme-research created" in out
    assert "computepool/gpu-pool-b -n acme-research created (provisioning started)" in out
    bundle = ProfileBundle.objects.get(name="edge-gpu")
    assert [p["name"] for p in bundle.profiles] == [
        "edge-k3s-infra",
        "nvidia-gpu-operator",
    ] and bundle.profiles[0]["type"] == "infra"
    pool = ComputePool.objects.get(name="gpu-pool-b")
    assert pool.status == ComputePool.PENDING and pool.bundle == bundle
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message
    assert run("pool_wait", "gpu-pool-b", "-n", "acme-research", "--timeout", "5")[0] == 0
    code, out, _ = run("apply", "-f", path)
    assert code == 0 and out.count("unchanged") == 2
    # The plan of an existing pool reuses its own hosts.
    code, out, _ = run("pool_plan", "gpu-pool-b", "-n", "acme-research", "--json")
    assert code == 0 and json.loads(out)["hosts"] == pool.hosts
    exported = list(yaml.safe_load_all(run("export", "-n", "acme-research")[1]))
    kinds = {d["kind"]: d for d in exported if d}
    assert (
        kinds["ComputePool"]["spec"]["clusterVariant"]["dedicated"]["paletteClusterDeploymentConfig"]["vip"]
        == "10.20.99.10"
    )
    assert kinds["ProfileBundle"]["spec"]["clusterProfiles"][0]["uid"] == bundle.profiles[0]["uid"]
    code, out, err = run("delete", "-f", path)
    assert code == 0, err
    assert "computepool/gpu-pool-b -n acme-research deletion started (deleting the Palette cluster)" in out
    assert "profilebundle/edge-gpu -n acme-research deleted" in out
    pool = drive(pool)
    assert pool.status == ComputePool.DELETED and pool.kubeconfig == ""
    assert pool.cleanup["hostsStillInUse"] == [] and pool.cleanup["paletteCluster"].startswith("deleted")
    assert [
        fast_sim.state.cluster_state(c)
        for c in fast_sim.state.clusters.values()
        if c.name == pool.cluster_name
    ] in ([], ["Deleted"])
    hosts = [uid for uids in pool.hosts.values() for uid in uids]
    assert all(fast_sim.state.hosts[uid].state == "ready" for uid in hosts)
    discover(pool_project)
    assert set(EdgeHost.objects.filter(uid__in=hosts).values_list("state", flat=True)) == {"ready"}
    assert run("pool_wait", "gpu-pool-b", "-n", "acme-research", "--timeout", "1")[0] == 1
    # The name and VIP are free again; deleting the Deleted pool's manifest removes its record.
    code, out, _ = run("delete", "-f", write(tmp_path, pool_doc(name="gpu-pool-b", bundle="edge-gpu")))
    assert "record removed" in out and not ComputePool.objects.filter(name="gpu-pool-b").exists()


def test_it_refuses_bundles_whose_profiles_do_not_fit(pool_project, fast_sim, tmp_path):
    eks = (
        ClusterProfile.objects.get(project=pool_project, name="aws-eks-full")
        if ClusterProfile.objects.filter(name="aws-eks-full").exists()
        else None
    )
    full = ClusterProfile.objects.get(project=pool_project, name="edge-k8s-gpu-full")
    infra = ClusterProfile.objects.get(project=pool_project, name="edge-k3s-infra", version="1.3.0")
    profiles = [{"uid": infra.uid}, {"uid": full.uid}]
    code, _, err = run("apply", "-f", write(tmp_path, bundle_doc(profiles=profiles)))
    assert (
        code == 1
        and (
            "exactly one edge-native Infrastructure or Full profile version (found: edge-k3s-infra 1.3.0, "
            "edge-k8s-gpu-full 1.0.0)"
        )
        in err
    )
    code, _, err = run(
        "apply", "-f", write(tmp_path, bundle_doc(profiles=[{"uid": "ffffffffffffffffffffffff"}]))
    )
    assert code == 1 and "does not exist in the project's Palette project" in err
    infra.present = False
    infra.save()
    code, _, err = run("apply", "-f", write(tmp_path, bundle_doc(profiles=[{"uid": infra.uid}])))
    assert code == 1 and "no longer exists in Palette" in err
    code, _, err = run(
        "apply", "-f", write(tmp_path, bundle_doc(profiles=[{"uid": full.uid, "version": "2.0.0"}]))
    )
    assert code == 1 and "each version has its own uid" in err
    # Profiles that a sync skipped (other cloud types) are looked up in Palette and refused with the reason.
    eks_uid = (
        eks.uid if eks else next(p.uid for p in fast_sim.state.profiles.values() if p.name == "aws-eks-full")
    )
    code, _, err = run("apply", "-f", write(tmp_path, bundle_doc(profiles=[{"uid": eks_uid}])))
    assert code == 1 and "not edge-native" in err
    assert not ProfileBundle.objects.filter(name="edge-gpu").exists()


def test_it_refuses_blocked_pools_and_changes_to_provisioned_ones(pool_project, fast_sim, tmp_path):
    pool = new_pool(pool_project)  # VIP 10.20.99.10
    code, _, err = run("apply", "-f", write(tmp_path, pool_doc(name="other-pool")))
    assert code == 1 and "VIP: 10.20.99.10 is already the VIP of pool acme-research/gpu-pool-a" in err
    assert "pool_plan -f FILE" in err and not ComputePool.objects.filter(name="other-pool").exists()
    code, _, err = run("apply", "-f", write(tmp_path, pool_doc(variant="shared")))
    assert code == 1 and "cannot change" in err
    code, _, err = run("apply", "-f", write(tmp_path, pool_doc(vip="10.20.99.11")))
    assert code == 1 and "only its description and labels can change" in err
    doc = pool_doc()
    doc["spec"]["description"] = "GPU pool for team A"
    code, out, _ = run("apply", "-f", write(tmp_path, doc))
    assert code == 0 and "configured" in out
    pool.refresh_from_db()
    assert pool.description == "GPU pool for team A" and pool.status == ComputePool.PENDING


def test_it_writes_no_secret_or_kubeconfig_in_exports(pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.READY
    text = run("export", "-n", "acme-research")[1]
    assert "kind: ComputePool" in text and "apiVersion: v1" not in text.split("kind: ComputePool")[1][:50]
    assert "current-context" not in text and pool.kubeconfig not in text and ED25519.split()[1] in text
    stored = ComputePool.objects.filter(pk=pool.pk).values_list("kubeconfig", flat=True)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT kubeconfig FROM compute_computepool WHERE id = %s", [pool.pk])
        raw = cursor.fetchone()[0]
    assert raw and "apiVersion" not in raw and list(stored)[0].startswith("apiVersion")


@pytest.mark.parametrize(
    "args, message",
    [
        (["pool_plan"], "Give either"),
        (["pool_plan", "x"], "needs -n"),
        (["pool_plan", "x", "-n", "nowhere"], "No project owns"),
    ],
)
def test_it_rejects_bad_pool_plan_arguments(world, args, message):
    with pytest.raises(CommandError, match=message):
        call_command(*args)


def test_it_counts_gpus_of_other_pools_against_the_project_limit(pool_project, fast_sim, tmp_path):
    gpu_worker = [{"name": "gpu", "nodeCount": 1, "architecture": "amd64", "gpu": {"family": "NVIDIA"}}]
    groups = {"palette.ai": "true", "gpu-enabled": "true"}
    first = new_pool(pool_project, workers=gpu_worker, worker_groups=groups)
    first = drive(first)
    assert first.status == ComputePool.READY, first.failure_message
    used = EdgeHost.objects.get(uid=first.hosts["gpu"][0]).gpu_total
    pool_project.gpu_limit = used  # the first pool uses all of it
    pool_project.save()
    code, out, _ = run(
        "pool_plan",
        "-f",
        write(tmp_path, pool_doc(name="second", vip="10.20.99.20", workers=gpu_worker, worker_groups=groups)),
    )
    assert code == 1 and f"with {used} in other pools that exceeds the project limit of {used}" in out


def test_it_waits_and_reports_a_failure_with_its_first_error(pool_project, fast_sim):
    fast_sim.fail_next_create(
        status=400, code="InvalidClusterSpec", message="profile not allowed in this project"
    )
    pool = new_pool(pool_project)
    code, out, _ = run(
        "pool_wait", "gpu-pool-a", "-n", "acme-research", "--timeout", "0.2", "--interval", "0.05"
    )
    assert code == 1 and "Pending" in out
    drive(pool)
    code, _, err = run("pool_wait", "gpu-pool-a", "-n", "acme-research", "--timeout", "5")
    assert (
        code == 1
        and "Failed (Palette rejected the request)" in err
        and "profile not allowed in this project" in err
    )


def test_it_reprovisions_a_failed_pool_whose_spec_changed(pool_project, fast_sim, tmp_path):
    new_pool(pool_project, name="other", vip="10.20.99.30")
    fast_sim.fail_next_create(status=400, code="InvalidClusterSpec", message="VIP outside the site's subnet")
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED
    code, _, err = run("apply", "-f", write(tmp_path, pool_doc(vip="10.20.99.30")))
    assert code == 1 and "10.20.99.30 is already the VIP of pool acme-research/other" in err
    code, out, err = run("apply", "-f", write(tmp_path, pool_doc(vip="10.20.99.31")))
    assert code == 0 and "configured (provisioning again)" in out, err
    pool.refresh_from_db()
    assert pool.vip == "10.20.99.31" and pool.attempt == 2
    pool = drive(pool)
    assert (
        pool.status == ComputePool.READY
        and pool.request["spec"]["cloudConfig"]["controlPlaneEndpoint"]["host"] == "10.20.99.31"
    )


def test_it_keeps_a_project_with_a_pool_that_is_not_deleted_from_being_deleted(
    pool_project, fast_sim, tmp_path
):
    new_pool(pool_project)
    project = {
        "apiVersion": "spectrocloud.com/v1alpha1",
        "kind": "Project",
        "metadata": {"name": "research", "namespace": "acme-research"},
        "spec": {"tenantRef": {"name": "acme"}},
    }
    code, _, err = run("delete", "-f", write(tmp_path, project))
    assert code == 1 and "it has 1 compute pool that is not Deleted: gpu-pool-a (Pending)" in err
    assert ProfileBundle.objects.filter(
        project=pool_project, name="edge-infra"
    ).exists()  # a bundle alone would go along


def test_a_web_user_needs_the_role_the_page_asks_for(world, pool_project):
    """Bundles and pools: project editors, as in the pool wizard; viewers never."""
    from core.manifests import apply_text

    text = yaml.safe_dump(bundle_doc("editor-bundle"))
    assert apply_text(text, user=world.viewer).errors == [
        "manifest: document 1 (ProfileBundle acme-research/editor-bundle): your role does not allow changing "
        "this ProfileBundle."
    ]
    result = apply_text(text, user=world.editor)
    assert result.ok, result.errors
    assert ProfileBundle.objects.filter(project=pool_project, name="editor-bundle").exists()
