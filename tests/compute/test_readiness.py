"""The readiness evaluator (pure: no database, no Palette) and the pool spec rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from compute.bundles import ProfileInfo
from compute.readiness import HostFacts, Inputs, Integration, evaluate
from compute.spec import GpuRequirement, parse_spec
from palette.spec import load_spec
from tests.compute.pool_fixtures import ED25519, RSA_1024, manifest_spec

NOW = datetime(2026, 3, 2, 15, 30, tzinfo=UTC)
BASE = ProfileInfo("0a1b2c3d4e5f60718293a4b5", "edge-k3s-infra", "1.3.0", "infra", "edge-native")
ADDON = ProfileInfo("1a1b2c3d4e5f60718293a4b5", "nvidia-gpu-operator", "24.6.2", "add-on", "edge-native")
TAGS = {"palette.ai": "true"}
A100 = {"vendor": "NVIDIA", "model": "GA100 [A100 PCIe 40GB]", "count": 2, "memoryMiB": 40960}
H100 = {"vendor": "NVIDIA", "model": "GH100 [H100 PCIe]", "count": 4, "memoryMiB": 81920}
MI210 = {"vendor": "AMD", "model": "Aldebaran/MI200 [Instinct MI210]", "count": 2, "memoryMiB": 65536}


def host(uid: str, cores: int = 8, memory: int = 16384, gpus=(), tags=None, **kwargs) -> HostFacts:
    return HostFacts(
        uid=uid,
        name=uid,
        cpu_cores=cores,
        memory_mib=memory,
        gpus=tuple(gpus),
        tags=dict(TAGS if tags is None else tags),
        **kwargs,
    )


def spec(**kwargs):
    parsed, problems = parse_spec(manifest_spec(**kwargs), name="gpu-pool-a", namespace="acme-research")
    assert not problems, list(problems)
    return parsed


def inputs(hosts, **kwargs) -> Inputs:
    values = dict(
        spec=spec(),
        cluster_name="acme-research-gpu-pool-a",
        hosts=tuple(hosts),
        bundle=(BASE,),
        bundle_type="Infrastructure",
        integration=Integration(True, True, (), "connected", "https://palette.example.com"),
        last_discovery=NOW - timedelta(seconds=30),
        now=NOW,
    )
    values.update(kwargs)
    return Inputs(**values)


def requirement(report, name):
    return next(r for r in report.requirements if r.name == name)


def test_it_is_ready_and_picks_the_smallest_hosts_deterministically():
    hosts = [
        host("big", cores=64, memory=262144),
        host("small-b", cores=8),
        host("small-a", cores=8),
        host("gpu", gpus=[A100]),
    ]
    report = evaluate(
        inputs(hosts, spec=spec(cp={"nodeCount": 3, "architecture": "amd64", "cpu": {"cpuCount": 4}}))
    )
    assert report.ready, report.summary()
    assert report.hosts == {"control-plane": ["small-a", "small-b", "big"]}
    # The same inputs in another order give the same choice.
    assert (
        evaluate(inputs(list(reversed(hosts)), spec=spec(cp={"nodeCount": 3, "cpu": {"cpuCount": 4}}))).hosts
        == report.hosts
    )
    body = report.request
    load_spec().validate_request("POST", "/v1/spectroclusters/edge-native", body)
    pools = body["spec"]["machinepoolconfig"]
    assert pools[0]["poolConfig"]["isControlPlane"] and pools[0]["poolConfig"]["size"] == 3
    assert body["spec"]["cloudConfig"]["controlPlaneEndpoint"] == {"type": "VIP", "host": "10.20.99.10"}
    assert (
        body["spec"]["profiles"] == [{"uid": BASE.uid}]
        and body["metadata"]["name"] == "acme-research-gpu-pool-a"
    )
    assert report.to_json()["ready"] is True and set(report.to_json()) == {
        "ready",
        "clusterName",
        "requirements",
        "hosts",
        "request",
    }


def test_it_explains_a_control_plane_shortage_with_the_near_misses():
    hosts = [
        host(
            "edge-0123456789abcdef0123456789abcfa0",
            health="unhealthy",
            health_message="disk pressure on /",
            unhealthy_since=datetime(2026, 3, 2, 14, 2, tzinfo=UTC),
        ),
        host("edge-0123456789abcdef01234567890000e1", state="in-use", clusters=("ml-a",)),
        host("ok-1"),
        host("ok-2"),
        host("tiny", cores=2),
        host("untagged", tags={}),
    ]
    report = evaluate(
        inputs(hosts, spec=spec(cp={"nodeCount": 3, "architecture": "amd64", "cpu": {"cpuCount": 4}}))
    )
    assert not report.ready
    reason = requirement(report, "Control-plane hosts").reason
    assert reason.startswith("need 3 control-plane hosts with palette.ai=true, amd64, ≥4 cores: found 2 — ")
    assert (
        "edge-…fa0 unhealthy since 15:02 (disk pressure on /)" in reason
        or "edge-…fa0 unhealthy since 14:02 (disk pressure on /)" in reason
    )
    assert "edge-…0e1 in use by ml-a" in reason
    assert [r.name for r in report.blocking_failures] == ["Control-plane hosts"]
    assert report.host_shortage


def test_it_matches_gpu_families_and_per_host_minimums():
    assert GpuRequirement("NVIDIA-A100").matches(A100) and not GpuRequirement("NVIDIA-A100").matches(H100)
    assert GpuRequirement("NVIDIA").matches(H100) and GpuRequirement("nvidia-a100").matches(A100)
    assert not GpuRequirement("NVIDIA").matches(MI210) and GpuRequirement("AMD-MI210").matches(MI210)
    assert GpuRequirement("NVIDIA-A100", count=2, memory_mib=40960).usable_count([A100]) == 2
    assert GpuRequirement("NVIDIA-A100", memory_mib=81920).usable_count([A100]) == 0
    gpu_pool = {
        "name": "gpu",
        "nodeCount": 2,
        "architecture": "amd64",
        "gpu": {"family": "NVIDIA-A100", "gpuCount": 2, "gpuMemory": 40960},
    }
    hosts = [
        host("cp"),
        host("a100-1", gpus=[A100], tags={**TAGS, "gpu-enabled": "true"}),
        host("a100-2", gpus=[A100], tags={**TAGS, "gpu-enabled": "true"}),
        host("h100", gpus=[H100], tags={**TAGS, "gpu-enabled": "true"}),
        host("amd", gpus=[MI210], tags={**TAGS, "gpu-enabled": "true"}),
    ]
    report = evaluate(
        inputs(
            hosts, spec=spec(workers=[gpu_pool], worker_groups={"palette.ai": "true", "gpu-enabled": "true"})
        )
    )
    assert report.ready, report.summary()
    assert report.hosts == {"control-plane": ["cp"], "gpu": ["a100-1", "a100-2"]}
    # Three hosts per pool: the reason says what the other hosts lack.
    report = evaluate(
        inputs(
            hosts,
            spec=spec(
                workers=[{**gpu_pool, "nodeCount": 3}],
                worker_groups={"palette.ai": "true", "gpu-enabled": "true"},
            ),
        )
    )
    reason = requirement(report, "Worker pool gpu hosts").reason
    assert (
        "need 3 worker pool gpu hosts with palette.ai=true, gpu-enabled=true, amd64, 2× NVIDIA-A100 GPU "
        "≥40 GiB: found 2" in reason
    )
    assert "of the other hosts, 2 without NVIDIA-A100 GPUs; 1 without tag gpu-enabled=true" in reason


def test_it_keeps_matching_hosts_for_the_most_constrained_pool_and_says_what_was_taken():
    hosts = [host("a"), host("b"), host("c")]
    workers = [{"name": "cpu", "nodeCount": 2, "architecture": "amd64"}]
    report = evaluate(inputs(hosts, spec=spec(cp={"nodeCount": 3, "architecture": "amd64"}, workers=workers)))
    reason = requirement(report, "Worker pool cpu hosts").reason
    assert "found 0" in reason and "3 matching hosts already chosen for control-plane" in reason


def test_it_refuses_vips_in_use_or_owned_by_a_host():
    report = evaluate(inputs([host("a")], vips_in_use={"10.20.99.10": "acme-research/other"}))
    assert (
        "already the VIP of pool acme-research/other" in requirement(report, "VIP").reason
        and not report.ready
    )
    report = evaluate(inputs([host("a", ip="10.20.99.10")]))
    assert "is the address of edge host a" in requirement(report, "VIP").reason and not report.ready


def test_it_needs_a_working_integration_and_warns_about_a_failed_check():
    report = evaluate(inputs([host("a")], integration=Integration(False, False)))
    assert requirement(report, "Palette integration").blocking and not report.ready
    report = evaluate(
        inputs([host("a")], integration=Integration(True, True, (), "failed", "https://p.example.com"))
    )
    r = requirement(report, "Palette integration")
    assert (
        not r.passed
        and not r.blocking
        and report.ready
        and "last connection check to https://p.example.com was failed" in r.reason
    )


def test_it_checks_the_bundle():
    assert (
        "does not exist" in requirement(evaluate(inputs([host("a")], bundle=None)), "Profile bundle").reason
    )
    gone = ProfileInfo(BASE.uid, BASE.name, BASE.version, "infra", "edge-native", present=False)
    r = requirement(evaluate(inputs([host("a")], bundle=(gone,))), "Profile bundle")
    assert (
        not r.passed and r.blocking and "edge-k3s-infra 1.3.0, which no longer exist in Palette" in r.reason
    )
    two = requirement(evaluate(inputs([host("a")], bundle=(BASE, BASE))), "Profile bundle")
    assert "exactly one Infrastructure or Full profile (has 2)" in two.reason
    ok = evaluate(inputs([host("a")], bundle=(BASE, ADDON)))
    assert ok.ready and ok.request["spec"]["profiles"] == [{"uid": BASE.uid}, {"uid": ADDON.uid}]


def test_it_enforces_gpu_limits():
    gpu_pool = {"name": "gpu", "nodeCount": 1, "architecture": "amd64", "gpu": {"family": "NVIDIA"}}
    hosts = [host("cp"), host("g", gpus=[H100])]
    report = evaluate(inputs(hosts, spec=spec(workers=[gpu_pool]), gpu_limit=6, gpus_in_use=4))
    r = requirement(report, "GPU limit")
    assert (
        not r.passed and "carry 4 GPUs; with 4 in other pools that exceeds the project limit of 6" in r.reason
    )
    assert evaluate(inputs(hosts, spec=spec(workers=[gpu_pool]), gpu_limit=8, gpus_in_use=4)).ready


def test_it_judges_the_inventory_age():
    assert not requirement(
        evaluate(inputs([host("a")], last_discovery=NOW - timedelta(hours=2))), "Inventory"
    ).blocking
    r = requirement(evaluate(inputs([], last_discovery=None)), "Inventory")
    assert r.blocking and not r.passed and "run discovery" in r.reason


def test_it_prefers_pinned_hosts_avoids_excluded_ones_and_reuses_its_own():
    hosts = [
        host("a"),
        host("b", cores=16),
        host("c", state="in-use", clusters=("acme-research-gpu-pool-a",)),
        host("d", reserved_by="other"),
    ]
    assert evaluate(inputs(hosts, pinned={"control-plane": ["b"]})).hosts == {"control-plane": ["b"]}
    assert evaluate(inputs(hosts, excluded=("a",))).hosts == {"control-plane": ["b"]}
    report = evaluate(inputs(hosts, excluded=("a", "b"), own_clusters=("acme-research-gpu-pool-a",)))
    assert report.hosts == {"control-plane": ["c"]}
    report = evaluate(inputs([host("d", reserved_by="other"), host("a")], excluded=("a",)))
    assert "d reserved by pool other" in requirement(report, "Control-plane hosts").reason
    assert "a refused by Palette for this pool" in requirement(report, "Control-plane hosts").reason


def test_it_warns_about_single_nodes_and_missing_ssh_keys():
    report = evaluate(inputs([host("a")], spec=spec(ssh_keys=[])))
    assert report.ready
    assert {r.name for r in report.warnings} == {"Control plane", "SSH keys"}


@pytest.mark.parametrize(
    "change, path, message",
    [
        ({"name": "ab"}, "metadata.name", "3 to 33 characters"),
        ({"name": "Gpu-pool"}, "metadata.name", "lowercase letters"),
        ({"name": "9pool"}, "metadata.name", "starting with a letter"),
        ({"cp": {"nodeCount": 2}}, "controlPlanePool.nodeCount", "must be 1, 3 or 5"),
        ({"cp": {"nodeCount": 1, "workerNodeEligible": False}}, "workerNodeEligible", "must run workloads"),
        ({"cp": {"nodeCount": 3, "architecture": "riscv"}}, "architecture", "amd64, arm64"),
        ({"vip": "10.20.300.1"}, "vip", "not an IPv4 address"),
        ({"vip": "127.0.0.1"}, "vip", "cannot be a cluster endpoint"),
        ({"ssh_keys": ["ssh-ed25519 not-base64!!"]}, "sshKeys[0]", "not valid base64"),
        ({"ssh_keys": [ED25519.replace("ssh-ed25519", "ssh-rsa")]}, "sshKeys[0]", "not a ssh-rsa key"),
        ({"ssh_keys": ["ssh-dss AAAAB3NzaC1kc3M="]}, "sshKeys[0]", "not accepted"),
        ({"ssh_keys": ["-----BEGIN OPENSSH PRIVATE KEY----- abc"]}, "sshKeys[0]", "private key"),
        ({"ssh_keys": [RSA_1024]}, "sshKeys[0]", "1024 bits"),
        ({"workers": [{"name": "gpu", "gpu": {"family": "NVIDIA A100!"}}]}, "gpu.family", "VENDOR-MODEL"),
        ({"workers": [{"name": "control-plane"}]}, "workerPools[0].name", "control plane's pool"),
        ({"workers": [{"name": "a"}, {"name": "a"}]}, "workerPools[1].name", "listed twice"),
        ({"policy": "retain"}, "spec.deletionPolicy", "delete (remove the Palette cluster) or orphan"),
        ({"cp_groups": {"palette.ai": True}}, "controlPlaneResourceGroups", "quote values"),
    ],
)
def test_it_reports_each_spec_problem_with_its_path(change, path, message):
    name = change.pop("name", "gpu-pool-a")
    _, problems = parse_spec(manifest_spec(**change), name=name, namespace="acme-research")
    found = list(problems)
    assert any(path in p and message in m for p, m in found), found


def test_it_refuses_two_variants_and_unknown_fields():
    body = manifest_spec()
    body["clusterVariant"]["shared"] = body["clusterVariant"]["dedicated"]
    body["vipAddress"] = "x"
    _, problems = parse_spec(body, name="gpu-pool-a", namespace="acme-research")
    messages = dict(problems)
    assert "exactly one of dedicated or shared" in messages["spec.clusterVariant"]
    assert "unknown field" in messages["spec.vipAddress"]


def test_it_round_trips_a_spec_through_its_manifest():
    workers = [
        {
            "name": "gpu",
            "nodeCount": 2,
            "architecture": "amd64",
            "cpu": {"cpuCount": 8},
            "memory": {"memoryMiB": 32768},
            "gpu": {"family": "NVIDIA-A100", "gpuCount": 1, "gpuMemory": 40960},
        }
    ]
    first = spec(workers=workers, worker_groups={"palette.ai": "true", "gpu-enabled": "true"})
    again, problems = parse_spec(first.to_manifest()["spec"], name=first.name, namespace=first.namespace)
    assert not problems and again == first
