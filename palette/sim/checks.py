"""How the simulator judges an edge-native cluster request against its world (validate, create, day 2).

``/v1/spectroclusters/edge-native/validate`` answers ``v1SpectroClusterValidatorResponse``, a constraint
validator: results per machine pool and per pack of each profile, each with ``errors[{code,message}]``,
and a 200 can carry errors (docs/palette-behaviour.md §10; palette-sdk-go client/cluster_edge_native.go
ignores the body). Problems with the edge hosts themselves (unknown, in use, unpaired, unhealthy) are not
constraint results: they come back as an HTTP error, as Palette answers host problems with errors such
as ``AlreadyRegisteredEdgeHostDevice`` (terraform-provider-spectrocloud spectrocloud/resource_appliance.go;
inferred, docs/palette-behaviour.md §10). The exact codes below are the simulator's own (inferred).
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .calls import ApiError
from .state import Profile, SimState

_VERSION = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")


@dataclass
class Check:
    """The verdict on a request: constraint results (``pools``, ``profiles``), host problems and every problem
    as one line (``problems``, host problems included)."""

    pools: list[dict] = field(default_factory=list)
    profiles: list[dict] = field(default_factory=list)
    host_problems: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def response(self) -> dict[str, Any]:
        """The v1SpectroClusterValidatorResponse body."""
        return {"machinePools": {"results": self.pools}, "profiles": self.profiles}

    def host_error(self) -> ApiError | None:
        """The 400 that host problems come back as (None without any)."""
        return problems_error(self.host_problems)


def problems_error(problems: list[tuple[str, str]]) -> ApiError | None:
    """The 400 that (code, message) problems come back as: the first code and every message (None without
    any)."""
    if not problems:
        return None
    return ApiError(400, problems[0][0], "; ".join(m for _, m in problems))


def variable_values(entry: dict) -> dict[str, Any]:
    """The name -> value of an entry's ``variables[{name, value}]`` (a profile reference of a request)."""
    return {v.get("name"): v.get("value") for v in entry.get("variables") or ()}


def machine_pools(spec: dict) -> list[dict]:
    """``spec.machinepoolconfig``; Go decodes JSON keys case-insensitively, so Palette accepts other spellings
    such as CanvOS's ``machinePoolConfig`` (docs/palette-behaviour.md §10)."""
    pools = spec.get("machinepoolconfig")
    if pools is None:
        pools = next((v for k, v in spec.items() if k.lower() == "machinepoolconfig"), None)
    return pools or []


def check_cluster(state: SimState, project_uid: str | None, body: dict) -> Check:
    """Judge a v1SpectroEdgeNativeClusterEntity in a project."""
    spec = (body or {}).get("spec") or {}
    check = Check()
    _check_pools(state, project_uid, spec, check)
    _check_profiles(state, project_uid, spec.get("profiles") or [], check)
    return check


def _check_pools(state: SimState, project_uid: str | None, spec: dict, check: Check) -> None:
    pools = machine_pools(spec)
    control_planes = [p for p in pools if (p.get("poolConfig") or {}).get("isControlPlane")]
    cloud = spec.get("cloudConfig") or {}
    two_node = bool(cloud.get("isTwoNodeCluster"))
    endpoint = (cloud.get("controlPlaneEndpoint") or {}).get("host")
    seen: set[str] = set()
    for i, pool in enumerate(pools):
        cfg = pool.get("poolConfig") or {}
        name = cfg.get("name") or f"pool-{i}"
        errors: list[dict[str, str]] = []
        err = functools.partial(_pool_error, errors, check.problems, name)
        hosts = (pool.get("cloudConfig") or {}).get("edgeHosts") or []
        if cfg.get("size") != len(hosts):
            err("PoolSizeMismatch", f"pool size {cfg.get('size')} does not match {len(hosts)} edge hosts")
        if cfg.get("isControlPlane"):
            if len(control_planes) > 1:
                err("MultipleControlPlanePools", "only one control plane pool is allowed")
            allowed = (1, 2, 3, 5) if two_node else (1, 3, 5)
            if len(hosts) not in allowed:
                err(
                    "InvalidControlPlaneSize",
                    f"control plane must have {' or '.join(map(str, allowed))} hosts",
                )
            if not endpoint:
                err(
                    "ControlPlaneEndpointRequired",
                    "cloudConfig.controlPlaneEndpoint.host (the VIP) is required",
                )
        arch = (cfg.get("machinePoolProperties") or {}).get("archType")
        for code, message in host_problems(state, project_uid, hosts, arch, seen):
            if state.validate_host_problems == "results":
                err(code, message)
                continue
            check.host_problems.append((code, message))
            check.problems.append(f"{name}: {message}")
        check.pools.append({"name": name, "displayName": name, "errors": errors})
    if pools and not control_planes:
        check.problems.append("no control plane pool")
        check.pools[0]["errors"].append(
            {"code": "ControlPlanePoolRequired", "message": "one pool must have isControlPlane true"}
        )
    if not pools:
        check.problems.append("no machine pools (spec.machinepoolconfig is empty)")


def _pool_error(
    errors: list[dict[str, str]], problems: list[str], pool: str, code: str, message: str
) -> None:
    """Record a machine pool's constraint error: in its results and as a line of ``Check.problems``."""
    errors.append({"code": code, "message": message})
    problems.append(f"{pool}: {message}")


def host_problems(
    state: SimState,
    project_uid: str | None,
    entries: Iterable[dict],
    arch: str | None,
    seen: set[str],
    cluster_uid: str = "",
) -> list[tuple[str, str]]:
    """(code, message) for each edge host entry that cannot join a pool; hosts already in ``cluster_uid`` may.

    ``seen`` collects the uids across pools, so a host used twice is caught.
    """
    out: list[tuple[str, str]] = []
    for entry in entries:
        uid = entry.get("hostUid") or ""
        host = state.hosts.get(uid)
        if host is None or host.project_uid != project_uid:
            out.append(("EdgeHostNotFound", f"edge host '{uid}' not found in the project"))
            continue
        if uid in seen:
            out.append(("EdgeHostDuplicate", f"edge host '{uid}' is used more than once"))
        seen.add(uid)
        if host.state == "unpaired":
            out.append(("EdgeHostNotPaired", f"edge host '{uid}' has not paired yet"))
        elif host.state == "in-use" and not (cluster_uid and host.cluster and host.cluster[0] == cluster_uid):
            user = host.cluster[1] if host.cluster else "?"
            out.append(("EdgeHostInUse", f"edge host '{uid}' is in-use by cluster '{user}'"))
        if host.state != "unpaired" and host.health != "healthy":
            out.append(("EdgeHostUnhealthy", f"edge host '{uid}' is unhealthy: {host.health_message}"))
        if arch and host.arch != arch:
            out.append(("EdgeHostArchMismatch", f"edge host '{uid}' is {host.arch}, pool is {arch}"))
    return out


def _check_profiles(state: SimState, project_uid: str | None, refs: list[dict], check: Check) -> None:
    visible = {p.uid: p for p in state.visible_profiles(project_uid)}
    bases = 0
    for ref in refs:
        uid = ref.get("uid") or ""
        profile = visible.get(uid)
        results: list[dict] = []
        fail = functools.partial(_pack_error, results, check.problems)
        if profile is None:
            fail(uid, "ClusterProfileNotFound", f"cluster profile '{uid}' not found")
            check.profiles.append({"uid": uid, "packs": {"results": results}})
            continue
        if (
            profile.cloud_type not in ("edge-native", "all")
            or profile.type == "system"
            or (profile.cloud_type == "all" and profile.type != "add-on")
        ):
            fail(
                profile.name,
                "InvalidProfileCloudType",
                f"profile {profile.name} is {profile.cloud_type}/{profile.type}, not edge-native",
            )
        bases += profile.type in ("infra", "cluster")
        pack_names = {p["name"] for p in profile.packs}
        results += [{"name": p["name"], "displayName": p["name"], "errors": []} for p in profile.packs]
        for value in ref.get("packValues") or ():
            if value.get("name") not in pack_names:
                fail(
                    value.get("name") or "",
                    "PackNotFound",
                    f"pack '{value.get('name')}' is not in profile {profile.name}",
                )
        for code, message in variable_problems(profile, variable_values(ref), creating=True):
            fail(profile.name, code, message)
        check.profiles.append({"uid": uid, "packs": {"results": results}})
    if bases != 1:
        message = "exactly one infra or full (cluster) profile is required"
        check.problems.append(message)
        if check.profiles:
            check.profiles[0]["packs"]["results"].append(
                {
                    "name": "",
                    "displayName": "",
                    "errors": [{"code": "InvalidProfileCombination", "message": message}],
                }
            )


def _pack_error(results: list[dict], problems: list[str], name: str, code: str, message: str) -> None:
    """Record a profile's constraint error: as a pack result of its own and a line of ``Check.problems``."""
    results.append({"name": name, "displayName": name, "errors": [{"code": code, "message": message}]})
    problems.append(message)


def variable_problems(profile: Profile, values: dict[str, Any], creating: bool) -> list[tuple[str, str]]:
    """(code, message) for values that break the profile's variables (v1Variable: required, format, regex,
    immutable); at create a required variable needs a value or a default. Values go in
    ``profiles[].variables[{name,value}]`` (docs/palette-behaviour.md §9; terraform-provider-spectrocloud
    PR #557)."""
    defined = {v["name"]: v for v in profile.variables}
    out = [
        ("VariableNotFound", f"profile {profile.name} has no variable '{name}'")
        for name in values
        if name not in defined
    ]
    for name, var in defined.items():
        value = values.get(name)
        if value in (None, ""):
            if creating and var.get("required") and not var.get("defaultValue"):
                out.append(("VariableRequired", f"variable '{name}' of profile {profile.name} is required"))
            continue
        if not creating and var.get("immutable"):
            out.append(
                ("VariableImmutable", f"variable '{name}' of profile {profile.name} cannot be changed")
            )
        problem = _format_problem(str(value), var.get("format") or "string")
        if problem:
            out.append(("VariableInvalid", f"variable '{name}' of profile {profile.name}: {problem}"))
        elif var.get("regex") and not re.fullmatch(var["regex"], str(value)):
            out.append(
                ("VariableInvalid", f"variable '{name}' of profile {profile.name} must match {var['regex']}")
            )
    return out


def _format_problem(value: str, fmt: str) -> str:
    checks = {
        "number": lambda v: float(v),
        "boolean": lambda v: {"true": True, "false": False}[v],
        "ipv4": ipaddress.IPv4Address,
        "ipv6": ipaddress.IPv6Address,
        "ipv4cidr": lambda v: ipaddress.IPv4Network(v, strict=False),
        "version": lambda v: _VERSION.match(v).group(0),
        "base64": lambda v: base64.b64decode(v, validate=True),
    }
    try:
        checks.get(fmt, str)(value)
    except (ValueError, KeyError, AttributeError, binascii.Error):
        return f"{value!r} is not a valid {fmt}"
    return ""
