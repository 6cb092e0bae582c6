"""JSON shapes the simulator answers with, exactly as the spec subset defines them."""

from __future__ import annotations

import time
from typing import Any

from .state import Cluster, Host, KeyPolicy, Pool, Profile, Registry, SimState, now_iso, version_key


def _meta(
    uid: str,
    name: str,
    created: str,
    modified: str = "",
    labels: dict | None = None,
    annotations: dict | None = None,
) -> dict[str, Any]:
    return {
        "uid": uid,
        "name": name,
        "labels": dict(labels or {}),
        "annotations": dict(annotations or {}),
        "creationTimestamp": created,
        "lastModifiedTimestamp": modified or created,
    }


def _device(host: Host) -> dict[str, Any]:
    if host.state == "unpaired":
        # A pre-registered host has not reported its hardware yet.
        return {
            "archType": host.arch,
            "hostType": "appliance",
            "hostState": "registration",
            "secureBoot": False,
        }
    return {
        "archType": host.arch,
        "hostType": "appliance",
        "hostState": "cluster" if host.cluster else "registration",
        "secureBoot": False,
        "cpu": {"cores": host.cpu_cores},
        "memory": {"sizeInMB": host.memory_mb},
        "gpus": [dict(g) for g in host.gpus],
        "disks": [dict(d) for d in host.disks],
        "nics": [dict(n) for n in host.nics],
        "os": dict(host.os),
    }


def _health(host: Host) -> dict[str, Any]:
    if host.state == "unpaired":
        return {"agentVersion": "", "message": "edge host has not paired yet"}
    return {"state": host.health, "agentVersion": host.agent_version, "message": host.health_message}


def _in_use(state: SimState, host: Host) -> tuple[list, list]:
    # The host's state turns in-use at the create, but nothing documents when inUseClusters is filled: it may
    # lag behind the create answer (docs/palette-behaviour.md §8, inferred), so a client must not rely on it
    # alone.
    if not state.in_use_visible(host):
        return [], []
    uid, name = host.cluster
    return [{"uid": uid, "name": name}], [{"uid": uid, "name": name}]


def _status(state: SimState, host: Host) -> dict[str, Any]:
    """The status both host renderings share: state, health and the clusters using the host."""
    in_use, in_use_ref = _in_use(state, host)
    return {
        "state": host.state,
        "health": _health(host),
        "inUseClusters": in_use,
        "inUseClustersRef": in_use_ref,
    }


def host_summary(state: SimState, host: Host) -> dict[str, Any]:
    """v1EdgeHostsMetadata (an item of the edge host search)."""
    project = state.projects[host.project_uid]
    return {
        "metadata": _meta(host.uid, host.name, host.created, host.modified, host.labels),
        "spec": {
            "type": "edge-native",
            "projectMeta": {"name": project.name, "uid": project.uid},
            "host": {"hostAddress": host.address, "macAddress": host.mac},
            "device": _device(host),
            "clusterProfileTemplates": [],
        },
        "status": _status(state, host),
    }


def host_device(state: SimState, host: Host) -> dict[str, Any]:
    """v1EdgeHostDevice (``GET /v1/edgehosts/{uid}`` and a cluster's host list)."""
    project = state.projects[host.project_uid]
    return {
        "aclmeta": {"ownerUid": state.user_uid, "projectUid": project.uid, "tenantUid": state.tenant_uid},
        "metadata": _meta(host.uid, host.name, host.created, host.modified, host.labels),
        "spec": {
            "type": "edge-native",
            "host": {
                "hostUid": host.uid,
                "hostAddress": host.address,
                "macAddress": host.mac,
                "project": {"name": project.name, "uid": project.uid},
                "remoteSsh": "disabled",
            },
            "device": _device(host),
            "properties": {"networks": [], "storagePools": []},
            "service": {"name": "stylus", "version": host.agent_version},
            "tunnelConfig": {"remoteSsh": "disabled", "remoteSshTempUser": "disabled"},
            "version": host.agent_version,
            "clusterProfileTemplates": [],
        },
        "status": {
            **_status(state, host),
            "packs": [],
            "profileStatus": {"hasUserMacros": False},
        },
    }


def _versions(state: SimState, profile: Profile) -> list[dict[str, str]]:
    same = [
        p
        for p in state.profiles.values()
        if p.name == profile.name and p.scope == profile.scope and p.project_uid == profile.project_uid
    ]
    return [{"uid": p.uid, "version": p.version} for p in sorted(same, key=lambda p: version_key(p.version))]


def _profile_meta(profile: Profile) -> dict[str, Any]:
    """The metadata of a profile version, as the search and the GET both show it (scope as an annotation)."""
    scope = {"scope": profile.scope}
    return _meta(profile.uid, profile.name, profile.created, labels=profile.labels, annotations=scope)


def _profile_clusters(state: SimState, profile: Profile) -> list[Cluster]:
    return [c for c in state.clusters.values() if profile.uid in c.profile_uids]


def profile_summary(state: SimState, profile: Profile) -> dict[str, Any]:
    """v1ClusterProfileSummary (an item of the cluster profile search)."""
    clusters = _profile_clusters(state, profile)
    return {
        "metadata": _profile_meta(profile),
        "specSummary": {
            "version": profile.version,
            "versions": _versions(state, profile),
            "published": {
                "cloudType": profile.cloud_type,
                "type": profile.type,
                "packs": [
                    {
                        "name": p["name"],
                        "tag": p["tag"],
                        "layer": p["layer"],
                        "type": p["type"],
                        "packUid": p["packUid"],
                        "displayName": p["name"],
                        "version": p["tag"],
                    }
                    for p in profile.packs
                ],
            },
        },
        "status": {
            "isPublished": True,
            "inUseClusters": [{"uid": c.uid, "name": c.name} for c in clusters],
            "inUseClusterUids": [c.uid for c in clusters],
            "fips": {"mode": "none"},
        },
    }


def profile_full(state: SimState, profile: Profile) -> dict[str, Any]:
    """v1ClusterProfile (``GET /v1/clusterprofiles/{uid}``)."""
    clusters = _profile_clusters(state, profile)
    template = {
        "cloudType": profile.cloud_type,
        "type": profile.type,
        "name": profile.name,
        "uid": profile.uid,
        "profileVersion": profile.version,
        "version": 1,
        "packs": [dict(p, manifests=[]) for p in profile.packs],
    }
    return {
        "apiVersion": "v1",
        "kind": "ClusterProfile",
        "metadata": _profile_meta(profile),
        "spec": {"version": profile.version, "versions": _versions(state, profile), "published": template},
        "status": {
            "isPublished": True,
            "hasUserMacros": False,
            "inUseClusters": [
                {
                    "kind": "spectrocluster",
                    "uid": c.uid,
                    "name": c.name,
                    "projectUid": c.project_uid,
                    "tenantUid": state.tenant_uid,
                }
                for c in clusters
            ],
            "inUseClusterUids": [c.uid for c in clusters],
        },
    }


def _templates(state: SimState, cluster: Cluster, full: bool) -> list[dict[str, Any]]:
    out = []
    for uid in cluster.profile_uids:
        p = state.profiles.get(uid)
        if p is None:
            continue
        item = {"uid": p.uid, "name": p.name, "type": p.type, "cloudType": p.cloud_type, "version": 1}
        if full:
            item["profileVersion"] = p.version
            item["packs"] = [
                {
                    "name": k["name"],
                    "tag": k["tag"],
                    "layer": k["layer"],
                    "type": k["type"],
                    "packUid": k["packUid"],
                }
                for k in p.packs
            ]
        else:
            item["scope"] = p.scope
        out.append(item)
    return out


def _conditions(state: SimState, cluster: Cluster, current: str) -> list[dict[str, Any]]:
    ts = now_iso()
    provisioned = current in ("Running", "Deleting", "Deleted")
    conditions = [
        {
            "type": "Provisioned",
            "status": "True" if provisioned else "False",
            "reason": "Provisioned" if provisioned else current,
            "lastProbeTime": ts,
            "lastTransitionTime": ts,
        }
    ]
    if cluster.fail_stage:
        conditions.append(
            {
                "type": "ProvisioningFailed",
                "status": "True",
                "reason": "NodeBootstrapFailed",
                "message": "control plane node failed to bootstrap (simulated failure)",
                "lastProbeTime": ts,
                "lastTransitionTime": ts,
            }
        )
    return conditions


def cluster_full(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1SpectroCluster (``GET /v1/spectroclusters/{uid}``)."""
    current = state.cluster_state(cluster)
    meta = _meta(
        cluster.uid, cluster.name, cluster.created, labels=cluster.labels, annotations=cluster.annotations
    )
    if cluster.delete_at is not None:
        meta["deletionTimestamp"] = now_iso(cluster.delete_at)
    status: dict[str, Any] = {
        "state": current,
        "conditions": _conditions(state, cluster, current),
        "fips": {"mode": "none"},
        "packs": [],
        "services": [],
        "upgrades": [],
    }
    if current == "Running" and cluster.vip:
        status["apiEndpoints"] = [{"host": cluster.vip, "port": 6443}]
    return {
        "apiVersion": "v1",
        "kind": "SpectroCluster",
        "metadata": meta,
        "spec": {
            "cloudType": "edge-native",
            "clusterType": "PureManage",
            "cloudConfigRef": {
                "kind": "EdgeNativeCloudConfig",
                "name": f"{cluster.name}-config",
                "uid": cluster.cloud_config_uid,
            },
            "clusterProfileTemplates": _templates(state, cluster, full=True),
            "clusterConfig": {"updateWorkerPoolsInParallel": True},
        },
        "status": status,
    }


def cluster_status(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1SpectroClusterStatusEntity."""
    return {"status": {"state": state.cluster_state(cluster)}}


def cluster_overview(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1SpectroClusterUidSummary (the dashboard overview, with health)."""
    current = state.cluster_state(cluster)
    health = state.cluster_health(cluster)
    archs = sorted({p.arch for p in cluster.pools})
    pools = []
    for p in cluster.pools:
        healthy = sum(1 for u in p.host_uids if (h := state.hosts.get(u)) and h.health == "healthy")
        pools.append(
            {
                "cloudType": "edge-native",
                "isControlPlane": p.control_plane,
                "labels": list(p.labels),
                "size": len(p.host_uids),
                "healthy": healthy if current == "Running" else 0,
                "maintenanceMode": 0,
            }
        )
    health_status: dict[str, Any] = {"state": health, "agentVersion": "4.8.1", "conditions": []}
    if current == "Running":
        health_status["lastHeartBeatTimestamp"] = now_iso()
    if health == "UnHealthy":
        health_status["conditions"] = [
            {
                "type": "ProvisioningFailed",
                "message": "control plane node failed to bootstrap (simulated failure)",
                "relatedObject": {"kind": "spectrocluster", "name": cluster.name, "uid": cluster.uid},
            }
        ]
    return {
        "metadata": _meta(cluster.uid, cluster.name, cluster.created, labels=cluster.labels),
        "spec": {
            "archTypes": archs,
            "cloudConfig": {
                "cloudType": "edge-native",
                "uid": cluster.cloud_config_uid,
                "machinePools": pools,
            },
            "clusterProfileTemplates": _templates(state, cluster, full=False),
        },
        "status": {
            "state": current,
            "health": health_status,
            "fips": {"mode": "none"},
            # hasKubeConfig says when a kubeconfig exists: a while after Running
            # (docs/palette-behaviour.md §14).
            "kubeMeta": {
                "hasKubeConfig": state.kubeconfig_ready(cluster),
                "hasKubeConfigClient": state.kubeconfig_ready(cluster),
                "hasManifest": True,
                "kubernetesVersion": cluster.kubernetes_version,
            },
        },
    }


def kubeconfig(cluster: Cluster, kind: str = "frp") -> str:
    """A kubeconfig for a Running cluster (points at its VIP; the credentials are fake).

    ``kind``: ``admin`` (adminKubeconfig: a client certificate, no interactive login), ``client``
    (kubeconfigclient: an OIDC login through kubectl), ``frp`` (kubeconfig: a token).
    """
    server = f"https://{cluster.vip or '10.0.0.1'}:6443"
    user = {
        "admin": "    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClNJTVVMQVRFRAo=\n"
        "    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tClNJTVVMQVRFRAo=\n",
        "client": "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
        "      command: kubectl\n"
        "      args: [oidc-login, get-token, --oidc-issuer-url=https://oidc.example.com]\n",
    }.get(kind, f"    token: simulated-{cluster.uid}\n")
    name = f"{cluster.name}-{kind}"
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster.name}\n  cluster:\n    server: {server}\n"
        "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClNJTVVMQVRFRAo=\n"
        f"contexts:\n- name: {name}@{cluster.name}\n  context:\n    cluster: {cluster.name}\n"
        f"    user: {name}\n"
        f"current-context: {name}@{cluster.name}\n"
        f"users:\n- name: {name}\n  user:\n{user}"
    )


def cluster_summary(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1SpectroClusterSummary (an item of the cluster search)."""
    overview = cluster_overview(state, cluster)
    project = state.projects.get(cluster.project_uid)
    meta = overview["metadata"]
    if cluster.delete_at is not None:
        meta["deletionTimestamp"] = now_iso(cluster.delete_at)
    return {
        "metadata": meta,
        "specSummary": {
            "archTypes": overview["spec"]["archTypes"],
            "cloudConfig": overview["spec"]["cloudConfig"],
            "clusterProfileTemplates": overview["spec"]["clusterProfileTemplates"],
            "projectMeta": {"name": project.name if project else "", "uid": cluster.project_uid},
        },
        "status": {
            "state": overview["status"]["state"],
            "health": overview["status"]["health"],
            "fips": {"mode": "none"},
        },
    }


def _pool_hosts(state: SimState, pool: Pool) -> list[dict[str, Any]]:
    sent = {h.get("hostUid"): h for h in pool.edge_hosts}
    out = []
    for uid in pool.host_uids:
        host = state.hosts.get(uid)
        entry = {
            "hostUid": uid,
            "hostAddress": host.address if host else "",
            "hostName": (sent.get(uid) or {}).get("hostName") or (host.name if host else uid),
        }
        if (sent.get(uid) or {}).get("nic"):
            entry["nic"] = dict(sent[uid]["nic"])
        out.append(entry)
    return out


def cloud_config(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1EdgeNativeCloudConfig (``GET /v1/cloudconfigs/edge-native/{configUid}``)."""
    sent = cluster.cloud_config or {}
    config = {
        "controlPlaneEndpoint": {"type": "VIP", "host": cluster.vip},
        "sshKeys": [],
        "ntpServers": [],
        "staticIp": False,
        "isTwoNodeCluster": False,
        **{
            k: v
            for k, v in sent.items()
            if k
            in (
                "controlPlaneEndpoint",
                "sshKeys",
                "ntpServers",
                "staticIp",
                "isTwoNodeCluster",
                "overlayNetworkConfiguration",
            )
        },
    }
    pools = []
    for p in cluster.pools:
        cfg = {
            k: v
            for k, v in p.config.items()
            if k
            in (
                "additionalLabels",
                "additionalTags",
                "additionalAnnotations",
                "maxSize",
                "minSize",
                "nodeRepaveInterval",
                "taints",
                "updateStrategy",
                "useControlPlaneAsWorker",
                "overrideKubeadmConfiguration",
            )
        }
        pools.append(
            {
                **cfg,
                "name": p.name,
                "isControlPlane": p.control_plane,
                "labels": list(p.labels),
                "size": len(p.host_uids),
                "machinePoolProperties": {"archType": p.arch},
                "hosts": _pool_hosts(state, p),
            }
        )
    return {
        "metadata": _meta(cluster.cloud_config_uid, f"{cluster.name}-config", cluster.created),
        "spec": {"clusterConfig": config, "machinePoolConfig": pools},
        "status": {"conditions": _conditions(state, cluster, state.cluster_state(cluster))},
    }


def machines(state: SimState, cluster: Cluster, pool: Pool) -> dict[str, Any]:
    """v1EdgeNativeMachines: one machine per edge host of the pool (its uid is the host's)."""
    current = state.cluster_state(cluster)
    instance = {
        "Pending": "Pending",
        "Provisioning": "Provisioning",
        "Running": "Running",
        "Deleting": "Deleting",
        "Deleted": "Deleted",
    }.get(current, "Unknown")
    items = []
    for uid in pool.host_uids:
        host = state.hosts.get(uid)
        if host is None:
            continue
        healthy = host.health == "healthy" and current == "Running"
        items.append(
            {
                "apiVersion": "v1",
                "kind": "EdgeNativeMachine",
                "metadata": _meta(host.uid, host.name, cluster.created),
                "spec": {
                    "edgeHostUid": host.uid,
                    "instanceType": {
                        "name": host.arch,
                        "numCPUs": host.cpu_cores,
                        "memoryMiB": host.memory_mb,
                    },
                    "nics": [
                        {
                            "index": i,
                            "networkName": n.get("nicName", ""),
                            "privateIPs": [n["ip"]] if n.get("ip") else [],
                        }
                        for i, n in enumerate(host.nics)
                    ],
                },
                "status": {
                    "instanceState": instance,
                    "ready": healthy,
                    "addresses": [{"type": "InternalIP", "address": host.address}],
                    "health": {
                        "state": "Healthy" if healthy else ("Unhealthy" if current == "Running" else ""),
                        "conditions": [],
                    },
                },
            }
        )
    return {"items": items}


def cluster_profiles(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1SpectroClusterProfileList (``GET /v1/spectroclusters/{uid}/profiles``)."""
    out = []
    for uid in cluster.profile_uids:
        p = state.profiles.get(uid)
        if p is None:
            continue
        sent = {v.get("name"): v for v in cluster.pack_values.get(uid, ())}
        packs = [
            {
                "metadata": {"uid": k["packUid"], "name": k["name"]},
                "spec": {
                    "name": k["name"],
                    "displayName": k["name"],
                    "layer": k["layer"],
                    "type": k["type"],
                    "version": k["tag"],
                    "registryUid": k.get("registryUid", ""),
                    "values": (sent.get(k["name"]) or {}).get("values") or k.get("values", ""),
                },
                "status": {},
            }
            for k in p.packs
        ]
        out.append(
            {
                "metadata": _meta(p.uid, p.name, p.created, labels=p.labels),
                "spec": {
                    "cloudType": p.cloud_type,
                    "type": p.type,
                    "version": 1,
                    "packs": packs,
                    "relatedObject": {"kind": "spectrocluster", "name": cluster.name, "uid": cluster.uid},
                },
            }
        )
    return {"profiles": out}


def cluster_variables(state: SimState, cluster: Cluster) -> list[dict[str, Any]]:
    """v1SpectroClusterVariables per profile: each variable's definition with the cluster's value."""
    out = []
    for uid in cluster.profile_uids:
        p = state.profiles.get(uid)
        if p is None:
            continue
        values = cluster.variables.get(uid, {})
        out.append(
            {
                "profileUid": uid,
                "variables": [
                    {**v, "value": values.get(v["name"], v.get("defaultValue", ""))} for v in p.variables
                ],
            }
        )
    return out


def events(state: SimState, cluster: Cluster) -> list[dict[str, Any]]:
    """v1Event items of a cluster, oldest first: its phases so far and what was asked of it."""
    now = time.time()
    timeline = [(cluster.created_at, "Normal", "Created", "cluster created")]
    if cluster.fail_stage == "provisioning":
        timeline.append(
            (
                cluster.created_at + state.timings.pending,
                "Warning",
                "ProvisioningFailed",
                "control plane node failed to bootstrap (simulated failure)",
            )
        )
    elif (running := state.running_since(cluster)) is not None:
        timeline.append(
            (
                cluster.created_at + state.timings.pending,
                "Normal",
                "Provisioning",
                "cluster provisioning started",
            )
        )
        timeline.append((running, "Normal", "Running", "cluster is running"))
    timeline += cluster.events
    timeline.sort(key=lambda e: e[0])
    related = {"kind": "spectrocluster", "name": cluster.name, "uid": cluster.uid}
    return [
        {
            "metadata": _meta(f"{cluster.uid[:12]}{i:012x}", f"{cluster.name}.{i}", now_iso(t)),
            "involvedObject": {"kind": "SpectroCluster", "name": cluster.name, "uid": cluster.uid},
            "relatedObject": related,
            "reason": reason,
            "message": message,
            "severity": severity,
            "source": {"component": "hubble"},
        }
        for i, (t, severity, reason, message) in enumerate(timeline)
        if t <= now
    ]


def api_key(state: SimState, policy: KeyPolicy) -> dict[str, Any]:
    """v1ApiKey. The key's value is shown once, when it is created, never in a listing (librarium api-key
    docs; docs/palette-behaviour.md §1)."""
    spec: dict[str, Any] = {"user": {"uid": state.user_uid, "firstName": "Palette", "lastName": "Admin"}}
    if policy.expiry:
        spec["expiry"] = policy.expiry
    return {
        "metadata": _meta(policy.uid, policy.name, policy.created),
        "spec": spec,
        "status": {"isActive": policy.usable()},
    }


def registries(state: SimState, scope: str) -> list[Registry]:
    """The tenant's pack registries in ``scope`` (system, tenant or all)."""
    return [r for r in state.registries if scope in ("all", "", r.scope)]
