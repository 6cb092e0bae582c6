"""Request bodies for Palette, built in the exact shapes of the spec subset.

- ``edge_host_search`` builds a v1SearchFilterSummarySpec (tags as ``key:value``, state,
  healthState, architecture, name).
- ``cluster_profile_filter`` builds a v1ClusterProfilesFilterSpec (cloud type, profile type, name).
- ``EdgeNativeCluster`` (with ``MachinePool``, ``PoolHost``, ``ProfileRef``) builds a
  v1SpectroEdgeNativeClusterEntity. Note the spec's all-lowercase ``machinepoolconfig`` key:
  some examples (CanvOS) send ``machinePoolConfig``, which only works because Go matches JSON keys
  case-insensitively; this client sends the spec spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .models import BARE_TAG_VALUE


def tag_values(tags: Mapping[str, str] | Iterable[str]) -> list[str]:
    """Tags as Palette's search expects them: ``key:value`` strings (a bare tag stays ``key``)."""
    if isinstance(tags, Mapping):
        return [k if v in ("", None, BARE_TAG_VALUE) else f"{k}:{v}" for k, v in tags.items()]
    return [str(t) for t in tags]


def _string_filter(
    prop: str,
    values: Sequence[str],
    *,
    operator: str = "eq",
    conjunction: str = "or",
    ignore_case: bool = False,
) -> dict[str, Any]:
    return {
        "property": prop,
        "type": "string",
        "condition": {
            "string": {
                "operator": operator,
                "negation": False,
                "ignoreCase": ignore_case,
                "match": {"conjunction": conjunction, "values": list(dict.fromkeys(values))},
            }
        },
    }


def edge_host_search(
    *,
    tags: Mapping[str, str] | Iterable[str] | None = None,
    tags_match: str = "and",
    states: Iterable[str] | None = None,
    health: Iterable[str] | None = None,
    architectures: Iterable[str] | None = None,
    names: Iterable[str] | None = None,
    name_operator: str = "eq",
    sort: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A v1SearchFilterSummarySpec for ``POST /v1/dashboard/edgehosts/search``.

    Filters are ANDed together; within one filter the values are ORed, except tags, which are
    ANDed by default (``tags_match="and"``: a host must carry every tag, as resource groups
    require) and ORed with ``tags_match="or"`` (the Go SDK's behaviour). No filter gives ``{}``,
    which lists every host of the scope.
    """
    filters: list[dict[str, Any]] = []
    if tags:
        filters.append(_string_filter("tags", tag_values(tags), conjunction=tags_match))
    if states:
        filters.append(_string_filter("state", list(states)))
    if health:
        filters.append(_string_filter("healthState", list(health)))
    if architectures:
        filters.append(_string_filter("architecture", list(architectures)))
    if names:
        filters.append(_string_filter("name", list(names), operator=name_operator))
    body: dict[str, Any] = {}
    if filters:
        body["filter"] = {"conjunction": "and", "filterGroups": [{"conjunction": "and", "filters": filters}]}
    sort = list(sort)
    if sort:
        body["sort"] = [{"field": f, "order": o} for f, o in sort]
    return body


def cluster_by_name_search(name: str) -> dict[str, Any]:
    """The v1SearchFilterSummarySpec for ``POST /v1/dashboard/spectroclusters/search`` that finds the clusters
    called `name` in the ProjectUid's project: isDeleted false and clusterName eq `name`, each its own filter
    group, ANDed. palette-sdk-go's GetClusterByName sends the same plus an ``environment`` filter (not
    ``nested``) that an edge-native cluster always passes (docs/palette-behaviour.md §12)."""
    return {
        "filter": {
            "conjunction": "and",
            "filterGroups": [
                {
                    "conjunction": "and",
                    "filters": [
                        {"property": "isDeleted", "type": "bool", "condition": {"bool": {"value": False}}}
                    ],
                },
                {"conjunction": "and", "filters": [_string_filter("clusterName", [name])]},
            ],
        }
    }


def cluster_profile_filter(
    *,
    environments: Iterable[str] | None = ("edge-native",),
    profile_types: Iterable[str] | None = None,
    name: str | None = None,
    name_operator: str = "eq",
    scope: str | None = None,
    sort: Iterable[tuple[str, str]] = (("profileName", "asc"),),
) -> dict[str, Any]:
    """A v1ClusterProfilesFilterSpec for ``POST /v1/dashboard/clusterprofiles``.

    ``environments`` are cloud types (``edge-native``, ``all``...); ``profile_types`` are
    ``infra``, ``cluster`` (Full), ``add-on``, ``system``.
    """
    flt: dict[str, Any] = {}
    if environments:
        flt["environment"] = list(dict.fromkeys(environments))
    if profile_types:
        flt["profileType"] = list(dict.fromkeys(profile_types))
    if name:
        flt["profileName"] = {name_operator: name, "ignoreCase": False}
    if scope:
        flt["scope"] = scope
    body: dict[str, Any] = {"filter": flt}
    sort = list(sort)
    if sort:
        body["sort"] = [{"field": f, "order": o} for f, o in sort]
    return body


@dataclass
class PoolHost:
    """An edge host placed in a machine pool, optionally with a static NIC configuration."""

    uid: str
    name: str = ""
    nic: Mapping[str, Any] | None = None

    def to_body(self) -> dict[str, Any]:
        """v1EdgeNativeMachinePoolHostEntity."""
        body: dict[str, Any] = {"hostUid": self.uid}
        if self.name:
            body["hostName"] = self.name
        if self.nic:
            body["nic"] = dict(self.nic)
        return body


@dataclass
class MachinePool:
    """One machine pool: a control-plane pool (``control_plane=True``) or a worker pool."""

    name: str
    hosts: list[PoolHost]
    control_plane: bool = False
    control_plane_as_worker: bool = False
    architecture: str = "amd64"
    labels: list[str] | None = None
    additional_labels: Mapping[str, str] = field(default_factory=dict)
    taints: list[Mapping[str, str]] = field(default_factory=list)

    def to_body(self) -> dict[str, Any]:
        """v1EdgeNativeMachinePoolConfigEntity (size is the number of hosts)."""
        pool: dict[str, Any] = {
            "name": self.name,
            "labels": list(self.labels or (["control-plane"] if self.control_plane else ["worker"])),
            "size": len(self.hosts),
            "additionalLabels": dict(self.additional_labels),
            "taints": [dict(t) for t in self.taints],
            "machinePoolProperties": {"archType": self.architecture},
        }
        if self.control_plane:
            pool["isControlPlane"] = True
            pool["useControlPlaneAsWorker"] = self.control_plane_as_worker
        return {"poolConfig": pool, "cloudConfig": {"edgeHosts": [h.to_body() for h in self.hosts]}}


@dataclass
class ProfileRef:
    """A cluster profile version (its own uid) to apply, with optional pack values and variables."""

    uid: str
    pack_values: list[Mapping[str, Any]] = field(default_factory=list)
    variables: Mapping[str, str] = field(default_factory=dict)

    def to_body(self) -> dict[str, Any]:
        """v1SpectroClusterProfileEntity."""
        body: dict[str, Any] = {"uid": self.uid}
        if self.pack_values:
            body["packValues"] = [dict(p) for p in self.pack_values]
        if self.variables:
            body["variables"] = [{"name": k, "value": v} for k, v in self.variables.items()]
        return body


@dataclass
class EdgeNativeCluster:
    """Everything needed to create an edge-native cluster from edge hosts."""

    name: str
    profiles: list[ProfileRef]
    pools: list[MachinePool]
    vip: str = ""
    endpoint_type: str = "VIP"
    ssh_keys: list[str] = field(default_factory=list)
    ntp_servers: list[str] = field(default_factory=list)
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    overlay_cidr: str = ""

    def to_body(self) -> dict[str, Any]:
        """v1SpectroEdgeNativeClusterEntity, with ``machinepoolconfig`` spelled as the spec has it."""
        cloud: dict[str, Any] = {
            "sshKeys": list(self.ssh_keys),
            "ntpServers": list(self.ntp_servers),
            "staticIp": False,
            "overlayNetworkConfiguration": {"enable": bool(self.overlay_cidr), "cidr": self.overlay_cidr},
            "isTwoNodeCluster": False,
        }
        if self.vip:
            cloud["controlPlaneEndpoint"] = {"type": self.endpoint_type, "host": self.vip}
        metadata: dict[str, Any] = {"name": self.name, "labels": dict(self.labels)}
        if self.description:
            metadata["annotations"] = {"description": self.description}
        return {
            "metadata": metadata,
            "spec": {
                "profiles": [p.to_body() for p in self.profiles],
                "cloudConfig": cloud,
                "machinepoolconfig": [p.to_body() for p in self.pools],
            },
        }


# -- day-2: events and profiles -------------------------------------------------------------------


@dataclass
class ProfileChange:
    """One entry of a cluster's profile PATCH (v1SpectroClusterProfileEntity): attach version `uid`, in place
    of the attached version `replaces` when given (``replaceWithProfile``), with its variable values."""

    uid: str
    replaces: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"uid": self.uid}
        if self.replaces:
            body["replaceWithProfile"] = self.replaces
        if self.variables:
            body["variables"] = [{"name": k, "value": v} for k, v in self.variables.items()]
        return body


def cluster_profiles_patch(changes: Iterable[ProfileChange]) -> dict[str, Any]:
    """v1SpectroClusterProfiles: the body of ``PATCH /v1/spectroclusters/{uid}/profiles``."""
    return {"profiles": [c.to_body() for c in changes]}


def cluster_variables_patch(values: Mapping[str, Mapping[str, str]]) -> list[dict[str, Any]]:
    """[v1SpectroClusterVariableUpdateEntity] for ``PATCH /v1/spectroclusters/{uid}/variables``, from
    {profile uid: {variable: value}}."""
    return [
        {"profileUid": uid, "variables": [{"name": k, "value": v} for k, v in given.items()]}
        for uid, given in values.items()
    ]


# -- day-2: machine pools -----------------------------------------------------------------------------

#: Fields of a machine pool's config (v1EdgeNativeMachinePoolConfig, as the cloud config lists it) that an
#: update sends back unchanged: the update carries the whole pool, not a patch
#: (docs/palette-behaviour.md §15).
KEPT_POOL_FIELDS = (
    "additionalLabels",
    "additionalTags",
    "additionalAnnotations",
    "isControlPlane",
    "labels",
    "machinePoolProperties",
    "maxSize",
    "minSize",
    "nodeRepaveInterval",
    "taints",
    "updateStrategy",
    "useControlPlaneAsWorker",
)


def machine_pool_update(current: Mapping[str, Any], hosts: Sequence[PoolHost]) -> dict[str, Any]:
    """The v1EdgeNativeMachinePoolConfigEntity for ``PUT .../machinePools/{name}``: the pool as Palette lists
    it in the cloud config (`current`, its ``spec.machinePoolConfig[]`` entry) with exactly `hosts`, in order.

    ``size`` is the number of hosts; a host Palette knows already keeps its name and NIC unless `hosts` give
    others."""
    known = {h.get("hostUid"): h for h in current.get("hosts") or () if isinstance(h, Mapping)}
    config: dict[str, Any] = {k: current[k] for k in KEPT_POOL_FIELDS if current.get(k) is not None}
    config.update(name=current.get("name") or "", size=len(hosts))
    entries = []
    for host in hosts:
        entry = host.to_body()
        old = known.get(host.uid) or {}
        if "hostName" not in entry and old.get("hostName"):
            entry["hostName"] = old["hostName"]
        if "nic" not in entry and old.get("nic"):
            entry["nic"] = dict(old["nic"])
        entries.append(entry)
    return {"poolConfig": config, "cloudConfig": {"edgeHosts": entries}}
