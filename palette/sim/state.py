"""The simulator's world: tenant, projects, edge hosts, cluster profiles, clusters, API keys.

State machines (advanced lazily, on every request, from wall-clock time):

- Edge host: ``unpaired`` -> ``ready`` (paired; via the admin endpoint) -> ``in-use`` (assigned
  by a cluster create) -> ``ready`` (when that cluster reaches Deleted). Health (``healthy`` /
  ``unhealthy``) is independent and changed through the admin endpoint.
- Cluster: ``Pending`` -> ``Provisioning`` -> ``Running`` (overview health ``Healthy``); delete:
  ``Deleting`` -> ``Deleted`` -> gone (404). Durations come from ``Timings``.

All access goes through ``SimState.lock``; ``version`` increases on every change so search
results can be cached between changes.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any


def now_iso(t: float | None = None) -> str:
    """RFC 3339 with milliseconds and Z, as Palette writes timestamps."""
    d = datetime.fromtimestamp(time.time() if t is None else t, tz=timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def new_uid() -> str:
    """A 24-hex uid (Mongo ObjectId style) for projects, profiles and clusters."""
    return secrets.token_hex(12)


@dataclass
class Timings:
    """Seconds each cluster phase lasts in the simulator (configurable for tests and demos)."""

    pending: float = 2.0
    provisioning: float = 5.0
    deleting: float = 3.0
    deleted_visible: float = 2.0
    force_delete_factor: float = 0.3


@dataclass
class KeyPolicy:
    """What an API key may do: ``projects`` it can access (None = all) and whether it may write."""

    projects: set[str] | None = None
    read_only: bool = False


@dataclass
class Project:
    """A project of the simulated tenant."""

    uid: str
    name: str
    created: str


@dataclass
class Host:
    """An edge host. ``gpus``, ``nics``, ``disks`` and ``os`` are kept in the spec's shapes."""

    uid: str
    name: str
    project_uid: str
    labels: dict[str, str]
    state: str = "ready"
    health: str = "healthy"
    health_message: str = ""
    arch: str = "amd64"
    cpu_cores: int = 16
    memory_mb: int = 65536
    gpus: list[dict] = field(default_factory=list)
    nics: list[dict] = field(default_factory=list)
    disks: list[dict] = field(default_factory=list)
    os: dict = field(default_factory=dict)
    address: str = ""
    mac: str = ""
    agent_version: str = "4.8.1"
    created: str = ""
    modified: str = ""
    cluster: tuple[str, str] | None = None  # (uid, name) of the cluster using it

    @property
    def tag_strings(self) -> list[str]:
        """Tags as ``key:value`` (bare tags as ``key``), as search filters and /tags see them."""
        return [k if v == "spectro__tag" else f"{k}:{v}" for k, v in self.labels.items()]


@dataclass
class Profile:
    """One version of a cluster profile. ``scope`` is system, tenant or project."""

    uid: str
    name: str
    version: str
    cloud_type: str
    type: str
    scope: str
    project_uid: str
    packs: list[dict]
    created: str
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Pool:
    """A machine pool of a cluster."""

    name: str
    control_plane: bool
    host_uids: list[str]
    labels: list[str]
    arch: str = "amd64"


@dataclass
class Cluster:
    """An edge-native cluster and the times that drive its state machine."""

    uid: str
    name: str
    project_uid: str
    labels: dict[str, str]
    annotations: dict[str, str]
    profile_uids: list[str]
    pools: list[Pool]
    vip: str
    created_at: float
    created: str
    cloud_config_uid: str = field(default_factory=new_uid)
    delete_at: float | None = None
    force: bool = False
    fail_stage: str = ""  # "provisioning": never gets past Provisioning, health UnHealthy
    kubernetes_version: str = "1.30.4"

    @property
    def host_uids(self) -> list[str]:
        """Every host of every pool."""
        return [u for p in self.pools for u in p.host_uids]


class SimState:
    """Everything the simulator knows, with the state machines and a change counter."""

    def __init__(self, *, api_key: str, timings: Timings | None = None, org_name: str = "PaletteAI Demo",
                 tenant_uid: str | None = None, user_uid: str | None = None):
        self.lock = threading.RLock()
        self.version = 0
        self.timings = timings or Timings()
        self.org_name = org_name
        self.tenant_uid = tenant_uid or new_uid()
        self.user_uid = user_uid or new_uid()
        self.keys: dict[str, KeyPolicy] = {api_key: KeyPolicy()}
        self.primary_key = api_key
        self.projects: dict[str, Project] = {}
        self.hosts: dict[str, Host] = {}
        self.profiles: dict[str, Profile] = {}
        self.clusters: dict[str, Cluster] = {}
        self.fail_next_create: dict[str, Any] | None = None
        self.stuck_continue = False
        self._search_cache: dict[Any, list] = {}

    # -- bookkeeping ------------------------------------------------------------------------

    def touch(self) -> None:
        """Record a change (invalidates cached search results)."""
        self.version += 1
        self._search_cache.clear()

    def cached(self, key: Any, compute: Any) -> list:
        """A search result for ``key`` computed once per state version."""
        hit = self._search_cache.get(key)
        if hit is None:
            if len(self._search_cache) > 64:
                self._search_cache.clear()
            hit = self._search_cache[key] = compute()
        return hit

    # -- projects and keys --------------------------------------------------------------------

    def add_project(self, name: str, uid: str | None = None, created: str | None = None) -> Project:
        """Create a project."""
        with self.lock:
            project = Project(uid=uid or new_uid(), name=name, created=created or now_iso())
            self.projects[project.uid] = project
            self.touch()
            return project

    def add_key(self, key: str, *, projects: list[str] | None = None, read_only: bool = False) -> None:
        """Accept another API key, optionally limited to some projects or to reads."""
        with self.lock:
            self.keys[key] = KeyPolicy(projects=set(projects) if projects is not None else None, read_only=read_only)

    # -- hosts --------------------------------------------------------------------------------

    def add_host(self, host: Host) -> Host:
        """Register a host (its uid must be new)."""
        with self.lock:
            if host.uid in self.hosts:
                raise ValueError(f"edge host {host.uid} exists already")
            if host.project_uid not in self.projects:
                raise ValueError(f"project {host.project_uid} does not exist")
            host.created = host.created or now_iso()
            host.modified = host.modified or host.created
            self.hosts[host.uid] = host
            self.touch()
            return host

    def remove_host(self, uid: str) -> None:
        """Delete a host (KeyError if unknown)."""
        with self.lock:
            del self.hosts[uid]
            self.touch()

    def update_host(self, uid: str, *, labels: dict[str, str] | None = None, add_labels: dict[str, str] | None = None,
                    remove_labels: list[str] | None = None, state: str | None = None, health: str | None = None,
                    health_message: str | None = None, name: str | None = None) -> Host:
        """Change a host's tags, state or health (KeyError if unknown, ValueError if invalid)."""
        with self.lock:
            host = self.hosts[uid]
            if state is not None:
                if state not in ("unpaired", "ready", "in-use"):
                    raise ValueError(f"state must be unpaired, ready or in-use, not {state!r}")
                if state == "in-use" and host.cluster is None:
                    raise ValueError("a host becomes in-use only by being assigned to a cluster")
                if state != "in-use" and host.cluster is not None:
                    raise ValueError(f"host is in use by cluster {host.cluster[1]}; delete the cluster first")
                host.state = state
            if health is not None:
                if health not in ("healthy", "unhealthy"):
                    raise ValueError(f"health must be healthy or unhealthy, not {health!r}")
                host.health = health
                host.health_message = health_message if health_message is not None else (
                    "" if health == "healthy" else "edge host agent heartbeat missed")
            if labels is not None:
                host.labels = {str(k): str(v) for k, v in labels.items()}
            for k, v in (add_labels or {}).items():
                host.labels[str(k)] = str(v)
            for k in remove_labels or ():
                host.labels.pop(k, None)
            if name:
                host.name = name
            host.modified = now_iso()
            self.touch()
            return host

    # -- profiles -----------------------------------------------------------------------------

    def add_profile(self, profile: Profile) -> Profile:
        """Add a cluster profile version."""
        with self.lock:
            self.profiles[profile.uid] = profile
            self.touch()
            return profile

    def visible_profiles(self, project_uid: str | None) -> list[Profile]:
        """Profiles a scope sees: system and tenant ones, plus the project's own in project scope."""
        return [p for p in self.profiles.values()
                if p.scope in ("system", "tenant") or (project_uid and p.project_uid == project_uid)]

    # -- clusters -----------------------------------------------------------------------------

    def add_cluster(self, cluster: Cluster) -> Cluster:
        """Register a cluster and put its hosts in use."""
        with self.lock:
            self.clusters[cluster.uid] = cluster
            for uid in cluster.host_uids:
                host = self.hosts[uid]
                # Assigned when the cluster was created (also keeps seeded inventories deterministic).
                host.state, host.cluster, host.modified = "in-use", (cluster.uid, cluster.name), cluster.created
            self.touch()
            return cluster

    def cluster_state(self, cluster: Cluster, now: float | None = None) -> str:
        """The cluster's state now: Pending, Provisioning, Running, Deleting or Deleted."""
        now = time.time() if now is None else now
        t = self.timings
        if cluster.delete_at is not None:
            factor = t.force_delete_factor if cluster.force else 1.0
            return "Deleting" if now - cluster.delete_at < t.deleting * factor else "Deleted"
        age = now - cluster.created_at
        if age < t.pending:
            return "Pending"
        if cluster.fail_stage == "provisioning" or age < t.pending + t.provisioning:
            return "Provisioning"
        return "Running"

    def cluster_health(self, cluster: Cluster, now: float | None = None) -> str:
        """Overview health: Healthy when Running, UnHealthy when stuck by a failure, else empty."""
        state = self.cluster_state(cluster, now)
        if state == "Running":
            return "Healthy"
        if cluster.fail_stage and state == "Provisioning":
            return "UnHealthy"
        return ""

    def request_delete(self, uid: str, force: bool, now: float | None = None) -> None:
        """Start deleting a cluster (again with force shortens it)."""
        with self.lock:
            cluster = self.clusters[uid]
            if cluster.delete_at is None:
                cluster.delete_at = time.time() if now is None else now
            cluster.force = cluster.force or force
            self.touch()

    def advance(self, now: float | None = None) -> None:
        """Apply time-driven transitions: release hosts of Deleted clusters, forget old ones."""
        now = time.time() if now is None else now
        t = self.timings
        with self.lock:
            for cluster in list(self.clusters.values()):
                if cluster.delete_at is None or self.cluster_state(cluster, now) != "Deleted":
                    continue
                for uid in cluster.host_uids:
                    host = self.hosts.get(uid)
                    if host is not None and host.cluster and host.cluster[0] == cluster.uid:
                        host.state, host.cluster, host.modified = "ready", None, now_iso(now)
                        self.touch()
                factor = t.force_delete_factor if cluster.force else 1.0
                if now - cluster.delete_at >= t.deleting * factor + t.deleted_visible:
                    del self.clusters[cluster.uid]
                    self.touch()

    def summary(self) -> dict[str, Any]:
        """Counts and uids for people and tests (the admin endpoint's GET /__sim__/state)."""
        with self.lock:
            by_state: dict[str, int] = {}
            for h in self.hosts.values():
                by_state[h.state] = by_state.get(h.state, 0) + 1
            return {
                "tenantUid": self.tenant_uid,
                "projects": [{"uid": p.uid, "name": p.name} for p in self.projects.values()],
                "hosts": len(self.hosts),
                "hostsByState": by_state,
                "unhealthyHosts": sum(1 for h in self.hosts.values() if h.health == "unhealthy"),
                "profiles": len(self.profiles),
                "clusters": [{"uid": c.uid, "name": c.name, "state": self.cluster_state(c)}
                             for c in self.clusters.values()],
                "stuckContinue": self.stuck_continue,
                "failNextCreate": self.fail_next_create,
            }
