"""JSON shapes the simulator answers with, exactly as the spec subset defines them."""

from __future__ import annotations

from typing import Any

from .state import Cluster, Host, Profile, SimState, now_iso


def _meta(uid: str, name: str, created: str, modified: str = "", labels: dict | None = None,
          annotations: dict | None = None) -> dict[str, Any]:
    return {"uid": uid, "name": name, "labels": dict(labels or {}), "annotations": dict(annotations or {}),
            "creationTimestamp": created, "lastModifiedTimestamp": modified or created}


def _device(host: Host) -> dict[str, Any]:
    if host.state == "unpaired":
        # A pre-registered host has not reported its hardware yet.
        return {"archType": host.arch, "hostType": "appliance", "hostState": "registration", "secureBoot": False}
    return {
        "archType": host.arch, "hostType": "appliance",
        "hostState": "cluster" if host.cluster else "registration", "secureBoot": False,
        "cpu": {"cores": host.cpu_cores}, "memory": {"sizeInMB": host.memory_mb},
        "gpus": [dict(g) for g in host.gpus], "disks": [dict(d) for d in host.disks],
        "nics": [dict(n) for n in host.nics], "os": dict(host.os),
    }


def _health(host: Host) -> dict[str, Any]:
    if host.state == "unpaired":
        return {"agentVersion": "", "message": "edge host has not paired yet"}
    return {"state": host.health, "agentVersion": host.agent_version, "message": host.health_message}


def _in_use(host: Host) -> tuple[list, list]:
    if not host.cluster:
        return [], []
    uid, name = host.cluster
    return [{"uid": uid, "name": name}], [{"uid": uid, "name": name}]


def host_summary(state: SimState, host: Host) -> dict[str, Any]:
    """v1EdgeHostsMetadata (an item of the edge host search)."""
    project = state.projects[host.project_uid]
    in_use, in_use_ref = _in_use(host)
    return {
        "metadata": _meta(host.uid, host.name, host.created, host.modified, host.labels),
        "spec": {
            "type": "edge-native",
            "projectMeta": {"name": project.name, "uid": project.uid},
            "host": {"hostAddress": host.address, "macAddress": host.mac},
            "device": _device(host),
            "clusterProfileTemplates": [],
        },
        "status": {"state": host.state, "health": _health(host), "inUseClusters": in_use,
                   "inUseClustersRef": in_use_ref},
    }


def host_device(state: SimState, host: Host) -> dict[str, Any]:
    """v1EdgeHostDevice (``GET /v1/edgehosts/{uid}`` and a cluster's host list)."""
    project = state.projects[host.project_uid]
    in_use, in_use_ref = _in_use(host)
    return {
        "aclmeta": {"ownerUid": state.user_uid, "projectUid": project.uid, "tenantUid": state.tenant_uid},
        "metadata": _meta(host.uid, host.name, host.created, host.modified, host.labels),
        "spec": {
            "type": "edge-native",
            "host": {"hostUid": host.uid, "hostAddress": host.address, "macAddress": host.mac,
                     "project": {"name": project.name, "uid": project.uid}, "remoteSsh": "disabled"},
            "device": _device(host),
            "properties": {"networks": [], "storagePools": []},
            "service": {"name": "stylus", "version": host.agent_version},
            "tunnelConfig": {"remoteSsh": "disabled", "remoteSshTempUser": "disabled"},
            "version": host.agent_version,
            "clusterProfileTemplates": [],
        },
        "status": {"state": host.state, "health": _health(host), "inUseClusters": in_use,
                   "inUseClustersRef": in_use_ref, "packs": [], "profileStatus": {"hasUserMacros": False}},
    }


def _versions(state: SimState, profile: Profile) -> list[dict[str, str]]:
    same = [p for p in state.profiles.values()
            if p.name == profile.name and p.scope == profile.scope and p.project_uid == profile.project_uid]
    return [{"uid": p.uid, "version": p.version} for p in sorted(same, key=lambda p: _semver(p.version))]


def _semver(version: str) -> tuple:
    return tuple(int(x) if x.isdigit() else 0 for x in version.split("."))


def _profile_clusters(state: SimState, profile: Profile) -> list[Cluster]:
    return [c for c in state.clusters.values() if profile.uid in c.profile_uids]


def profile_summary(state: SimState, profile: Profile) -> dict[str, Any]:
    """v1ClusterProfileSummary (an item of the cluster profile search)."""
    clusters = _profile_clusters(state, profile)
    return {
        "metadata": _meta(profile.uid, profile.name, profile.created, labels=profile.labels,
                          annotations={"scope": profile.scope}),
        "specSummary": {
            "version": profile.version,
            "versions": _versions(state, profile),
            "published": {
                "cloudType": profile.cloud_type, "type": profile.type,
                "packs": [{"name": p["name"], "tag": p["tag"], "layer": p["layer"], "type": p["type"],
                           "packUid": p["packUid"], "displayName": p["name"], "version": p["tag"]}
                          for p in profile.packs],
            },
        },
        "status": {"isPublished": True, "inUseClusters": [{"uid": c.uid, "name": c.name} for c in clusters],
                   "inUseClusterUids": [c.uid for c in clusters], "fips": {"mode": "none"}},
    }


def profile_full(state: SimState, profile: Profile) -> dict[str, Any]:
    """v1ClusterProfile (``GET /v1/clusterprofiles/{uid}``)."""
    clusters = _profile_clusters(state, profile)
    template = {
        "cloudType": profile.cloud_type, "type": profile.type, "name": profile.name, "uid": profile.uid,
        "profileVersion": profile.version, "version": 1,
        "packs": [dict(p, manifests=[]) for p in profile.packs],
    }
    return {
        "apiVersion": "v1", "kind": "ClusterProfile",
        "metadata": _meta(profile.uid, profile.name, profile.created, labels=profile.labels,
                          annotations={"scope": profile.scope}),
        "spec": {"version": profile.version, "versions": _versions(state, profile), "published": template},
        "status": {"isPublished": True, "hasUserMacros": False,
                   "inUseClusters": [{"kind": "spectrocluster", "uid": c.uid, "name": c.name,
                                      "projectUid": c.project_uid, "tenantUid": state.tenant_uid} for c in clusters],
                   "inUseClusterUids": [c.uid for c in clusters]},
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
            item["packs"] = [{"name": k["name"], "tag": k["tag"], "layer": k["layer"], "type": k["type"],
                              "packUid": k["packUid"]} for k in p.packs]
        else:
            item["scope"] = p.scope
        out.append(item)
    return out


def _conditions(state: SimState, cluster: Cluster, current: str) -> list[dict[str, Any]]:
    ts = now_iso()
    provisioned = current in ("Running", "Deleting", "Deleted")
    conditions = [{"type": "Provisioned", "status": "True" if provisioned else "False",
                   "reason": "Provisioned" if provisioned else current, "lastProbeTime": ts,
                   "lastTransitionTime": ts}]
    if cluster.fail_stage:
        conditions.append({"type": "ProvisioningFailed", "status": "True", "reason": "NodeBootstrapFailed",
                           "message": "control plane node failed to bootstrap (simulated failure)",
                           "lastProbeTime": ts, "lastTransitionTime": ts})
    return conditions


def cluster_full(state: SimState, cluster: Cluster) -> dict[str, Any]:
    """v1SpectroCluster (``GET /v1/spectroclusters/{uid}``)."""
    current = state.cluster_state(cluster)
    meta = _meta(cluster.uid, cluster.name, cluster.created, labels=cluster.labels, annotations=cluster.annotations)
    if cluster.delete_at is not None:
        meta["deletionTimestamp"] = now_iso(cluster.delete_at)
    status: dict[str, Any] = {"state": current, "conditions": _conditions(state, cluster, current),
                              "fips": {"mode": "none"}, "packs": [], "services": [], "upgrades": []}
    if current == "Running" and cluster.vip:
        status["apiEndpoints"] = [{"host": cluster.vip, "port": 6443}]
    return {
        "apiVersion": "v1", "kind": "SpectroCluster", "metadata": meta,
        "spec": {"cloudType": "edge-native", "clusterType": "PureManage",
                 "cloudConfigRef": {"kind": "EdgeNativeCloudConfig", "name": f"{cluster.name}-config",
                                    "uid": cluster.cloud_config_uid},
                 "clusterProfileTemplates": _templates(state, cluster, full=True),
                 "clusterConfig": {"updateWorkerPoolsInParallel": True}},
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
        pools.append({"cloudType": "edge-native", "isControlPlane": p.control_plane, "labels": list(p.labels),
                      "size": len(p.host_uids), "healthy": healthy if current == "Running" else 0,
                      "maintenanceMode": 0})
    health_status: dict[str, Any] = {"state": health, "agentVersion": "4.8.1", "conditions": []}
    if current == "Running":
        health_status["lastHeartBeatTimestamp"] = now_iso()
    if health == "UnHealthy":
        health_status["conditions"] = [{"type": "ProvisioningFailed", "message": "control plane node failed to "
                                        "bootstrap (simulated failure)",
                                        "relatedObject": {"kind": "spectrocluster", "name": cluster.name,
                                                          "uid": cluster.uid}}]
    return {
        "metadata": _meta(cluster.uid, cluster.name, cluster.created, labels=cluster.labels),
        "spec": {"archTypes": archs,
                 "cloudConfig": {"cloudType": "edge-native", "uid": cluster.cloud_config_uid, "machinePools": pools},
                 "clusterProfileTemplates": _templates(state, cluster, full=False)},
        "status": {"state": current, "health": health_status, "fips": {"mode": "none"},
                   "kubeMeta": {"hasKubeConfig": current == "Running", "hasKubeConfigClient": False,
                                "hasManifest": True, "kubernetesVersion": cluster.kubernetes_version}},
    }


def kubeconfig(cluster: Cluster) -> str:
    """A kubeconfig for a Running cluster (points at its VIP; the credentials are fake)."""
    server = f"https://{cluster.vip or '10.0.0.1'}:6443"
    return (
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: {cluster.name}\n  cluster:\n    server: {server}\n"
        "    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClNJTVVMQVRFRAo=\n"
        f"contexts:\n- name: {cluster.name}-admin@{cluster.name}\n  context:\n    cluster: {cluster.name}\n"
        f"    user: {cluster.name}-admin\n"
        f"current-context: {cluster.name}-admin@{cluster.name}\n"
        f"users:\n- name: {cluster.name}-admin\n  user:\n    token: simulated-{cluster.uid}\n"
    )
