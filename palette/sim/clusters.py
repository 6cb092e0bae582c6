"""Edge-native clusters: validate, create, read, search, kubeconfigs, events and delete.

Each behaviour a client must cope with is Palette's, as docs/palette-behaviour.md §2 and §10-§14 give it
with its sources (what is marked inferred there is implemented strictly here):

- A cluster belongs to the project it was created in: read with another ``ProjectUid`` (or none) it is
  a 404, like any object the scope cannot see (docs/palette-behaviour.md §2).
- A create whose name is taken is a 400 naming the cluster and the hosts in use, not a 409
  (docs/palette-behaviour.md §10, inferred); validate's host problems are a 400 too (``checks``).
- ``POST /v1/dashboard/spectroclusters/search`` filters on ``clusterName``, ``isDeleted`` and
  ``environment``: palette-sdk-go client/cluster.go ``GetClusterByName`` sends clusterName eq (conjunction
  or), isDeleted false and environment "nested" negated, in the project of the ProjectUid header.
- Deleted clusters stay visible, state ``Deleted``, for 72 hours; a force delete is refused until the
  cluster has been Deleting for 15 minutes (``Timings``).
- The kubeconfig assets are empty for a while after ``Running``; the overview's
  ``status.kubeMeta.hasKubeConfig`` says when they exist.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from . import render, search
from .calls import (
    ApiError,
    Call,
    Handlers,
    Reply,
    limit_offset,
    not_found,
    require_license,
    require_write,
    schema_reply,
    search_reply,
)
from .checks import check_cluster, machine_pools
from .state import Cluster, Pool, SimState, new_uid, now_iso

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
#: Where a client finds the cluster search's properties.
SEARCH_SCHEMA = "/v1/dashboard/spectroclusters/search/schema"


def cluster_in_scope(state: SimState, call: Call, uid: str | None = None) -> Cluster:
    """The cluster of the call's path (or ``uid``), if the call's project holds it; else a 404."""
    uid = uid or call.params["uid"]
    cluster = state.clusters.get(uid)
    # Another project's cluster, or any cluster in tenant scope, is not found (see the module docstring).
    if cluster is None or cluster.project_uid != call.project_uid:
        raise not_found("SpectroCluster", uid)
    return cluster


def _properties(state: SimState) -> dict[str, Callable[[Cluster], list]]:
    return {
        "clusterName": lambda c: [c.name],
        "isDeleted": lambda c: [state.cluster_state(c) == "Deleted"],
        "environment": lambda c: ["edge-native"],
        "clusterState": lambda c: [state.cluster_state(c)],
        "healthState": lambda c: [state.cluster_health(c)],
        "tags": lambda c: [f"{k}:{v}" if v != "spectro__tag" else k for k, v in c.labels.items()],
        "architecture": lambda c: sorted({p.arch for p in c.pools}),
    }


def _sort_keys(state: SimState) -> dict[str, Callable[[Cluster], Any]]:
    return {
        "environment": lambda c: "edge-native",
        "clusterName": lambda c: c.name,
        "clusterState": lambda c: state.cluster_state(c),
        "healthState": lambda c: state.cluster_health(c),
        "creationTimestamp": lambda c: c.created,
        "lastModifiedTimestamp": lambda c: c.created,
    }


class ClusterApi(Handlers):
    """The cluster operations over a SimState."""

    def routes(self) -> dict[tuple[str, str], Callable[[Call], Reply]]:
        return {
            ("POST", "/v1/spectroclusters/edge-native/validate"): self.validate_cluster,
            ("POST", "/v1/spectroclusters/edge-native"): self.create_cluster,
            ("GET", "/v1/spectroclusters/{uid}"): self.get_cluster,
            ("DELETE", "/v1/spectroclusters/{uid}"): self.delete_cluster,
            ("GET", "/v1/spectroclusters/{uid}/status"): self.cluster_status,
            ("GET", "/v1/dashboard/spectroclusters/{uid}/overview"): self.cluster_overview,
            ("GET", "/v1/spectroclusters/{uid}/assets/kubeconfig"): self.kubeconfig,
            ("GET", "/v1/spectroclusters/{uid}/assets/adminKubeconfig"): self.kubeconfig,
            ("GET", "/v1/spectroclusters/{uid}/assets/kubeconfigclient"): self.kubeconfig,
            ("GET", "/v1/spectroclusters/{uid}/edge-native/edgeHosts"): self.cluster_hosts,
            ("POST", "/v1/dashboard/spectroclusters/search"): self.search_clusters,
            ("GET", "/v1/dashboard/spectroclusters/search/schema"): self.search_schema,
            ("GET", "/v1/events/components/{objectKind}/{objectUid}"): self.events,
        }

    # -- validate and create ----------------------------------------------------------------

    def validate_cluster(self, call: Call) -> Reply:
        with self.state.lock:
            check = check_cluster(self.state, call.project_uid, call.body or {})
        error = check.host_error()
        if error is not None:
            raise error
        return Reply(body=check.response())

    def _refuse_duplicate(self, call: Call, name: str) -> None:
        taken = [
            c
            for c in self.state.clusters.values()
            if c.name == name
            and c.project_uid == call.project_uid
            and self.state.cluster_state(c) != "Deleted"
        ]
        if not taken:
            return
        # What a create retried after a lost answer gets: 400, naming the cluster and the hosts it holds.
        busy = [
            e.get("hostUid")
            for p in machine_pools((call.body or {}).get("spec") or {})
            for e in (p.get("cloudConfig") or {}).get("edgeHosts") or ()
            if (h := self.state.hosts.get(e.get("hostUid") or "")) is not None and h.state == "in-use"
        ]
        hosts = "".join(f"; edge host '{uid}' is in-use" for uid in busy)
        raise ApiError(400, "ClusterAlreadyExists", f"cluster '{name}' already exists in the project{hosts}")

    def create_cluster(self, call: Call) -> Reply:
        require_write(call, "spectrocluster.create")
        body = call.body or {}
        meta = body.get("metadata") or {}
        name = meta.get("name") or ""
        if not DNS_LABEL.match(name):
            raise ApiError(
                400,
                "InvalidClusterName",
                f"cluster name '{name}' must be lowercase letters, digits and '-', at most 63 characters",
            )
        with self.state.lock:
            require_license(self.state, "creating a cluster")
            self._refuse_duplicate(call, name)
            check = check_cluster(self.state, call.project_uid, body)
            error = check.host_error()
            if error is not None:
                raise error
            if check.problems:
                more = f" (and {len(check.problems) - 1} more)" if len(check.problems) > 1 else ""
                raise ApiError(400, "InvalidClusterSpec", check.problems[0] + more)
            failure, self.state.fail_next_create = self.state.fail_next_create, None
            stage = (failure or {}).get("stage")
            if failure and stage not in ("provisioning", "answer"):
                raise ApiError(
                    int(failure.get("status", 500)),
                    failure.get("code", "InternalError"),
                    failure.get("message", "failed to create the cluster (simulated failure)"),
                )
            cluster = self._new_cluster(
                call, body, fail_stage="provisioning" if stage == "provisioning" else ""
            )
            self.state.add_cluster(cluster)
        return Reply(
            status=201, body={"uid": cluster.uid}, headers={"AuditUid": new_uid()}, lost=stage == "answer"
        )

    def _new_cluster(self, call: Call, body: dict, fail_stage: str) -> Cluster:
        meta, spec = body.get("metadata") or {}, body.get("spec") or {}
        pools = [
            Pool(
                name=p["poolConfig"]["name"],
                control_plane=bool(p["poolConfig"].get("isControlPlane")),
                host_uids=[h["hostUid"] for h in p["cloudConfig"]["edgeHosts"]],
                labels=list(p["poolConfig"].get("labels") or []),
                arch=(p["poolConfig"].get("machinePoolProperties") or {}).get("archType") or "amd64",
                config=dict(p["poolConfig"]),
                edge_hosts=[dict(h) for h in p["cloudConfig"]["edgeHosts"]],
            )
            for p in machine_pools(spec)
        ]
        refs = spec.get("profiles") or []
        cloud = spec.get("cloudConfig") or {}
        return Cluster(
            uid=new_uid(),
            name=meta["name"],
            project_uid=call.project_uid or "",
            labels=dict(meta.get("labels") or {}),
            annotations=dict(meta.get("annotations") or {}),
            profile_uids=[p["uid"] for p in refs],
            pools=pools,
            vip=(cloud.get("controlPlaneEndpoint") or {}).get("host", ""),
            created_at=time.time(),
            created=now_iso(),
            fail_stage=fail_stage,
            cloud_config=dict(cloud),
            variables={
                p["uid"]: {v["name"]: v.get("value") or "" for v in p.get("variables") or ()} for p in refs
            },
            pack_values={p["uid"]: list(p.get("packValues") or ()) for p in refs},
        )

    # -- read -------------------------------------------------------------------------------

    def get_cluster(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cluster_full(self.state, cluster_in_scope(self.state, call)))

    def cluster_status(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cluster_status(self.state, cluster_in_scope(self.state, call)))

    def cluster_overview(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cluster_overview(self.state, cluster_in_scope(self.state, call)))

    def kubeconfig(self, call: Call) -> Reply:
        kind = {"adminKubeconfig": "admin", "kubeconfigclient": "client"}.get(
            call.template.rsplit("/", 1)[1], "frp"
        )
        with self.state.lock:
            cluster = cluster_in_scope(self.state, call)
            if self.state.cluster_state(cluster) != "Running":
                raise ApiError(
                    404, "ResourceNotFound", f"kubeconfig of cluster '{cluster.uid}' is not available yet"
                )
            # Running is not enough: the file is empty until the overview's hasKubeConfig turns true.
            text = render.kubeconfig(cluster, kind) if self.state.kubeconfig_ready(cluster) else ""
        return Reply(
            body=text,
            content_type="application/octet-stream",
            headers={"Content-Disposition": f'attachment; filename="{cluster.name}.kubeconfig"'},
        )

    def cluster_hosts(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = cluster_in_scope(self.state, call)
            items = [
                render.host_device(self.state, self.state.hosts[u])
                for u in cluster.host_uids
                if u in self.state.hosts
            ]
        return Reply(
            body={
                "items": items,
                "listmeta": {"continue": "", "count": len(items), "limit": 50, "offset": len(items)},
            }
        )

    def search_clusters(self, call: Call) -> Reply:
        def match(body: dict) -> list:
            predicate = search.filter_predicate(body, _properties(self.state), SEARCH_SCHEMA)
            # Clusters, like edge hosts, belong to projects: tenant scope finds none (see api.py).
            return search.sort_items(
                [
                    c
                    for c in self.state.clusters.values()
                    if call.project_uid and c.project_uid == call.project_uid and predicate(c)
                ],
                body.get("sort"),
                _sort_keys(self.state),
                default=lambda c: (c.created, c.uid),
            )

        return search_reply(self.state, call, match, render.cluster_summary)

    def search_schema(self, call: Call) -> Reply:
        prop = search.schema_property
        return schema_reply(
            [
                prop("clusterName", "Name"),
                prop("tags", "Tags"),
                prop("isDeleted", "Deleted", "bool"),
                prop("environment", "Environment", enum=["edge-native", "nested"]),
                prop(
                    "clusterState",
                    "State",
                    enum=["Pending", "Provisioning", "Running", "Deleting", "Deleted"],
                ),
                prop("healthState", "Health", enum=["Healthy", "UnHealthy"]),
                prop("architecture", "Architecture", enum=["amd64", "arm64"]),
            ]
        )

    def events(self, call: Call) -> Reply:
        limit, offset = limit_offset(call)
        kind = call.params["objectKind"]
        if kind not in ("spectrocluster", "edgehost"):  # the spec's enum, checked as go-swagger does
            raise ApiError(422, 606, "objectKind in path should be one of [spectrocluster edgehost]")
        with self.state.lock:
            if kind == "edgehost":
                host = self.state.hosts.get(call.params["objectUid"])
                if host is None or host.project_uid != call.project_uid:
                    raise not_found("EdgeHost", call.params["objectUid"])
                items: list[dict] = []
            else:
                items = render.events(
                    self.state, cluster_in_scope(self.state, call, call.params["objectUid"])
                )
        chunk, listmeta = search.page(items, limit=limit, offset=offset)
        return Reply(body={"items": chunk, "listmeta": listmeta})

    # -- delete -----------------------------------------------------------------------------

    def delete_cluster(self, call: Call) -> Reply:
        require_write(call, "spectrocluster.delete")
        force = call.query.get("forceDelete") == "true"
        with self.state.lock:
            cluster = cluster_in_scope(self.state, call)
            refusal = self.state.force_delete_refusal(cluster) if force else ""
            if refusal and self.state.cluster_state(cluster) != "Deleted":
                # Force delete is eligible only after 15 minutes in Deleting (see the module docstring); the
                # status and code of the refusal are not documented (docs/palette-behaviour.md §13).
                raise ApiError(400, "ClusterForceDeleteNotAllowed", refusal)
            self.state.request_delete(cluster.uid, force=force)
        return Reply(status=204)
