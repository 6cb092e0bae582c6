"""The simulator's world: tenant, projects, edge hosts, cluster profiles, clusters, API keys.

State machines (advanced lazily, on every request, from wall-clock time):

- Edge host: ``unpaired`` -> ``ready`` (paired; via the admin endpoint) -> ``in-use`` (assigned
  by a cluster create) -> ``ready`` (when that cluster reaches Deleted). Health (``healthy`` /
  ``unhealthy``) is independent and changed through the admin endpoint.
- Cluster: ``Pending`` -> ``Provisioning`` -> ``Running`` (overview health ``Healthy``); delete:
  ``Deleting`` -> ``Deleted`` (still listed, for 72 hours by default) -> gone (404). Durations come
  from ``Timings``, and so do the lags a client must live with: a host's ``inUseClusters`` is filled
  a while after the create, a kubeconfig exists a while after ``Running``, and a force delete is
  accepted only after 15 minutes in ``Deleting``.

All access goes through ``SimState.lock``; ``version`` increases on every change so search
results can be cached between changes.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def now_iso(t: float | None = None) -> str:
    """RFC 3339 with milliseconds and Z, as Palette writes timestamps."""
    d = datetime.fromtimestamp(time.time() if t is None else t, tz=UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + f"{d.microsecond // 1000:03d}Z"


def new_uid() -> str:
    """A 24-hex uid (Mongo ObjectId style) for projects, profiles and clusters."""
    return secrets.token_hex(12)


def version_key(version: str) -> tuple:
    """A profile version's sort key (SemVer-like: "1.10.0" after "1.9.2")."""
    return tuple(int(x) if x.isdigit() else 0 for x in version.split("."))


@dataclass
class Timings:
    """Seconds each cluster phase and each lag lasts in the simulator (configurable for tests and demos).

    The defaults are Palette's documented values where it documents one; the phases themselves are short so
    that a demo cluster is Running in seconds.
    """

    pending: float = 2.0
    provisioning: float = 5.0
    deleting: float = 3.0
    # Deleted clusters stay listed, state Deleted, for 72 hours (librarium remove-clusters.md;
    # docs/palette-behaviour.md §13).
    deleted_visible: float = 72 * 3600.0
    # A force delete is accepted once the cluster has been Deleting for 15 minutes (librarium clusters docs,
    # "Force Delete a Cluster": "stuck in the Deletion state for a minimum of 15 minutes";
    # docs/palette-behaviour.md §13).
    force_delete_after: float = 15 * 60.0
    # An accepted force delete reaches Deleted after this fraction of ``deleting``.
    force_delete_factor: float = 0.3
    # Nothing documents when a host's inUseClusters is filled after a create; it may lag
    # (docs/palette-behaviour.md §8, inferred).
    in_use_lag: float = 15.0
    # The overview's kubeMeta.hasKubeConfig says when a kubeconfig exists; until then the asset is empty
    # (docs/palette-behaviour.md §14; palette-sdk-go client/cluster.go GetClusterKubeConfig returns "" when
    # there is none).
    kubeconfig_lag: float = 10.0


@dataclass
class KeyPolicy:
    """An API key: ``projects`` it can access (None = all), whether it may write, and its v1ApiKey fields.

    ``expiry`` is a timestamp (RFC 3339) or empty; an expired or inactive key is refused like an unknown one.
    ``forbidden`` lists spec path templates its user's roles may not call (403), e.g.
    ``/v1/activations/system``.
    """

    projects: set[str] | None = None
    read_only: bool = False
    forbidden: frozenset[str] = frozenset()
    uid: str = field(default_factory=lambda: new_uid())
    name: str = "paletteai"
    expiry: str = ""
    active: bool = True
    created: str = field(default_factory=lambda: now_iso())

    def usable(self, now: float | None = None) -> bool:
        """Active and not past its expiry."""
        return self.active and not (self.expiry and self.expiry <= now_iso(now))


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
    # When it was put in use (its inUseClusters shows the cluster Timings.in_use_lag later).
    assigned_at: float = 0.0

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
    variables: list[dict] = field(default_factory=list)  # v1Variable items


@dataclass
class Pool:
    """A machine pool of a cluster: ``config`` is its poolConfig and ``edge_hosts`` its hosts, as sent."""

    name: str
    control_plane: bool
    host_uids: list[str]
    labels: list[str]
    arch: str = "amd64"
    config: dict = field(default_factory=dict)
    edge_hosts: list[dict] = field(default_factory=list)


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
    force_at: float | None = None
    fail_stage: str = ""  # "provisioning": never gets past Provisioning, health UnHealthy
    kubernetes_version: str = "1.30.4"
    cloud_config: dict = field(default_factory=dict)  # spec.cloudConfig of the create body
    variables: dict[str, dict[str, str]] = field(default_factory=dict)  # profile uid -> name -> value
    pack_values: dict[str, list[dict]] = field(default_factory=dict)  # profile uid -> packValues as sent
    # What was asked of it: (time, severity, reason, message).
    events: list[tuple[float, str, str, str]] = field(default_factory=list)

    @property
    def host_uids(self) -> list[str]:
        """Every host of every pool."""
        return [u for p in self.pools for u in p.host_uids]


#: v1ActivationsSystemResponse states. A self-hosted Palette is Pending during its 30-day trial and Inactive
#: after it: existing clusters run on, but no cluster is created and no day-2 operation runs until it is
#: activated (librarium enterprise-version/activate-installation/activate-installation.md).
LICENSE_STATES = ("Active", "Pending", "Inactive")
#: ``license_state`` of a SaaS Palette: it has no system activation (``/v1/activations/system`` is a 404).
SAAS = "SaaS"
_LICENSE_FORMS = "active, pending, pending:<days>d (e.g. pending:10d), inactive or saas"


def parse_license(text: str) -> tuple[str, float | None]:
    """``(state, days of the trial left or None)`` from the ``--license`` forms (``SimState.set_license``);
    ValueError naming the accepted forms."""
    name, _, days_text = str(text).strip().partition(":")
    state = {s.lower(): s for s in (*LICENSE_STATES, SAAS)}.get(name.strip().lower())
    if state is None:
        raise ValueError(f"license must be one of {_LICENSE_FORMS}, not {text!r}")
    if not days_text:
        return state, None
    number = days_text.strip().lower().removesuffix("d")
    if state != "Pending" or not number.replace(".", "", 1).isdigit():
        raise ValueError(f"license must be one of {_LICENSE_FORMS}, not {text!r}")
    return state, float(number)


#: Pack registries every tenant sees (v1RegistryMetadata), unless the simulator is given others.
DEFAULT_REGISTRIES = ("Public Repo", "Palette Registry")


@dataclass
class Registry:
    """A pack registry as ``/v1/registries/metadata`` lists it (flags ``isPrivate`` and ``isDefault``)."""

    uid: str
    name: str
    scope: str = "system"
    private: bool = False
    default: bool = False
    kind: str = "pack"
    endpoint: str = ""


def make_registries(names: list[str] | tuple[str, ...]) -> list[Registry]:
    """Registries from names: Spectro Cloud's own two are system-scoped and public, any other is a private
    tenant registry; the first is the default. A name may end in ``:private`` or ``:public`` to say
    otherwise."""
    out = []
    for i, raw in enumerate(n.strip() for n in names):
        name, _, flag = raw.partition(":")
        system = name in DEFAULT_REGISTRIES
        private = flag == "private" if flag in ("private", "public") else not system
        slug = name.lower().replace(" ", "-")
        out.append(
            Registry(
                uid=new_uid(),
                name=name,
                scope="system" if system else "tenant",
                private=private,
                default=i == 0,
                endpoint=f"https://{slug}.registry.example.com",
            )
        )
    return out


class SimState:
    """Everything the simulator knows, with the state machines and a change counter.

    ``license_state`` is the self-hosted activation state (one of ``LICENSE_STATES``); ``registries`` the pack
    registries of the tenant.
    """

    def __init__(
        self,
        *,
        api_key: str,
        timings: Timings | None = None,
        org_name: str = "PaletteAI Demo",
        tenant_uid: str | None = None,
        user_uid: str | None = None,
        license_state: str = "Active",
        registries: list[Registry] | None = None,
    ):
        self.lock = threading.RLock()
        self.version = 0
        self.timings = timings or Timings()
        self.org_name = org_name
        self.tenant_uid = tenant_uid or new_uid()
        self.user_uid = user_uid or new_uid()
        self.keys: dict[str, KeyPolicy] = {api_key: KeyPolicy()}
        self.projects: dict[str, Project] = {}
        self.hosts: dict[str, Host] = {}
        self.profiles: dict[str, Profile] = {}
        self.clusters: dict[str, Cluster] = {}
        self.fail_next_create: dict[str, Any] | None = None
        self.stuck_continue = False
        self.license_state, self.license_expires = "Active", ""
        self.set_license(license_state)
        # Validate answers host problems as a 4xx ("4xx", Palette's way: see checks.py). "results" lists them
        # as machine pool errors in the 200 body instead; only for tests of code that does not handle the 4xx
        # yet.
        self.validate_host_problems = "4xx"
        self.registries = registries if registries is not None else make_registries(DEFAULT_REGISTRIES)
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

    def set_license(self, license_state: str) -> None:
        """Set the activation state from ``active``, ``pending`` (a fresh 30-day trial), ``pending:<N>d``
        (N days of the trial left), ``inactive`` (the trial is over) or ``saas`` (no activation at all:
        ``/v1/activations/system`` answers 404); case-insensitive. ValueError with the accepted forms
        otherwise."""
        state, days = parse_license(license_state)
        now = time.time()
        # A trial ends 30 days after installation; an Inactive Palette is past it (librarium, see
        # LICENSE_STATES).
        self.license_state = state
        self.license_expires = {
            "Active": "",
            SAAS: "",
            "Pending": now_iso(now + (30 if days is None else days) * 86400),
            "Inactive": now_iso(now - 86400),
        }[state]

    # -- projects and keys --------------------------------------------------------------------

    def add_project(self, name: str, uid: str | None = None, created: str | None = None) -> Project:
        """Create a project."""
        with self.lock:
            project = Project(uid=uid or new_uid(), name=name, created=created or now_iso())
            self.projects[project.uid] = project
            self.touch()
            return project

    def add_key(
        self,
        key: str,
        *,
        projects: list[str] | None = None,
        read_only: bool = False,
        name: str = "",
        expiry: str = "",
        active: bool = True,
        forbidden: list[str] | tuple[str, ...] = (),
    ) -> None:
        """Accept another API key, optionally limited to some projects or to reads, expiring or inactive, or
        refused (403) on the path templates in ``forbidden``."""
        with self.lock:
            self.keys[key] = KeyPolicy(
                projects=set(projects) if projects is not None else None,
                read_only=read_only,
                name=name or f"key-{len(self.keys) + 1}",
                expiry=expiry,
                active=active,
                forbidden=frozenset(forbidden),
            )

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

    def update_host(
        self,
        uid: str,
        *,
        labels: dict[str, str] | None = None,
        add_labels: dict[str, str] | None = None,
        remove_labels: list[str] | None = None,
        state: str | None = None,
        health: str | None = None,
        health_message: str | None = None,
        name: str | None = None,
    ) -> Host:
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
                host.health_message = (
                    health_message
                    if health_message is not None
                    else ("" if health == "healthy" else "edge host agent heartbeat missed")
                )
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
        return [
            p
            for p in self.profiles.values()
            if p.scope in ("system", "tenant") or (project_uid and p.project_uid == project_uid)
        ]

    # -- clusters -----------------------------------------------------------------------------

    def add_cluster(self, cluster: Cluster) -> Cluster:
        """Register a cluster and put its hosts in use."""
        with self.lock:
            self.clusters[cluster.uid] = cluster
            self.assign_hosts(cluster, cluster.host_uids, cluster.created_at)
            self.touch()
            return cluster

    def assign_hosts(self, cluster: Cluster, uids: list[str], when: float) -> None:
        """Put hosts in use by ``cluster`` (at create, or when a machine pool grows)."""
        for uid in uids:
            host = self.hosts[uid]
            # Stamped with the cluster's times (also keeps seeded inventories deterministic).
            host.state, host.cluster, host.assigned_at = "in-use", (cluster.uid, cluster.name), when
            host.modified = now_iso(when)

    def release_hosts(self, cluster: Cluster, uids: list[str], now: float | None = None) -> None:
        """Hosts go back to ``ready`` when their cluster is Deleted or their pool drops them (librarium)."""
        for uid in uids:
            host = self.hosts.get(uid)
            if host is not None and host.cluster and host.cluster[0] == cluster.uid:
                host.state, host.cluster, host.modified = "ready", None, now_iso(now)
                self.touch()

    def in_use_visible(self, host: Host, now: float | None = None) -> bool:
        """Whether the host's inUseClusters lists its cluster yet (``Timings.in_use_lag`` after it was
        assigned)."""
        now = time.time() if now is None else now
        return host.cluster is not None and now - host.assigned_at >= self.timings.in_use_lag

    def _deleted_at(self, cluster: Cluster) -> float | None:
        """When the cluster reaches (or reached) Deleted, once a deletion was requested."""
        if cluster.delete_at is None:
            return None
        end = cluster.delete_at + self.timings.deleting
        if cluster.force_at is not None:
            end = min(end, cluster.force_at + self.timings.deleting * self.timings.force_delete_factor)
        return end

    def running_since(self, cluster: Cluster) -> float | None:
        """When the cluster reached Running (None if it never does: a provisioning failure)."""
        if cluster.fail_stage == "provisioning":
            return None
        return cluster.created_at + self.timings.pending + self.timings.provisioning

    def cluster_state(self, cluster: Cluster, now: float | None = None) -> str:
        """The cluster's state now: Pending, Provisioning, Running, Deleting or Deleted."""
        now = time.time() if now is None else now
        deleted_at = self._deleted_at(cluster)
        if deleted_at is not None:
            return "Deleting" if now < deleted_at else "Deleted"
        age = now - cluster.created_at
        if age < self.timings.pending:
            return "Pending"
        running = self.running_since(cluster)
        return "Running" if running is not None and now >= running else "Provisioning"

    def kubeconfig_ready(self, cluster: Cluster, now: float | None = None) -> bool:
        """Whether the cluster's kubeconfig exists: Running for ``Timings.kubeconfig_lag``."""
        now = time.time() if now is None else now
        running = self.running_since(cluster)
        return (
            self.cluster_state(cluster, now) == "Running"
            and running is not None
            and now - running >= self.timings.kubeconfig_lag
        )

    def cluster_health(self, cluster: Cluster, now: float | None = None) -> str:
        """Overview health: Healthy when Running, UnHealthy when stuck by a failure, else empty."""
        state = self.cluster_state(cluster, now)
        if state == "Running":
            return "Healthy"
        if cluster.fail_stage and state == "Provisioning":
            return "UnHealthy"
        return ""

    def force_delete_refusal(self, cluster: Cluster, now: float | None = None) -> str:
        """Why a force delete is refused now ("" if it is accepted)."""
        now = time.time() if now is None else now
        after = self.timings.force_delete_after
        if cluster.delete_at is None:
            return f"cluster '{cluster.name}' is not being deleted; delete it first, force delete comes later"
        if now - cluster.delete_at < after:
            left = after - (now - cluster.delete_at)
            return (
                f"cluster '{cluster.name}' can be force deleted after {after / 60:g} minutes in Deleting "
                f"({left:.0f} seconds left)"
            )
        return ""

    def request_delete(self, uid: str, force: bool, now: float | None = None) -> None:
        """Start deleting a cluster; ``force`` (checked with ``force_delete_refusal`` first) ends it
        sooner."""
        now = time.time() if now is None else now
        with self.lock:
            cluster = self.clusters[uid]
            if cluster.delete_at is None:
                cluster.delete_at = now
                cluster.events.append((now, "Normal", "Deleting", "cluster deletion requested"))
            if force and cluster.force_at is None:
                cluster.force_at = now
                cluster.events.append((now, "Warning", "ForceDeleting", "cluster force delete requested"))
            self.touch()

    def advance(self, now: float | None = None) -> None:
        """Apply time-driven transitions: release hosts of Deleted clusters, forget old ones."""
        now = time.time() if now is None else now
        with self.lock:
            for cluster in list(self.clusters.values()):
                deleted_at = self._deleted_at(cluster)
                if deleted_at is None or now < deleted_at:
                    continue
                self.release_hosts(cluster, cluster.host_uids, now)
                if now >= deleted_at + self.timings.deleted_visible:
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
                "clusters": [
                    {"uid": c.uid, "name": c.name, "state": self.cluster_state(c)}
                    for c in self.clusters.values()
                ],
                "stuckContinue": self.stuck_continue,
                "failNextCreate": self.fail_next_create,
                "license": self.license_state,
            }
