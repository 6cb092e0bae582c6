"""The label check: is an edge host usable by PaletteAI in this project, and if not, why.

A pure function of the host's facts and the project's policy, shared by discovery (stored for
filtering), the inventory grid, the compute pool readiness report and the CLI. Each reason is a
`Reason`: a stable code with its params, and the English text shown; nothing reads the text back.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

BARE_TAG_VALUE = "spectro__tag"
#: A tag key or value as Palette takes it: letters, digits, '.', '_', '/' and '-', starting and ending with a
#: letter or digit, up to 128 characters.
TAG_PART = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$")


@dataclass(frozen=True)
class Policy:
    tag_key: str = "palette.ai"
    tag_value: str = "true"

    @property
    def tag(self) -> str:
        return f"{self.tag_key}={self.tag_value}" if self.tag_value else self.tag_key


def shown_tags(tags: dict[str, str]) -> dict[str, str]:
    """Tags with a bare tag's value blank (the key alone), not Palette's internal `spectro__tag`: for JSON."""
    return {k: "" if v == BARE_TAG_VALUE else v for k, v in tags.items()}


def display_tags(tags: dict[str, str]) -> list[str]:
    """Tags as people read them: `key=value`, or the key alone for a bare tag."""
    return sorted(f"{k}={v}" if v else k for k, v in shown_tags(tags).items())


class TagInputError(ValueError):
    """The tags typed are not valid; the message says which and why."""


def parse_tags(
    text: str, *, spaces_separate: bool = True, palette_chars: bool = True
) -> dict[str, str | None]:
    """The one tag syntax people type (tag editor, inventory filter, pool form): `key=value`, `key:value` or
    a bare `key`, separated by commas, new lines and (unless `spaces_separate` is False) spaces.

    'palette.ai=true, gpu:a100 rack7' → {palette.ai: true, gpu: a100, rack7: None}: None marks a bare tag.
    `palette_chars` also checks keys and values against what Palette takes (TAG_PART). Raises TagInputError.
    """
    separators = r"[,\s]+" if spaces_separate else r"[,\n]+"
    tags: dict[str, str | None] = {}
    for item in (part.strip() for part in re.split(separators, text)):
        if not item:
            continue
        key, value = _split_tag(item)
        if palette_chars:
            for part in (key, value):
                if part is not None and not TAG_PART.match(part):
                    raise TagInputError(
                        f"{item!r} is not a tag: {part!r} must be letters, digits, '.', '_', '/' and '-', "
                        "starting and ending with a letter or digit."
                    )
        tags[key] = value
    return tags


def _split_tag(item: str) -> tuple[str, str | None]:
    if item.count("=") + item.count(":") > 1:
        raise TagInputError(f"{item!r} is not key=value: use one '=' (or ':') between the key and the value.")
    key, sep, value = item.partition("=" if "=" in item else ":")
    key, value = key.strip(), value.strip()
    if not key:
        raise TagInputError(f"{item!r} is not key=value: the key before {sep!r} is missing.")
    if sep and not value:
        raise TagInputError(
            f"{item!r} is not key=value: the value after {sep!r} is missing (a bare tag is the key alone)."
        )
    return key, value if sep else None


def has_tag(tags: dict[str, str], key: str, value: str) -> bool:
    """Exact match; an empty wanted value means a bare tag."""
    if key not in tags:
        return False
    return tags[key] in (BARE_TAG_VALUE, "") if not value else tags[key] == value


#: What each reason code reads as, before any advice: built from the reason's params only.
_LABELS: dict[str, Callable[[dict], str]] = {
    "missing_tag": lambda p: f"missing tag {p['tag']}",
    "wrong_tag": lambda p: (
        f"tag {p['key']} is {'a bare tag' if p['value'] is None else repr(p['value'])}, needs {p['tag']}"
    ),
    "in_use": lambda p: f"in use by cluster {', '.join(p['clusters']) if p['clusters'] else 'a cluster'}",
    "unpaired": lambda p: "unpaired",
    "bad_state": lambda p: f"state {p['state'] or 'unknown'}, needs ready",
    "unhealthy": lambda p: f"unhealthy: {p['message']}" if p["message"] else "unhealthy",
    "no_health": lambda p: "health not reported yet",
    "no_hardware": lambda p: "hardware not reported",
    "gone": lambda p: "gone from Palette",
}
#: What to do about it, after " — " in the text (the grid shows it as the label's tooltip).
_ADVICE = {
    "missing_tag": "add it under stylus.site.tags in user-data or in Palette's Edge Host grid",
    "wrong_tag": "change it under stylus.site.tags or in Palette's Edge Host grid",
    "unpaired": "the host is registered but not paired with a Palette project yet",
    "no_hardware": "the host's agent has not sent CPU and memory yet",
}
#: A stored reason whose code is not one of ours (a string from before codes that matched none of them).
OTHER = "other"
#: The stable reason codes; each one's params are what its label needs (see `reasons`).
CODES = (*_LABELS, OTHER)


@dataclass(frozen=True)
class Reason:
    """Why a host is not eligible: a stable `code`, its `params` (JSON data) and the English `text`.

    Code reads `code` and `params`; people read `text` (the label, then " — " and advice for some codes)
    and `short` (the label alone, built from the code and params, never cut out of the text). Stored on
    EdgeHost.reasons as `to_json()` dicts.
    """

    code: str
    params: dict = field(default_factory=dict, hash=False)
    text: str = ""

    @classmethod
    def of(cls, code: str, **params) -> Reason:
        label = _LABELS[code](params)
        advice = _ADVICE.get(code)
        return cls(code, params, f"{label} — {advice}" if advice else label)

    @property
    def short(self) -> str:
        """The label without its advice; the whole text for "other" or for params that do not fit the code."""
        label = _LABELS.get(self.code)
        try:
            return label(self.params) if label else self.text
        except (KeyError, TypeError):
            return self.text

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> dict:
        return {"code": self.code, "params": dict(self.params), "text": self.text}

    @classmethod
    def from_json(cls, data: dict | str) -> Reason:
        """A stored reason; a bare string (stored before codes) reads as "other" with that text."""
        if isinstance(data, str):
            return cls(OTHER, {}, data)
        return cls(data.get("code") or OTHER, dict(data.get("params") or {}), data.get("text") or "")


def stored_reasons(data) -> list[Reason]:
    """EdgeHost.reasons (JSON) as Reason objects."""
    return [Reason.from_json(item) for item in data or ()]


GONE = Reason.of("gone")


def reasons(host, policy: Policy) -> list[Reason]:
    """Every reason `host` is not eligible (empty when it is). `host` needs: tags, state, health,
    health_message, clusters, cpu_cores, memory_mib."""
    out: list[Reason] = []
    if not has_tag(host.tags, policy.tag_key, policy.tag_value):
        if policy.tag_key in host.tags:
            current = host.tags[policy.tag_key]
            value = None if current == BARE_TAG_VALUE else current
            out.append(Reason.of("wrong_tag", key=policy.tag_key, value=value, tag=policy.tag))
        else:
            out.append(Reason.of("missing_tag", tag=policy.tag))
    if host.state == "in-use":
        out.append(Reason.of("in_use", clusters=list(host.clusters or ())))
    elif host.state == "unpaired":
        out.append(Reason.of("unpaired"))
    elif host.state != "ready":
        out.append(Reason.of("bad_state", state=host.state))
    if host.health == "unhealthy":
        out.append(Reason.of("unhealthy", message=host.health_message or ""))
    elif host.health != "healthy":
        out.append(Reason.of("no_health"))
    if not host.cpu_cores or not host.memory_mib:
        out.append(Reason.of("no_hardware"))
    return out


#: Words a GPU name is as clear without: vendor and brand prefixes, form factors, memory types.
_GPU_NOISE = {
    "nvidia", "amd", "tesla", "instinct", "geforce", "pcie", "sxm", "sxm2", "sxm3", "sxm4", "sxm5", "nvl",
    "hbm", "hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6",
}  # fmt: skip
GPU_NAME_MAX = 24


def gpu_name(model: str) -> str:
    """A GPU model as people name it: the marketing name PCI ids put in brackets, without vendor, form factor
    or memory type. "GA100 [A100 PCIe 40GB]" → "A100 40GB", "TU104GL [Tesla T4]" → "T4",
    "NVIDIA A100-SXM4-80GB" (nvidia-smi) → "A100 80GB". A name it cannot shorten is kept, cut to
    GPU_NAME_MAX characters at a word."""
    inner = re.findall(r"\[([^\]]+)\]", model)
    text = inner[-1] if inner else model
    if not inner and re.fullmatch(r"(NVIDIA |Tesla )*[A-Z]+\d+\w*(-\w+)+", text.strip()):
        text = text.replace("-", " ")  # nvidia-smi's "A100-SXM4-80GB"
    words = [w for w in text.split() if w.lower() not in _GPU_NOISE]
    name = " ".join(words) or model.strip()
    if len(name) <= GPU_NAME_MAX:
        return name
    head = name[: GPU_NAME_MAX - 1]
    return (head.rsplit(" ", 1)[0] if " " in head else head) + "…"


def gpu_raw_label(gpus: list[dict]) -> str:
    """Each GPU entry as Palette reports it: 'NVIDIA GA100 [A100 PCIe 40GB] × 4'."""
    return ", ".join(
        f"{' '.join(p for p in (g.get('vendor'), g.get('model')) if p) or 'GPU'} × {g.get('count', 1)}"
        for g in gpus
    )


def gpu_label(gpus: list[dict]) -> str:
    """Each GPU entry by its short name and count: 'A100 40GB ×4'."""
    return ", ".join(
        f"{gpu_name(g.get('model') or '') or g.get('vendor') or 'GPU'} ×{g.get('count', 1)}" for g in gpus
    )
