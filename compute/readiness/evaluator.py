"""The pure evaluator: inputs in, readiness report out (no database, no Palette)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.template.defaultfilters import pluralize
from django.utils import timezone

from integrations.diagnosis import license_outlook
from palette import bodies
from palette.spec import load_spec

from ..bundles import BASE_TYPES, ProfileInfo, type_problem
from ..eligibility import Policy, has_tag
from ..spec import NodeRequirement, PoolSpec
from ..variables import REDACTED, check_values, missing_values

CREATE_PATH = "/v1/spectroclusters/edge-native"
STALE_INVENTORY = timedelta(minutes=15)
NEAR_MISSES_SHOWN = 4
HOSTS = "hosts"  # the code of a machine pool's host requirement


@dataclass(frozen=True)
class HostFacts:
    """One inventory host as the evaluator needs it. `reserved_by` names another pool holding it."""

    uid: str
    name: str = ""
    state: str = "ready"
    health: str = "healthy"
    health_message: str = ""
    architecture: str = "amd64"
    cpu_cores: int = 0
    memory_mib: int = 0
    gpus: tuple = ()
    tags: dict = field(default_factory=dict)
    clusters: tuple = ()
    ip: str = ""
    eligible: bool = True
    reasons: tuple = ()
    unhealthy_since: datetime | None = None
    reserved_by: str = ""

    @property
    def gpu_total(self) -> int:
        return sum(int(g.get("count") or 1) for g in self.gpus)

    @property
    def size_key(self) -> tuple:
        """Smaller hosts sort first: fewer GPUs, less GPU memory, fewer cores, less memory; then by name."""
        gpu_memory = sum(int(g.get("count") or 1) * int(g.get("memoryMiB") or 0) for g in self.gpus)
        return (
            self.gpu_total,
            gpu_memory,
            self.cpu_cores or 0,
            self.memory_mib or 0,
            self.name or self.uid,
            self.uid,
        )


@dataclass(frozen=True)
class Integration:
    """The project's Palette integration as far as the report cares."""

    configured: bool
    complete: bool
    problems: tuple = ()
    last_check: str = ""  # connected, degraded, failed, or "" (never checked)
    host: str = ""
    #: The license stage of that check (integrations.diagnosis.stage_activation), when it had one, and when
    #: the check finished.
    activation: dict | None = None
    checked_at: datetime | None = None


@dataclass(frozen=True)
class Inputs:
    """Everything `evaluate` looks at."""

    spec: PoolSpec
    cluster_name: str
    hosts: tuple[HostFacts, ...]
    bundle: tuple[ProfileInfo, ...] | None
    integration: Integration
    policy: Policy = Policy()
    bundle_type: str = ""
    vips_in_use: dict = field(default_factory=dict)  # vip -> "namespace/pool" of other pools
    gpu_limit: int = 0
    gpus_in_use: int = 0
    tenant_gpu_limit: int = 0
    tenant_gpus_in_use: int = 0
    last_discovery: datetime | None = None
    profiles_synced: bool = True
    pinned: dict = field(default_factory=dict)  # machine pool -> host uids chosen earlier
    own_clusters: tuple = ()  # cluster names of this pool: hosts in use by them are ours
    excluded: tuple = ()  # hosts Palette refused for this attempt
    now: datetime | None = None


@dataclass
class Requirement:
    """One line of the report. `reason` is for people; code reads `code` and `params` (set for the host
    requirements: code HOSTS, params {"pool", "role", "needed", "found"}, "found" being how many hosts
    match and are free), never the reason's text."""

    name: str
    passed: bool
    blocking: bool
    reason: str
    code: str = ""
    params: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "passed": self.passed, "blocking": self.blocking, "reason": self.reason}


@dataclass
class Report:
    """The outcome: ready when no blocking requirement failed."""

    requirements: list[Requirement]
    hosts: dict[str, list[str]]
    request: dict
    cluster_name: str

    @property
    def ready(self) -> bool:
        return not self.blocking_failures

    @property
    def blocking_failures(self) -> list[Requirement]:
        return [r for r in self.requirements if r.blocking and not r.passed]

    @property
    def warnings(self) -> list[Requirement]:
        return [r for r in self.requirements if not r.blocking and not r.passed]

    @property
    def host_shortage(self) -> bool:
        """True when what blocks is only hosts or GPUs (a capacity problem, not a configuration one)."""
        return bool(self.blocking_failures) and all(
            r.name.endswith("hosts") or r.name == "GPU limit" for r in self.blocking_failures
        )

    def summary(self) -> str:
        if self.ready:
            return "ready"
        return "; ".join(f"{r.name}: {r.reason}" for r in self.blocking_failures)

    def to_json(self) -> dict:
        return {
            "ready": self.ready,
            "clusterName": self.cluster_name,
            "requirements": [r.to_json() for r in self.requirements],
            "hosts": self.hosts,
            "request": self.request,
        }


# -- the host filter ----------------------------------------------------------------------------


def short(name: str) -> str:
    """`edge-…fa0` for long device ids; short names stay whole."""
    return name if len(name) <= 20 else f"{name[:5]}…{name[-3:]}"


def _when(moment: datetime, now: datetime) -> str:
    local = timezone.localtime(moment)
    if timezone.localtime(now).date() == local.date():
        return local.strftime("%H:%M")
    return local.strftime("%b %d %H:%M").replace(" 0", " ")


def _shape_problem(host: HostFacts, node: NodeRequirement, groups: dict, policy: Policy) -> str:
    """Why the host's tags or hardware do not fit (empty when they do): the first failing criterion,
    worded to follow a count ("3 without tag gpu-enabled=true")."""
    if not has_tag(host.tags, policy.tag_key, policy.tag_value):
        return f"without the discovery tag {policy.tag}"
    for key, value in groups.items():
        if not has_tag(host.tags, key, value):
            return f"without tag {key}={value}" if value else f"without tag {key}"
    if host.architecture != node.architecture:
        return f"{host.architecture or 'of unknown architecture'} (not {node.architecture})"
    if not host.cpu_cores or not host.memory_mib:
        return "without a hardware report"
    if node.cpu and host.cpu_cores < node.cpu:
        return f"with fewer than {node.cpu} core{pluralize(node.cpu)}"
    if node.memory_mib and host.memory_mib < node.memory_mib:
        return f"with less than {_mib_text(node.memory_mib)} memory"
    if node.gpu and node.gpu.usable_count(host.gpus) < node.gpu.count:
        if not any(node.gpu.matches(g) for g in host.gpus):
            return f"without {node.gpu.family} GPUs"
        memory = f" of ≥{_mib_text(node.gpu.memory_mib)}" if node.gpu.memory_mib else ""
        return f"with fewer than {node.gpu.count} {node.gpu.family} GPU{pluralize(node.gpu.count)}{memory}"
    return ""


def _mib_text(value: int) -> str:
    return f"{value // 1024} GiB" if value % 1024 == 0 else f"{value} MiB"


def _availability_problem(host: HostFacts, inputs: Inputs, now: datetime) -> str:
    """Why a host whose shape fits cannot be used now (empty when it can)."""
    if host.uid in inputs.excluded:
        return "refused by Palette for this pool"
    if host.reserved_by:
        return f"reserved by pool {host.reserved_by}"
    ours = bool(host.clusters) and all(c in inputs.own_clusters for c in host.clusters)
    if host.state == "in-use" and not ours:
        return f"in use by {', '.join(host.clusters) or 'a cluster'}"
    if host.state == "unpaired":
        return "not paired with Palette yet"
    if host.state not in ("ready", "in-use"):
        return f"state {host.state or 'unknown'}"
    if host.health != "healthy":
        if host.health == "unhealthy":
            since = f" since {_when(host.unhealthy_since, now)}" if host.unhealthy_since else ""
            message = f" ({host.health_message})" if host.health_message else ""
            return f"unhealthy{since}{message}"
        return "health not reported yet"
    return ""


def _pick(
    node: NodeRequirement,
    groups: dict,
    candidates: list[HostFacts],
    taken: dict[str, str],
    inputs: Inputs,
    now: datetime,
) -> tuple[list[HostFacts], Requirement]:
    """Choose `node.count` hosts for one machine pool; the requirement that says how it went."""
    fitting: list[HostFacts] = []
    near: list[tuple[HostFacts, str]] = []
    others: dict[str, int] = {}
    taken_by: dict[str, int] = {}
    for host in candidates:
        shape = _shape_problem(host, node, groups, inputs.policy)
        if shape:
            others[shape] = others.get(shape, 0) + 1
            continue
        if host.uid in taken:
            taken_by[taken[host.uid]] = taken_by.get(taken[host.uid], 0) + 1
            continue
        problem = _availability_problem(host, inputs, now)
        if problem:
            near.append((host, problem))
        else:
            fitting.append(host)
    pinned = set(inputs.pinned.get(node.name, ()))
    # Hosts chosen before come first (a retry keeps its hosts), then the smallest host that fits.
    fitting.sort(key=lambda h: (h.uid not in pinned, h.size_key))
    chosen = fitting[: node.count]
    tags = list(dict.fromkeys([inputs.policy.tag] + [f"{k}={v}" if v else k for k, v in groups.items()]))
    need = (
        f"need {node.count} {node.role} host{pluralize(node.count)} with {', '.join(tags)}, {node.describe()}"
    )
    found = f"found {len(fitting)}"
    name = f"{node.role.capitalize()} hosts"
    params = {"pool": node.name, "role": node.role, "needed": node.count, "found": len(fitting)}
    if len(chosen) == node.count:
        reason = f"{need}: {found}; using {', '.join(short(h.name or h.uid) for h in chosen)}"
        return chosen, Requirement(name, True, True, reason, HOSTS, params)
    details = []
    near.sort(key=lambda item: item[0].size_key)
    details += [f"{short(h.name or h.uid)} {problem}" for h, problem in near[:NEAR_MISSES_SHOWN]]
    if len(near) > NEAR_MISSES_SHOWN:
        more = len(near) - NEAR_MISSES_SHOWN
        details.append(f"{more} more matching host{pluralize(more)} unavailable")
    details += [
        f"{count} matching host{pluralize(count)} already chosen for {role}"
        for role, count in taken_by.items()
    ]
    if not details and others:
        # Nothing of the right shape at all: say what the closest misses lack.
        top = sorted(others.items(), key=lambda item: -item[1])[:3]
        details.append("of the other hosts, " + "; ".join(f"{count} {why}" for why, count in top))
    elif not details:
        details.append("no hosts in the inventory; run discovery")
    reason = f"{need}: {found} — " + "; ".join(details)
    return chosen, Requirement(name, False, True, reason, HOSTS, params)


def pick_hosts(
    inputs: Inputs, node: NodeRequirement, keep: tuple[HostFacts, ...] = ()
) -> tuple[list[HostFacts], Requirement, Requirement]:
    """Choose `node.count` more hosts for one machine pool of an existing pool, by the rules of `evaluate`
    (the same filter, availability and reasons), among the hosts not in `keep` (the pool's hosts now); with
    the GPU limit the pool would then meet. For a day-2 change (compute.provisioning.day2)."""
    now = inputs.now or timezone.now()
    groups = inputs.spec.cp_groups if node.control_plane else inputs.spec.worker_groups
    kept = {h.uid for h in keep}
    candidates = [h for h in inputs.hosts if h.uid not in kept]
    chosen, requirement = _pick(node, groups, candidates, {}, inputs, now)
    return chosen, requirement, _gpu_limit(inputs, [*keep, *chosen])


# -- the evaluator --------------------------------------------------------------------------------


def evaluate(inputs: Inputs) -> Report:
    """The readiness report for `inputs` (pure and deterministic)."""
    now = inputs.now or timezone.now()
    spec = inputs.spec
    reqs: list[Requirement] = []
    reqs.append(_integration(inputs.integration))
    reqs.append(_license(inputs.integration, now))
    reqs.append(_bundle(inputs))
    reqs.append(_variables(inputs))
    reqs.append(_inventory(inputs, now))
    reqs.append(_control_plane_shape(spec))

    # Most constrained first: GPU pools, then the control plane, then the other worker pools.
    order = [n for n in spec.workers if n.gpu] + [spec.control_plane] + [n for n in spec.workers if not n.gpu]
    candidates = [h for h in inputs.hosts]
    taken: dict[str, str] = {}
    chosen: dict[str, list[HostFacts]] = {}
    host_reqs: dict[str, Requirement] = {}
    for node in order:
        groups = spec.cp_groups if node.control_plane else spec.worker_groups
        picked, requirement = _pick(node, groups, candidates, taken, inputs, now)
        chosen[node.name] = picked
        host_reqs[node.name] = requirement
        for host in picked:
            taken[host.uid] = node.role
    reqs += [host_reqs[n.name] for n in spec.machine_pools]
    reqs.append(_gpu_limit(inputs, [h for hs in chosen.values() for h in hs]))
    reqs.append(_vip(inputs, now))
    reqs.append(_ssh(spec))
    request, problems = build_request(inputs, chosen)
    reqs.append(
        Requirement(
            "Palette request",
            not problems,
            True,
            f"the create body matches Palette's API spec ({CREATE_PATH})"
            if not problems
            else "the create body breaks Palette's API spec: " + "; ".join(problems[:5]),
        )
    )
    hosts = {n.name: [h.uid for h in chosen[n.name]] for n in spec.machine_pools}
    return Report(requirements=reqs, hosts=hosts, request=request, cluster_name=inputs.cluster_name)


def _integration(integration: Integration) -> Requirement:
    name = "Palette integration"
    if not integration.configured:
        return Requirement(
            name, False, True, "no Palette integration: add Settings to this project or its tenant."
        )
    if not integration.complete:
        return Requirement(
            name, False, True, " ".join(integration.problems) or "the Palette integration is incomplete."
        )
    if integration.last_check in ("failed", "degraded"):
        return Requirement(
            name,
            False,
            False,
            f"the last connection check to {integration.host} was {integration.last_check}; "
            "Palette may refuse the request (Settings > Test connection shows which stage).",
        )
    if not integration.last_check:
        return Requirement(
            name,
            True,
            False,
            f"configured for {integration.host} (never checked; validation will contact it).",
        )
    return Requirement(name, True, False, f"connected to {integration.host}.")


def _license(integration: Integration, now: datetime) -> Requirement:
    """A self-hosted Palette's activation as of the last connection check (no Palette call here): Inactive or
    past its trial blocks, a trial ending within TRIAL_WARNING_DAYS warns (docs/palette-behaviour.md §16)."""
    name = "Palette license"
    outlook = license_outlook(integration.activation, now)
    if outlook is None:
        facts = integration.activation or {}
        why = (
            "not applicable (SaaS Palette)"
            if facts.get("applicable") is False
            else "not visible to this key"
            if facts.get("visible") is False
            else "not known yet (the next connection check reads it)"
        )
        return Requirement(name, True, False, f"{why}.")
    seen = f" (connection check of {_when(integration.checked_at, now)})" if integration.checked_at else ""
    after = " Once it is activated, test the connection again (Settings)." if outlook.blocks else ""
    return Requirement(
        name, not (outlook.blocks or outlook.warns), outlook.blocks, outlook.text + seen + after
    )


def _bundle(inputs: Inputs) -> Requirement:
    name = "Profile bundle"
    ref = inputs.spec.bundle
    if inputs.bundle is None:
        return Requirement(
            name,
            False,
            True,
            f"profile bundle {ref} does not exist in {inputs.spec.namespace}; create it first.",
        )
    if inputs.bundle_type and inputs.bundle_type not in ("Infrastructure", "Fullstack"):
        return Requirement(
            name,
            False,
            True,
            f"bundle {ref} is of type {inputs.bundle_type}; pools need Infrastructure or Fullstack.",
        )
    bases = [p for p in inputs.bundle if p.type in BASE_TYPES]
    if len(bases) != 1:
        return Requirement(
            name,
            False,
            True,
            f"bundle {ref} must hold exactly one Infrastructure or Full profile (has {len(bases)}).",
        )
    gone = [p for p in inputs.bundle if not p.present]
    if gone:
        return Requirement(
            name,
            False,
            True,
            f"bundle {ref} uses {', '.join(p.label for p in gone)}, which no longer exist in "
            "Palette (last profile sync); edit the bundle to use current versions.",
        )
    wrong = [p for p in bases if p.cloud_type != "edge-native"]
    if wrong:
        return Requirement(
            name, False, True, f"{wrong[0].label} is for {wrong[0].cloud_type}, not edge-native."
        )
    mismatch = type_problem(inputs.bundle_type, bases[0])
    if mismatch:
        return Requirement(name, False, True, f"bundle {ref}: {mismatch}")
    addons = [p.label for p in inputs.bundle if p.type == "add-on"]
    text = f"{ref}: {bases[0].label} ({'Full' if bases[0].type == 'cluster' else 'Infrastructure'})"
    if addons:
        text += " + " + ", ".join(addons)
    if not inputs.profiles_synced:
        return Requirement(
            name,
            True,
            False,
            text + "; profiles were never synced, so Palette will be the one to check them.",
        )
    return Requirement(name, True, True, text)


def _variables(inputs: Inputs) -> Requirement:
    """The bundle's profile variables: every required one without a default has a value, every value fits its
    variable."""
    name = "Profile variables"
    values = inputs.spec.variables
    if inputs.bundle is None:
        return Requirement(
            name, not values, False, "checked once the bundle exists." if values else "no values given."
        )
    _masked, problems = check_values(values, inputs.bundle)
    missing = missing_values(values, inputs.bundle)
    if missing or problems:
        parts = [
            f"{var.name} ({var.label}) of profile {profile.label} is required and has no default: give it a "
            f"value (spec.profileVariables.{profile.name}.{var.name}, or the wizard's Profile variables step)"
            for profile, var in missing
        ]
        parts += [message for _profile, _var, message in problems]
        return Requirement(name, False, True, "; ".join(parts))
    unknown = [p.label for p in inputs.bundle if p.variables is None and p.name in values]
    given = sum(len(v) for v in values.values())
    defined = sum(len(p.variables or ()) for p in inputs.bundle)
    if unknown:
        return Requirement(
            name,
            True,
            False,
            f"{given} value{pluralize(given)} given; the variables of "
            f"{', '.join(unknown)} are not synced, so Palette's validation checks them.",
        )
    if not defined and not given:
        return Requirement(name, True, True, "the bundle's profiles define no variables.")
    return Requirement(
        name,
        True,
        True,
        f"{given} value{pluralize(given)} given for {defined} variable{pluralize(defined)}; the others use "
        "their defaults.",
    )


def _inventory(inputs: Inputs, now: datetime) -> Requirement:
    name = "Inventory"
    if inputs.last_discovery is None:
        if inputs.hosts:
            return Requirement(
                name,
                False,
                False,
                "no discovery has completed successfully; hosts may have changed in Palette.",
            )
        return Requirement(
            name, False, True, "no edge hosts discovered: run discovery (Compute > Discover now)."
        )
    age = now - inputs.last_discovery
    minutes, count = int(age.total_seconds() // 60), len(inputs.hosts)
    if age > STALE_INVENTORY:
        return Requirement(
            name,
            False,
            False,
            f"the inventory is {minutes} minute{pluralize(minutes)} old; Palette's validation will catch "
            "hosts that changed since, or run discovery now.",
        )
    return Requirement(
        name,
        True,
        False,
        f"{count} host{pluralize(count)}, discovered {int(age.total_seconds())} s ago.",
    )


def _control_plane_shape(spec: PoolSpec) -> Requirement:
    cp = spec.control_plane
    name = "Control plane"
    if cp.count == 1:
        runs = "also runs workloads" if cp.worker_eligible else "runs no workloads"
        return Requirement(
            name,
            False,
            False,
            f"1 node ({runs}): no high availability; losing the host loses the cluster. "
            "Use 3 for production.",
        )
    return Requirement(
        name,
        True,
        False,
        f"{cp.count} nodes (highly available){', also running workloads' if cp.worker_eligible else ''}.",
    )


def _gpu_limit(inputs: Inputs, hosts: list[HostFacts]) -> Requirement:
    wanted = sum(h.gpu_total for h in hosts)
    name = "GPU limit"
    for label, limit, used in (
        ("project", inputs.gpu_limit, inputs.gpus_in_use),
        ("tenant", inputs.tenant_gpu_limit, inputs.tenant_gpus_in_use),
    ):
        if limit and used + wanted > limit:
            return Requirement(
                name,
                False,
                True,
                f"the chosen hosts carry {wanted} GPU{pluralize(wanted)}; with {used} in other pools that "
                f"exceeds the {label} limit of {limit}. Raise the limit or ask for fewer GPU hosts.",
            )
    limits = [
        f"{label} limit {limit}, {used} in use"
        for label, limit, used in (
            ("project", inputs.gpu_limit, inputs.gpus_in_use),
            ("tenant", inputs.tenant_gpu_limit, inputs.tenant_gpus_in_use),
        )
        if limit
    ]
    return Requirement(
        name,
        True,
        True,
        f"{wanted} GPU{pluralize(wanted)}" + (f" ({'; '.join(limits)})" if limits else " (no limit set)"),
    )


def _vip(inputs: Inputs, now: datetime) -> Requirement:
    vip = inputs.spec.vip
    name = "VIP"
    if not vip:
        return Requirement(
            name, False, True, "no VIP: reserve an IPv4 address for the cluster's API endpoint."
        )
    if vip in inputs.vips_in_use:
        return Requirement(
            name,
            False,
            True,
            f"{vip} is already the VIP of pool {inputs.vips_in_use[vip]}; each cluster needs its own.",
        )
    clash = next((h for h in inputs.hosts if h.ip == vip), None)
    if clash is not None:
        return Requirement(
            name,
            False,
            True,
            f"{vip} is the address of edge host {short(clash.name or clash.uid)}; "
            "the VIP must be a free address.",
        )
    return Requirement(name, True, True, f"{vip} (not used by another pool or a known host)")


def _ssh(spec: PoolSpec) -> Requirement:
    if not spec.ssh_keys:
        return Requirement(
            "SSH keys",
            False,
            False,
            "no SSH key: nobody will be able to log in to the nodes to troubleshoot.",
        )
    return Requirement(
        "SSH keys", True, False, f"{len(spec.ssh_keys)} public key{pluralize(len(spec.ssh_keys))}"
    )


def build_request(inputs: Inputs, chosen: dict[str, list[HostFacts]]) -> tuple[dict, list[str]]:
    """The create body for the chosen hosts, and its violations of the spec subset (empty when valid)."""
    spec = inputs.spec
    pools = []
    for node in spec.machine_pools:
        hosts = [bodies.PoolHost(uid=h.uid, name=h.name) for h in chosen.get(node.name, ())]
        pools.append(
            bodies.MachinePool(
                name=node.name,
                hosts=hosts,
                control_plane=node.control_plane,
                control_plane_as_worker=node.control_plane and node.worker_eligible,
                architecture=node.architecture,
            )
        )
    # Masked values (the variable is sensitive, or unknown) are REDACTED here: this body is shown and stored;
    # the values go in only for the call to Palette (compute.variables.with_secrets).
    masked = set(spec.masked) | set(check_values(spec.variables, inputs.bundle or ())[0])
    profiles = [
        bodies.ProfileRef(
            uid=p.uid,
            variables={
                k: REDACTED if (p.name, k) in masked else v
                for k, v in (spec.variables.get(p.name) or {}).items()
            },
        )
        for p in (inputs.bundle or ())
    ]
    labels = {**spec.labels, "paletteai-pool": spec.name, "paletteai-namespace": spec.namespace}
    cluster = bodies.EdgeNativeCluster(
        name=inputs.cluster_name,
        profiles=profiles,
        pools=pools,
        vip=spec.vip,
        ssh_keys=list(spec.ssh_keys),
        labels=labels,
        description=spec.description,
    )
    body = cluster.to_body()
    problems: list[str] = []
    try:
        load_spec().validate_request("POST", CREATE_PATH, body)
    except Exception as exc:  # SpecViolation: list its problems; anything else is a bug worth showing
        problems = list(getattr(exc, "problems", [str(exc)]))
    return body, problems
