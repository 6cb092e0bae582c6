"""Day-2 changes of a Ready pool's cluster: scale a machine pool, replace a host (docs/palette-behaviour.md
§15).

Planning (`plan_scale`, `plan_replace`) is synchronous and changes nothing: it checks the request (count,
control plane sizes, the pool Ready) and chooses hosts with the readiness evaluator's own filter and reasons
(`readiness.pick_hosts`); hosts to remove are the user's pick, else the unhealthy first, then those with
fewest GPUs. `start_change` plans again under the Palette project's allocation lock and saves the target host
list on the pool (which reserves the new hosts) in the same transaction, then starts the chain: Updating.

The chain, one recorded step at a time (PoolStep rows, like provisioning):
- change: read Palette's cloud config, compare the machine pool's hosts with the target, and send at most one
  ``PUT .../machinePools/{name}`` (the whole host list) per message. Each message reads Palette first, so a
  message redelivered after a worker died mid-PUT sees the change made and never sends it again. A worker
  pool's scale is one PUT. A replacement, and every control-plane change, goes one host at a time: adds first,
  each waited for until Palette reports it Healthy in the pool; then removals, a control-plane host only when
  the nodes left keep their quorum (⌊N/2⌋+1 Healthy).
- settle: wait until every target host is Healthy in the pool, start a discovery run (released hosts become
  eligible again), Ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.template.defaultfilters import pluralize
from django.utils import timezone

from core import audit
from core.durations import human_duration
from core.models import AuditEntry
from palette import bodies
from palette import errors as perrors

from ..models import ComputePool, EdgeHost, PoolStep
from ..spec import CONTROL_PLANE_SIZES, MAX_NODES
from .actions import start_attempt
from .context import Context, _refresh_inventory, _seconds

POOLS_PATH = "/v1/cloudconfigs/edge-native/{configUid}/machinePools/{machinePoolName}"


class DayTwoProblem(ValueError):
    """A day-2 change that cannot be made as asked: the message says what to fix."""


@dataclass
class Change:
    """A planned change of one machine pool: its hosts now (`before`) and after (`target`)."""

    kind: str
    machine_pool: str
    control_plane: bool
    before: list[str]
    target: list[str]
    node_pools: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)  # host uid -> name, for the bodies and for people

    @property
    def add(self) -> list[str]:
        return [u for u in self.target if u not in self.before]

    @property
    def remove(self) -> list[str]:
        return [u for u in self.before if u not in self.target]

    @property
    def stepwise(self) -> bool:
        """One host per PUT, adds first: every control-plane change and every replacement."""
        return self.control_plane or self.kind == ComputePool.REPLACE

    def to_json(self) -> dict:
        return {
            "kind": self.kind,
            "machinePool": self.machine_pool,
            "controlPlane": self.control_plane,
            "before": list(self.before),
            "target": list(self.target),
            "add": self.add,
            "remove": self.remove,
            "names": dict(self.names),
        }

    @classmethod
    def from_json(cls, data: dict) -> Change:
        return cls(
            kind=data.get("kind") or ComputePool.SCALE,
            machine_pool=data.get("machinePool") or "",
            control_plane=bool(data.get("controlPlane")),
            before=list(data.get("before") or ()),
            target=list(data.get("target") or ()),
            names=dict(data.get("names") or {}),
        )

    def summary(self) -> str:
        """`worker pool gpu: 2 → 3 nodes (adds edge-a)` — for messages, the audit log and pool_plan."""
        role = "control plane" if self.control_plane else f"worker pool {self.machine_pool}"
        parts = []
        if self.add:
            parts.append("adds " + ", ".join(self.names.get(u) or u for u in self.add))
        if self.remove:
            parts.append("removes " + ", ".join(self.names.get(u) or u for u in self.remove))
        what = (
            "replace a host"
            if self.kind == ComputePool.REPLACE
            else f"{len(self.before)} → {len(self.target)}"
        )
        return f"{role}: {what} node{pluralize(len(self.target))} ({'; '.join(parts) or 'no change'})"


def quorum(size: int) -> int:
    """How many members of a control plane of `size` must be Healthy for etcd to keep quorum."""
    return size // 2 + 1


# -- planning -------------------------------------------------------------------------------------


def _require_ready(pool: ComputePool) -> None:
    if pool.status != ComputePool.READY or pool.delete_requested:
        raise DayTwoProblem(
            f"Pool {pool.name} is {pool.get_status_display()}: a machine pool changes only while the pool is "
            "Ready. Wait for the current operation to finish (or Retry a failed one), then try again."
        )
    if not pool.cluster_uid:
        raise DayTwoProblem(f"Pool {pool.name} has no Palette cluster to change.")


def _node(pool: ComputePool, machine_pool: str):
    from ..spec import spec_of

    spec = spec_of(pool)
    node = next((n for n in spec.machine_pools if n.name == machine_pool), None)
    if node is None:
        names = ", ".join(n.name for n in spec.machine_pools)
        raise DayTwoProblem(f"Pool {pool.name} has no machine pool {machine_pool!r}; it has {names}.")
    return spec, node


def _facts(pool: ComputePool, spec):
    from ..readiness import gather

    return gather(pool.project, spec, pool=pool)


def _names(pool: ComputePool, uids) -> dict:
    rows = EdgeHost.objects.filter(project=pool.project, uid__in=list(uids)).values_list("uid", "name")
    return {uid: name or uid for uid, name in rows}


def _count_problem(node, count: Any) -> str:
    if isinstance(count, bool) or not isinstance(count, int):
        return f"The node count must be a whole number, not {count!r}."
    if node.control_plane and count not in CONTROL_PLANE_SIZES:
        return "A control plane has 1, 3 or 5 nodes (an odd number keeps etcd's quorum)."
    if count < 1:
        return f"Worker pool {node.name} needs at least 1 node (the count must be 1 or more)."
    if count > MAX_NODES:
        return f"At most {MAX_NODES} nodes per machine pool."
    return ""


def plan_scale(pool: ComputePool, machine_pool: str, count: Any, remove: list[str] | None = None) -> Change:
    """The change that gives `machine_pool` `count` nodes; DayTwoProblem with what to fix when it cannot."""
    _require_ready(pool)
    spec, node = _node(pool, machine_pool)
    problem = _count_problem(node, count)
    if problem:
        raise DayTwoProblem(problem)
    before = list(pool.hosts.get(machine_pool) or ())
    if count == len(before):
        raise DayTwoProblem(f"Machine pool {machine_pool} has {count} node{pluralize(count)} already.")
    inputs = _facts(pool, spec)
    if count > len(before):
        target = before + _more_hosts(pool, inputs, node, count - len(before))
    else:
        target = _fewer_hosts(inputs, before, count, remove or [])
    new_node = replace(node, count=count)
    node_pools = replace(
        spec,
        control_plane=new_node if node.control_plane else spec.control_plane,
        workers=tuple(new_node if w.name == machine_pool else w for w in spec.workers),
    ).node_pools()
    return Change(
        kind=ComputePool.SCALE,
        machine_pool=machine_pool,
        control_plane=node.control_plane,
        before=before,
        target=target,
        node_pools=node_pools,
        names=_names(pool, set(before) | set(target)),
    )


def _more_hosts(pool: ComputePool, inputs, node, more: int, only: str = "") -> list[str]:
    """`more` hosts for `node` chosen by the readiness evaluator (`only`: just that host, if it qualifies)."""
    from ..readiness import pick_hosts

    mine = {u for uids in pool.hosts.values() for u in uids}
    keep = tuple(h for h in inputs.hosts if h.uid in mine)
    if only:
        inputs = replace(inputs, hosts=tuple(h for h in inputs.hosts if h.uid == only or h.uid in mine))
    chosen, requirement, gpus = pick_hosts(inputs, replace(node, count=more), keep)
    if not requirement.passed:
        raise DayTwoProblem(
            f"Not enough eligible hosts for {node.role} ({more} more wanted) — {requirement.reason}."
        )
    if not gpus.passed:
        raise DayTwoProblem(f"GPU limit — {gpus.reason}")
    return [h.uid for h in chosen]


def _fewer_hosts(inputs, before: list[str], count: int, picked: list[str]) -> list[str]:
    """`before` without the hosts to remove: the user's pick, else the unhealthy first, then fewest GPUs."""
    drop = len(before) - count
    if picked:
        unknown = [u for u in picked if u not in before]
        if unknown:
            raise DayTwoProblem(
                f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not in this pool."
            )
        if len(set(picked)) != drop:
            raise DayTwoProblem(
                f"Going from {len(before)} to {count} nodes removes {drop} host{pluralize(drop)}: pick "
                f"exactly {drop} (you picked {len(set(picked))}), or none to let PaletteAI choose."
            )
        return [u for u in before if u not in picked]
    facts = {h.uid: h for h in inputs.hosts}

    def order(uid: str) -> tuple:
        host = facts.get(uid)
        if host is None:
            return (0, 0, ())  # gone from the inventory: the first to go
        return (1 if host.health == "healthy" else 0, host.gpu_total, host.size_key)

    removed = set(sorted(before, key=order)[:drop])
    return [u for u in before if u not in removed]


def plan_replace(pool: ComputePool, old: str, new: str = "") -> Change:
    """The change that replaces host `old` of the pool by `new` (or by the host the evaluator chooses)."""
    _require_ready(pool)
    machine_pool = next((name for name, uids in pool.hosts.items() if old in uids), None)
    if machine_pool is None:
        raise DayTwoProblem(f"Host {old!r} is not one of pool {pool.name}'s hosts.")
    spec, node = _node(pool, machine_pool)
    if new and any(new in uids for uids in pool.hosts.values()):
        raise DayTwoProblem(f"Host {new} is in pool {pool.name} already; choose a host outside it.")
    chosen = _more_hosts(pool, _facts(pool, spec), node, 1, only=new)
    before = list(pool.hosts[machine_pool])
    target = [chosen[0] if u == old else u for u in before]
    return Change(
        kind=ComputePool.REPLACE,
        machine_pool=machine_pool,
        control_plane=node.control_plane,
        before=before,
        target=target,
        node_pools=dict(pool.node_pools),
        names=_names(pool, set(before) | set(target)),
    )


def start_change(pool: ComputePool, plan, *, request=None, user=None, source: str = "web") -> Change:
    """Plan again (`plan(pool)`) under the allocation lock, save the target hosts and start the chain.

    DayTwoProblem when the plan fails or the pool moved on meanwhile (nothing changed then).
    """
    from ..readiness import allocating, allocation_key

    with allocating(allocation_key(pool.project)):
        pool.refresh_from_db()
        change = plan(pool)
        hosts = {**pool.hosts, change.machine_pool: change.target}
        started = start_attempt(
            pool,
            operation=change.kind,
            status=ComputePool.UPDATING,
            step="change",
            change={**change.to_json(), "requested": timezone.now().isoformat()},
            hosts=hosts,
            node_pools=change.node_pools,
            wait_reason=f"Waiting for a worker to change {change.summary()}.",
        )
        if not started:
            raise DayTwoProblem(f"Pool {pool.name} changed meanwhile; look at it again and retry.")
        audit.record(
            request,
            AuditEntry.UPDATE,
            pool,
            verb="scale requested" if change.kind == ComputePool.SCALE else "host replacement requested",
            user=user,
            source=source,
            changes={
                "machinePool": change.machine_pool,
                "nodeCount": f"{len(change.before)} → {len(change.target)}",
                "add": ", ".join(change.add),
                "remove": ", ".join(change.remove),
            },
        )
    return change


# -- what to send next ------------------------------------------------------------------------------


def next_hosts(change: Change, current: list[str], healthy: set[str]) -> tuple[list[str] | None, str]:
    """The host list of the next PUT given the machine pool's hosts in Palette now (`current`) and the Healthy
    ones: (None, why) when nothing is to be sent now (done, or waiting for a node)."""
    if sorted(current) == sorted(change.target):
        return None, ""
    if not change.stepwise:
        return list(change.target), ""
    joining = [u for u in change.add if u in current and u not in healthy]
    if joining:
        return (
            None,
            f"waiting for {', '.join(change.names.get(u) or u for u in joining)} to be Healthy in Palette",
        )
    adding = [u for u in change.target if u not in current]
    if adding:
        return [*current, adding[0]], ""
    leaving = [u for u in current if u not in change.target]
    # The unhealthy first: removing them never costs quorum.
    leaving.sort(key=lambda u: u in healthy)
    rest = [u for u in current if u != leaving[0]]
    if change.control_plane and len([u for u in rest if u in healthy]) < quorum(len(rest)):
        return None, (
            f"waiting for the control plane's other nodes to be Healthy: removing "
            f"{change.names.get(leaving[0]) or leaving[0]} now would leave fewer than {quorum(len(rest))} "
            "Healthy (quorum)"
        )
    return rest, ""


def planned_puts(change: Change) -> list[list[str]]:
    """Every host list the chain would PUT, when each node becomes Healthy in turn (for pool_plan)."""
    current, out = list(change.before), []
    for _ in range(2 * MAX_NODES + 2):
        hosts, _why = next_hosts(change, current, set(current))
        if hosts is None:
            break
        out.append(hosts)
        current = hosts
    return out


def pool_body(change: Change, current: dict, hosts: list[str]) -> dict:
    """The PUT body: the machine pool as Palette lists it (`current`) with exactly `hosts`."""
    return bodies.machine_pool_update(
        current, [bodies.PoolHost(uid=u, name=change.names.get(u, "")) for u in hosts]
    )


# -- the chain --------------------------------------------------------------------------------------


def advance(ctx: Context) -> float | None:
    """Run the current day-2 step of the pool once."""
    pool = ctx.pool
    requested = pool.change.get("requested")
    timeout = timedelta(seconds=_seconds("POOL_PROVISION_TIMEOUT"))
    if requested and ctx.now - _parse(requested) > timeout:
        row = PoolStep.objects.filter(pool=pool, attempt=pool.attempt, name=pool.step or "change").first()
        ctx.fail(
            row,
            "timeout",
            f"The change ({Change.from_json(pool.change).summary()}) did not finish within "
            f"{human_duration(timeout)} (POOL_PROVISION_TIMEOUT): {pool.wait_reason or 'no answer'}. Retry "
            "continues it from what Palette has.",
        )
        return None
    steps = {"change": _change, "settle": _settle}
    return steps.get(pool.step or "change", _change)(ctx)


def _parse(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text)


def _config_uid(ctx: Context, client) -> str:
    """The cluster's cloud config uid (``spec.cloudConfigRef.uid``), read once and kept on the change."""
    uid = ctx.pool.change.get("configUid")
    if not uid:
        uid = client.get_cluster(ctx.pool.cluster_uid).cloud_config_uid
        ctx.save(change={**ctx.pool.change, "configUid": uid})
    return uid


def _read(ctx: Context, client, change: Change):
    """(config uid, the machine pool as Palette has it, the uids of its Healthy nodes)."""
    config_uid = _config_uid(ctx, client)
    config = client.get_cloud_config(config_uid)
    current = config.pools.get(change.machine_pool)
    if current is None:
        return config_uid, None, set()
    machines = client.list_machines(config_uid, change.machine_pool)
    return config_uid, current, {m.host_uid for m in machines if m.healthy}


def _missing(ctx: Context, row: PoolStep, change: Change) -> None:
    ctx.fail(
        row,
        "rejected",
        f"Palette's cloud config of cluster {ctx.pool.cluster_name} has no machine pool "
        f"{change.machine_pool} (changed outside PaletteAI?): look at the cluster in Palette, "
        "then Retry or Delete.",
    )


def _change(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("change", ComputePool.UPDATING)
    if client is None:
        return None
    change = Change.from_json(pool.change)
    try:
        config_uid, current, healthy = _read(ctx, client, change)
        if current is None:
            _missing(ctx, row, change)
            return None
        hosts, why = next_hosts(change, current.host_uids, healthy)
        if hosts is None and not why:
            ctx.finish(row, detail=f"Palette has the machine pool as asked: {change.summary()}.")
            ctx.save(step="settle", wait_reason="Waiting for every node to be Healthy.")
            return 0
        if hosts is None:
            ctx.note(row, f"{why[:1].upper()}{why[1:]}.")
            return _seconds("POOL_POLL_INTERVAL")
        client.update_machine_pool(config_uid, pool_body(change, current.raw, hosts))
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, f"Changing machine pool {change.machine_pool} in Palette failed")
    sent = len(pool.change.get("sent") or ()) + 1
    ctx.save(change={**pool.change, "sent": [*(pool.change.get("sent") or ()), hosts]})
    ctx.note(
        row,
        f"Sent machine pool {change.machine_pool} with {len(hosts)} host{pluralize(len(hosts))} "
        f"(update {sent}); reading it back.",
    )
    return _seconds("POOL_POLL_INTERVAL")


def _settle(ctx: Context) -> float | None:
    pool = ctx.pool
    row, client = ctx.begin_with_client("settle")
    if client is None:
        return None
    change = Change.from_json(pool.change)
    try:
        _uid, current, healthy = _read(ctx, client, change)
    except perrors.PaletteError as exc:
        return ctx.palette_error(row, exc, "Reading the machine pool's nodes failed")
    if current is None:
        _missing(ctx, row, change)
        return None
    waiting = [u for u in change.target if u not in healthy]
    if sorted(current.host_uids) != sorted(change.target):
        # Someone changed the pool in Palette meanwhile: make it as asked again.
        ctx.finish(row, PoolStep.SKIPPED, "Palette's machine pool differs from the change; sending it again.")
        ctx.save(step="change")
        return 0
    if waiting:
        names = ", ".join(change.names.get(u) or u for u in waiting)
        ctx.note(row, f"Waiting for {names} to be Healthy in machine pool {change.machine_pool}.")
        return _seconds("POOL_POLL_INTERVAL")
    # Released hosts become eligible again with the next discovery: start one now.
    _refresh_inventory(pool)
    ctx.save(
        status=ComputePool.READY,
        step="done",
        due_at=None,
        wait_reason="",
        change={**pool.change, "finished": timezone.now().isoformat()},
    )
    ctx.finish(row, detail=f"Every node is Healthy: {change.summary()}.")
    audit.record(
        None,
        AuditEntry.ACTION,
        pool,
        verb="scaled" if change.kind == ComputePool.SCALE else "host replaced",
        source="task",
        changes={"machinePool": change.machine_pool, "hosts": ", ".join(change.target)},
    )
    return None


def planned_requests(pool: ComputePool, change: Change) -> list[dict]:
    """The PUTs the chain would send for `change`, in order (for pool_plan): each body built as the chain
    builds it, from the machine pool as the pool's create made it. The path names the cluster's cloud config
    uid once a change has read it, else ``{configUid}`` (the cluster's ``spec.cloudConfigRef.uid``)."""
    from ..spec import spec_of

    node = next(n for n in spec_of(pool).machine_pools if n.name == change.machine_pool)
    made = bodies.MachinePool(
        name=node.name,
        hosts=[],
        control_plane=node.control_plane,
        control_plane_as_worker=node.control_plane and node.worker_eligible,
        architecture=node.architecture,
    ).to_body()["poolConfig"]
    config_uid = pool.change.get("configUid") or "{configUid}"
    path = POOLS_PATH.replace("{configUid}", config_uid).replace("{machinePoolName}", change.machine_pool)
    return [
        {"method": "PUT", "path": path, "body": pool_body(change, made, hosts)}
        for hosts in planned_puts(change)
    ]
