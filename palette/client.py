"""The Palette client: the operations PaletteAI Admin needs, typed.

Usage::

    client = PaletteClient("api.spectrocloud.com", api_key, project_uid="6356fc6e381bfda21b2859c6")
    me = client.whoami()
    hosts = client.search_edge_hosts(tags={"palette.ai": "true"}, states=["ready"])

Scope: tenant-scoped calls (whoami, projects) never send ``ProjectUid``; project-scoped calls
(edge hosts, cluster profiles, clusters) send the client's ``project_uid`` unless a call passes
another one (docs/palette-behaviour.md §2). Every failure raises a ``palette.errors.PaletteError``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote

from . import bodies
from .errors import PaletteProtocolError
from .models import (
    ApiKeyInfo,
    AttachedProfile,
    CloudConfig,
    Cluster,
    ClusterOverview,
    ClusterProfile,
    ClusterStatus,
    ClusterSummary,
    ClusterVariables,
    ComponentEvent,
    EdgeHost,
    Machine,
    ObjectRef,
    ProfileVariable,
    Project,
    Registry,
    SystemActivation,
    UserInfo,
    ValidationResult,
)
from .pagination import PAGE_SIZE, paginate
from .transport import Transport

#: Palette's kubeconfig assets of a cluster, best first, by the kind PaletteAI records
#: (ComputePool.kubeconfig_kind).
KUBECONFIG_ASSETS = {"admin": "adminKubeconfig", "client": "kubeconfigclient", "kubeconfig": "kubeconfig"}


def _seg(value: str) -> str:
    """A path segment, escaped (edge host uids are free-form device ids)."""
    if not value:
        raise ValueError("A uid is required.")
    return quote(value, safe="")


class PaletteClient:
    """A client for one Palette host and API key.

    Arguments: ``host`` (bare host or URL; https unless the URL says otherwise), ``api_key``,
    ``project_uid`` (default scope for project resources); every other keyword goes to the
    ``palette.transport.Transport`` the client sends through: ``ca_pem`` (PEM text of a private CA),
    ``skip_verify`` (disable TLS verification for this client only; logs a warning once per
    ``name``), ``timeout`` (seconds, or (connect, read)), ``retry`` (RetryPolicy),
    ``rate_limiter`` (True: the default budget, see ``palette.ratelimit.install``; False: none; or a
    budget), ``lane`` ("interactive" or "bulk"), ``max_wait`` (seconds one request may wait for its slot,
    or a callable asked per request; longer raises PaletteBusy), ``rate_limits`` (this integration's
    limits over the budget's),
    ``request_log`` (callable receiving a RequestRecord per attempt; off by default),
    ``validate`` (check requests and responses against the spec; bodies are always checked),
    ``name`` (the integration, for log messages), ``spec``, ``pool_size``, ``allowed_networks`` (CIDRs
    besides public addresses that the host may resolve to; with it, even empty, every connection is checked
    right before it is made and goes to a checked address, see ``palette.addresses``; None: no address
    policy, for tools and tests that drive a local simulator). Usable as a context manager.
    """

    def __init__(self, host: str, api_key: str, *, project_uid: str | None = None, **transport_options: Any):
        # The connection options are the Transport's own keywords (one signature, not a copy of it here).
        self.transport = Transport(host, api_key, **transport_options)
        self.project_uid = project_uid or None

    @property
    def base_url(self) -> str:
        """``https://host[:port]`` of the Palette API."""
        return self.transport.base_url

    def close(self) -> None:
        """Release the session and the temporary CA bundle."""
        self.transport.close()

    def __enter__(self) -> PaletteClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PaletteClient({self.base_url!r}, project_uid={self.project_uid!r})"

    # -- plumbing ---------------------------------------------------------------------------

    def _scope(self, project_uid: str | None) -> str | None:
        return project_uid or self.project_uid

    def _get(
        self,
        path: str,
        template: str,
        *,
        project_uid: str | None = None,
        params: Mapping[str, Any] | None = None,
        expect: str = "json",
    ) -> Any:
        return self.transport.request(
            "GET", path, template=template, project_uid=project_uid, params=params, expect=expect
        )

    def _get_uid(self, template: str, uid: str, *, project_uid: str | None, **options: Any) -> Any:
        """GET the path `template` names for `uid` (escaped into its ``{uid}``); `options` as for ``_get``."""
        return self._get(template.replace("{uid}", _seg(uid)), template, project_uid=project_uid, **options)

    def _paged(self, path: str, body: dict, *, project_uid: str | None, page_size: int) -> Iterator[dict]:
        def fetch(token: str | None) -> dict:
            params = {"limit": page_size, "continue": token}
            return self.transport.request(
                "POST", path, template=path, project_uid=project_uid, params=params, body=body
            )

        return paginate(fetch, host=self.base_url, path=path)

    # -- tenant scope -----------------------------------------------------------------------

    def whoami(self) -> UserInfo:
        """The key's user and tenant (``GET /v1/users/info``); the cheapest check that a key works."""
        return UserInfo.from_api(self._get("/v1/users/info", "/v1/users/info"))

    def get_project(self, uid: str) -> Project:
        """A project by uid (``GET /v1/projects/{uid}``, tenant scope)."""
        return Project.from_api(self._get_uid("/v1/projects/{uid}", uid, project_uid=None))

    def list_projects(self, name: str | None = None) -> list[ObjectRef]:
        """Names and uids of the projects the key can see (``GET /v1/dashboard/projects/metadata``)."""
        data = self._get(
            "/v1/dashboard/projects/metadata", "/v1/dashboard/projects/metadata", params={"name": name}
        )
        return [ObjectRef.from_api(item) for item in data.get("items") or ()]

    def list_api_keys(self) -> list[ApiKeyInfo]:
        """The tenant's API keys with their expiry (``GET /v1/apiKeys``, tenant scope); never their values."""
        data = self._get("/v1/apiKeys", "/v1/apiKeys")
        return [
            ApiKeyInfo.from_api(item) for item in (data or {}).get("items") or () if isinstance(item, dict)
        ]

    # -- self-hosted: activation and registries ----------------------------------------------

    def get_system_activation(self) -> SystemActivation:
        """The activation state of a self-hosted Palette (``GET /v1/activations/system``, tenant scope).

        Raises ``NotFound`` where Palette has no system activation (SaaS) and ``PermissionDenied`` for a key
        that may not read it (docs/palette-behaviour.md §16).
        """
        return SystemActivation.from_api(self._get("/v1/activations/system", "/v1/activations/system"))

    def list_registries(self, scope: str = "all") -> list[Registry]:
        """The pack registries the tenant sees (``GET /v1/registries/metadata``, tenant scope); ``scope`` is
        system, tenant or all."""
        data = self._get("/v1/registries/metadata", "/v1/registries/metadata", params={"scope": scope})
        return [Registry.from_api(item) for item in data.get("items") or () if isinstance(item, dict)]

    # -- edge hosts -------------------------------------------------------------------------

    def iter_edge_hosts(
        self, *, project_uid: str | None = None, page_size: int = PAGE_SIZE, **filters: Any
    ) -> Iterator[EdgeHost]:
        """Stream edge hosts matching all given filters, page by page.

        ``filters`` are the keywords of ``bodies.edge_host_search``: ``tags``, ``tags_match``, ``states``,
        ``health``, ``architectures``, ``names``, ``name_operator`` and ``sort``.
        """
        body = bodies.edge_host_search(**filters)
        for item in self._paged(
            "/v1/dashboard/edgehosts/search", body, project_uid=self._scope(project_uid), page_size=page_size
        ):
            yield EdgeHost.from_api(item)

    def search_edge_hosts(self, **filters: Any) -> list[EdgeHost]:
        """Every edge host matching the filters of ``iter_edge_hosts``, as a list."""
        return list(self.iter_edge_hosts(**filters))

    def get_edge_host(self, uid: str, *, project_uid: str | None = None) -> EdgeHost:
        """One edge host with its full device details (``GET /v1/edgehosts/{uid}``)."""
        data = self._get_uid(
            "/v1/edgehosts/{uid}",
            uid,
            project_uid=self._scope(project_uid),
            params={"resolvePackValues": "false"},
        )
        return EdgeHost.from_api(data)

    def set_edge_host_tags(
        self, uid: str, tags: Mapping[str, str], *, remove: Iterable[str] = (), project_uid: str | None = None
    ) -> dict[str, str]:
        """Add or change tags of a host, keeping its other tags; remove the keys in ``remove``.

        Palette's ``PUT /v1/edgehosts/{uid}/meta`` replaces all labels, so the current ones are read
        first and merged. Returns the labels sent. (Palette offers no version check: a concurrent
        change between the read and the write is lost.)
        """
        scope = self._scope(project_uid)
        host = self.get_edge_host(uid, project_uid=scope)
        labels = {**host.labels, **{k: str(v) for k, v in tags.items()}}
        for key in remove:
            labels.pop(key, None)
        body = {"metadata": {"uid": host.uid, "name": host.name, "labels": labels}}
        self.transport.request(
            "PUT",
            f"/v1/edgehosts/{_seg(uid)}/meta",
            template="/v1/edgehosts/{uid}/meta",
            project_uid=scope,
            body=body,
            expect="none",
        )
        return labels

    def list_edge_host_tags(self, *, project_uid: str | None = None) -> list[str]:
        """Every tag in use on edge hosts of the scope (``GET /v1/edgehosts/tags``)."""
        data = self._get("/v1/edgehosts/tags", "/v1/edgehosts/tags", project_uid=self._scope(project_uid))
        return list(data.get("tags") or ())

    # -- cluster profiles -------------------------------------------------------------------

    def iter_cluster_profiles(
        self,
        *,
        environments: Iterable[str] | None = ("edge-native",),
        profile_types: Iterable[str] | None = None,
        name: str | None = None,
        project_uid: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> Iterator[ClusterProfile]:
        """Stream cluster profiles by cloud type (default edge-native) and profile type.

        Palette lists one item per profile name, its newest version; ``versions`` (``all_versions``) holds
        the uid of every version of the name, to read with ``get_cluster_profile`` (see
        ``find_cluster_profile_version``).
        """
        body = bodies.cluster_profile_filter(
            environments=environments, profile_types=profile_types, name=name
        )
        for item in self._paged(
            "/v1/dashboard/clusterprofiles", body, project_uid=self._scope(project_uid), page_size=page_size
        ):
            yield ClusterProfile.from_api(item)

    def search_cluster_profiles(self, **filters: Any) -> list[ClusterProfile]:
        """Every cluster profile matching the filters of ``iter_cluster_profiles``, as a list."""
        return list(self.iter_cluster_profiles(**filters))

    def get_cluster_profile(self, uid: str, *, project_uid: str | None = None) -> ClusterProfile:
        """One cluster profile version with its packs (``GET /v1/clusterprofiles/{uid}``)."""
        data = self._get_uid("/v1/clusterprofiles/{uid}", uid, project_uid=self._scope(project_uid))
        return ClusterProfile.from_api(data)

    def find_cluster_profile_version(
        self,
        name: str,
        version: str,
        *,
        environments: Iterable[str] | None = ("edge-native", "all"),
        project_uid: str | None = None,
    ) -> ClusterProfile | None:
        """Version `version` of the profile called `name`, or None.

        The search lists only the newest version of each name, with the uid of every version in its
        ``versions[]``: an older version is read by that uid (``GET /v1/clusterprofiles/{uid}``).
        """
        for profile in self.iter_cluster_profiles(
            environments=environments, name=name, project_uid=project_uid
        ):
            if profile.name != name:
                continue
            uid = profile.version_uid(version)
            if uid == profile.uid:
                return profile
            if uid:
                return self.get_cluster_profile(uid, project_uid=project_uid)
        return None

    def get_cluster_profile_variables(
        self, uid: str, *, project_uid: str | None = None
    ) -> list[ProfileVariable]:
        """The variables a cluster profile version defines (``GET /v1/clusterprofiles/{uid}/variables``,
        v1Variables)."""
        data = self._get_uid("/v1/clusterprofiles/{uid}/variables", uid, project_uid=self._scope(project_uid))
        return [
            ProfileVariable.from_api(item)
            for item in (data or {}).get("variables") or ()
            if isinstance(item, dict)
        ]

    # -- edge-native clusters ---------------------------------------------------------------

    @staticmethod
    def _cluster_body(cluster: bodies.EdgeNativeCluster | Mapping[str, Any]) -> dict[str, Any]:
        return cluster.to_body() if isinstance(cluster, bodies.EdgeNativeCluster) else dict(cluster)

    def validate_edge_native_cluster(
        self, cluster: bodies.EdgeNativeCluster | Mapping[str, Any], *, project_uid: str | None = None
    ) -> ValidationResult:
        """Ask Palette to validate a cluster request; check ``.ok`` (a 200 can carry errors)."""
        data = self.transport.request(
            "POST",
            "/v1/spectroclusters/edge-native/validate",
            template="/v1/spectroclusters/edge-native/validate",
            project_uid=self._scope(project_uid),
            body=self._cluster_body(cluster),
        )
        return ValidationResult.from_api(data)

    def create_edge_native_cluster(
        self, cluster: bodies.EdgeNativeCluster | Mapping[str, Any], *, project_uid: str | None = None
    ) -> str:
        """Create an edge-native cluster; returns its uid.

        Not idempotent: retried only when Palette certainly did not process it (429, or no
        connection). After a timeout or reset the outcome is unknown: look the cluster up by name.
        """
        data = self.transport.request(
            "POST",
            "/v1/spectroclusters/edge-native",
            template="/v1/spectroclusters/edge-native",
            project_uid=self._scope(project_uid),
            body=self._cluster_body(cluster),
            idempotent=False,
        )
        uid = data.get("uid") if isinstance(data, dict) else None
        if not uid:
            raise PaletteProtocolError(
                f"{self.base_url} created a cluster but returned no uid.",
                host=self.base_url,
                method="POST",
                path="/v1/spectroclusters/edge-native",
            )
        return uid

    def find_clusters_by_name(self, name: str, *, project_uid: str | None = None) -> list[ClusterSummary]:
        """The clusters called `name` that are not deleted, in the project of the scope (``POST
        /v1/dashboard/spectroclusters/search``, the filter of palette-sdk-go's GetClusterByName:
        ``bodies.cluster_by_name_search``, docs/palette-behaviour.md §12).

        Unlike a host's ``inUseClusters``, which Palette fills some time after a create, the search sees
        a cluster as soon as it exists: the lookup to make before creating again after a lost answer.
        """
        body = bodies.cluster_by_name_search(name)
        return [
            ClusterSummary.from_api(item)
            for item in self._paged(
                "/v1/dashboard/spectroclusters/search",
                body,
                project_uid=self._scope(project_uid),
                page_size=PAGE_SIZE,
            )
        ]

    def get_cluster(self, uid: str, *, project_uid: str | None = None) -> Cluster:
        """A cluster (``GET /v1/spectroclusters/{uid}``); NotFound once it is gone."""
        data = self._get_uid("/v1/spectroclusters/{uid}", uid, project_uid=self._scope(project_uid))
        return Cluster.from_api(data)

    def get_cluster_status(self, uid: str, *, project_uid: str | None = None) -> ClusterStatus:
        """The light status poll (``GET /v1/spectroclusters/{uid}/status``)."""
        data = self._get_uid("/v1/spectroclusters/{uid}/status", uid, project_uid=self._scope(project_uid))
        return ClusterStatus.from_api(data)

    def get_cluster_overview(self, uid: str, *, project_uid: str | None = None) -> ClusterOverview:
        """State and health (``GET /v1/dashboard/spectroclusters/{uid}/overview``)."""
        data = self._get_uid(
            "/v1/dashboard/spectroclusters/{uid}/overview", uid, project_uid=self._scope(project_uid)
        )
        return ClusterOverview.from_api(data)

    def get_kubeconfig(self, uid: str, *, kind: str = "kubeconfig", project_uid: str | None = None) -> str:
        """One of the cluster's kubeconfigs as YAML text (decoded if Palette sends it base64-encoded).

        ``kind`` (see ``KUBECONFIG_ASSETS``): ``admin`` (``GET .../assets/adminKubeconfig``, the admin's,
        with a client certificate), ``client`` (``.../assets/kubeconfigclient``, the OIDC client's) or
        ``kubeconfig`` (``.../assets/kubeconfig?frp=true``, through Palette's reverse proxy when it has
        one). Palette answers an empty file until the overview's ``hasKubeConfig`` is true, a while after
        Running, so the text may be empty or not a kubeconfig at all: check it
        (``palette.kubeconfig.problem``) before using it. The text is a credential: never log it.
        """
        asset = KUBECONFIG_ASSETS.get(kind)
        if asset is None:
            raise ValueError(f"Unknown kubeconfig kind {kind!r}: use one of {', '.join(KUBECONFIG_ASSETS)}.")
        # Only the kubeconfig asset takes frp (the spec declares it for no other).
        text = self._get_uid(
            f"/v1/spectroclusters/{{uid}}/assets/{asset}",
            uid,
            project_uid=self._scope(project_uid),
            params={"frp": "true"} if kind == "kubeconfig" else None,
            expect="text",
        )
        return _maybe_base64(text)

    def list_cluster_edge_hosts(self, uid: str, *, project_uid: str | None = None) -> list[EdgeHost]:
        """The edge hosts of a cluster (``GET /v1/spectroclusters/{uid}/edge-native/edgeHosts``)."""
        data = self._get_uid(
            "/v1/spectroclusters/{uid}/edge-native/edgeHosts", uid, project_uid=self._scope(project_uid)
        )
        return [EdgeHost.from_api(item) for item in data.get("items") or ()]

    def delete_cluster(self, uid: str, *, force: bool = False, project_uid: str | None = None) -> None:
        """Delete a cluster (``DELETE /v1/spectroclusters/{uid}``); ``force`` skips graceful cleanup.

        Returns when Palette accepted it; the cluster then goes Deleting -> Deleted -> NotFound.
        """
        self.transport.request(
            "DELETE",
            f"/v1/spectroclusters/{_seg(uid)}",
            template="/v1/spectroclusters/{uid}",
            project_uid=self._scope(project_uid),
            params={"forceDelete": "true" if force else None},
            expect="none",
        )

    # -- day-2: events and profiles ---------------------------------------------------------

    def _events_page(
        self,
        kind: str,
        uid: str,
        *,
        project_uid: str | None,
        limit: int,
        offset: int = 0,
        token: str | None = None,
    ) -> dict:
        template = "/v1/events/components/{objectKind}/{objectUid}"
        return self._get(
            f"/v1/events/components/{_seg(kind)}/{_seg(uid)}",
            template,
            project_uid=self._scope(project_uid),
            params={"limit": limit, "offset": offset or None, "continue": token},
        )

    def iter_component_events(
        self, kind: str, uid: str, *, project_uid: str | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[ComponentEvent]:
        """Every component event of an object (``GET /v1/events/components/{objectKind}/{objectUid}``;
        `kind` ``spectrocluster`` or ``edgehost``), page by page, in Palette's order."""
        path = f"/v1/events/components/{kind}/{uid}"
        for item in paginate(
            lambda token: self._events_page(kind, uid, project_uid=project_uid, limit=page_size, token=token),
            host=self.base_url,
            path=path,
        ):
            if isinstance(item, dict):
                yield ComponentEvent.from_api(item)

    def newest_component_events(
        self, kind: str, uid: str, *, limit: int = PAGE_SIZE, project_uid: str | None = None
    ) -> tuple[list[ComponentEvent], int]:
        """The newest `limit` (at most 50) events of an object, oldest first, and how many Palette has.

        Bounded: the first page, and when Palette has more (``listmeta.count``), the page at the end of the
        listing. Palette does not document the order of the listing, so both are read and sorted by time:
        whichever end holds the newest, they are among these.
        """
        limit = max(1, min(limit, PAGE_SIZE))
        first = self._events_page(kind, uid, project_uid=project_uid, limit=limit)
        items = [i for i in first.get("items") or () if isinstance(i, dict)]
        count = (first.get("listmeta") or {}).get("count")
        total = count if isinstance(count, int) and count >= len(items) else len(items)
        if total > len(items):
            last = self._events_page(kind, uid, project_uid=project_uid, limit=limit, offset=total - limit)
            items += [i for i in last.get("items") or () if isinstance(i, dict)]
        events = {e.uid or f"#{n}": e for n, e in enumerate(ComponentEvent.from_api(i) for i in items)}
        ordered = sorted(events.values(), key=lambda e: e.time.timestamp() if e.time else 0.0)
        return ordered[-limit:], total

    def get_cluster_profiles(self, uid: str, *, project_uid: str | None = None) -> list[AttachedProfile]:
        """The profile versions attached to a cluster, with their packs (``GET
        /v1/spectroclusters/{uid}/profiles``)."""
        data = self._get_uid("/v1/spectroclusters/{uid}/profiles", uid, project_uid=self._scope(project_uid))
        return [
            AttachedProfile.from_api(p) for p in (data or {}).get("profiles") or () if isinstance(p, dict)
        ]

    def patch_cluster_profiles(
        self,
        uid: str,
        body: Mapping[str, Any] | Iterable[bodies.ProfileChange],
        *,
        project_uid: str | None = None,
    ) -> None:
        """Attach or replace profile versions of a running cluster (``PATCH
        /v1/spectroclusters/{uid}/profiles``, v1SpectroClusterProfiles: ``bodies.cluster_profiles_patch``).
        Palette applies the change to the nodes (an OS or Kubernetes layer change repaves them). Not retried
        after a lost answer: read the cluster's profiles again to see whether it was applied."""
        payload = dict(body) if isinstance(body, Mapping) else bodies.cluster_profiles_patch(body)
        self.transport.request(
            "PATCH",
            f"/v1/spectroclusters/{_seg(uid)}/profiles",
            template="/v1/spectroclusters/{uid}/profiles",
            project_uid=self._scope(project_uid),
            body=payload,
            idempotent=False,
            expect="none",
        )

    def get_cluster_variables(self, uid: str, *, project_uid: str | None = None) -> list[ClusterVariables]:
        """The cluster's variable values per attached profile (``GET
        /v1/spectroclusters/{uid}/variables``)."""
        data = self._get_uid("/v1/spectroclusters/{uid}/variables", uid, project_uid=self._scope(project_uid))
        return [ClusterVariables.from_api(v) for v in data or () if isinstance(v, dict)]

    def patch_cluster_variables(
        self, uid: str, values: Mapping[str, Mapping[str, str]], *, project_uid: str | None = None
    ) -> None:
        """Set variable values of a running cluster, {profile uid: {variable: value}} (``PATCH
        /v1/spectroclusters/{uid}/variables``); an immutable variable cannot change (docs/palette-behaviour.md
        §9). Values may be secrets: they are sent, never logged."""
        self.transport.request(
            "PATCH",
            f"/v1/spectroclusters/{_seg(uid)}/variables",
            template="/v1/spectroclusters/{uid}/variables",
            project_uid=self._scope(project_uid),
            body=bodies.cluster_variables_patch(values),
            idempotent=False,
            expect="none",
        )

    # -- day-2: machine pools ----------------------------------------------------------------

    def get_cloud_config(self, config_uid: str, *, project_uid: str | None = None) -> CloudConfig:
        """An edge-native cluster's cloud config with its machine pools and their hosts (``GET
        /v1/cloudconfigs/edge-native/{configUid}``; `config_uid` is the cluster's ``spec.cloudConfigRef.uid``,
        ``Cluster.cloud_config_uid``)."""
        data = self._get(
            f"/v1/cloudconfigs/edge-native/{_seg(config_uid)}",
            "/v1/cloudconfigs/edge-native/{configUid}",
            project_uid=self._scope(project_uid),
        )
        return CloudConfig.from_api(data)

    def list_machines(self, config_uid: str, pool: str, *, project_uid: str | None = None) -> list[Machine]:
        """The nodes of machine pool `pool`, each with its edge host and health (``GET
        .../machinePools/{name}/machines``)."""
        data = self._get(
            f"/v1/cloudconfigs/edge-native/{_seg(config_uid)}/machinePools/{_seg(pool)}/machines",
            "/v1/cloudconfigs/edge-native/{configUid}/machinePools/{machinePoolName}/machines",
            project_uid=self._scope(project_uid),
        )
        return [Machine.from_api(item) for item in (data or {}).get("items") or () if isinstance(item, dict)]

    def update_machine_pool(
        self, config_uid: str, pool: Mapping[str, Any], *, project_uid: str | None = None
    ) -> None:
        """Replace a machine pool's hosts (``PUT .../machinePools/{name}``, a
        v1EdgeNativeMachinePoolConfigEntity with the whole host list: ``bodies.machine_pool_update``).
        Idempotent: the same body twice leaves the same pool, so it is retried like a read
        (docs/palette-behaviour.md §15)."""
        name = str((pool.get("poolConfig") or {}).get("name") or "")
        self.transport.request(
            "PUT",
            f"/v1/cloudconfigs/edge-native/{_seg(config_uid)}/machinePools/{_seg(name)}",
            template="/v1/cloudconfigs/edge-native/{configUid}/machinePools/{machinePoolName}",
            project_uid=self._scope(project_uid),
            body=dict(pool),
            expect="none",
        )

    def add_machine_pool(
        self, config_uid: str, pool: Mapping[str, Any], *, project_uid: str | None = None
    ) -> None:
        """Add a worker machine pool (``POST .../machinePools``, a v1EdgeNativeMachinePoolConfigEntity). Not
        idempotent: after a lost answer, read the cloud config before adding again."""
        self.transport.request(
            "POST",
            f"/v1/cloudconfigs/edge-native/{_seg(config_uid)}/machinePools",
            template="/v1/cloudconfigs/edge-native/{configUid}/machinePools",
            project_uid=self._scope(project_uid),
            body=dict(pool),
            idempotent=False,
        )

    def delete_machine_pool(self, config_uid: str, name: str, *, project_uid: str | None = None) -> None:
        """Remove a worker machine pool (``DELETE .../machinePools/{name}``); its hosts go back to ready."""
        self.transport.request(
            "DELETE",
            f"/v1/cloudconfigs/edge-native/{_seg(config_uid)}/machinePools/{_seg(name)}",
            template="/v1/cloudconfigs/edge-native/{configUid}/machinePools/{machinePoolName}",
            project_uid=self._scope(project_uid),
            expect="none",
        )


def _maybe_base64(text: str) -> str:
    stripped = text.strip()
    if stripped and "\n" not in stripped and ":" not in stripped:
        try:
            decoded = base64.b64decode(stripped, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return text
        if "apiVersion" in decoded or "clusters" in decoded:
            return decoded
    return text
