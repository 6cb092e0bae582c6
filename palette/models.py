"""Typed results of Palette calls.

Each class is built by ``from_api(data)`` from Palette's JSON and keeps the whole decoded object
in ``raw`` (the same dict, not a copy), so fields this code does not model (or that a newer
Palette adds) are never lost. Parsing is tolerant: a missing field becomes an empty value, never
an error. All are slotted dataclasses; most are filled up front. ``EdgeHost``, the one that comes
by the tens of thousands, is a view that reads its fields from ``raw`` on access: one small object per
host instead of five or six, which a listing would otherwise pay for again in every
garbage-collector pass (bench/palette_client.py measures it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: Value Palette stores for a tag without a value (shown as just the key).
BARE_TAG_VALUE = "spectro__tag"


def _get(data: Any, *keys: str, default: Any = None) -> Any:
    # isinstance(dict) rather than Mapping: the ABC check is slow and this runs per host per page.
    for key in keys:
        if not isinstance(data, dict):
            return default
        data = data.get(key)
        if data is None:
            return default
    return data


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (``2024-02-29T20:31:42.204Z``) as an aware datetime, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)  # Python 3.11 reads the "Z" suffix itself
    except ValueError:
        return None


_MEMORY = re.compile(r"^\s*([\d.]+)\s*([KMGT]i?B?)?\s*$", re.IGNORECASE)
_UNIT_MIB = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}


def parse_memory_mib(value: Any) -> int | None:
    """GPU memory as Palette reports it (``"16384 MiB"``, ``"40 GiB"``, a bare number) in MiB."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        return None
    m = _MEMORY.match(value)
    if not m:
        return None
    unit = (m.group(2) or "M")[0].lower()
    try:
        mib = float(m.group(1)) * _UNIT_MIB[unit]
    except ValueError:  # "1.2.3 MiB" matches the pattern but is no number
        return None
    return int(mib) if math.isfinite(mib) else None  # "9" * 400 is infinite as a float


@dataclass(slots=True)
class ObjectRef:
    """A reference to another Palette object (uid and name)."""

    uid: str
    name: str = ""

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ObjectRef:
        """Build from ``{uid, name}`` (or ``{metadata: {uid, name}}``)."""
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            meta = data
        return cls(uid=meta.get("uid") or "", name=meta.get("name") or "")


@dataclass(slots=True)
class UserInfo:
    """Who the API key belongs to (``GET /v1/users/info``): tenant and user."""

    org_name: str
    tenant_uid: str
    user_uid: str
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> UserInfo:
        """Build from v1UserInfo."""
        return cls(
            org_name=data.get("orgName") or "",
            tenant_uid=data.get("tenantUid") or "",
            user_uid=data.get("userUid") or "",
            raw=data,
        )


@dataclass(slots=True)
class ApiKeyInfo:
    """One API key of the tenant as ``GET /v1/apiKeys`` lists it (v1ApiKey): never its value, which Palette
    shows once, at creation (docs/palette-behaviour.md §1)."""

    uid: str
    name: str
    user_uid: str
    expiry: datetime | None
    active: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ApiKeyInfo:
        meta, spec = data.get("metadata") or {}, data.get("spec") or {}
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            user_uid=_get(spec, "user", "uid", default="") or "",
            expiry=parse_time(spec.get("expiry")),
            active=bool(_get(data, "status", "isActive", default=True)),
        )


@dataclass(slots=True)
class Project:
    """A Palette project (v1Project)."""

    uid: str
    name: str
    labels: dict[str, str]
    is_disabled: bool
    created: datetime | None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Project:
        """Build from v1Project."""
        meta = data.get("metadata") or {}
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            labels=dict(meta.get("labels") or {}),
            is_disabled=bool(_get(data, "status", "isDisabled", default=False)),
            created=parse_time(meta.get("creationTimestamp")),
            raw=data,
        )


@dataclass(slots=True)
class SystemActivation:
    """A self-hosted Palette's activation (``GET /v1/activations/system``, v1ActivationsSystemResponse):
    ``state`` Active, Pending (in its 30-day trial) or Inactive, and ``expires_at``, when the trial ends
    (docs/palette-behaviour.md §16)."""

    state: str
    expires_at: datetime | None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> SystemActivation:
        """Build from v1ActivationsSystemResponse."""
        return cls(
            state=str(_get(data, "status", "state", default="") or ""),
            expires_at=parse_time(_get(data, "status", "expiresAt")),
            raw=dict(data),
        )


@dataclass(slots=True)
class Registry:
    """A pack registry the tenant sees (v1RegistryMetadata of ``GET /v1/registries/metadata``)."""

    uid: str
    name: str
    kind: str = ""
    scope: str = ""
    is_private: bool = False
    is_default: bool = False
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Registry:
        """Build from v1RegistryMetadata."""
        return cls(
            uid=data.get("uid") or "",
            name=data.get("name") or "",
            kind=data.get("kind") or "",
            scope=data.get("scope") or "",
            is_private=bool(data.get("isPrivate")),
            is_default=bool(data.get("isDefault")),
            raw=dict(data),
        )


@dataclass(slots=True)
class Gpu:
    """One GPU entry of a host; ``count`` cards of the same model (a missing count means 1)."""

    vendor: str
    model: str
    count: int
    memory_mib: int | None
    mig_capable: bool = False
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Gpu:
        """Build from v1GPUDeviceSpec."""
        count = data.get("gpuCount")
        return cls(
            vendor=data.get("vendor") or "",
            model=data.get("model") or "",
            count=count if isinstance(count, int) and count > 0 else 1,
            memory_mib=parse_memory_mib(data.get("memory")),
            mig_capable=bool(data.get("migCapable")),
            raw=data,
        )


@dataclass(slots=True, repr=False)
class EdgeHost:
    """An edge host, from a search result (v1EdgeHostsMetadata) or a GET (v1EdgeHostDevice).

    ``state`` is ``unpaired``, ``ready`` or ``in-use``; ``health`` is ``healthy`` or
    ``unhealthy`` (empty when Palette has not reported it). Tags are ``labels``.

    Unlike the other results this is a typed *view* over ``raw``: each field is a property read
    from the decoded JSON when it is asked for (the nested ones, ``gpus``, ``project`` and
    ``in_use_clusters``, are built once and kept). A listing holds tens of thousands of hosts,
    and copying every field into its own objects up front costs time for fields many callers never
    read, plus objects that every garbage-collector pass has to scan again. Two hosts are equal
    when their JSON is.
    """

    raw: dict
    _gpus: tuple[Gpu, ...] | None = field(default=None, init=False, compare=False)
    _project: ObjectRef | None | bool = field(default=False, init=False, compare=False)
    _in_use: tuple[ObjectRef, ...] | None = field(default=None, init=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> EdgeHost:
        """Wrap either host shape Palette returns."""
        return cls(data if isinstance(data, dict) else dict(data))

    def __repr__(self) -> str:
        return f"EdgeHost(uid={self.uid!r}, name={self.name!r}, state={self.state!r})"

    @property
    def uid(self) -> str:
        return _get(self.raw, "metadata", "uid", default="") or ""

    @property
    def name(self) -> str:
        return _get(self.raw, "metadata", "name", default="") or ""

    @property
    def labels(self) -> dict[str, str]:
        """The host's tags as Palette stores them (a bare tag has the value ``spectro__tag``)."""
        return _get(self.raw, "metadata", "labels", default=None) or {}

    @property
    def state(self) -> str:
        return _get(self.raw, "status", "state", default="") or ""

    @property
    def health(self) -> str:
        return _get(self.raw, "status", "health", "state", default="") or ""

    @property
    def health_message(self) -> str:
        return _get(self.raw, "status", "health", "message", default="") or ""

    @property
    def architecture(self) -> str:
        return _get(self.raw, "spec", "device", "archType", default="") or ""

    @property
    def cpu_cores(self) -> int | None:
        return _get(self.raw, "spec", "device", "cpu", "cores")

    @property
    def memory_mb(self) -> int | None:
        return _get(self.raw, "spec", "device", "memory", "sizeInMB")

    @property
    def host_address(self) -> str:
        return _get(self.raw, "spec", "host", "hostAddress", default="") or ""

    @property
    def created(self) -> datetime | None:
        return parse_time(_get(self.raw, "metadata", "creationTimestamp"))

    @property
    def modified(self) -> datetime | None:
        return parse_time(_get(self.raw, "metadata", "lastModifiedTimestamp"))

    @property
    def gpus(self) -> tuple[Gpu, ...]:
        """The host's GPU entries (``spec.device.gpus``)."""
        if self._gpus is None:
            self._gpus = tuple(Gpu.from_api(g) for g in _get(self.raw, "spec", "device", "gpus", default=()))
        return self._gpus

    @property
    def project(self) -> ObjectRef | None:
        """The Palette project the host is registered in, when Palette says."""
        if self._project is False:
            spec = self.raw.get("spec") or {}
            meta = spec.get("projectMeta") or _get(spec, "host", "project")
            if not meta and (uid := _get(self.raw, "aclmeta", "projectUid")):
                meta = {"uid": uid}
            self._project = ObjectRef.from_api(meta) if meta else None
        return self._project

    @property
    def in_use_clusters(self) -> tuple[ObjectRef, ...]:
        """The clusters using the host (``status.inUseClusters``)."""
        if self._in_use is None:
            used = _get(self.raw, "status", "inUseClusters", default=())
            self._in_use = tuple(ObjectRef.from_api(c) for c in used)
        return self._in_use

    @property
    def gpu_count(self) -> int:
        """Total GPUs: the sum of ``gpuCount`` over entries, a missing count meaning 1."""
        return sum(g.count for g in self.gpus)

    @property
    def tags(self) -> list[str]:
        """Tags as Palette shows them: ``key:value``, or ``key`` for a bare tag."""
        return sorted(k if v == BARE_TAG_VALUE else f"{k}:{v}" for k, v in self.labels.items())


@dataclass(slots=True)
class Pack:
    """A pack (layer) of a cluster profile."""

    name: str
    tag: str
    layer: str
    type: str
    uid: str
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Pack:
        """Build from v1PackRef or v1PackRefSummary."""
        return cls(
            name=data.get("name") or "",
            tag=data.get("tag") or data.get("version") or "",
            layer=data.get("layer") or "",
            type=data.get("type") or "",
            uid=data.get("packUid") or "",
            raw=data,
        )


@dataclass(slots=True)
class ClusterProfile:
    """One version of a cluster profile (each version is its own object with its own uid).

    ``profile_type`` is ``infra``, ``cluster`` (Full), ``add-on`` or ``system``; ``cloud_type``
    e.g. ``edge-native`` or ``all``. ``versions`` lists (uid, version) of every version of the name.
    """

    uid: str
    name: str
    version: str
    versions: list[tuple[str, str]]
    cloud_type: str
    profile_type: str
    scope: str
    packs: list[Pack]
    is_published: bool
    in_use_clusters: list[ObjectRef]
    labels: dict[str, str]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ClusterProfile:
        """Build from v1ClusterProfileSummary (search) or v1ClusterProfile (GET)."""
        meta = data.get("metadata") or {}
        spec = data.get("specSummary") or data.get("spec") or {}
        template = spec.get("published") or spec.get("draft") or {}
        status = data.get("status") or {}
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            version=spec.get("version") or "",
            versions=[(v.get("uid") or "", v.get("version") or "") for v in spec.get("versions") or ()],
            cloud_type=template.get("cloudType") or "",
            profile_type=template.get("type") or "",
            scope=(meta.get("annotations") or {}).get("scope", ""),
            packs=[Pack.from_api(p) for p in template.get("packs") or ()],
            is_published=bool(status.get("isPublished")),
            in_use_clusters=[ObjectRef.from_api(c) for c in status.get("inUseClusters") or ()],
            labels=dict(meta.get("labels") or {}),
            raw=data,
        )

    @property
    def all_versions(self) -> list[tuple[str, str]]:
        """(uid, version) of every version of the name: ``versions[]`` (v1ClusterProfileVersion items), and
        this one even when a listing leaves it out. The search lists only the newest version of each name;
        the others are found here, each by its own uid."""
        found = [(uid, version) for uid, version in self.versions if uid]
        if self.uid and all(uid != self.uid for uid, _ in found):
            found.append((self.uid, self.version))
        return found

    def version_uid(self, version: str) -> str:
        """The uid of `version` of this profile's name ("" when ``versions[]`` does not list it)."""
        if version == self.version and self.uid:
            return self.uid
        return next((uid for uid, v in self.all_versions if v == version), "")


@dataclass(slots=True)
class ProfileVariable:
    """One variable of a cluster profile version (v1Variable, ``GET /v1/clusterprofiles/{uid}/variables``).

    A cluster gives values in ``profiles[].variables`` of its create body (v1SpectroClusterVariable: name,
    value). ``required`` with no ``default_value`` needs a value; ``is_sensitive`` marks a masked value;
    ``hidden`` ones cannot be overridden; ``immutable`` ones cannot change after the create. ``format`` is one
    of v1VariableFormat's string, number, boolean, ipv4, ipv4cidr, ipv6, version, base64 (``string`` when
    Palette leaves it out) and ``regex`` the pattern a value must match.
    """

    name: str
    display_name: str = ""
    description: str = ""
    format: str = "string"
    regex: str = ""
    required: bool = False
    default_value: str = ""
    hidden: bool = False
    immutable: bool = False
    is_sensitive: bool = False
    input_type: str = "text"
    options: list[str] = field(default_factory=list)
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ProfileVariable:
        """Build from v1Variable."""
        default = data.get("defaultValue")
        return cls(
            name=str(data.get("name") or ""),
            display_name=str(data.get("displayName") or ""),
            description=str(data.get("description") or ""),
            format=str(data.get("format") or "string"),
            regex=str(data.get("regex") or ""),
            required=bool(data.get("required")),
            default_value="" if default is None else str(default),
            hidden=bool(data.get("hidden")),
            immutable=bool(data.get("immutable")),
            is_sensitive=bool(data.get("isSensitive")),
            input_type=str(data.get("inputType") or "text"),
            options=[
                str(o.get("value"))
                for o in data.get("options") or ()
                if isinstance(o, dict) and o.get("value") is not None
            ],
            raw=dict(data),
        )

    @property
    def label(self) -> str:
        """The display name, else the name."""
        return self.display_name or self.name

    @property
    def needs_value(self) -> bool:
        """Required and without a default: a cluster must give a value."""
        return self.required and self.default_value == ""


@dataclass(slots=True)
class Cluster:
    """A Palette cluster (v1SpectroCluster). ``state``: Pending, Provisioning, Running, Deleting, ..."""

    uid: str
    name: str
    state: str
    cloud_type: str
    labels: dict[str, str]
    profile_uids: list[str]
    cloud_config_uid: str
    api_endpoints: list[str]
    conditions: list[dict]
    created: datetime | None
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Cluster:
        """Build from v1SpectroCluster."""
        meta = data.get("metadata") or {}
        spec = data.get("spec") or {}
        status = data.get("status") or {}
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            state=status.get("state") or "",
            cloud_type=spec.get("cloudType") or "",
            labels=dict(meta.get("labels") or {}),
            profile_uids=[t.get("uid") or "" for t in spec.get("clusterProfileTemplates") or ()],
            cloud_config_uid=_get(spec, "cloudConfigRef", "uid", default=""),
            api_endpoints=[f"{e.get('host')}:{e.get('port')}" for e in status.get("apiEndpoints") or ()],
            conditions=list(status.get("conditions") or ()),
            created=parse_time(meta.get("creationTimestamp")),
            raw=data,
        )


@dataclass(slots=True)
class ClusterSummary:
    """An item of the cluster search (v1SpectroClusterSummary): who it is, where it lives, its state."""

    uid: str
    name: str
    project_uid: str
    state: str
    deleting: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ClusterSummary:
        meta = data.get("metadata") or {}
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            project_uid=_get(data, "specSummary", "projectMeta", "uid", default=""),
            state=_get(data, "status", "state", default=""),
            deleting=bool(meta.get("deletionTimestamp")),
        )


@dataclass(slots=True)
class ClusterStatus:
    """The light status of a cluster (``GET /v1/spectroclusters/{uid}/status``)."""

    state: str
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ClusterStatus:
        """Build from v1SpectroClusterStatusEntity."""
        return cls(state=_get(data, "status", "state", default=""), raw=data)


@dataclass(slots=True)
class ClusterOverview:
    """A cluster's dashboard overview: state and health (``Healthy`` when all is well)."""

    uid: str
    name: str
    state: str
    health: str
    kubernetes_version: str
    raw: dict = field(default_factory=dict, repr=False)
    #: ``status.kubeMeta.hasKubeConfig``: whether Palette has the kubeconfig yet (its assets are empty until
    #: then, a while after Running); None when the overview does not say.
    has_kubeconfig: bool | None = None
    #: ``status.kubeMeta.hasKubeConfigClient``: the same for the client (OIDC) kubeconfig.
    has_kubeconfig_client: bool | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ClusterOverview:
        """Build from v1SpectroClusterUidSummary."""
        meta = data.get("metadata") or {}
        status = data.get("status") or {}
        kube_meta = status.get("kubeMeta") if isinstance(status.get("kubeMeta"), dict) else {}
        has = kube_meta.get("hasKubeConfig")
        has_client = kube_meta.get("hasKubeConfigClient")
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            state=status.get("state") or "",
            health=_get(status, "health", "state", default=""),
            kubernetes_version=_get(status, "kubeMeta", "kubernetesVersion", default=""),
            raw=data,
            has_kubeconfig=has if isinstance(has, bool) else None,
            has_kubeconfig_client=has_client if isinstance(has_client, bool) else None,
        )

    @property
    def is_running_and_healthy(self) -> bool:
        """What Terraform waits for after a create: Running AND Healthy (Running alone is not enough)."""
        return self.state == "Running" and self.health == "Healthy"


@dataclass(slots=True)
class ValidationProblem:
    """One error from cluster validation: in a machine pool or in a pack of a profile."""

    kind: str  # "machinePool" or "pack"
    name: str
    code: str
    message: str
    profile_uid: str = ""


@dataclass(slots=True)
class ValidationResult:
    """The answer of ``POST .../edge-native/validate``. A 200 can still carry errors: see ``ok``."""

    problems: list[ValidationProblem]
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when no machine pool and no pack reported an error."""
        return not self.problems

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ValidationResult:
        """Build from v1SpectroClusterValidatorResponse, collecting every ``errors[]`` list."""
        problems: list[ValidationProblem] = []
        for result in _get(data, "machinePools", "results", default=()) or ():
            for err in result.get("errors") or ():
                problems.append(
                    ValidationProblem(
                        "machinePool",
                        result.get("name") or "",
                        err.get("code") or "",
                        err.get("message") or "",
                    )
                )
        for profile in data.get("profiles") or ():
            for result in _get(profile, "packs", "results", default=()) or ():
                for err in result.get("errors") or ():
                    problems.append(
                        ValidationProblem(
                            "pack",
                            result.get("name") or "",
                            err.get("code") or "",
                            err.get("message") or "",
                            profile_uid=profile.get("uid") or "",
                        )
                    )
        return cls(problems=problems, raw=data)


# -- day-2: events and profiles -------------------------------------------------------------------

#: Palette's own text in an event (reason, message, object names) is cut to this many characters when it is
#: parsed: an event is shown on a page and stored on a pool, and Palette does not bound what a component says.
MAX_EVENT_TEXT = 500


def _event_text(value: Any, limit: int = MAX_EVENT_TEXT) -> str:
    from .errors import visible_controls

    text = visible_controls(value if isinstance(value, str) else "" if value is None else str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(slots=True)
class ComponentEvent:
    """One component event of a cluster or edge host (v1Event, ``GET /v1/events/components/{kind}/{uid}``).

    ``severity`` as Palette sends it (``Normal``, ``Warning``, ``Error``...); ``is_problem`` when it is not a
    normal or informational one. Text fields are bounded (MAX_EVENT_TEXT) and carry bidi controls made
    visible; they are still Palette's words: escape them wherever they are shown.
    """

    uid: str
    time: datetime | None
    severity: str
    reason: str
    message: str
    object_kind: str
    object_name: str
    object_uid: str
    component: str = ""
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ComponentEvent:
        """Build from v1Event."""
        meta = data.get("metadata") or {}
        involved = data.get("involvedObject") or {}
        return cls(
            uid=_event_text(meta.get("uid"), 100),
            time=parse_time(meta.get("creationTimestamp")),
            severity=_event_text(data.get("severity"), 40),
            reason=_event_text(data.get("reason"), 200),
            message=_event_text(data.get("message")),
            object_kind=_event_text(involved.get("kind"), 100),
            object_name=_event_text(involved.get("name"), 200),
            object_uid=_event_text(involved.get("uid"), 100),
            component=_event_text(_get(data, "source", "component", default=""), 100),
            raw=data,
        )

    @property
    def is_problem(self) -> bool:
        """A warning or an error (anything but Normal / Info)."""
        return self.severity.lower() not in ("", "normal", "info", "information")


@dataclass(slots=True)
class AttachedProfile:
    """A profile attached to a cluster (an item of v1SpectroClusterProfileList,
    ``GET /v1/spectroclusters/{uid}/profiles``): the profile version's uid, name and type, and its packs."""

    uid: str
    name: str
    profile_type: str
    packs: list[Pack]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AttachedProfile:
        meta = data.get("metadata") or {}
        spec = data.get("spec") or {}
        return cls(
            uid=meta.get("uid") or "",
            name=meta.get("name") or "",
            profile_type=spec.get("type") or "",
            packs=[
                Pack.from_api({**(p.get("spec") or {}), "packUid": _get(p, "metadata", "uid", default="")})
                for p in spec.get("packs") or ()
                if isinstance(p, dict)
            ],
            raw=data,
        )


@dataclass(slots=True)
class ClusterVariables:
    """A cluster's variables of one attached profile (v1SpectroClusterVariables,
    ``GET /v1/spectroclusters/{uid}/variables``): each variable's definition and the cluster's value."""

    profile_uid: str
    values: dict[str, str]
    variables: list[ProfileVariable]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ClusterVariables:
        items = [v for v in data.get("variables") or () if isinstance(v, dict) and v.get("name")]
        return cls(
            profile_uid=data.get("profileUid") or "",
            values={str(v["name"]): "" if v.get("value") is None else str(v["value"]) for v in items},
            variables=[ProfileVariable.from_api(v) for v in items],
            raw=data,
        )


# -- day-2: machine pools -----------------------------------------------------------------------------


@dataclass(slots=True)
class MachinePoolConfig:
    """One machine pool of a cluster's cloud config (v1EdgeNativeMachinePoolConfig): its hosts in order."""

    name: str
    control_plane: bool
    host_uids: list[str]
    hosts: list[dict]
    labels: list[str]
    architecture: str
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> MachinePoolConfig:
        hosts = [h for h in data.get("hosts") or () if isinstance(h, dict)]
        return cls(
            name=data.get("name") or "",
            control_plane=bool(data.get("isControlPlane")),
            host_uids=[h.get("hostUid") or "" for h in hosts],
            hosts=hosts,
            labels=list(data.get("labels") or ()),
            architecture=_get(data, "machinePoolProperties", "archType", default="") or "",
            raw=dict(data),
        )


@dataclass(slots=True)
class CloudConfig:
    """An edge-native cluster's cloud config (``GET /v1/cloudconfigs/edge-native/{configUid}``): its machine
    pools by name (docs/palette-behaviour.md §11, §15)."""

    uid: str
    pools: dict[str, MachinePoolConfig]
    raw: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> CloudConfig:
        pools = [
            MachinePoolConfig.from_api(p) for p in _get(data, "spec", "machinePoolConfig", default=()) or ()
        ]
        return cls(
            uid=_get(data, "metadata", "uid", default="") or "",
            pools={p.name: p for p in pools},
            raw=dict(data),
        )


@dataclass(slots=True)
class Machine:
    """One node of a machine pool (v1EdgeNativeMachine): which edge host, and whether Palette reports it
    Healthy."""

    host_uid: str
    state: str
    health: str
    ready: bool

    @property
    def healthy(self) -> bool:
        return self.health == "Healthy"

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Machine:
        return cls(
            host_uid=_get(data, "spec", "edgeHostUid", default="")
            or _get(data, "metadata", "uid", default=""),
            state=_get(data, "status", "instanceState", default="") or "",
            health=_get(data, "status", "health", "state", default="") or "",
            ready=bool(_get(data, "status", "ready", default=False)),
        )
