"""Seeded, realistic inventories of any size, deterministic for a given seed.

The mix: GPU and CPU-only hosts, several GPU models and counts (NVIDIA A100/H100/L40S/T4/A10,
AMD MI210, Jetson Orin and GH200 on arm64), amd64 and arm64, unpaired and unhealthy hosts, hosts
without the discovery tag ``palette.ai=true``, and hosts in use by seeded Running clusters.
Cluster profiles of each type (infra, cluster/Full, add-on, system), edge-native and not, in
system, tenant and project scope; some profile names have several versions.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from .state import Cluster, Host, Pool, Profile, SimState

_BASE = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)

PROJECT_NAMES = ["Default", "ml-platform", "edge-retail", "research", "factory-floor"]
SITES = ["lab-a", "lab-b", "store-0042", "factory-7", "dc-east"]

# (vendor, model, memory MiB, MIG capable, possible counts)
GPU_MODELS_AMD64 = [
    ("NVIDIA", "GA100 [A100 PCIe 40GB]", 40960, True, (1, 2, 4, 8)),
    ("NVIDIA", "GH100 [H100 PCIe]", 81920, True, (1, 2, 4, 8)),
    ("NVIDIA", "AD102GL [L40S]", 46068, False, (1, 2, 4)),
    ("NVIDIA", "TU104GL [Tesla T4]", 15360, False, (1, 2, 4)),
    ("NVIDIA", "GA102GL [A10]", 23028, False, (1, 2)),
    ("AMD", "Aldebaran/MI200 [Instinct MI210]", 65536, False, (1, 2, 4)),
]
GPU_MODELS_ARM64 = [
    ("NVIDIA", "GA10B [Jetson AGX Orin]", 32768, False, (1,)),
    ("NVIDIA", "GH100 [GH200 480GB]", 97871, True, (1,)),
]


#: Profile variables (v1Variable) by profile name: optional ones with defaults on the shared profiles, and a
#: required one without a default (plus a sensitive one) on a project's own profile.
PROFILE_VARIABLES: dict[str, tuple[dict, ...]] = {
    "edge-k3s-infra": (
        {
            "name": "site",
            "displayName": "Site name",
            "format": "string",
            "inputType": "text",
            "required": False,
            "defaultValue": "lab-a",
            "regex": "^[a-z0-9-]{1,40}$",
        },
    ),
    "edge-k8s-gpu-full": (
        {
            "name": "gpu_time_slices",
            "displayName": "GPU time slices",
            "format": "number",
            "inputType": "text",
            "required": True,
            "defaultValue": "1",
        },
    ),
    "retail-pos-full": (
        {
            "name": "store_id",
            "displayName": "Store ID",
            "format": "string",
            "inputType": "text",
            "required": True,
            "regex": "^[0-9]{4}$",
        },
        {
            "name": "pos_api_token",
            "displayName": "POS API token",
            "format": "string",
            "inputType": "text",
            "required": False,
            "isSensitive": True,
            "immutable": True,
        },
    ),
}


def _uid(rng: random.Random) -> str:
    return f"{rng.getrandbits(96):024x}"


def _ts(rng: random.Random, max_days: int = 200) -> tuple[str, str]:
    created = _BASE - timedelta(seconds=rng.randrange(max_days * 86400))
    modified = created + timedelta(seconds=rng.randrange(3 * 86400))
    fmt = "%Y-%m-%dT%H:%M:%S.{ms:03d}Z"
    return (
        created.strftime(fmt).format(ms=rng.randrange(1000)),
        modified.strftime(fmt).format(ms=rng.randrange(1000)),
    )


def _gpu_entries(rng: random.Random, arch: str) -> list[dict]:
    models = GPU_MODELS_ARM64 if arch == "arm64" else GPU_MODELS_AMD64
    vendor, model, mem, mig, counts = rng.choice(models)
    count = rng.choice(counts)
    bus = rng.randrange(0x10, 0xE0)
    return [
        {
            "vendor": vendor,
            "model": model,
            "gpuCount": count,
            "memory": f"{mem} MiB",
            "migCapable": mig,
            "migStrategy": "single" if mig and rng.random() < 0.3 else "",
            "addresses": {f"{vendor.lower()}{i}": f"0000_{bus + i:02x}_00_0" for i in range(count)},
        }
    ]


def make_host(rng: random.Random, index: int, project_uid: str) -> Host:
    """One realistic host (not yet in use by any cluster).

    The helpers draw from ``rng`` in a fixed order, so a seed always gives the same inventory.
    """
    arch = "arm64" if rng.random() < 0.15 else "amd64"
    has_gpu = rng.random() < (0.5 if arch == "arm64" else 0.55)
    site = rng.choice(SITES)
    if rng.random() < 0.3:
        uid = f"{site}-{'gpu' if has_gpu else 'cpu'}-{index:05d}"
    else:
        uid = f"edge-{rng.getrandbits(128):032x}"
    cores = rng.choice((12, 80, 128) if arch == "arm64" else (8, 16, 32, 64, 96, 128))
    memory_mb = cores * rng.choice((2, 4, 8)) * 1024
    labels, gpus = _labels_and_gpus(rng, site, arch, has_gpu)
    ip, mac, nics = _nics(rng, arch, SITES.index(site) + 10)
    disks = [
        {
            "controller": "NVMe",
            "size": rng.choice((480, 960, 1920, 3840)),
            "vendor": "Samsung",
            "partitions": [],
        }
    ]
    state, health, message = _condition(rng)
    created, modified = _ts(rng)
    return Host(
        uid=uid,
        name=uid,
        project_uid=project_uid,
        labels=labels,
        state=state,
        health=health,
        health_message=message,
        arch=arch,
        cpu_cores=cores,
        memory_mb=memory_mb,
        gpus=gpus,
        nics=nics,
        disks=disks,
        os={
            "family": "kairos-ubuntu",
            "version": "v3.2.4",
            "kernel": "Linux",
            "kernelVersion": "6.8.0-45-generic" if arch == "amd64" else "5.15.148-tegra",
        },
        address=ip,
        mac=mac,
        created=created,
        modified=modified,
    )


def _labels_and_gpus(
    rng: random.Random, site: str, arch: str, has_gpu: bool
) -> tuple[dict[str, str], list[dict]]:
    """A host's tags (site, rack, mostly the discovery tag, sometimes a bare tag) and its GPU entries."""
    labels = {"site": site, "rack": f"r{rng.randrange(1, 40):02d}"}
    if rng.random() < 0.85:
        labels["palette.ai"] = "true"
    gpus = _gpu_entries(rng, arch) if has_gpu else []
    if gpus:
        labels["gpu-enabled"] = "true"
    if rng.random() < 0.05:
        labels["canary"] = "spectro__tag"  # a bare tag
    return labels, gpus


def _mac(rng: random.Random) -> str:
    return "00:50:56:" + ":".join(f"{rng.randrange(256):02x}" for _ in range(3))


def _nics(rng: random.Random, arch: str, site_no: int) -> tuple[str, str, list[dict]]:
    """(address, MAC, NICs): the default NIC on the site's network, sometimes a second, unconfigured one."""
    ip = f"10.{site_no}.{rng.randrange(0, 255)}.{rng.randrange(2, 254)}"
    mac = _mac(rng)
    nics = [
        {
            "nicName": "enp1s0" if arch == "amd64" else "eth0",
            "ip": ip,
            "subnet": "255.255.255.0",
            "gateway": ip.rsplit(".", 1)[0] + ".1",
            "dns": [f"10.{site_no}.0.53"],
            "macAddr": mac,
            "isDefault": True,
        }
    ]
    if rng.random() < 0.3:
        nics.append(
            {
                "nicName": "enp2s0",
                "ip": "",
                "subnet": "",
                "gateway": "",
                "dns": [],
                "macAddr": _mac(rng),
                "isDefault": False,
            }
        )
    return ip, mac, nics


def _condition(rng: random.Random) -> tuple[str, str, str]:
    """(state, health, health message): mostly ready and healthy, some unpaired, some unhealthy."""
    roll = rng.random()
    if roll < 0.08:
        return "unpaired", "healthy", ""
    if roll < 0.15:
        message = rng.choice(
            ["edge host agent heartbeat missed", "disk pressure on /", "NTP not synchronised"]
        )
        return "ready", "unhealthy", message
    return "ready", "healthy", ""


def _pack(rng: random.Random, name: str, tag: str, layer: str, kind: str = "spectro") -> dict:
    return {
        "name": name,
        "tag": tag,
        "layer": layer,
        "type": kind,
        "packUid": _uid(rng),
        "registryUid": "5eecc89d0b150045ae661cef",
        "values": f"# {name} {tag} values\npack:\n  namespace: {name}\n",
    }


def _profiles(rng: random.Random, project_uids: list[str]) -> list[Profile]:
    os_byoi = ("edge-native-byoi", "2.1.0", "os")
    os_ubuntu = ("edge-native-ubuntu", "22.04", "os")
    k3s = ("edge-k3s", "1.30.4", "k8s")
    k8s = ("edge-k8s", "1.30.5", "k8s")
    rke2 = ("edge-rke2", "1.30.6", "k8s")
    calico = ("cni-calico", "3.28.0", "cni")
    cilium = ("cni-cilium-oss", "1.16.1", "cni")
    localpath = ("csi-local-path-provisioner", "0.0.28", "csi")
    gpu_op = ("nvidia-gpu-operator", "24.6.2", "addon")
    prom = ("prometheus-operator", "61.3.2", "addon")
    kubeflow = ("kubeflow", "1.9.0", "addon")
    # (name, version, cloud type, profile type, scope, project index, packs)
    table = [
        ("edge-k3s-infra", "1.2.0", "edge-native", "infra", "tenant", None, [os_byoi, k3s, calico]),
        ("edge-k3s-infra", "1.3.0", "edge-native", "infra", "tenant", None, [os_byoi, k3s, calico]),
        (
            "edge-k8s-gpu-full",
            "1.0.0",
            "edge-native",
            "cluster",
            "tenant",
            None,
            [os_ubuntu, k8s, cilium, localpath, gpu_op],
        ),
        ("nvidia-gpu-operator", "24.6.2", "edge-native", "add-on", "tenant", None, [gpu_op]),
        ("monitoring", "1.0.0", "all", "add-on", "tenant", None, [prom]),
        ("edge-private-gateway", "1.0.0", "edge-native", "system", "system", None, [os_byoi, k3s]),
        (
            "aws-eks-full",
            "1.0.0",
            "eks",
            "cluster",
            "tenant",
            None,
            [("kubernetes-eks", "1.30", "k8s"), cilium],
        ),
        ("vsphere-infra", "1.1.0", "vsphere", "infra", "tenant", None, [os_ubuntu, k8s, calico]),
        ("edge-rke2-infra", "2.0.0", "edge-native", "infra", "project", 0, [os_byoi, rke2, cilium]),
        ("kubeflow-addon", "1.9.0", "edge-native", "add-on", "project", 0, [kubeflow]),
        (
            "retail-pos-full",
            "0.9.1",
            "edge-native",
            "cluster",
            "project",
            min(2, len(project_uids) - 1),
            [os_ubuntu, k3s, calico, localpath],
        ),
    ]
    out = []
    for name, version, cloud, ptype, scope, pidx, packs in table:
        created, _ = _ts(rng, 400)
        out.append(
            Profile(
                uid=_uid(rng),
                name=name,
                version=version,
                cloud_type=cloud,
                type=ptype,
                scope=scope,
                project_uid=project_uids[pidx] if pidx is not None else "",
                packs=[_pack(rng, n, t, layer) for n, t, layer in packs],
                created=created,
                labels={"team": "platform"} if scope == "tenant" else {},
                variables=[dict(v) for v in PROFILE_VARIABLES.get(name, ())],
            )
        )
    return out


def seed_inventory(state: SimState, *, hosts: int = 60, seed: int = 1, projects: int = 3) -> None:
    """Fill ``state`` with projects, ``hosts`` edge hosts, profiles and some Running clusters."""
    rng = random.Random(seed)
    state.tenant_uid = _uid(rng)
    state.user_uid = _uid(rng)
    project_objs = []
    for name in PROJECT_NAMES[: max(1, min(projects, len(PROJECT_NAMES)))]:
        created, _ = _ts(rng, 500)
        project_objs.append(state.add_project(name, uid=_uid(rng), created=created))
    weights = [0.7, 0.2, 0.1, 0.05, 0.05][: len(project_objs)]
    for i in range(hosts):
        project = rng.choices(project_objs, weights=weights)[0]
        host = make_host(rng, i, project.uid)
        while host.uid in state.hosts:  # a site-style name collided: fall back to a device id
            host.uid = host.name = f"edge-{rng.getrandbits(128):032x}"
        state.add_host(host)
    profiles = _profiles(rng, [p.uid for p in project_objs])
    for profile in profiles:
        state.add_profile(profile)

    # Running clusters that hold some hosts ("in-use"), built from the first project's profiles.
    infra = next(
        p for p in profiles if p.type == "infra" and p.cloud_type == "edge-native" and p.version == "1.3.0"
    )
    addon = next(p for p in profiles if p.name == "nvidia-gpu-operator")
    free = sorted(
        (h for h in state.hosts.values() if h.state == "ready" and h.health == "healthy"), key=lambda h: h.uid
    )
    rng.shuffle(free)
    for n in range(min(40, hosts // 25)):
        size = rng.choice((1, 1, 2, 3))
        first = free[0] if free else None
        if first is None:
            break
        members = [h for h in free if h.project_uid == first.project_uid and h.arch == first.arch][:size]
        for h in members:
            free.remove(h)
        created, _ = _ts(rng, 60)
        when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        pools = [
            Pool(
                name="control-plane-pool",
                control_plane=True,
                host_uids=[members[0].uid],
                labels=["control-plane"],
                arch=first.arch,
            )
        ]
        if len(members) > 1:
            pools.append(
                Pool(
                    name="worker-pool",
                    control_plane=False,
                    host_uids=[h.uid for h in members[1:]],
                    labels=["worker"],
                    arch=first.arch,
                )
            )
        profile_uids = [infra.uid] + ([addon.uid] if any(h.gpus for h in members) else [])
        state.add_cluster(
            Cluster(
                uid=_uid(rng),
                name=f"edge-cluster-{n + 1:02d}",
                project_uid=first.project_uid,
                labels={"env": rng.choice(["prod", "staging"])},
                annotations={"description": "seeded"},
                profile_uids=profile_uids,
                pools=pools,
                vip=f"10.99.{n // 250}.{n % 250 + 2}",
                created_at=when,
                created=created,
                cloud_config_uid=_uid(rng),
            )
        )
