"""The Compute Pool form: every field of a pool, one control plane and up to WORKER_SLOTS worker pools.

The wizard (compute.views.wizard) shows it a few fields per step and validates each step with it.

The form only collects fields and turns them into the manifest's spec shape; every rule lives in
compute.spec.parse_spec (and compute.variables for profile variables), so the form, `apply` and `pool_plan`
give the same messages. Profile variable values come in as `variables=` (the wizard's Profile variables step
keeps them; masked ones never in a form field, so never rendered back); their problems are shown on the
`profile_variables` field.
"""

from __future__ import annotations

import re
from copy import deepcopy
from decimal import Decimal

from django import forms
from django.template.defaultfilters import pluralize

from ..bundles import bundle_facts
from ..eligibility import TagInputError, gpu_name
from ..eligibility import parse_tags as parse_tag_text
from ..models import ComputePool, EdgeHost, ProfileBundle
from ..spec import (
    ARCHITECTURES,
    GPU_FAMILY,
    MAX_CPU_CORES,
    MAX_GPU_MEMORY_MIB,
    MAX_GPUS,
    MAX_MEMORY_MIB,
    MAX_NODES,
    PoolSpec,
    parse_spec,
)
from ..variables import with_masked

ARCH_CHOICES = [(a, a) for a in ARCHITECTURES]
#: Worker pools the wizard offers; a ComputePool manifest (manage.py apply) takes any number.
WORKER_SLOTS = 8
LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")
WORKER_FIELDS = (
    "name",
    "count",
    "architecture",
    "cpu",
    "memory_gib",
    "gpu_family",
    "gpu_count",
    "gpu_memory_gib",
)


def worker_prefix(slot: int) -> str:
    """`worker_` for the first worker pool (the simple form's names), `worker2_`, `worker3_`... after it."""
    return "worker_" if slot == 0 else f"worker{slot + 1}_"


# Where each spec path's problem is shown (the longest matching prefix wins).
FIELD_FOR_PATH = [
    ("metadata.name", "name"),
    ("spec.description", "description"),
    ("spec.profileBundleRef", "bundle"),
    ("spec.clusterVariant.controlPlaneResourceGroups", "cp_groups"),
    ("spec.clusterVariant.workerResourceGroups", "worker_groups"),
    ("controlPlanePool.nodeCount", "cp_count"),
    ("controlPlanePool.workerNodeEligible", "cp_worker_eligible"),
    ("controlPlanePool.architecture", "cp_architecture"),
    ("controlPlanePool.cpu", "cp_cpu"),
    ("controlPlanePool.memory", "cp_memory_gib"),
    ("workerPools[0].name", "worker_name"),
    ("workerPools[0].nodeCount", "worker_count"),
    ("workerPools[0].architecture", "worker_architecture"),
    ("workerPools[0].cpu", "worker_cpu"),
    ("workerPools[0].memory", "worker_memory_gib"),
    ("workerPools[0].gpu", "worker_gpu_family"),
    *[
        (f"workerPools[{i}]{path}", f"worker{i + 1}_{field}")
        for i in range(1, WORKER_SLOTS)
        for path, field in (
            (".name", "name"),
            (".nodeCount", "count"),
            (".architecture", "architecture"),
            (".cpu", "cpu"),
            (".memory", "memory_gib"),
            (".gpu", "gpu_family"),
            ("", "name"),
        )
    ],
    ("workerPools[0]", "worker_name"),
    ("paletteClusterDeploymentConfig.vip", "vip"),
    ("spec.sshKeys", "ssh_keys"),
    ("spec.deletionPolicy", "deletion_policy"),
    ("spec.profileVariables", "profile_variables"),
]


def parse_tags(text: str) -> dict[str, str] | str:
    """`key=value, key2:value2, bare` (or one per line) as a dict, a bare key's value "" — the inventory's tag
    syntax (compute.eligibility.parse_tags); an error message for a malformed entry. Values are checked by
    the caller (labels) and the spec (resource groups)."""
    try:
        parsed = parse_tag_text(text, spaces_separate=False, palette_chars=False)
    except TagInputError as exc:
        return str(exc)
    return {key: value or "" for key, value in parsed.items()}


def gpu_family_choices(project) -> list[tuple[str, str]]:
    """The GPU families of the project's eligible hosts, as the pool form offers them: "" (no GPUs), each
    vendor (any of its models) and each model, labelled with how many eligible hosts carry it and their GPUs
    of it.

    A value is what compute.spec matches on: `VENDOR`, or `VENDOR-MODEL` with the model as discovery stores
    it, so every host it counts matches it. Models a family cannot name (GPU_FAMILY) are left out.
    """
    vendors: dict[str, list[int]] = {}
    models: dict[tuple[str, str], list[int]] = {}
    for gpus in EdgeHost.objects.filter(project=project, gone=False, eligible=True).values_list(
        "gpus", flat=True
    ):
        seen: set = set()
        for gpu in gpus or ():
            vendor, model = str(gpu.get("vendor") or "").strip(), str(gpu.get("model") or "").strip()
            count = int(gpu.get("count") or 1)
            for key, table in ((vendor, vendors), ((vendor, model), models)):
                if not vendor or (table is models and not model):
                    continue
                totals = table.setdefault(key, [0, 0])
                totals[0] += key not in seen
                totals[1] += count
                seen.add(key)

    def label(name: str, totals: list[int]) -> str:
        hosts, gpus = totals
        return f"{name} — {hosts} host{pluralize(hosts)}, {gpus} GPU{pluralize(gpus)}"

    choices = [("", "None — no GPUs required")]
    for vendor, totals in sorted(vendors.items()):
        if GPU_FAMILY.match(vendor):
            choices.append((vendor, label(f"Any {vendor} GPU", totals)))
        choices += [
            (f"{vendor}-{model}", label(f"{vendor} {gpu_name(model)}", m_totals))
            for (m_vendor, model), m_totals in sorted(models.items())
            if m_vendor == vendor and GPU_FAMILY.match(f"{vendor}-{model}")
        ]
    return choices


# GiB fields are bounded by the spec's MiB maximums: unbounded, 1E+308 GiB overflowed on the way to MiB.
MAX_MEMORY_GIB = Decimal(MAX_MEMORY_MIB) / 1024
MAX_GPU_MEMORY_GIB = Decimal(MAX_GPU_MEMORY_MIB) / 1024


def _gib(value) -> int:
    return int(round(float(value) * 1024)) if value else 0


def _min_cpu_field(label: str, initial: int | None = None) -> forms.IntegerField:
    """An optional minimum of CPU cores per host (control plane or workers), within the spec's bounds."""
    return forms.IntegerField(
        required=False, min_value=0, max_value=MAX_CPU_CORES, initial=initial, label=label
    )


def _min_memory_field(label: str, initial: int | None = None) -> forms.DecimalField:
    """An optional minimum of memory per host in GiB (control plane or workers), within the spec's bounds."""
    return forms.DecimalField(
        required=False, min_value=0, max_value=MAX_MEMORY_GIB, initial=initial, label=label
    )


class PoolForm(forms.Form):
    name = forms.CharField(
        max_length=33, help_text="3–33 characters: lowercase letters, digits and '-', starting with a letter."
    )
    description = forms.CharField(required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))
    labels = forms.CharField(
        required=False,
        label="Labels",
        help_text="key=value, comma separated; added to the Palette cluster's labels.",
    )
    variant = forms.ChoiceField(
        choices=ComputePool.VARIANT_CHOICES,
        initial=ComputePool.DEDICATED,
        widget=forms.RadioSelect,
        help_text=(
            "Dedicated: one cluster for one deployment. Shared: many deployments. Cannot be changed later."
        ),
    )
    bundle = forms.ModelChoiceField(
        queryset=ProfileBundle.objects.none(), to_field_name="name", label="Profile bundle"
    )
    cp_count = forms.TypedChoiceField(
        choices=[(1, "1"), (3, "3"), (5, "5")], coerce=int, initial=1, label="Control-plane nodes"
    )
    cp_worker_eligible = forms.BooleanField(
        required=False, initial=True, label="Control plane also runs workloads"
    )
    cp_architecture = forms.ChoiceField(
        choices=ARCH_CHOICES, initial="amd64", label="Control-plane architecture"
    )
    cp_cpu = _min_cpu_field("Control-plane minimum CPU cores", initial=4)
    cp_memory_gib = _min_memory_field("Control-plane minimum memory (GiB)", initial=8)
    cp_groups = forms.CharField(
        required=False,
        initial="palette.ai=true",
        label="Control-plane resource groups",
        help_text="Tags every control-plane host must carry: key=value, comma separated.",
    )
    worker_name = forms.CharField(
        required=False, label="Worker pool name", help_text="Leave empty for no worker pool."
    )
    worker_count = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_NODES, initial=1, label="Worker nodes"
    )
    worker_architecture = forms.ChoiceField(
        choices=ARCH_CHOICES, initial="amd64", label="Worker architecture"
    )
    worker_cpu = _min_cpu_field("Worker minimum CPU cores")
    worker_memory_gib = _min_memory_field("Worker minimum memory (GiB)")
    worker_gpu_family = forms.CharField(
        required=False,
        label="Worker GPU family",
        widget=forms.Select,
        help_text=(
            "The GPU families of this project's eligible hosts, with how many hosts and GPUs have them. (A "
            "manifest takes VENDOR or VENDOR-MODEL text, e.g. NVIDIA-A100.)"
        ),
    )
    worker_gpu_count = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_GPUS, label="GPUs per worker"
    )
    worker_gpu_memory_gib = forms.DecimalField(
        required=False, min_value=0, max_value=MAX_GPU_MEMORY_GIB, label="Minimum memory per GPU (GiB)"
    )
    worker_groups = forms.CharField(required=False, initial="palette.ai=true", label="Worker resource groups")
    vip = forms.CharField(
        label="VIP", help_text="A reserved IPv4 address in the hosts' subnet for the cluster's API endpoint."
    )
    ssh_keys = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="SSH public keys",
        help_text="One per line.",
    )
    deletion_policy = forms.ChoiceField(choices=ComputePool.POLICY_CHOICES, initial=ComputePool.DELETE)
    # Holds the problems of the profile variable values only (the values come in as `variables=`): never
    # bound.
    profile_variables = forms.CharField(
        required=False, disabled=True, widget=forms.HiddenInput, label="Profile variables"
    )

    def __init__(self, *args, project=None, variables: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.project = project
        self.variables = variables or {}
        self.fields["bundle"].queryset = ProfileBundle.objects.filter(project=project)
        # Worker pools 2.. copy the first slot's fields under their own prefix.
        for slot in range(1, WORKER_SLOTS):
            for name in WORKER_FIELDS:
                field = self.base_fields[f"worker_{name}"]
                copy = deepcopy(field)
                copy.required = False  # an unused slot posts nothing
                copy.label = field.label.replace("Worker", f"Worker pool {slot + 1}").replace(
                    "GPUs per worker", f"GPUs per worker (pool {slot + 1})"
                )
                if name == "name":
                    copy.label = f"Worker pool {slot + 1} name"
                self.fields[f"{worker_prefix(slot)}{name}"] = copy
        families = gpu_family_choices(project)
        for slot in range(WORKER_SLOTS):
            name = f"{worker_prefix(slot)}gpu_family"
            current = str((self.data if self.is_bound else self.initial).get(name) or "").strip()
            known = [value for value, _label in families]
            # A family typed before (or applied from a manifest) that no eligible host has now stays
            # selectable.
            extra = [(current, f"{current} (no eligible host has it now)")] if current not in known else []
            self.fields[name].widget.choices = families + extra
        self.spec: PoolSpec | None = None

    def manifest_spec(self) -> dict:
        """The cleaned fields in the ComputePool manifest's spec shape."""
        d = self.cleaned_data
        cp: dict = {
            "nodeCount": d.get("cp_count") or 1,
            "workerNodeEligible": bool(d.get("cp_worker_eligible")),
            "architecture": d.get("cp_architecture") or "amd64",
        }
        if d.get("cp_cpu"):
            cp["cpu"] = {"cpuCount": d["cp_cpu"]}
        if d.get("cp_memory_gib"):
            cp["memory"] = {"memoryMiB": _gib(d["cp_memory_gib"])}
        workers = []
        for slot in range(WORKER_SLOTS):
            w = worker_prefix(slot)
            if not d.get(f"{w}name"):
                continue
            worker: dict = {
                "name": d[f"{w}name"],
                "nodeCount": d.get(f"{w}count") or 1,
                "architecture": d.get(f"{w}architecture") or "amd64",
            }
            if d.get(f"{w}cpu"):
                worker["cpu"] = {"cpuCount": d[f"{w}cpu"]}
            if d.get(f"{w}memory_gib"):
                worker["memory"] = {"memoryMiB": _gib(d[f"{w}memory_gib"])}
            if d.get(f"{w}gpu_family"):
                gpu: dict = {"family": d[f"{w}gpu_family"], "gpuCount": d.get(f"{w}gpu_count") or 1}
                if d.get(f"{w}gpu_memory_gib"):
                    gpu["gpuMemory"] = _gib(d[f"{w}gpu_memory_gib"])
                worker["gpu"] = gpu
            workers.append(worker)
        variant = d.get("variant") or ComputePool.DEDICATED
        bundle = d.get("bundle")
        return {
            "description": d.get("description") or "",
            "profileBundleRef": {"name": bundle.name if bundle else ""},
            "clusterVariant": {
                "controlPlaneResourceGroups": self._tags.get("cp_groups", {}),
                "workerResourceGroups": self._tags.get("worker_groups", {}),
                variant: {
                    "paletteClusterDeploymentConfig": {
                        "cloudType": "edge-native",
                        "vip": d.get("vip") or "",
                        "nodePoolRequirements": {"controlPlanePool": cp, "workerPools": workers},
                    }
                },
            },
            "sshKeys": [line.strip() for line in (d.get("ssh_keys") or "").splitlines() if line.strip()],
            "deletionPolicy": d.get("deletion_policy") or ComputePool.DELETE,
            **({"profileVariables": self.variables} if self.variables else {}),
        }

    def clean(self):
        data = super().clean()
        self._tags: dict[str, dict] = {}
        self._labels: dict[str, str] = {}
        for field in ("cp_groups", "worker_groups"):
            parsed = parse_tags(data.get(field) or "")
            if isinstance(parsed, str):
                self.add_error(field, parsed)
            else:
                self._tags[field] = parsed
        labels = parse_tags(data.get("labels") or "")
        if isinstance(labels, str):
            self.add_error("labels", labels)
        else:
            bad = next(
                (
                    f"{k}={v}"
                    for k, v in labels.items()
                    if not LABEL_KEY.match(k) or len(k) > 253 or not LABEL_VALUE.match(v)
                ),
                None,
            )
            if bad:
                self.add_error(
                    "labels",
                    f"{bad} is not a valid label: keys and values are up to 63 letters, digits, '-', '_' or "
                    "'.'.",
                )
            self._labels = labels
        if self.errors:
            return data
        spec, problems = parse_spec(
            self.manifest_spec(),
            name=data.get("name", ""),
            namespace=self.project.namespace,
            labels=self._labels,
        )
        for path, message in problems:
            field = next(
                (f for prefix, f in sorted(FIELD_FOR_PATH, key=lambda item: -len(item[0])) if prefix in path),
                None,
            )
            self.add_error(field if field in self.fields else None, message)
        if spec is not None and not problems and data.get("bundle") is not None:
            spec, variable_problems = with_masked(spec, bundle_facts(data["bundle"]))
            for _profile, _name, message in variable_problems:
                self.add_error("profile_variables", message)
                problems.add("spec.profileVariables", message)
        if (
            not problems
            and ComputePool.objects.filter(project=self.project, name=data["name"])
            .exclude(status=ComputePool.DELETED)
            .exists()
        ):
            self.add_error("name", f"This project already has a pool called {data['name']}.")
        self.spec = spec if not problems else None
        return data
