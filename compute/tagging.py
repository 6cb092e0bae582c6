"""Tag editing: preview which hosts change eligibility, then write the tags to Palette in a task."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from core.tasks import enqueue_on_commit
from integrations.effective import run_with_palette
from palette import errors as perrors
from tenancy.models import Project

from .discovery import policy_for, start_discovery
from .eligibility import BARE_TAG_VALUE, Reason, parse_tags, reasons
from .eligibility import TagInputError as TagInputError  # raised by parse_add and parse_remove
from .models import EdgeHost, TagEdit

MAX_HOSTS = 2000


def parse_add(text: str) -> dict[str, str]:
    """'gpu=a100 palette.ai:true rack7' → {gpu: a100, palette.ai: true, rack7: <bare>} (see parse_tags)."""
    return {key: BARE_TAG_VALUE if value is None else value for key, value in parse_tags(text).items()}


def parse_remove(text: str) -> list[str]:
    """The keys of 'maintenance gpu=x' → [maintenance, gpu]: a value typed along is ignored."""
    return list(parse_tags(text))


@dataclass
class Preview:
    hosts: list[EdgeHost]
    becomes_eligible: list[EdgeHost]
    becomes_ineligible: list[tuple[EdgeHost, list[Reason]]]
    unchanged_tags: int


class _After:
    def __init__(self, host: EdgeHost, tags: dict):
        self.__dict__.update(
            {
                f: getattr(host, f)
                for f in ("state", "health", "health_message", "clusters", "cpu_cores", "memory_mib")
            }
        )
        self.tags = tags


def new_tags(host: EdgeHost, add: dict[str, str], remove: list[str]) -> dict[str, str]:
    tags = {**host.tags, **add}
    for key in remove:
        tags.pop(key, None)
    return tags


def preview(project: Project, hosts: list[EdgeHost], add: dict[str, str], remove: list[str]) -> Preview:
    """The hosts whose eligibility the edit would change (pure: nothing is written)."""
    policy = policy_for(project)
    up, down, same = [], [], 0
    for host in hosts:
        tags = new_tags(host, add, remove)
        if tags == host.tags:
            same += 1
        after = reasons(_After(host, tags), policy)
        if host.eligible and after:
            down.append((host, after))
        elif not host.eligible and not after:
            up.append(host)
    return Preview(hosts, up, down, same)


def start_tag_edit(
    project: Project, hosts: list[EdgeHost], add: dict[str, str], remove: list[str], *, user=None
) -> TagEdit:
    """Write the run row (host uids, never secrets) and enqueue it once the transaction commits."""
    edit = TagEdit.objects.create(
        project=project,
        add=add,
        remove=remove,
        host_uids=[h.uid for h in hosts],
        requested_by=user.get_username() if user else "",
    )
    enqueue_on_commit("compute.tag_edit", edit.pk)
    return edit


def apply_tag_edit(edit: TagEdit, **client_kwargs) -> TagEdit:
    """Write the tags host by host (PUT /v1/edgehosts/{uid}/meta keeps the other labels), then rediscover.

    Idempotent: claimed once; setting the same tags twice gives the same labels.
    """

    def work(client, palette):
        results: dict[str, str] = {}
        try:
            for uid in edit.host_uids:
                try:
                    client.set_edge_host_tags(uid, edit.add, remove=edit.remove)
                    results[uid] = "ok"
                except perrors.PaletteHTTPError as exc:
                    # e.g. EdgeHostDeviceNotRegistered: reported for this host, the others go on.
                    results[uid] = str(exc)
                TagEdit.objects.filter(pk=edit.pk).update(results=results)
        except perrors.PaletteError as exc:
            edit.results = results
            edit.finish(
                TagEdit.FAILED,
                error=f"Palette unreachable after {len(results)} of {len(edit.host_uids)} hosts: {exc}",
            )
            return
        edit.results = results
        failed = {k: v for k, v in results.items() if v != "ok"}
        with transaction.atomic():
            start_discovery(edit.project, trigger="tags")
        edit.finish(
            TagEdit.SUCCEEDED if not failed else TagEdit.FAILED,
            error=f"{len(failed)} of {len(results)} hosts refused: {next(iter(failed.values()))}"
            if failed
            else "",
        )

    return run_with_palette(
        edit, edit.project, work, name=f"tags {edit.project}", what="The tag edit", **client_kwargs
    )
