"""Shared helpers for the compute pool tests: a fast simulator, a discovered project with a bundle, a step
driver."""

from __future__ import annotations

import ipaddress
import re
import time

import pytest

from compute.discovery import run_discovery
from compute.models import ComputePool, DiscoveryRun, ProfileBundle, ProfileSync
from compute.profiles import sync_profiles
from compute.provisioning import create_pool, run_step
from compute.spec import parse_spec
from core.tasks import create_or_active
from palette.sim import Timings
from palette.sim.state import Host as SimHost

# Palette's phases and lags, shortened alike: the kubeconfig is an empty file (hasKubeConfig false) for 0.3 s
# after Running.
FAST = Timings(pending=0.2, provisioning=0.5, deleting=0.4, deleted_visible=0.4, kubeconfig_lag=0.3)
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINAHXoGk/WyTafdG7JGQiDJkse1qdCdUhcnDzMQwUvKA admin@example.com"
RSA_1024 = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDEu+lp6hsSOzWz5qEFLHpNMutwYuwhLz4lxn7RTHlJ/JkSIyMVlIQ7ILbQiuCI2BeP"
    "1GSzX0IrojFd7yHNEWl95FOQcTp2QYPmiYN1mSDZQ0RKAlUFMLwZS1VL5nHPlqTkeDB/6IWVJDNgmBZPskLPqTN4v+AGM04jFkZVDJi+"
    "HQ== old@example.com"
)


def fast_pool_settings(settings) -> None:
    settings.POOL_POLL_INTERVAL = 0.05
    settings.POOL_RETRY_BASE = 0.05
    settings.POOL_RETRY_CAP = 0.2
    settings.POOL_RELEASE_WAIT = 3
    settings.POOL_PROVISION_TIMEOUT = 60
    settings.POOL_FORCE_DELETE_AFTER = 600


def discover(project):
    """Discover now; a run already pending (e.g. the one a pool deletion asked for) is performed here."""
    run = run_discovery(create_or_active(DiscoveryRun, {"project": project}, trigger="test")[0])
    assert run.status == "succeeded", run.first_error
    return run


def make_bundle(
    project, name: str = "edge-infra", profile_name: str = "edge-k3s-infra", version: str = "1.3.0"
) -> ProfileBundle:
    from compute.models import ClusterProfile

    if not ClusterProfile.objects.filter(project=project).exists():
        assert sync_profiles(ProfileSync.objects.create(project=project)).status == "succeeded"
    base = ClusterProfile.objects.get(project=project, name=profile_name, version=version)
    return ProfileBundle.objects.create(
        project=project,
        name=name,
        bundle_type="Infrastructure",
        version="1",
        profiles=[{"uid": base.uid, "name": base.name, "version": base.version, "type": base.profile_type}],
    )


def manifest_spec(
    *,
    cp: dict | None = None,
    workers: list | None = None,
    vip: str = "10.20.99.10",
    bundle: str = "edge-infra",
    variant: str = "dedicated",
    cp_groups: dict | None = None,
    worker_groups: dict | None = None,
    ssh_keys: list | None = None,
    policy: str = "delete",
) -> dict:
    return {
        "profileBundleRef": {"name": bundle},
        "clusterVariant": {
            "controlPlaneResourceGroups": cp_groups if cp_groups is not None else {"palette.ai": "true"},
            "workerResourceGroups": worker_groups if worker_groups is not None else {"palette.ai": "true"},
            variant: {
                "paletteClusterDeploymentConfig": {
                    "cloudType": "edge-native",
                    "vip": vip,
                    "nodePoolRequirements": {
                        "controlPlanePool": cp
                        or {
                            "nodeCount": 1,
                            "workerNodeEligible": True,
                            "architecture": "amd64",
                            "cpu": {"cpuCount": 4},
                            "memory": {"memoryMiB": 8192},
                        },
                        "workerPools": workers or [],
                    },
                }
            },
        },
        "sshKeys": [ED25519] if ssh_keys is None else ssh_keys,
        "deletionPolicy": policy,
    }


def spec_for(project, name: str = "gpu-pool-a", **kwargs):
    spec, problems = parse_spec(manifest_spec(**kwargs), name=name, namespace=project.namespace)
    assert not problems, list(problems)
    return spec


def new_pool(project, name: str = "gpu-pool-a", **kwargs) -> ComputePool:
    spec = spec_for(project, name, **kwargs)
    bundle = ProfileBundle.objects.get(project=project, name=spec.bundle)
    return create_pool(project, spec, bundle, source="test")


def drive(pool: ComputePool, timeout: float = 30.0, until=None) -> ComputePool:
    """Run the pool's steps in this process (task bodies as functions), sleeping the countdowns."""
    pool.refresh_from_db()
    tick = pool.tick
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        following = run_step(pool.pk, tick)
        if following is None:
            break
        tick = following.tick
        if until is not None:
            pool.refresh_from_db()
            if until(pool):
                return pool
        time.sleep(min(following.countdown, 0.5))
    else:
        pytest.fail(f"pool did not finish within {timeout}s")
    pool.refresh_from_db()
    return pool


def wizard_vip(client, tenant: str = "acme", project: str = "research") -> str:
    """A free address in the first subnet the wizard's Network step shows for the draft (the subnets of the
    hosts it would use, as the simulator reports them): no host's address, no pool's VIP."""
    from django.urls import reverse

    from compute.models import EdgeHost

    page = client.get(reverse("compute:pool_wizard", args=[tenant, project, "network"])).content.decode()
    found = re.search(r'<code class="subnet">([^<]+)</code>', page)
    assert found, "the Network step shows the hosts' subnets"
    taken = set(EdgeHost.objects.values_list("ip", flat=True))
    taken |= set(ComputePool.objects.exclude(status=ComputePool.DELETED).values_list("vip", flat=True))
    return next(
        str(a) for a in reversed(list(ipaddress.IPv4Network(found.group(1)).hosts())) if str(a) not in taken
    )


def add_host(sim, uid: str, **kwargs) -> SimHost:
    values = dict(
        uid=uid,
        name=uid,
        project_uid=sim.project_uids[0],
        labels={"palette.ai": "true"},
        cpu_cores=8,
        memory_mb=16384,
        address="10.50.0.10",
    )
    values.update(kwargs)
    return sim.state.add_host(SimHost(**values))


@pytest.fixture
def fast_sim(sim):
    """The compute simulator with short cluster phases, checking every response it sends against the spec."""
    sim.state.timings = FAST
    sim.validate = True
    yield sim
    assert sim.violations == []


@pytest.fixture
def pool_project(world, connected_project, fast_sim, settings):
    """The connected project, discovered, with profiles synced and bundle edge-infra (edge-k3s-infra
    1.3.0)."""
    fast_pool_settings(settings)
    discover(connected_project)
    make_bundle(connected_project)
    return connected_project
