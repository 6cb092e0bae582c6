"""Handlers for every ``/v1`` operation of the spec subset.

Each handler takes a ``Call`` (already authenticated, routed and validated against the spec by
``server.py``) and returns a ``Reply`` or raises ``ApiError``. Behaviour marked [I] in the Palette
notes (exact error codes for create failures, tenant-scope visibility of edge hosts) is a design
assumption, kept strict so that client bugs show up here rather than against real Palette:

- Edge hosts and clusters belong to projects: in tenant scope (no ProjectUid) a search finds no
  hosts and a GET by uid is 404, exactly the symptom of a client that forgets the header.
- Cluster profiles: system and tenant ones are visible everywhere, project ones in their project.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import render, search
from .state import Cluster, Pool, SimState, new_uid, now_iso

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class ApiError(Exception):
    """An error answer. String codes are application errors (with a 64-hex ref); integer codes are
    go-swagger framework errors (``{code, message}`` only)."""

    def __init__(self, status: int, code: str | int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON error body Palette would send."""
        if isinstance(self.code, int):
            return {"code": self.code, "message": self.message}
        return {"code": self.code, "message": self.message, "ref": secrets.token_hex(32)}


@dataclass
class Call:
    """One authenticated, routed request."""

    method: str
    path: str
    template: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    project_uid: str | None
    read_only: bool


@dataclass
class Reply:
    """A handler's answer: status, JSON body (or text for files) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


def _not_found(kind: str, uid: str) -> ApiError:
    return ApiError(404, "ResourceNotFound", f"{kind} '{uid}' not found")


def _require_write(call: Call, permission: str) -> None:
    if call.read_only:
        raise ApiError(403, "Forbidden", f"Permission denied: the user does not have '{permission}' permission"
                                         + (f" in project '{call.project_uid}'" if call.project_uid else ""))


def _limit_offset(call: Call) -> tuple[int, int]:
    limit = int(call.query.get("limit") or 50) or 50
    token = call.query.get("continue")
    if token:
        try:
            return limit, search.decode_token(token)
        except search.SearchError as exc:
            raise ApiError(400, "InvalidContinueToken", str(exc)) from None
    return limit, int(call.query.get("offset") or 0)


class Api:
    """The ``/v1`` operations over a SimState."""

    def __init__(self, state: SimState):
        self.state = state
        self.routes: dict[tuple[str, str], Callable[[Call], Reply]] = {
            ("GET", "/v1/users/info"): self.users_info,
            ("GET", "/v1/projects/{uid}"): self.get_project,
            ("GET", "/v1/dashboard/projects/metadata"): self.projects_metadata,
            ("POST", "/v1/dashboard/edgehosts/search"): self.search_hosts,
            ("GET", "/v1/dashboard/edgehosts/search/schema"): self.search_schema,
            ("GET", "/v1/edgehosts/metadata"): self.hosts_metadata,
            ("GET", "/v1/edgehosts/tags"): self.host_tags,
            ("GET", "/v1/edgehosts/{uid}"): self.get_host,
            ("PUT", "/v1/edgehosts/{uid}/meta"): self.update_host_meta,
            ("POST", "/v1/dashboard/clusterprofiles"): self.search_profiles,
            ("GET", "/v1/dashboard/clusterprofiles/metadata"): self.profiles_metadata,
            ("GET", "/v1/clusterprofiles/{uid}"): self.get_profile,
            ("POST", "/v1/spectroclusters/edge-native/validate"): self.validate_cluster,
            ("POST", "/v1/spectroclusters/edge-native"): self.create_cluster,
            ("GET", "/v1/spectroclusters/{uid}"): self.get_cluster,
            ("DELETE", "/v1/spectroclusters/{uid}"): self.delete_cluster,
            ("GET", "/v1/spectroclusters/{uid}/status"): self.cluster_status,
            ("GET", "/v1/dashboard/spectroclusters/{uid}/overview"): self.cluster_overview,
            ("GET", "/v1/spectroclusters/{uid}/assets/kubeconfig"): self.kubeconfig,
            ("GET", "/v1/spectroclusters/{uid}/edge-native/edgeHosts"): self.cluster_hosts,
        }

    def handle(self, call: Call) -> Reply:
        """Run the handler for the call's operation."""
        self.state.advance()
        return self.routes[(call.method, call.template)](call)

    # -- tenant scope -----------------------------------------------------------------------

    def users_info(self, call: Call) -> Reply:
        s = self.state
        return Reply(body={"orgName": s.org_name, "tenantUid": s.tenant_uid, "userUid": s.user_uid})

    def get_project(self, call: Call) -> Reply:
        with self.state.lock:
            project = self.state.projects.get(call.params["uid"])
            if project is None:
                raise _not_found("Project", call.params["uid"])
            return Reply(body={
                "metadata": {"uid": project.uid, "name": project.name, "labels": {}, "annotations": {},
                             "creationTimestamp": project.created, "lastModifiedTimestamp": project.created},
                "spec": {"logoUrl": "", "teams": [], "users": [{"userId": self.state.user_uid,
                                                                 "roles": ["Project Admin"]}], "alerts": []},
                "status": {"isDisabled": False, "cleanUpStatus": {"state": "", "msg": "", "cleanedResources": []}},
            })

    def projects_metadata(self, call: Call) -> Reply:
        name = call.query.get("name")
        with self.state.lock:
            items = [{"metadata": {"uid": p.uid, "name": p.name}} for p in self.state.projects.values()
                     if not name or p.name == name]
        return Reply(body={"items": items})

    # -- edge hosts -------------------------------------------------------------------------

    def _hosts_in_scope(self, call: Call) -> list:
        return [h for h in self.state.hosts.values() if call.project_uid and h.project_uid == call.project_uid]

    def _host(self, call: Call):
        host = self.state.hosts.get(call.params["uid"])
        if host is None or host.project_uid != call.project_uid:
            raise _not_found("EdgeHost", call.params["uid"])
        return host

    def search_hosts(self, call: Call) -> Reply:
        body = call.body or {}
        limit, offset = _limit_offset(call)
        with self.state.lock:
            key = ("hosts", call.project_uid, repr(body))
            try:
                predicate = search.host_predicate(body)
                matched = self.state.cached(key, lambda: search.sort_items(
                    [h for h in self._hosts_in_scope(call) if predicate(h)], body.get("sort"),
                    search.EDGE_HOST_SORT, default=lambda h: (h.created, h.uid)))
            except search.SearchError as exc:
                raise ApiError(400, "InvalidFilter", str(exc)) from None
            chunk, listmeta = search.page(matched, limit=limit, offset=offset, stuck=self.state.stuck_continue)
            items = [render.host_summary(self.state, h) for h in chunk]
        return Reply(body={"items": items, "listmeta": listmeta})

    def search_schema(self, call: Call) -> Reply:
        def prop(name: str, display: str, enum: list[str] | None = None) -> dict:
            p = {"name": name, "displayName": display, "type": "string", "hideDisplay": False, "isDeprecated": False}
            if enum:
                p["enum"] = enum
                p["enumValues"] = [{"value": v, "displayValue": v} for v in enum]
            return p
        return Reply(body={"schema": {"properties": [
            prop("name", "Name"), prop("tags", "Tags"),
            prop("state", "State", ["ready", "unpaired", "in-use"]),
            prop("healthState", "Health", ["healthy", "unhealthy"]),
            prop("architecture", "Architecture", ["amd64", "arm64"]),
        ]}})

    def hosts_metadata(self, call: Call) -> Reply:
        quick = call.query.get("quickFilter")
        with self.state.lock:
            hosts = self._hosts_in_scope(call)
            if quick == "unusedEdgeHosts":
                hosts = [h for h in hosts if h.state == "ready"]
            items = [{"uid": h.uid, "name": h.name, "state": h.state, "healthState": h.health,
                      "archType": h.arch, "edgeHostType": "edge-native"} for h in hosts]
        return Reply(body={"edgeHosts": items})

    def host_tags(self, call: Call) -> Reply:
        with self.state.lock:
            tags = sorted({t for h in self._hosts_in_scope(call) for t in h.tag_strings})
        return Reply(body={"tags": tags})

    def get_host(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.host_device(self.state, self._host(call)))

    def update_host_meta(self, call: Call) -> Reply:
        _require_write(call, "edgehost.update")
        meta = (call.body or {}).get("metadata") or {}
        with self.state.lock:
            host = self._host(call)
            if meta.get("uid") and meta["uid"] != host.uid:
                raise ApiError(400, "InvalidRequest", f"metadata.uid '{meta['uid']}' does not match '{host.uid}'")
            # The meta update replaces the labels: tags not sent are removed.
            self.state.update_host(host.uid, labels=meta.get("labels") or {}, name=meta.get("name") or None)
        return Reply(status=204)

    # -- cluster profiles -------------------------------------------------------------------

    def search_profiles(self, call: Call) -> Reply:
        body = call.body or {}
        limit, offset = _limit_offset(call)
        with self.state.lock:
            try:
                predicate = search.profile_predicate(body)
                matched = self.state.cached(("profiles", call.project_uid, repr(body)), lambda: search.sort_items(
                    [p for p in self.state.visible_profiles(call.project_uid) if predicate(p)], body.get("sort"),
                    search.PROFILE_SORT, default=lambda p: (p.name, p.version, p.uid)))
            except search.SearchError as exc:
                raise ApiError(400, "InvalidFilter", str(exc)) from None
            chunk, listmeta = search.page(matched, limit=limit, offset=offset, stuck=self.state.stuck_continue)
            items = [render.profile_summary(self.state, p) for p in chunk]
        return Reply(body={"items": items, "listmeta": listmeta})

    def profiles_metadata(self, call: Call) -> Reply:
        with self.state.lock:
            items = [{"metadata": {"uid": p.uid, "name": p.name}, "spec": {"cloudType": p.cloud_type,
                                                                             "version": p.version}}
                     for p in self.state.visible_profiles(call.project_uid)]
        return Reply(body={"items": items})

    def get_profile(self, call: Call) -> Reply:
        with self.state.lock:
            visible = {p.uid: p for p in self.state.visible_profiles(call.project_uid)}
            profile = visible.get(call.params["uid"])
            if profile is None:
                raise _not_found("ClusterProfile", call.params["uid"])
            return Reply(body=render.profile_full(self.state, profile))

    # -- clusters ---------------------------------------------------------------------------

    def _check_cluster(self, call: Call) -> tuple[dict, list[str]]:
        """Validate a create body against the world: (validator response, list of problems)."""
        spec = (call.body or {}).get("spec") or {}
        pools = spec.get("machinepoolconfig")
        if pools is None:  # Go decodes JSON keys case-insensitively, so Palette accepts other spellings.
            pools = next((v for k, v in spec.items() if k.lower() == "machinepoolconfig"), None)
        pools = pools or []
        problems: list[str] = []
        pool_results = []
        seen: set[str] = set()
        control_planes = [p for p in pools if (p.get("poolConfig") or {}).get("isControlPlane")]
        two_node = bool((spec.get("cloudConfig") or {}).get("isTwoNodeCluster"))
        endpoint = ((spec.get("cloudConfig") or {}).get("controlPlaneEndpoint") or {}).get("host")
        for i, pool in enumerate(pools):
            cfg = pool.get("poolConfig") or {}
            name = cfg.get("name") or f"pool-{i}"
            errors: list[dict[str, str]] = []

            def err(code: str, message: str) -> None:
                errors.append({"code": code, "message": message})
                problems.append(f"{name}: {message}")
            hosts = (pool.get("cloudConfig") or {}).get("edgeHosts") or []
            if cfg.get("size") != len(hosts):
                err("PoolSizeMismatch", f"pool size {cfg.get('size')} does not match {len(hosts)} edge hosts")
            if cfg.get("isControlPlane"):
                if len(control_planes) > 1:
                    err("MultipleControlPlanePools", "only one control plane pool is allowed")
                allowed = (1, 2, 3, 5) if two_node else (1, 3, 5)
                if len(hosts) not in allowed:
                    err("InvalidControlPlaneSize", f"control plane must have {' or '.join(map(str, allowed))} hosts")
                if not endpoint:
                    err("ControlPlaneEndpointRequired", "cloudConfig.controlPlaneEndpoint.host (the VIP) is required")
            arch = (cfg.get("machinePoolProperties") or {}).get("archType")
            for entry in hosts:
                uid = entry.get("hostUid") or ""
                host = self.state.hosts.get(uid)
                if host is None or host.project_uid != call.project_uid:
                    err("EdgeHostNotFound", f"edge host '{uid}' not found in the project")
                    continue
                if uid in seen:
                    err("EdgeHostDuplicate", f"edge host '{uid}' is used more than once")
                seen.add(uid)
                if host.state == "unpaired":
                    err("EdgeHostNotPaired", f"edge host '{uid}' has not paired yet")
                elif host.state == "in-use":
                    user = host.cluster[1] if host.cluster else "?"
                    err("EdgeHostInUse", f"edge host '{uid}' is in use by cluster '{user}'")
                if host.state != "unpaired" and host.health != "healthy":
                    err("EdgeHostUnhealthy", f"edge host '{uid}' is unhealthy: {host.health_message}")
                if arch and host.arch != arch:
                    err("EdgeHostArchMismatch", f"edge host '{uid}' is {host.arch}, pool is {arch}")
            pool_results.append({"name": name, "displayName": name, "errors": errors})
        if pools and not control_planes:
            problems.append("no control plane pool")
            pool_results[0]["errors"].append({"code": "ControlPlanePoolRequired",
                                              "message": "one pool must have isControlPlane true"})
        if not pools:
            problems.append("no machine pools (spec.machinepoolconfig is empty)")

        visible = {p.uid: p for p in self.state.visible_profiles(call.project_uid)}
        profile_results = []
        bases = 0
        refs = spec.get("profiles") or []
        for ref in refs:
            uid = ref.get("uid") or ""
            profile = visible.get(uid)
            results = []
            if profile is None:
                results.append({"name": uid, "displayName": uid, "errors": [
                    {"code": "ClusterProfileNotFound", "message": f"cluster profile '{uid}' not found"}]})
                problems.append(f"cluster profile '{uid}' not found")
            else:
                if profile.cloud_type not in ("edge-native", "all") or profile.type == "system" or \
                        (profile.cloud_type == "all" and profile.type != "add-on"):
                    problems.append(f"profile {profile.name} ({profile.cloud_type}/{profile.type}) cannot be used")
                    results.append({"name": profile.name, "displayName": profile.name, "errors": [
                        {"code": "InvalidProfileCloudType",
                         "message": f"profile is {profile.cloud_type}/{profile.type}, not edge-native"}]})
                bases += profile.type in ("infra", "cluster")
                pack_names = {p["name"] for p in profile.packs}
                for pack in profile.packs:
                    results.append({"name": pack["name"], "displayName": pack["name"], "errors": []})
                for value in ref.get("packValues") or ():
                    if value.get("name") not in pack_names:
                        problems.append(f"pack '{value.get('name')}' is not in profile {profile.name}")
                        results.append({"name": value.get("name") or "", "displayName": "", "errors": [
                            {"code": "PackNotFound", "message": f"pack not in profile {profile.name}"}]})
            profile_results.append({"uid": uid, "packs": {"results": results}})
        if bases != 1:
            problems.append("exactly one infra or full (cluster) profile is required")
            if profile_results:
                profile_results[0]["packs"]["results"].append({"name": "", "displayName": "", "errors": [
                    {"code": "InvalidProfileCombination",
                     "message": "exactly one infra or full (cluster) profile is required"}]})
        return {"machinePools": {"results": pool_results}, "profiles": profile_results}, problems

    def validate_cluster(self, call: Call) -> Reply:
        with self.state.lock:
            response, _ = self._check_cluster(call)
        return Reply(body=response)

    def create_cluster(self, call: Call) -> Reply:
        _require_write(call, "spectrocluster.create")
        body = call.body or {}
        meta = body.get("metadata") or {}
        name = meta.get("name") or ""
        if not DNS_LABEL.match(name):
            raise ApiError(400, "InvalidClusterName",
                           f"cluster name '{name}' must be lowercase letters, digits and '-', at most 63 characters")
        with self.state.lock:
            if any(c.name == name and c.project_uid == call.project_uid and c.delete_at is None
                   for c in self.state.clusters.values()):
                raise ApiError(409, "ClusterNameAlreadyExists", f"a cluster named '{name}' exists in the project")
            _, problems = self._check_cluster(call)
            if problems:
                more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
                raise ApiError(400, "InvalidClusterSpec", problems[0] + more)
            failure, self.state.fail_next_create = self.state.fail_next_create, None
            if failure and failure.get("stage") != "provisioning":
                raise ApiError(int(failure.get("status", 500)), failure.get("code", "InternalError"),
                               failure.get("message", "failed to create the cluster (simulated failure)"))
            spec = body.get("spec") or {}
            pools_body = spec.get("machinepoolconfig") or next(
                (v for k, v in spec.items() if k.lower() == "machinepoolconfig"), [])
            pools = [Pool(name=p["poolConfig"]["name"], control_plane=bool(p["poolConfig"].get("isControlPlane")),
                          host_uids=[h["hostUid"] for h in p["cloudConfig"]["edgeHosts"]],
                          labels=list(p["poolConfig"].get("labels") or []),
                          arch=(p["poolConfig"].get("machinePoolProperties") or {}).get("archType") or "amd64")
                     for p in pools_body]
            cluster = Cluster(
                uid=new_uid(), name=name, project_uid=call.project_uid or "", labels=dict(meta.get("labels") or {}),
                annotations=dict(meta.get("annotations") or {}), profile_uids=[p["uid"] for p in spec["profiles"]],
                pools=pools, vip=((spec.get("cloudConfig") or {}).get("controlPlaneEndpoint") or {}).get("host", ""),
                created_at=time.time(), created=now_iso(),
                fail_stage="provisioning" if failure else "",
            )
            self.state.add_cluster(cluster)
        return Reply(status=201, body={"uid": cluster.uid}, headers={"AuditUid": new_uid()})

    def _cluster(self, call: Call) -> Cluster:
        cluster = self.state.clusters.get(call.params["uid"])
        if cluster is None or cluster.project_uid != call.project_uid:
            raise _not_found("SpectroCluster", call.params["uid"])
        return cluster

    def get_cluster(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cluster_full(self.state, self._cluster(call)))

    def delete_cluster(self, call: Call) -> Reply:
        _require_write(call, "spectrocluster.delete")
        with self.state.lock:
            cluster = self._cluster(call)
            self.state.request_delete(cluster.uid, force=call.query.get("forceDelete") == "true")
        return Reply(status=204)

    def cluster_status(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cluster_status(self.state, self._cluster(call)))

    def cluster_overview(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cluster_overview(self.state, self._cluster(call)))

    def kubeconfig(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._cluster(call)
            if self.state.cluster_state(cluster) != "Running":
                raise ApiError(404, "ResourceNotFound", f"kubeconfig of cluster '{cluster.uid}' is not available yet")
            text = render.kubeconfig(cluster)
        return Reply(body=text, content_type="application/octet-stream")

    def cluster_hosts(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._cluster(call)
            items = [render.host_device(self.state, self.state.hosts[u]) for u in cluster.host_uids
                     if u in self.state.hosts]
        return Reply(body={"items": items, "listmeta": {"continue": "", "count": len(items), "limit": 50,
                                                        "offset": len(items)}})
