"""Day-2 operations on an edge-native cluster: its cloud config, machine pools, profiles and variables.

- A machine pool is changed with ``PUT /v1/cloudconfigs/edge-native/{configUid}/machinePools/{name}``
  and the whole host list (``v1EdgeNativeMachinePoolConfigEntity``); ``configUid`` is the cluster's
  ``spec.cloudConfigRef.uid`` (palette-sdk-go client/cluster_edge_native.go UpdateMachinePoolEdgeNative).
  A control plane changes one host at a time, adding before removing: a temporary extra node is
  allowed (librarium clusters/edge/cluster-management/control-plane-host-replacement.md;
  docs/palette-behaviour.md §15). Hosts a pool drops go back to ``ready``; hosts it gains are ``in-use``.
- No day-2 operation runs on an Inactive (unactivated, trial over) self-hosted Palette (``calls``).
- Profile variables are set per cluster; an ``immutable`` one cannot change after the create.
The refusals' codes are the simulator's own (inferred).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from . import render
from .calls import ApiError, Call, Handlers, Reply, not_found, require_license, require_write
from .checks import host_problems, problems_error, variable_problems, variable_values
from .clusters import cluster_in_scope
from .state import Cluster, Pool, SimState

POOLS = "/v1/cloudconfigs/edge-native/{configUid}/machinePools"
#: Control plane sizes Palette runs: 1, 3 or 5 nodes (docs/palette-behaviour.md §10, inferred).
CONTROL_PLANE_SIZES = (1, 3, 5)


class DayTwoApi(Handlers):
    """The day-2 operations over a SimState."""

    def routes(self) -> dict[tuple[str, str], Callable[[Call], Reply]]:
        return {
            ("GET", "/v1/cloudconfigs/edge-native/{configUid}"): self.get_cloud_config,
            ("POST", POOLS): self.add_pool,
            ("PUT", POOLS + "/{machinePoolName}"): self.update_pool,
            ("DELETE", POOLS + "/{machinePoolName}"): self.delete_pool,
            ("GET", POOLS + "/{machinePoolName}/machines"): self.pool_machines,
            ("GET", "/v1/spectroclusters/{uid}/profiles"): self.cluster_profiles,
            ("PATCH", "/v1/spectroclusters/{uid}/profiles"): self.patch_profiles,
            ("GET", "/v1/spectroclusters/{uid}/variables"): self.cluster_variables,
            ("PATCH", "/v1/spectroclusters/{uid}/variables"): self.patch_variables,
        }

    # -- lookups ----------------------------------------------------------------------------

    def _by_config(self, call: Call) -> Cluster:
        uid = call.params["configUid"]
        found = next((c for c in self.state.clusters.values() if c.cloud_config_uid == uid), None)
        if (
            found is None
            or found.project_uid != call.project_uid
            or self.state.cluster_state(found) == "Deleted"
        ):
            raise not_found("EdgeNativeCloudConfig", uid)
        return found

    @staticmethod
    def _pool(cluster: Cluster, name: str) -> Pool:
        pool = next((p for p in cluster.pools if p.name == name), None)
        if pool is None:
            raise not_found("MachinePool", name)
        return pool

    def _day2(self, call: Call, cluster: Cluster, what: str) -> None:
        require_write(call, "spectrocluster.update")
        require_license(self.state, what)
        if self.state.cluster_state(cluster) in ("Deleting", "Deleted"):
            raise ApiError(
                400, "ClusterDeleting", f"cluster '{cluster.name}' is being deleted: {what} is not allowed"
            )

    # -- cloud config and machine pools ------------------------------------------------------

    def get_cloud_config(self, call: Call) -> Reply:
        with self.state.lock:
            return Reply(body=render.cloud_config(self.state, self._by_config(call)))

    def pool_machines(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._by_config(call)
            return Reply(
                body=render.machines(self.state, cluster, self._pool(cluster, call.params["machinePoolName"]))
            )

    @staticmethod
    def _entries(call: Call) -> tuple[dict, list[dict]]:
        body = call.body or {}
        config = body.get("poolConfig")
        if not config:
            raise ApiError(400, "InvalidMachinePool", "poolConfig is required")
        hosts = list(((body.get("cloudConfig") or {}).get("edgeHosts")) or ())
        if config.get("size") != len(hosts):
            raise ApiError(
                400,
                "PoolSizeMismatch",
                f"pool size {config.get('size')} does not match {len(hosts)} edge hosts",
            )
        return config, hosts

    def _refuse_hosts(
        self, call: Call, cluster: Cluster, config: dict, entries: list[dict], others: set[str]
    ) -> None:
        arch = (config.get("machinePoolProperties") or {}).get("archType")
        problems = host_problems(
            self.state, call.project_uid, entries, arch, set(others), cluster_uid=cluster.uid
        )
        _refuse(problems)

    def add_pool(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._by_config(call)
            self._day2(call, cluster, "adding a machine pool")
            config, entries = self._entries(call)
            if any(p.name == config["name"] for p in cluster.pools):
                raise ApiError(
                    400, "MachinePoolAlreadyExists", f"machine pool '{config['name']}' exists already"
                )
            if config.get("isControlPlane"):
                raise ApiError(
                    400, "MultipleControlPlanePools", "the cluster has its control plane pool already"
                )
            self._refuse_hosts(call, cluster, config, entries, set(cluster.host_uids))
            now = time.time()
            pool = Pool(
                name=config["name"],
                control_plane=False,
                host_uids=[e["hostUid"] for e in entries],
                labels=list(config.get("labels") or []),
                config=dict(config),
                edge_hosts=entries,
                arch=(config.get("machinePoolProperties") or {}).get("archType") or "amd64",
            )
            cluster.pools.append(pool)
            self.state.assign_hosts(cluster, pool.host_uids, now)
            cluster.events.append((now, "Normal", "MachinePoolCreated", f"machine pool {pool.name} added"))
            self.state.touch()
        # v1Uid names nothing else here: the pool is known by its name (the path's machinePoolName;
        # inferred).
        return Reply(status=201, body={"uid": pool.name}, headers={"AuditUid": cluster.uid})

    def update_pool(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._by_config(call)
            pool = self._pool(cluster, call.params["machinePoolName"])
            self._day2(call, cluster, "changing a machine pool")
            config, entries = self._entries(call)
            if config.get("name") != pool.name:
                raise ApiError(400, "InvalidMachinePool", f"poolConfig.name must be '{pool.name}'")
            wanted = [e["hostUid"] for e in entries]
            if pool.control_plane:
                self._check_control_plane(pool, wanted)
            others = {u for p in cluster.pools if p is not pool for u in p.host_uids}
            self._refuse_hosts(call, cluster, config, entries, others)
            now = time.time()
            self.state.release_hosts(cluster, [u for u in pool.host_uids if u not in wanted], now)
            self.state.assign_hosts(cluster, [u for u in wanted if u not in pool.host_uids], now)
            pool.host_uids, pool.edge_hosts, pool.config = wanted, entries, {**pool.config, **config}
            pool.labels = list(config.get("labels") or pool.labels)
            cluster.events.append(
                (now, "Normal", "MachinePoolUpdated", f"machine pool {pool.name} now has {len(wanted)} hosts")
            )
            self.state.touch()
        return Reply(status=204)

    @staticmethod
    def _check_control_plane(pool: Pool, wanted: list[str]) -> None:
        changed = set(wanted) ^ set(pool.host_uids)
        if len(changed) > 1:
            raise ApiError(
                400,
                "ControlPlaneChangeTooLarge",
                "a control plane changes one host at a time: add the new host first, then remove the old one",
            )
        # A 1-, 3- or 5-node control plane may hold one extra node while a host is replaced.
        if len(wanted) not in CONTROL_PLANE_SIZES and len(wanted) - 1 not in CONTROL_PLANE_SIZES:
            raise ApiError(
                400,
                "InvalidControlPlaneSize",
                "control plane must have 1, 3 or 5 hosts (one more while a host is replaced)",
            )

    def delete_pool(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._by_config(call)
            pool = self._pool(cluster, call.params["machinePoolName"])
            self._day2(call, cluster, "deleting a machine pool")
            if pool.control_plane:
                raise ApiError(400, "ControlPlanePoolRequired", "the control plane pool cannot be deleted")
            now = time.time()
            cluster.pools.remove(pool)
            self.state.release_hosts(cluster, pool.host_uids, now)
            cluster.events.append((now, "Normal", "MachinePoolDeleted", f"machine pool {pool.name} deleted"))
            self.state.touch()
        return Reply(status=204)

    # -- profiles and variables --------------------------------------------------------------

    def _changing(self, call: Call, what: str) -> Cluster:
        """The cluster of the call's path, once `what` (a day-2 change of it) is allowed (see ``_day2``)."""
        cluster = cluster_in_scope(self.state, call)
        self._day2(call, cluster, what)
        return cluster

    def _show(self, call: Call, view: Callable[[SimState, Cluster], Any]) -> Reply:
        """The cluster of the call's path, as `view` renders it."""
        with self.state.lock:
            return Reply(body=view(self.state, cluster_in_scope(self.state, call)))

    def cluster_profiles(self, call: Call) -> Reply:
        return self._show(call, render.cluster_profiles)

    def patch_profiles(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._changing(call, "changing the cluster's profiles")
            visible = {p.uid: p for p in self.state.visible_profiles(call.project_uid)}
            uids = list(cluster.profile_uids)
            variables, pack_values = dict(cluster.variables), dict(cluster.pack_values)
            for entry in (call.body or {}).get("profiles") or ():
                uid, old = entry.get("uid") or "", entry.get("replaceWithProfile") or ""
                profile = visible.get(uid)
                if profile is None:
                    raise ApiError(400, "ClusterProfileNotFound", f"cluster profile '{uid}' not found")
                values = variable_values(entry)
                _refuse(variable_problems(profile, values, creating=uid not in uids))
                # replaceWithProfile names the attached profile the new one replaces [I: the spec's wording].
                uids = (
                    [uid if u == old else u for u in uids]
                    if old in uids
                    else uids + [uid] * (uid not in uids)
                )
                variables[uid] = _merged(variables.get(uid, {}), values)
                if entry.get("packValues"):
                    pack_values[uid] = list(entry["packValues"])
            if sum(visible[u].type in ("infra", "cluster") for u in uids if u in visible) != 1:
                raise ApiError(
                    400,
                    "InvalidProfileCombination",
                    "exactly one infra or full (cluster) profile is required",
                )
            cluster.profile_uids, cluster.variables, cluster.pack_values = uids, variables, pack_values
            cluster.events.append((time.time(), "Normal", "ProfilesUpdated", "cluster profiles updated"))
            self.state.touch()
        return Reply(status=204)

    def cluster_variables(self, call: Call) -> Reply:
        return self._show(call, render.cluster_variables)

    def patch_variables(self, call: Call) -> Reply:
        with self.state.lock:
            cluster = self._changing(call, "changing the cluster's variables")
            changes = []
            for entry in call.body or ():
                uid = entry.get("profileUid") or ""
                profile = self.state.profiles.get(uid)
                if profile is None or uid not in cluster.profile_uids:
                    raise ApiError(
                        400, "ClusterProfileNotFound", f"profile '{uid}' is not attached to the cluster"
                    )
                values = variable_values(entry)
                _refuse(variable_problems(profile, values, creating=False))
                changes.append((uid, values))
            for uid, values in changes:
                cluster.variables[uid] = _merged(cluster.variables.get(uid, {}), values)
            self.state.touch()
        return Reply(status=204)


def _refuse(problems: list[tuple[str, str]]) -> None:
    """Raise the 400 of the (code, message) problems, if there are any."""
    error = problems_error(problems)
    if error is not None:
        raise error


def _merged(old: dict[str, str], values: dict) -> dict[str, str]:
    """A profile's variable values `old` with `values` set over them (a missing value becomes "")."""
    return {**old, **{k: v or "" for k, v in values.items()}}
