"""Handlers for every ``/v1`` operation of the spec subset.

Each handler takes a ``Call`` (already authenticated, routed and validated against the spec by
``server.py``) and returns a ``Reply`` or raises ``ApiError``. Behaviour marked inferred in
docs/palette-behaviour.md (exact error codes for create failures, tenant-scope visibility of edge hosts)
is a design assumption, kept strict so that client bugs show up here rather than against real Palette:

- Edge hosts and clusters belong to projects: in tenant scope (no ProjectUid) a search finds no
  hosts and a GET by uid is 404, exactly the symptom of a client that forgets the header.
- Cluster profiles: system and tenant ones are visible everywhere, project ones in their project.
  Each version is its own object with its own uid, grouped by name (palette-sdk-go
  client/cluster_profile.go; docs/palette-behaviour.md §9): the search lists one item per name, its
  newest version, whose ``specSummary.versions[]`` names every version (the SpectroCloud catalog provider
  of TeraSky-OSS/backstage-plugins reads the other versions there, third-party); ``/metadata`` lists every
  version (terraform-provider-spectrocloud spectrocloud/data_source_cluster_profile.go matches name and
  version).
- Clusters, machine pools and day-2 operations: ``clusters.py`` and ``daytwo.py``; tenant-level
  reads (API keys, activation, registries): ``account.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import render, search
from .account import AccountApi
from .calls import ApiError, Call, Reply, not_found, require_write, schema_reply, search_reply
from .clusters import ClusterApi
from .daytwo import DayTwoApi
from .state import Profile, SimState


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
            ("GET", "/v1/clusterprofiles/{uid}/variables"): self.profile_variables,
        }
        for group in (ClusterApi(state), DayTwoApi(state), AccountApi(state)):
            self.routes.update(group.routes())

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
                raise not_found("Project", call.params["uid"])
            return Reply(
                body={
                    "metadata": {
                        "uid": project.uid,
                        "name": project.name,
                        "labels": {},
                        "annotations": {},
                        "creationTimestamp": project.created,
                        "lastModifiedTimestamp": project.created,
                    },
                    "spec": {
                        "logoUrl": "",
                        "teams": [],
                        "users": [{"userId": self.state.user_uid, "roles": ["Project Admin"]}],
                        "alerts": [],
                    },
                    "status": {
                        "isDisabled": False,
                        "cleanUpStatus": {"state": "", "msg": "", "cleanedResources": []},
                    },
                }
            )

    def projects_metadata(self, call: Call) -> Reply:
        name = call.query.get("name")
        with self.state.lock:
            items = [
                {"metadata": {"uid": p.uid, "name": p.name}}
                for p in self.state.projects.values()
                if (not name or p.name == name) and (call.key_projects is None or p.uid in call.key_projects)
            ]
        return Reply(body={"items": items})

    # -- edge hosts -------------------------------------------------------------------------

    def _hosts_in_scope(self, call: Call) -> list:
        return [
            h for h in self.state.hosts.values() if call.project_uid and h.project_uid == call.project_uid
        ]

    def _host(self, call: Call):
        host = self.state.hosts.get(call.params["uid"])
        if host is None or host.project_uid != call.project_uid:
            raise not_found("EdgeHost", call.params["uid"])
        return host

    def search_hosts(self, call: Call) -> Reply:
        def match(body: dict) -> list:
            predicate = search.host_predicate(body)
            hosts = [h for h in self._hosts_in_scope(call) if predicate(h)]
            return search.sort_items(
                hosts, body.get("sort"), search.EDGE_HOST_SORT, default=lambda h: (h.created, h.uid)
            )

        return search_reply(self.state, call, match, render.host_summary, cache="hosts")

    def search_schema(self, call: Call) -> Reply:
        prop = search.schema_property
        return schema_reply(
            [
                prop("name", "Name"),
                prop("tags", "Tags"),
                prop("state", "State", enum=["ready", "unpaired", "in-use"]),
                prop("healthState", "Health", enum=["healthy", "unhealthy"]),
                prop("architecture", "Architecture", enum=["amd64", "arm64"]),
            ]
        )

    def hosts_metadata(self, call: Call) -> Reply:
        quick = call.query.get("quickFilter")
        with self.state.lock:
            hosts = self._hosts_in_scope(call)
            if quick == "unusedEdgeHosts":
                hosts = [h for h in hosts if h.state == "ready"]
            items = [
                {
                    "uid": h.uid,
                    "name": h.name,
                    "state": h.state,
                    "healthState": h.health,
                    "archType": h.arch,
                    "edgeHostType": "edge-native",
                }
                for h in hosts
            ]
        return Reply(body={"edgeHosts": items})

    def host_tags(self, call: Call) -> Reply:
        with self.state.lock:
            tags = sorted({t for h in self._hosts_in_scope(call) for t in h.tag_strings})
        return Reply(body={"tags": tags})

    def get_host(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.host_device(self.state, self._host(call)))

    def update_host_meta(self, call: Call) -> Reply:
        require_write(call, "edgehost.update")
        meta = (call.body or {}).get("metadata") or {}
        with self.state.lock:
            host = self._host(call)
            if meta.get("uid") and meta["uid"] != host.uid:
                raise ApiError(
                    400, "InvalidRequest", f"metadata.uid '{meta['uid']}' does not match '{host.uid}'"
                )
            # The meta update replaces the labels: tags not sent are removed.
            self.state.update_host(host.uid, labels=meta.get("labels") or {}, name=meta.get("name") or None)
        return Reply(status=204)

    # -- cluster profiles -------------------------------------------------------------------

    def search_profiles(self, call: Call) -> Reply:
        def match(body: dict) -> list:
            predicate = search.profile_predicate(body)
            newest = search.newest_per_name(
                p for p in self.state.visible_profiles(call.project_uid) if predicate(p)
            )
            return search.sort_items(
                newest, body.get("sort"), search.PROFILE_SORT, default=lambda p: (p.name, p.uid)
            )

        return search_reply(self.state, call, match, render.profile_summary, cache="profiles")

    def profiles_metadata(self, call: Call) -> Reply:
        with self.state.lock:
            items = [
                {
                    "metadata": {"uid": p.uid, "name": p.name},
                    "spec": {"cloudType": p.cloud_type, "version": p.version},
                }
                for p in self.state.visible_profiles(call.project_uid)
            ]
        return Reply(body={"items": items})

    def get_profile(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.profile_full(self.state, self._profile(call)))

    def _profile(self, call: Call) -> Profile:
        visible = {p.uid: p for p in self.state.visible_profiles(call.project_uid)}
        profile = visible.get(call.params["uid"])
        if profile is None:
            raise not_found("ClusterProfile", call.params["uid"])
        return profile

    def profile_variables(self, call: Call) -> Reply:
        # v1Variables: name, format, regex, required, defaultValue, isSensitive, hidden, immutable
        # (palette-sdk-go client/cluster_profile.go GetProfileVariables; docs/palette-behaviour.md §9).
        with self.state.lock:
            return Reply(body={"variables": [dict(v) for v in self._profile(call).variables]})
