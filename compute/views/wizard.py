"""The Compute Pool wizard: General → Variant → Profile bundle → Profile variables → Node pools → Network →
Review → Create.

The draft lives in the session (one per project), so every step is a plain GET URL that survives back and
reload; a step's POST is validated by the same PoolForm (and so by compute.spec.parse_spec) as a whole pool,
with the fields of later steps not yet required, then stored and answered with a redirect to the next step.
The node-pool step posts its fields on every change to `pool_wizard_counts`, which runs the readiness
evaluator and answers the live counts fragment. Create goes through create_checked (below), the one
create path. Nothing secret is ever part of a draft in clear: the Profile variables step keeps the plain
values as JSON and the masked (sensitive) ones encrypted (compute.variables.seal); a masked value is never
rendered back.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.htmx import redirect_after_post, render_page
from core.wizard import Wizard
from tenancy import access

from .. import provisioning
from ..bundles import bundle_facts
from ..forms.bundles import BundleForm
from ..forms.pools import WORKER_FIELDS, WORKER_SLOTS, PoolForm, worker_prefix
from ..models import ClusterProfile, ComputePool, EdgeHost, ProfileBundle, ProfileSync
from ..readiness import CREATE_PATH, evaluate, gather, short
from ..readiness.network import host_subnets, vip_problem
from ..spec import PoolSpec, parse_spec
from ..variables import seal, unseal, value_problem

#: Every step is a plain URL (a draft may be filled in any order); the stepper marks an earlier step left
#: incomplete (core.wizard).
WIZARD = Wizard(
    (
        ("general", "General"),
        ("variant", "Variant"),
        ("bundle", "Profile bundle"),
        ("variables", "Profile variables"),
        ("nodes", "Node pools"),
        ("network", "Network"),
        ("review", "Review"),
    ),
    in_order=False,
)
STEP_NAMES = WIZARD.keys
CP_FIELDS = ["cp_count", "cp_worker_eligible", "cp_architecture", "cp_cpu", "cp_memory_gib", "cp_groups"]
WORKER_SLOT_FIELDS = [[f"{worker_prefix(i)}{f}" for f in WORKER_FIELDS] for i in range(WORKER_SLOTS)]
STEP_FIELDS = {
    "general": ["name", "description", "labels"],
    "variant": ["variant"],
    "bundle": ["bundle"],
    "variables": ["profile_variables"],
    "nodes": CP_FIELDS + [f for slot in WORKER_SLOT_FIELDS for f in slot] + ["worker_groups"],
    "network": ["vip", "ssh_keys", "deletion_policy"],
    "review": [],
}
CHECKBOXES = {"cp_worker_eligible"}
SLOTS_SHOWN = "worker_slots_shown"  # kept in the draft beside the form fields
PLAIN_VARIABLES = "variable_values"  # JSON {profile name: {variable: value}}, beside the form fields
SEALED_VARIABLES = "variable_secrets"  # the masked values, encrypted


def _key(project) -> str:
    return f"pool-wizard:{project.pk}"


def _defaults(project) -> dict[str, str]:
    form = PoolForm(project=project)
    data = {}
    for name, field in form.fields.items():
        initial = field.initial
        if name in CHECKBOXES:
            data[name] = "on" if initial else ""
        else:
            data[name] = "" if initial is None else str(initial)
    return data


def draft(request, project) -> dict[str, str]:
    """The project's wizard draft: form field name → posted text, defaults where nothing was entered yet."""
    return {**_defaults(project), **request.session.get(_key(project), {})}


def _json(text: str) -> dict:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def draft_variables(project, data: dict) -> dict:
    """The variable values of the draft, masked ones decrypted, for the profiles of the bundle chosen now
    (values of profiles the bundle no longer holds are dropped)."""
    bundle = ProfileBundle.objects.filter(project=project, name=data.get("bundle") or "").first()
    names = {p.get("name") for p in bundle.profiles} if bundle else set()
    merged: dict[str, dict] = {}
    for source in (_json(data.get(PLAIN_VARIABLES, "")), unseal(data.get(SEALED_VARIABLES, ""))):
        for profile, given in source.items():
            if profile in names and isinstance(given, dict):
                merged.setdefault(profile, {}).update({str(k): str(v) for k, v in given.items()})
    return merged


def variable_entries(project, data: dict) -> tuple[list[dict], list[str]]:
    """The variables the wizard asks for (the chosen bundle's, hidden ones left out), and the labels of the
    bundle's profiles whose variables are not known (never synced)."""
    bundle = ProfileBundle.objects.filter(project=project, name=data.get("bundle") or "").first()
    if bundle is None:
        return [], []
    entries, unknown = [], []
    for profile in bundle_facts(bundle):
        if profile.variables is None:
            unknown.append(profile.label)
            continue
        entries += [{"profile": profile, "var": var} for var in profile.variables if not var.hidden]
    return entries, unknown


def _variable_fields(
    project, data: dict, posted: dict | None = None, errors: dict | None = None
) -> list[dict]:
    entries, _unknown = variable_entries(project, data)
    plain = _json(data.get(PLAIN_VARIABLES, ""))
    sealed = unseal(data.get(SEALED_VARIABLES, ""))
    fields = []
    for i, entry in enumerate(entries):
        profile, var = entry["profile"], entry["var"]
        key = f"var-{i}"
        if var.is_sensitive:
            value = ""  # a masked value is never rendered back
        elif posted is not None:
            value = posted.get(key, "")
        else:
            value = (plain.get(profile.name) or {}).get(var.name, "")
        fields.append(
            {
                "key": key,
                "profile": profile,
                "var": var,
                "value": value,
                "error": (errors or {}).get(key, ""),
                "is_set": var.is_sensitive and var.name in (sealed.get(profile.name) or {}),
                "required": var.needs_value,
            }
        )
    return fields


def _save_variables(request, project, data: dict) -> dict[str, str]:
    """Read the Profile variables step's POST: the field errors (by field key), and the draft is updated when
    none."""
    entries, _unknown = variable_entries(project, data)
    old_secret = unseal(data.get(SEALED_VARIABLES, ""))
    plain: dict[str, dict] = {}
    secret: dict[str, dict] = {}
    errors: dict[str, str] = {}
    for i, entry in enumerate(entries):
        profile, var = entry["profile"], entry["var"]
        key = f"var-{i}"
        raw = request.POST.get(key, "")
        if var.is_sensitive:
            value = raw if raw != "" else (old_secret.get(profile.name) or {}).get(var.name, "")
            if request.POST.get(f"{key}-clear"):
                value = ""
        else:
            value = raw.strip()
        if value == "":
            if var.needs_value:
                errors[key] = (
                    f"{var.label} ({var.name}) is required: profile {profile.label} gives it no default."
                )
            continue
        if len(value) > 10_000:
            errors[key] = f"{var.label} ({var.name}) must be at most 10000 characters."
            continue
        problem = value_problem(var, value, show_value=not var.is_sensitive)
        if problem:
            errors[key] = f"{var.label} ({var.name}): {problem}"
            continue
        (secret if var.is_sensitive else plain).setdefault(profile.name, {})[var.name] = value
    if not errors:
        saved = dict(request.session.get(_key(project), {}))
        saved[PLAIN_VARIABLES] = json.dumps(plain, sort_keys=True) if plain else ""
        saved[SEALED_VARIABLES] = seal(secret)
        request.session[_key(project)] = saved
    return errors


def _posted(request, step: str) -> dict[str, str]:
    return {
        f: ("on" if request.POST.get(f) else "") if f in CHECKBOXES else request.POST.get(f, "").strip()
        for f in STEP_FIELDS[step]
    }


def _fields_upto(step: str) -> set[str]:
    index = STEP_NAMES.index(step)
    return {f for s in STEP_NAMES[: index + 1] for f in STEP_FIELDS[s]}


def step_form(project, data: dict, step: str) -> PoolForm:
    """A bound PoolForm for `step`: fields of later steps are not required yet (their problems are not
    shown)."""
    form = PoolForm(data, project=project, variables=draft_variables(project, data))
    later = set(form.fields) - _fields_upto(step) if step != "review" else set()
    for name in later:
        form.fields[name].required = False
    return form


def step_errors(form: PoolForm, step: str) -> dict[str, list[str]]:
    """The form's problems this step (and the ones before it) own; at Review every problem. From the Network
    step on, the VIP is also checked against the hosts' subnets and the addresses in use (`network_facts`)."""
    form.is_valid()
    own = set(form.fields) if step == "review" else _fields_upto(step)
    errors = {k: list(v) for k, v in form.errors.items() if k in own or step == "review"}
    if (
        step == "general"
        and "name" not in errors
        and form.cleaned_data.get("name")
        and ComputePool.objects.filter(project=form.project, name=form.cleaned_data["name"])
        .exclude(status=ComputePool.DELETED)
        .exists()
    ):
        errors["name"] = [f"This project already has a pool called {form.cleaned_data['name']}."]
        form.add_error("name", errors["name"][0])
    if step in ("network", "review") and "vip" not in errors and form.cleaned_data.get("vip"):
        facts = network_facts(form.project, form.data)
        problem = vip_problem(
            form.cleaned_data["vip"], facts["networks"], facts["addresses"], facts["pool_vips"]
        )
        if problem:
            errors["vip"] = [problem]
            form.add_error("vip", problem)
    return errors


def _step_of(field: str) -> str:
    return next((s for s in STEP_NAMES if field in STEP_FIELDS[s]), "review")


def _url(project, step: str) -> str:
    return reverse("compute:pool_wizard", args=[project.tenant.name, project.name, step])


def _draft_spec(project, data: dict) -> tuple[PoolSpec | None, list[str]]:
    """The draft's spec as far as the node-pool step (the VIP and later fields may still be missing), or the
    problems that stop it there."""
    form = step_form(project, data, "nodes")
    errors = step_errors(form, "nodes")
    if errors or not hasattr(form, "_tags"):
        return None, [f"{form[k].label}: {e}" for k, es in errors.items() for e in es]
    spec, _problems = parse_spec(
        form.manifest_spec(),
        name=data.get("name") or "draft",
        namespace=project.namespace,
        labels=getattr(form, "_labels", {}),
    )
    return spec, [] if spec is not None else ["Fill in the control plane."]


def network_facts(project, data: dict) -> dict:
    """What the Network step shows and checks the VIP against: the subnets of the hosts the evaluator would
    choose for the draft's node pools (of every eligible host while it can choose none), every known host
    address and the other pools' VIPs (compute.readiness.network)."""
    spec, _errors = _draft_spec(project, data)
    chosen: set[str] = set()
    if spec is not None:
        chosen = {uid for uids in evaluate(gather(project, spec)).hosts.values() for uid in uids}
    rows = list(
        EdgeHost.objects.filter(project=project, gone=False).values_list(
            "uid", "name", "ip", "nics", "eligible"
        )
    )
    used = [r for r in rows if r[0] in chosen] or [r for r in rows if r[4]]
    subnets = host_subnets((short(name or uid), nics) for uid, name, _ip, nics, _eligible in used)
    addresses: dict[str, str] = {}
    for uid, name, ip, nics, _eligible in rows:
        for address in [ip, *(n.get("ip") for n in nics or () if isinstance(n, dict))]:
            if address:
                addresses[str(address)] = name or uid
    pool_vips = {
        vip: f"{namespace}/{name}"
        for vip, namespace, name in ComputePool.objects.exclude(status=ComputePool.DELETED).values_list(
            "vip", "namespace", "name"
        )
    }
    return {
        "basis": "chosen" if chosen else ("eligible" if used else "none"),
        "subnets": [{"network": str(n), "hosts": names} for n, names in subnets.items()],
        "networks": list(subnets),
        "addresses": addresses,
        "pool_vips": pool_vips,
    }


def live_counts(project, data: dict) -> dict:
    """What the node-pool step shows: per machine pool the hosts that match, how many it needs, and the GPUs
    of the hosts the evaluator would choose; the numbers come from the readiness report, never from a second
    filter."""
    spec, errors = _draft_spec(project, data)
    if spec is None:
        return {"errors": errors}
    inputs = gather(project, spec)
    report = evaluate(inputs)
    gpus = {h.uid: h.gpu_total for h in inputs.hosts}
    rows = []
    for node in spec.machine_pools:
        requirement = next(r for r in report.requirements if r.name == f"{node.role.capitalize()} hosts")
        chosen = report.hosts.get(node.name, [])
        rows.append(
            {
                "name": node.name,
                "role": node.role,
                "needed": node.count,
                "matching": requirement.params["found"],
                "chosen_gpus": sum(gpus.get(uid, 0) for uid in chosen),
                "passed": requirement.passed,
                "reason": requirement.reason,
                "filter": node.describe(),
            }
        )
    gpu_limit = next((r for r in report.requirements if r.name == "GPU limit"), None)
    return {
        "errors": [],
        "rows": rows,
        "gpu_limit": gpu_limit,
        "total_gpus": sum(r["chosen_gpus"] for r in rows),
        "enough": all(r["passed"] for r in rows) and (gpu_limit is None or gpu_limit.passed),
    }


def completed_steps(project, data: dict, steps: list[str]) -> list[str]:
    """Which of `steps` the draft fills in validly (the stepper ticks those; the others stay links to fix)."""
    if not steps:
        return []
    check = step_form(project, data, steps[-1])
    check.is_valid()
    return [s for s in steps if not set(STEP_FIELDS[s]) & set(check.errors)]


def worker_slots_shown(data: dict) -> int:
    """How many worker pool slots the node-pool step shows: every named pool, then one empty slot to fill,
    or more once "Add another worker pool" asked for them (the draft's ``worker_slots_shown``)."""
    last_used = max((i + 1 for i, fields in enumerate(WORKER_SLOT_FIELDS) if data.get(fields[0])), default=0)
    asked = str(data.get(SLOTS_SHOWN) or "1")
    asked = int(asked) if asked.isdigit() else 1
    return min(WORKER_SLOTS, max(last_used + 1, asked))


def _context(request, project, role, step: str, form: PoolForm, data: dict, **extra) -> dict:
    earlier = STEP_NAMES[: STEP_NAMES.index(step)]
    previous = WIZARD.previous(step)
    context = {
        "project": project,
        "tenant": project.tenant,
        "role": role,
        "step": step,
        "form": form,
        "data": data,
        "stepper": WIZARD.stepper(
            step, completed_steps(project, data, earlier), lambda key: _url(project, key)
        ),
        "step_number": WIZARD.number(step),
        "step_count": len(STEP_NAMES),
        "step_label": WIZARD.title(step),
        "previous": _url(project, previous) if previous else "",
        "fields": [form[f] for f in STEP_FIELDS[step] if f in form.fields],
    }
    if step == "nodes":
        context["cp_fields"] = [form[f] for f in CP_FIELDS]
        shown = worker_slots_shown(data)
        context["worker_slots"] = [
            {"number": i + 1, "fields": [form[f] for f in fields], "used": bool(data.get(fields[0]))}
            for i, fields in enumerate(WORKER_SLOT_FIELDS[:shown])
        ]
        context["can_add_worker"] = shown < WORKER_SLOTS
        context["worker_slot_limit"] = WORKER_SLOTS
        context["worker_groups"] = form["worker_groups"]
        context["counts"] = live_counts(project, data)
    if step == "variables":
        context["variable_fields"] = extra.pop("variable_fields", None) or _variable_fields(project, data)
        context["variables_unknown"] = variable_entries(project, data)[1]
    if step == "bundle":
        context["bundles"] = ProfileBundle.objects.filter(project=project)
        context["bundle_form"] = extra.pop("bundle_form", None) or BundleForm(project=project)
        context["profiles_synced"] = ClusterProfile.objects.filter(project=project).exists()
        context["bundle_open"] = extra.pop("bundle_open", False) or not context["bundles"].exists()
        context["profile_sync"] = ProfileSync.objects.filter(project=project).order_by("-created").first()
    if step == "network":
        context["network"] = network_facts(project, data)
    context.update(extra)
    return context


def _review(project, data: dict) -> dict:
    form = step_form(project, data, "review")
    errors = step_errors(form, "review")
    report = evaluate(gather(project, form.spec)) if not errors and form.spec is not None else None
    values = draft_variables(project, data)
    masked = form.spec.masked if form.spec is not None else frozenset()
    sealed = unseal(data.get(SEALED_VARIABLES, ""))
    variable_rows = [
        {
            "profile": p,
            "name": n,
            "value": "" if (p, n) in masked or n in (sealed.get(p) or {}) else v,
            "masked": (p, n) in masked or n in (sealed.get(p) or {}),
        }
        for p, given in sorted(values.items())
        for n, v in sorted(given.items())
    ]
    return {
        "form": form,
        "problems": [
            {
                "field": form[k].label if k in form.fields else "",
                "message": e,
                "url": _url(project, _step_of(k)),
            }
            for k, es in errors.items()
            for e in es
        ],
        "variable_rows": variable_rows,
        "report": report,
        "request_json": json.dumps(report.request, indent=2) if report else "",
        "create_path": CREATE_PATH,
        "manifest": form.spec.to_manifest() if report else None,
    }


def create_checked(request, project, form: PoolForm):
    """The one create path (the wizard's Create and the full-form POST): the evaluator's report, then the pool
    when nothing blocks. Returns (pool or None, report); a refusal is added to the form as a non-field
    error."""
    report = evaluate(gather(project, form.spec))
    if not report.ready:
        form.add_error(None, "Not ready to provision: fix the blocking requirements below first.")
        return None, report
    try:
        with transaction.atomic():
            pool = provisioning.create_pool(project, form.spec, form.cleaned_data["bundle"], request=request)
    except IntegrityError:
        form.add_error(None, "Another pool took this name or VIP a moment ago; check the report again.")
        return None, report
    messages.success(request, f"Pool {pool.name} created: provisioning started.")
    return pool, report


@login_required
@require_http_methods(["GET", "POST"])
def pool_wizard(request, tenant, project, step):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    if step not in STEP_NAMES:
        raise Http404("No such step.")
    data = draft(request, project)
    if step == "review":
        review = _review(project, data)
        if request.method == "POST" and review["report"] is not None:
            pool, report = create_checked(request, project, review["form"])
            if pool is not None:
                request.session.pop(_key(project), None)
                return redirect_after_post(request, pool.get_absolute_url())
            review["report"] = report
            review["problems"] += [
                {"field": "", "message": e, "url": ""} for e in review["form"].non_field_errors()
            ]
        elif request.method == "POST":
            review["problems"].insert(
                0,
                {"field": "", "message": "Not ready to provision: fix the problems below first.", "url": ""},
            )
        return render_page(
            request,
            "compute/pool_wizard.html",
            _context(request, project, role, step, review.pop("form"), data, **review),
        )
    if request.method == "GET":
        return render_page(
            request,
            "compute/pool_wizard.html",
            _context(request, project, role, step, PoolForm(initial=data, project=project), data),
        )
    if step == "variables":
        errors = _save_variables(request, project, data)
        if errors:
            fields = _variable_fields(project, data, posted=request.POST, errors=errors)
            return render_page(
                request,
                "compute/pool_wizard.html",
                _context(
                    request,
                    project,
                    role,
                    step,
                    PoolForm(initial=data, project=project),
                    data,
                    variable_fields=fields,
                ),
            )
        return redirect_after_post(request, _url(project, WIZARD.next(step)))
    merged = {**data, **_posted(request, step)}
    form = step_form(project, merged, step)
    if step_errors(form, step):
        return render_page(
            request, "compute/pool_wizard.html", _context(request, project, role, step, form, merged)
        )
    saved = {**request.session.get(_key(project), {}), **_posted(request, step)}
    if step == "nodes" and "add_worker" in request.POST:
        saved[SLOTS_SHOWN] = str(worker_slots_shown(merged) + 1)
        request.session[_key(project)] = saved
        return redirect_after_post(
            request, _url(project, step) + "#worker-pools"
        )  # back here, one empty slot more
    request.session[_key(project)] = saved
    return redirect_after_post(request, _url(project, WIZARD.next(step)))


@login_required
@require_POST
def pool_wizard_counts(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    data = {**draft(request, project), **_posted(request, "nodes")}
    return render_page(request, "compute/pool_wizard.html#counts", {"counts": live_counts(project, data)})


@login_required
@require_POST
def pool_wizard_bundle(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    data = draft(request, project)
    bundle_form = BundleForm(request.POST, project=project)
    if not bundle_form.is_valid():
        form = PoolForm(initial=data, project=project)
        return render_page(
            request,
            "compute/pool_wizard.html",
            _context(request, project, role, "bundle", form, data, bundle_form=bundle_form, bundle_open=True),
        )
    bundle = bundle_form.save(request)
    request.session[_key(project)] = {**request.session.get(_key(project), {}), "bundle": bundle.name}
    messages.success(request, f"Profile bundle {bundle.name} created.")
    return redirect_after_post(request, _url(project, "bundle"))


@login_required
@require_POST
def pool_wizard_reset(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    request.session.pop(_key(project), None)
    return redirect(_url(project, "general"))
