"""What a Compute Pool asks for: its spec, parsed and checked once for manifests, forms and the evaluator.

`PoolSpec` is the in-memory form of a ComputePool's spec (README, "The ComputePool manifest"). `parse_spec`
reads the manifest shape (`spec:` of a ComputePool document) and reports every problem with its path, so the
manifest handler, the create form and `pool_plan -f` give the same messages. `PoolSpec.to_manifest`
writes the same shape back (export, the stored `node_pools` JSON).

Field rules: pool name 3–33 characters `^[a-z]([a-z0-9-]*[a-z0-9])?$`; control plane of 1, 3 or 5
nodes (a lone control-plane node without worker pools must run workloads); worker pools with a
DNS-1123 name, a node count and per-host minimums (CPU cores, memory MiB, GPUs of a family with a
minimum count and memory per GPU); resource groups are tags every chosen host must carry; the VIP
is a usable IPv4 unicast address; SSH keys are parsed public keys (ed25519, RSA ≥ 2048 bits, ECDSA); profile
variables (`spec.profileVariables: {<profile name>: {<variable>: <value>}}`) are text values, checked against
the bundle's profiles by compute.variables once the bundle is known.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.template.defaultfilters import pluralize

POOL_NAME = re.compile(r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
MACHINE_POOL_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
TAG_PART = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$")
# VENDOR or VENDOR-MODEL; MODEL may be a whole model name as discovery stores it ("GA100 [A100 PCIe 40GB]"),
# which is what the wizard's GPU family choices send (compute.forms.pools.gpu_family_choices).
GPU_FAMILY = re.compile(r"^[A-Za-z0-9]+(-[A-Za-z0-9][A-Za-z0-9 ._\-\[\]()/+,:]{0,199})?$")
CONTROL_PLANE_POOL = "control-plane"
ARCHITECTURES = ("amd64", "arm64")
CONTROL_PLANE_SIZES = (1, 3, 5)
DEDICATED, SHARED = "dedicated", "shared"
DELETE, ORPHAN = "delete", "orphan"
SSH_KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
)
MAX_NODES = 100
# Per-host minimums a pool may ask for; the web form bounds its fields with the same numbers.
MAX_CPU_CORES = 4096
MAX_MEMORY_MIB = 64 * 1024 * 1024  # 64 TiB
MAX_GPUS = 64
MAX_GPU_MEMORY_MIB = 10_000_000


def validate_pool_name(value: str) -> None:
    """3–33 characters, lowercase letters, digits and '-', starting with a letter, ending with a letter or
    digit."""
    if not 3 <= len(value) <= 33:
        raise ValidationError(f"a compute pool name has 3 to 33 characters (this one has {len(value)}).")
    if not POOL_NAME.match(value):
        raise ValidationError(
            "use lowercase letters, digits and '-', starting with a letter and ending with a letter or digit."
        )


def validate_vip(value: str) -> str:
    """A usable IPv4 unicast address (what Palette puts in controlPlaneEndpoint.host); returns it
    normalized."""
    try:
        address = ipaddress.IPv4Address(str(value).strip())
    except (ipaddress.AddressValueError, ValueError):
        raise ValidationError(
            f"{str(value)[:40]!r} is not an IPv4 address; reserve a free address in the hosts' "
            "subnet (ask the network team) and enter it as e.g. 10.20.99.10."
        ) from None
    if (
        address.is_unspecified
        or address.is_loopback
        or address.is_multicast
        or address.is_link_local
        or address == ipaddress.IPv4Address("255.255.255.255")
        or address.is_reserved
    ):
        raise ValidationError(
            f"{address} cannot be a cluster endpoint: use a unicast address in the hosts' subnet."
        )
    return str(address)


def validate_ssh_key(value: str) -> str:
    """A single-line OpenSSH public key of an accepted type whose body parses; returns it trimmed."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    line = str(value).strip()
    if "PRIVATE KEY" in line:
        # Never echo it: the message must not carry key material into logs.
        raise ValidationError(
            "this is a private key; paste the public key (the .pub file) instead, and treat the "
            "private key as exposed."
        )
    if "\n" in line:
        raise ValidationError("one key per entry: a public key is a single line.")
    parts = line.split(None, 2)
    if len(parts) < 2:
        raise ValidationError(
            "expected 'TYPE BASE64 [comment]', e.g. the whole line of ~/.ssh/id_ed25519.pub."
        )
    kind, body = parts[0], parts[1]
    if kind not in SSH_KEY_TYPES:
        raise ValidationError(
            f"key type {kind[:30]!r} is not accepted; use one of {', '.join(SSH_KEY_TYPES)}."
        )
    try:
        blob = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(
            f"the {kind} key body is not valid base64; copy the whole line again."
        ) from None
    # The blob starts with its own type name: a key pasted under the wrong prefix is caught here.
    if len(blob) < 4 or blob[4 : 4 + struct.unpack(">I", blob[:4])[0]] != kind.encode():
        raise ValidationError(f"the key body is not a {kind} key; copy the whole line again.")
    try:
        key = load_ssh_public_key(f"{kind} {body}".encode())
    except (ValueError, TypeError):
        raise ValidationError(f"the {kind} key body does not parse; copy the whole line again.") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048:
        raise ValidationError(f"this RSA key has {key.key_size} bits; use at least 2048 (or an ed25519 key).")
    return line


def ssh_key_label(value: str) -> str:
    """How a key is shown: its type, the SHA-256 fingerprint's start and its comment."""
    parts = value.split(None, 2)
    try:
        digest = base64.b64encode(hashlib.sha256(base64.b64decode(parts[1])).digest()).decode().rstrip("=")
    except (IndexError, binascii.Error, ValueError):
        digest = "?"
    comment = parts[2] if len(parts) > 2 else ""
    return f"{parts[0] if parts else '?'} SHA256:{digest[:12]}… {comment}".strip()


@dataclass(frozen=True)
class GpuRequirement:
    """GPUs every host of a pool must have: `count` GPUs of `family` with at least `memory_mib` each."""

    family: str
    count: int = 1
    memory_mib: int = 0

    @property
    def vendor(self) -> str:
        return self.family.split("-", 1)[0]

    @property
    def model(self) -> str:
        return self.family.split("-", 1)[1] if "-" in self.family else ""

    def matches(self, gpu: dict) -> bool:
        """Family `VENDOR` matches any model of that vendor; `VENDOR-MODEL` also needs MODEL in the host's
        model name."""
        if (gpu.get("vendor") or "").lower() != self.vendor.lower():
            return False
        return not self.model or self.model.lower() in (gpu.get("model") or "").lower()

    def usable_count(self, gpus: Iterable[dict]) -> int:
        """How many of a host's GPUs count toward this requirement (family and memory)."""
        return sum(
            int(g.get("count") or 1)
            for g in gpus
            if self.matches(g) and (not self.memory_mib or (g.get("memoryMiB") or 0) >= self.memory_mib)
        )

    def describe(self) -> str:
        text = f"{self.count}× {self.family} GPU"
        if self.memory_mib:
            text += f" ≥{_mib(self.memory_mib)}"
        return text


@dataclass(frozen=True)
class NodeRequirement:
    """One machine pool: how many hosts, and what each must offer (minimums per host)."""

    name: str
    count: int
    architecture: str = "amd64"
    cpu: int = 0
    memory_mib: int = 0
    gpu: GpuRequirement | None = None
    control_plane: bool = False
    worker_eligible: bool = False

    @property
    def role(self) -> str:
        return "control-plane" if self.control_plane else f"worker pool {self.name}"

    def describe(self) -> str:
        """`amd64, ≥4 cores, ≥16 GiB memory, 1× NVIDIA-A100 GPU ≥40 GiB` — the filter in words."""
        parts = [self.architecture]
        if self.cpu:
            parts.append(f"≥{self.cpu} core{pluralize(self.cpu)}")
        if self.memory_mib:
            parts.append(f"≥{_mib(self.memory_mib)} memory")
        if self.gpu:
            parts.append(self.gpu.describe())
        return ", ".join(parts)

    def to_manifest(self) -> dict:
        body: dict[str, Any] = {}
        if not self.control_plane:
            body["name"] = self.name
        body["nodeCount"] = self.count
        if self.control_plane:
            body["workerNodeEligible"] = self.worker_eligible
        body["architecture"] = self.architecture
        if self.cpu:
            body["cpu"] = {"cpuCount": self.cpu}
        if self.memory_mib:
            body["memory"] = {"memoryMiB": self.memory_mib}
        if self.gpu:
            gpu: dict[str, Any] = {"family": self.gpu.family, "gpuCount": self.gpu.count}
            if self.gpu.memory_mib:
                gpu["gpuMemory"] = self.gpu.memory_mib
            body["gpu"] = gpu
        return body


@dataclass(frozen=True)
class PoolSpec:
    """Everything a Compute Pool asks for (the manifest's spec, checked)."""

    name: str
    namespace: str
    bundle: str
    control_plane: NodeRequirement
    workers: tuple[NodeRequirement, ...] = ()
    variant: str = DEDICATED
    vip: str = ""
    ssh_keys: tuple[str, ...] = ()
    cp_groups: dict = field(default_factory=dict)
    worker_groups: dict = field(default_factory=dict)
    deletion_policy: str = DELETE
    description: str = ""
    labels: dict = field(default_factory=dict)
    # {profile name: {variable: value}}, masked values too (never in a repr); `masked` names the (profile,
    # variable) pairs whose values are masked (compute.variables decides which, from the bundle's profiles).
    variables: dict = field(default_factory=dict, repr=False)
    masked: frozenset = field(default=frozenset(), repr=False)
    # `spec.upgrade.allowRepave`: this apply may start a profile upgrade that repaves the nodes (a
    # confirmation for the apply, not stored; README "The ComputePool manifest", day-2 upgrade).
    allow_repave: bool = False

    @property
    def machine_pools(self) -> tuple[NodeRequirement, ...]:
        return (self.control_plane, *self.workers)

    def node_pools(self) -> dict:
        """The stored and exported `nodePoolRequirements`."""
        return {
            "controlPlanePool": self.control_plane.to_manifest(),
            "workerPools": [w.to_manifest() for w in self.workers],
        }

    def manifest_variables(self, show_secrets: bool = False) -> dict:
        """`spec.profileVariables`: masked values written as REDACTED unless `show_secrets`."""
        from core.manifests import REDACTED

        return {
            profile: {
                name: value if show_secrets or (profile, name) not in self.masked else REDACTED
                for name, value in sorted(given.items())
            }
            for profile, given in sorted(self.variables.items())
        }

    def to_manifest(self, show_secrets: bool = False) -> dict:
        """The ComputePool document (the shape of the README's "The ComputePool manifest") for this spec;
        masked variable values REDACTED unless `show_secrets`."""
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        deployment = {
            "paletteClusterDeploymentConfig": {
                "cloudType": "edge-native",
                "vip": self.vip,
                "nodePoolRequirements": self.node_pools(),
            }
        }
        variant: dict[str, Any] = {}
        if self.cp_groups:
            variant["controlPlaneResourceGroups"] = dict(self.cp_groups)
        if self.worker_groups:
            variant["workerResourceGroups"] = dict(self.worker_groups)
        variant[self.variant] = deployment
        spec: dict[str, Any] = {}
        if self.description:
            spec["description"] = self.description
        spec["profileBundleRef"] = {"name": self.bundle}
        if self.variables:
            spec["profileVariables"] = self.manifest_variables(show_secrets)
        spec["clusterVariant"] = variant
        spec["sshKeys"] = list(self.ssh_keys)
        spec["deletionPolicy"] = self.deletion_policy
        if self.allow_repave:
            spec["upgrade"] = {"allowRepave": True}
        return {
            "apiVersion": "spectrocloud.com/v1alpha1",
            "kind": "ComputePool",
            "metadata": metadata,
            "spec": spec,
        }


def _mib(value: int) -> str:
    return f"{value // 1024} GiB" if value % 1024 == 0 else f"{value} MiB"


class SpecProblems:
    """Problems found while reading a spec, each with the manifest path it concerns."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self):
        return iter(self.items)


MISSING = object()


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def _mapping(
    data: Any,
    path: str,
    keys: Iterable[str],
    problems: SpecProblems,
    required: bool = False,
    prefix: str = "spec",
) -> dict | None:
    value = _get(data, path) if path else data
    where = f"{prefix}.{path}" if path else prefix
    if value is MISSING or value is None:
        if required:
            problems.add(where, "required: add it.")
        return None
    if not isinstance(value, dict):
        problems.add(where, "must be a mapping (key: value).")
        return None
    keys = tuple(keys)
    for key in value:
        if key not in keys:
            problems.add(f"{where}.{key}", f"unknown field; expected {', '.join(keys)}.")
    return value


def _int(
    data: dict, key: str, where: str, problems: SpecProblems, *, default: int, minimum: int, maximum: int
) -> int:
    value = data.get(key, MISSING)
    if value is MISSING or value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(f"{where}.{key}", "must be a whole number.")
        return default
    if not minimum <= value <= maximum:
        problems.add(f"{where}.{key}", f"must be between {minimum} and {maximum}.")
        return default
    return value


def _nested_int(data: dict, key: str, inner: str, where: str, problems: SpecProblems, maximum: int) -> int:
    block = data.get(key)
    if block is None:
        return 0
    if not isinstance(block, dict) or set(block) - {inner}:
        problems.add(f"{where}.{key}", f"must be {{{inner}: <number>}}.")
        return 0
    return _int(block, inner, f"{where}.{key}", problems, default=0, minimum=0, maximum=maximum)


def _architecture(data: dict, where: str, problems: SpecProblems) -> str:
    value = data.get("architecture", "amd64")
    if not isinstance(value, str) or value.lower() not in ARCHITECTURES:
        problems.add(f"{where}.architecture", f"must be one of {', '.join(ARCHITECTURES)}.")
        return "amd64"
    return value.lower()


def _gpu(data: dict, where: str, problems: SpecProblems) -> GpuRequirement | None:
    block = data.get("gpu")
    if block is None:
        return None
    if not isinstance(block, dict):
        problems.add(f"{where}.gpu", "must be a mapping with family, gpuCount and gpuMemory.")
        return None
    for key in block:
        if key not in ("family", "gpuCount", "gpuMemory"):
            problems.add(f"{where}.gpu.{key}", "unknown field; expected family, gpuCount, gpuMemory.")
    family = block.get("family")
    if not isinstance(family, str) or not GPU_FAMILY.match(family.strip()):
        problems.add(
            f"{where}.gpu.family",
            "required: VENDOR (any model, e.g. NVIDIA) or VENDOR-MODEL (e.g. NVIDIA-A100).",
        )
        return None
    count = _int(block, "gpuCount", f"{where}.gpu", problems, default=1, minimum=1, maximum=MAX_GPUS)
    memory = _int(
        block, "gpuMemory", f"{where}.gpu", problems, default=0, minimum=0, maximum=MAX_GPU_MEMORY_MIB
    )
    return GpuRequirement(family=family.strip(), count=count, memory_mib=memory)


def _groups(data: Any, path: str, problems: SpecProblems) -> dict[str, str]:
    value = _get(data, path)
    if value is MISSING or value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        problems.add(f"spec.{path}", 'must map tag keys to values as text; quote values such as "true".')
        return {}
    for key, val in value.items():
        if not TAG_PART.match(key):
            problems.add(f"spec.{path}.{key}", "a tag key uses letters, digits, '.', '_', '/' and '-'.")
        if val and not TAG_PART.match(val):
            problems.add(
                f"spec.{path}.{key}",
                "a tag value uses letters, digits, '.', '_', '/' and '-' (empty for a bare tag).",
            )
    return dict(value)


NODE_KEYS = (
    "name",
    "nodeCount",
    "workerNodeEligible",
    "architecture",
    "cpu",
    "memory",
    "gpu",
    "labels",
    "annotations",
)


def _node(data: Any, where: str, problems: SpecProblems, *, control_plane: bool) -> NodeRequirement | None:
    if not isinstance(data, dict):
        problems.add(
            where,
            "must be a mapping with nodeCount, architecture, cpu, memory"
            + ("" if control_plane else ", gpu")
            + ".",
        )
        return None
    for key in data:
        if (
            key not in NODE_KEYS
            or (control_plane and key in ("name", "gpu"))
            or (not control_plane and key == "workerNodeEligible")
        ):
            problems.add(f"{where}.{key}", "unknown field here.")
    if control_plane:
        count = data.get("nodeCount", 1)
        if isinstance(count, bool) or count not in CONTROL_PLANE_SIZES:
            problems.add(f"{where}.nodeCount", "must be 1, 3 or 5 (an odd number keeps etcd's quorum).")
            count = 1
        eligible = data.get("workerNodeEligible", False)
        if not isinstance(eligible, bool):
            problems.add(f"{where}.workerNodeEligible", "must be true or false.")
            eligible = False
        name = CONTROL_PLANE_POOL
    else:
        name = data.get("name")
        if not isinstance(name, str) or not MACHINE_POOL_NAME.match(name):
            problems.add(
                f"{where}.name", "required: lowercase letters, digits and '-', at most 40 characters."
            )
            name = ""
        elif name == CONTROL_PLANE_POOL:
            problems.add(
                f"{where}.name", f"{CONTROL_PLANE_POOL} is the control plane's pool; choose another name."
            )
        count = _int(data, "nodeCount", where, problems, default=1, minimum=1, maximum=MAX_NODES)
        eligible = False
    return NodeRequirement(
        name=name,
        count=count,
        architecture=_architecture(data, where, problems),
        cpu=_nested_int(data, "cpu", "cpuCount", where, problems, MAX_CPU_CORES),
        memory_mib=_nested_int(data, "memory", "memoryMiB", where, problems, MAX_MEMORY_MIB),
        gpu=None if control_plane else _gpu(data, where, problems),
        control_plane=control_plane,
        worker_eligible=eligible,
    )


SPEC_KEYS = (
    "description",
    "profileBundleRef",
    "profileVariables",
    "clusterVariant",
    "sshKeys",
    "deletionPolicy",
    "upgrade",
)
VARIABLE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")


def _profile_variables(root: dict, problems: SpecProblems) -> dict[str, dict[str, str]]:
    """`spec.profileVariables`: {profile name: {variable: value}}, values as text (numbers and true/false are
    written as Palette reads them). A value is never repeated in a message: it may be masked."""
    from .variables import MAX_NAME_LENGTH, MAX_VALUE_LENGTH

    raw = root.get("profileVariables")
    if raw is None:
        return {}
    where = "spec.profileVariables"
    if not isinstance(raw, dict):
        problems.add(where, "must map profile names to {variable: value} mappings.")
        return {}
    out: dict[str, dict[str, str]] = {}
    for profile, given in raw.items():
        if not isinstance(profile, str) or not 0 < len(profile) <= MAX_NAME_LENGTH:
            problems.add(
                where, f"a key must be a profile name of the bundle (at most {MAX_NAME_LENGTH} characters)."
            )
            continue
        path = f"{where}.{profile}"
        if given is None:
            continue
        if not isinstance(given, dict):
            problems.add(path, "must map variable names to values.")
            continue
        values: dict[str, str] = {}
        for name, value in given.items():
            if not isinstance(name, str) or not VARIABLE_KEY.match(name):
                problems.add(
                    path, "a variable name uses letters, digits, '_', '.' and '-' (at most 200 characters)."
                )
                continue
            if value is None:
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = str(value)
            if not isinstance(value, str):
                problems.add(
                    f"{path}.{name}",
                    "must be a value (text, a number, or true/false), not a list or mapping.",
                )
                continue
            if len(value) > MAX_VALUE_LENGTH:
                problems.add(f"{path}.{name}", f"must be at most {MAX_VALUE_LENGTH} characters.")
                continue
            if "\x00" in value:
                problems.add(f"{path}.{name}", "must not contain a NUL character.")
                continue
            values[name] = value
        if values:
            out[profile] = values
    return out


def parse_spec(
    spec: Any, *, name: str, namespace: str, labels: dict | None = None
) -> tuple[PoolSpec | None, SpecProblems]:
    """Read a ComputePool's `spec` (manifest shape); the PoolSpec (None when unusable) and every problem
    found."""
    problems = SpecProblems()
    try:
        validate_pool_name(name)
    except ValidationError as exc:
        problems.add("metadata.name", " ".join(exc.messages))
    root = _mapping(spec, "", SPEC_KEYS, problems, required=True)
    if root is None:
        return None, problems
    description = _description(root, problems)
    bundle = _bundle_ref(root, namespace, problems)
    variant, deployment, cp_groups, worker_groups = _cluster_variant(root, problems)
    vip, control_plane, workers = "", None, []
    if deployment is not None:
        where = f"spec.clusterVariant.{variant}.paletteClusterDeploymentConfig"
        vip, control_plane, workers = _deployment(deployment, where, problems)
    keys = _ssh_keys(root, problems)
    variables = _profile_variables(root, problems)
    policy = _deletion_policy(root, problems)
    allow_repave = _allow_repave(root, problems)
    if control_plane is None:
        return None, problems
    return PoolSpec(
        name=name,
        namespace=namespace,
        bundle=bundle,
        control_plane=control_plane,
        workers=tuple(workers),
        variant=variant,
        vip=vip,
        ssh_keys=tuple(keys),
        cp_groups=cp_groups,
        worker_groups=worker_groups,
        deletion_policy=policy,
        description=description,
        labels=dict(labels or {}),
        variables=variables,
        allow_repave=allow_repave,
    ), problems


def _allow_repave(root: dict, problems: SpecProblems) -> bool:
    """`spec.upgrade: {allowRepave: true}`: confirms that applying may start an upgrade that repaves nodes."""
    block = _mapping(root, "upgrade", ("allowRepave",), problems)
    if block is None:
        return False
    value = block.get("allowRepave", False)
    if not isinstance(value, bool):
        problems.add("spec.upgrade.allowRepave", "must be true or false.")
        return False
    return value


def _description(root: dict, problems: SpecProblems) -> str:
    description = root.get("description", "")
    if not isinstance(description, str) or len(description) > 1000:
        problems.add("spec.description", "must be text of at most 1000 characters.")
        return ""
    return description


def _bundle_ref(root: dict, namespace: str, problems: SpecProblems) -> str:
    """`spec.profileBundleRef`: the name of a bundle of the pool's own namespace ("" when missing)."""
    ref = _mapping(root, "profileBundleRef", ("name", "namespace", "cloudType"), problems, required=True)
    if ref is None:
        return ""
    bundle = ref.get("name") if isinstance(ref.get("name"), str) else ""
    if not bundle:
        problems.add("spec.profileBundleRef.name", "required: the name of a ProfileBundle in this namespace.")
    if ref.get("namespace") not in (None, namespace):
        problems.add(
            "spec.profileBundleRef.namespace", f"a pool uses a bundle of its own namespace ({namespace})."
        )
    if ref.get("cloudType") not in (None, "edge-native"):
        problems.add("spec.profileBundleRef.cloudType", "only edge-native is supported.")
    return bundle


def _cluster_variant(
    root: dict, problems: SpecProblems
) -> tuple[str, dict | None, dict[str, str], dict[str, str]]:
    """`spec.clusterVariant`: the variant, its paletteClusterDeploymentConfig (None when unusable), and the
    control plane's and the workers' resource groups."""
    variant_block = _mapping(
        root,
        "clusterVariant",
        ("controlPlaneResourceGroups", "workerResourceGroups", DEDICATED, SHARED),
        problems,
        required=True,
    )
    cp_groups = _groups(root, "clusterVariant.controlPlaneResourceGroups", problems)
    worker_groups = _groups(root, "clusterVariant.workerResourceGroups", problems)
    variant, deployment = DEDICATED, None
    if variant_block is not None:
        present = [v for v in (DEDICATED, SHARED) if v in variant_block]
        if len(present) != 1:
            problems.add(
                "spec.clusterVariant",
                "set exactly one of dedicated or shared (the variant cannot change later).",
            )
        else:
            variant = present[0]
            deployment = _mapping(
                root,
                f"clusterVariant.{variant}.paletteClusterDeploymentConfig",
                ("cloudType", "vip", "nodePoolRequirements"),
                problems,
                required=True,
            )
            _mapping(root, f"clusterVariant.{variant}", ("paletteClusterDeploymentConfig",), problems)
    return variant, deployment, cp_groups, worker_groups


def _deployment(
    deployment: dict, where: str, problems: SpecProblems
) -> tuple[str, NodeRequirement | None, list[NodeRequirement]]:
    """The paletteClusterDeploymentConfig at `where`: the VIP, the control plane (None when unusable), the
    worker pools."""
    if deployment.get("cloudType", "edge-native") != "edge-native":
        problems.add(f"{where}.cloudType", "only edge-native is supported.")
    vip = ""
    raw_vip = deployment.get("vip")
    if raw_vip in (None, ""):
        problems.add(f"{where}.vip", "required: a reserved IPv4 address for the cluster's API endpoint.")
    else:
        try:
            vip = validate_vip(str(raw_vip))
        except ValidationError as exc:
            problems.add(f"{where}.vip", " ".join(exc.messages))
    pools = _mapping(
        deployment,
        "nodePoolRequirements",
        ("controlPlanePool", "workerPools"),
        problems,
        required=True,
        prefix=where,
    )
    if pools is None:
        return vip, None, []
    where = f"{where}.nodePoolRequirements"
    control_plane = _node(
        pools.get("controlPlanePool", {}), f"{where}.controlPlanePool", problems, control_plane=True
    )
    workers = _worker_pools(pools.get("workerPools") or [], where, problems)
    if control_plane and control_plane.count == 1 and not workers and not control_plane.worker_eligible:
        problems.add(
            f"{where}.controlPlanePool.workerNodeEligible",
            "a single control-plane node without worker pools must run workloads: set workerNodeEligible: "
            "true, or add a worker pool.",
        )
    return vip, control_plane, workers


def _worker_pools(raw_workers: Any, where: str, problems: SpecProblems) -> list[NodeRequirement]:
    """The `workerPools` list under `where` (the nodePoolRequirements path); each name once."""
    if not isinstance(raw_workers, list):
        problems.add(f"{where}.workerPools", "must be a list of pools.")
        return []
    workers: list[NodeRequirement] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_workers):
        node = _node(raw, f"{where}.workerPools[{i}]", problems, control_plane=False)
        if node is None:
            continue
        if node.name and node.name in seen:
            problems.add(f"{where}.workerPools[{i}].name", f"pool {node.name} is listed twice.")
        seen.add(node.name)
        workers.append(node)
    return workers


def _ssh_keys(root: dict, problems: SpecProblems) -> list[str]:
    keys: list[str] = []
    raw_keys = root.get("sshKeys", [])
    if not isinstance(raw_keys, list):
        problems.add("spec.sshKeys", "must be a list of public keys.")
        raw_keys = []
    for i, key in enumerate(raw_keys):
        try:
            keys.append(validate_ssh_key(key if isinstance(key, str) else ""))
        except ValidationError as exc:
            problems.add(f"spec.sshKeys[{i}]", " ".join(exc.messages))
    return keys


def _deletion_policy(root: dict, problems: SpecProblems) -> str:
    policy = root.get("deletionPolicy", DELETE)
    if policy not in (DELETE, ORPHAN):
        problems.add(
            "spec.deletionPolicy",
            "must be delete (remove the Palette cluster) or orphan (keep it in Palette).",
        )
        return DELETE
    return policy


def spec_of(pool) -> PoolSpec:
    """The PoolSpec of a stored ComputePool (its stored fields were checked when it was saved), with its
    profile variables: the plain ones and the masked ones (decrypted; `masked` names them)."""
    from dataclasses import replace

    from .variables import stored_secrets

    secret = stored_secrets(pool)
    variables = {p: dict(v) for p, v in (pool.variables or {}).items()}
    for profile, given in secret.items():
        variables.setdefault(profile, {}).update(given)
    manifest = {
        "description": pool.description,
        "profileBundleRef": {"name": pool.bundle_name},
        "clusterVariant": {
            "controlPlaneResourceGroups": pool.cp_resource_groups,
            "workerResourceGroups": pool.worker_resource_groups,
            pool.variant: {
                "paletteClusterDeploymentConfig": {"vip": pool.vip, "nodePoolRequirements": pool.node_pools}
            },
        },
        "sshKeys": list(pool.ssh_keys),
        "deletionPolicy": pool.deletion_policy,
    }
    spec, problems = parse_spec(
        manifest, name=pool.name, namespace=pool.project.namespace, labels=pool.labels
    )
    if spec is None:
        raise ValueError(
            "stored compute pool spec is unreadable: " + "; ".join(f"{p}: {m}" for p, m in problems)
        )
    return replace(
        spec, variables=variables, masked=frozenset((p, n) for p, given in secret.items() for n in given)
    )
