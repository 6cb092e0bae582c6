"""The label check: is an edge host usable by PaletteAI in this project, and if not, why.

A pure function of the host's facts and the project's policy, shared by discovery (stored for
filtering), the inventory grid, the compute pool readiness report and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

BARE_TAG_VALUE = "spectro__tag"


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
    """Tags as people read them: `key:value`, or the key alone for a bare tag."""
    return sorted(f"{k}:{v}" if v else k for k, v in shown_tags(tags).items())


def has_tag(tags: dict[str, str], key: str, value: str) -> bool:
    """Exact match; an empty wanted value means a bare tag."""
    if key not in tags:
        return False
    return tags[key] in (BARE_TAG_VALUE, "") if not value else tags[key] == value


def reasons(host, policy: Policy) -> list[str]:
    """Every reason `host` is not eligible (empty when it is). `host` needs: tags, state, health,
    health_message, clusters, cpu_cores, memory_mib."""
    out: list[str] = []
    if not has_tag(host.tags, policy.tag_key, policy.tag_value):
        where = "add it under stylus.site.tags in user-data or in Palette's Edge Host grid"
        if policy.tag_key in host.tags:
            current = host.tags[policy.tag_key]
            current = "a bare tag" if current == BARE_TAG_VALUE else repr(current)
            out.append(
                f"tag {policy.tag_key} is {current}, needs {policy.tag} — change it under stylus.site.tags "
                "or in Palette's Edge Host grid"
            )
        else:
            out.append(f"missing tag {policy.tag} — {where}")
    if host.state == "in-use":
        names = ", ".join(host.clusters) if host.clusters else "a cluster"
        out.append(f"in use by cluster {names}")
    elif host.state == "unpaired":
        out.append("unpaired — the host is registered but not paired with a Palette project yet")
    elif host.state != "ready":
        out.append(f"state {host.state or 'unknown'}, needs ready")
    if host.health != "healthy":
        out.append(
            f"unhealthy: {host.health_message}"
            if host.health == "unhealthy" and host.health_message
            else ("unhealthy" if host.health == "unhealthy" else "health not reported yet")
        )
    if not host.cpu_cores or not host.memory_mib:
        out.append("hardware not reported — the host's agent has not sent CPU and memory yet")
    return out


def gpu_label(gpus: list[dict]) -> str:
    return ", ".join(f"{g.get('model') or g.get('vendor') or 'GPU'} × {g.get('count', 1)}" for g in gpus)
