"""Deleting a tenant or a project: the one path behind the web pages, manifests and the Django admin.

A deletion is refused while a registered *blocker* names something in the way (compute: a pool
that is not Deleted, whose Palette cluster would be left running untracked). Otherwise the
registered *cleanups* remove what the owner holds, in their order (compute: pool records and
profile bundles; integrations: Settings, then Secrets together with their Kubernetes copies),
its memberships go, and the owner is deleted, each deletion with its audit entry, all in one
transaction: a refusal or an error leaves everything as it was. A tenant takes its projects
with it, each through the project path; any of them with a live pool refuses the tenant.

Apps further down the import chain register their blockers and cleanups in AppConfig.ready(),
so tenancy never imports them. The foreign keys to tenants and projects that matter (pools,
bundles, Settings, Secrets) are PROTECT, so a `.delete()` that bypasses this module raises
ProtectedError instead of dropping them silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from core import audit
from core.models import AuditEntry

from .models import Project, Tenant

Owner = Tenant | Project


@dataclass(frozen=True)
class Blocker:
    """One reason a deletion is refused: what is in the way, each item with the page where it is fixed, and
    what to do.

    `items` are (label, url) pairs; url may be "" when there is no page for the item.
    """

    what: str
    items: tuple[tuple[str, str], ...]
    fix: str

    def text(self) -> str:
        return f"{self.what}: {', '.join(label for label, _ in self.items)}; {self.fix}"

    def html(self) -> SafeString:
        items = format_html_join(
            ", ",
            "{}",
            (
                (format_html('<a href="{}">{}</a>', url, label) if url else label,)
                for label, url in self.items
            ),
        )
        return format_html("{}: {}; {}", self.what, items, self.fix)


class DeletionRefused(ValidationError):
    """A deletion that did not happen, with every blocker; nothing was changed.

    A ValidationError, so that callers that already report those (the manifest runner) say why.
    """

    def __init__(self, owner: Owner, blockers: list[Blocker]):
        self.owner, self.blockers = owner, blockers
        super().__init__(self.text())

    def heading(self) -> str:
        return f"{type(self.owner).__name__} {self.owner.name} cannot be deleted yet"

    def reasons(self) -> str:
        return "; ".join(b.text() for b in self.blockers) + "."

    def text(self) -> str:
        return f"{self.heading()}: {self.reasons()}"

    def html(self) -> SafeString:
        """The message for a web page, each item in the way linked to its page."""
        reasons = format_html_join("; ", "{}", ((b.html(),) for b in self.blockers))
        return format_html("{}: {}.", self.heading(), reasons)


BlockerCheck = Callable[[Owner], list[Blocker]]
Cleanup = Callable[..., None]
_blockers: list[BlockerCheck] = []
_cleanups: list[tuple[int, Cleanup]] = []


def register_blocker(check: BlockerCheck) -> None:
    """Add a check: given a tenant or a project about to go, the blockers it finds (empty: nothing in the
    way).

    For a tenant the check answers for the tenant and all of its projects.
    """
    if check not in _blockers:
        _blockers.append(check)


def register_cleanup(order: int, cleanup: Cleanup) -> None:
    """Add `cleanup(owner, *, request, user, source)`, which removes and audits what `owner` holds; lower
    order first.

    Called inside the deletion's transaction once no blocker objects, for each project and then for the
    tenant.
    """
    if all(c is not cleanup for _, c in _cleanups):
        _cleanups.append((order, cleanup))
        _cleanups.sort(key=lambda item: item[0])


def blockers(owner: Owner) -> list[Blocker]:
    """Everything that refuses deleting `owner` now (for a tenant: also what refuses deleting any of its
    projects)."""
    return [blocker for check in _blockers for blocker in check(owner)]


def delete(owner: Owner, *, request: Any = None, user: Any = None, source: str = "web") -> None:
    """Delete a tenant (with its projects) or a project, with everything it holds; raise DeletionRefused when
    blocked.

    All or nothing: runs in its own transaction (a savepoint inside the caller's), the owner rows locked
    so that nothing is added to them meanwhile. Kubernetes copies of the Secrets are deleted once the
    outermost transaction commits. Not idempotent by itself: the caller looks the owner up first.
    """
    with transaction.atomic():
        _lock(owner)
        found = blockers(owner)
        if found:
            raise DeletionRefused(owner, found)
        actor = {"request": request, "user": user, "source": source}
        if isinstance(owner, Tenant):
            for project in Project.objects.filter(tenant=owner).select_related("tenant"):
                _delete_one(project, actor)
        _delete_one(owner, actor)


def _lock(owner: Owner) -> None:
    # Row locks (PostgreSQL; SQLite serialises writers anyway): a pool created in the project meanwhile waits
    # for this transaction, then fails on its foreign key instead of pointing at a deleted project.
    if isinstance(owner, Tenant):
        list(Tenant.objects.select_for_update().filter(pk=owner.pk).values_list("pk"))
        list(Project.objects.select_for_update().filter(tenant=owner).values_list("pk"))
    else:
        list(Project.objects.select_for_update().filter(pk=owner.pk).values_list("pk"))


def _delete_one(owner: Owner, actor: dict) -> None:
    """Run every cleanup for `owner`, remove its memberships, then the owner itself, each with its audit
    entry."""
    for _, cleanup in _cleanups:
        cleanup(owner, **actor)
    for membership in owner.memberships.select_related("user", "tenant", "project__tenant"):
        audit.record(
            actor["request"],
            AuditEntry.DELETE,
            membership,
            user=actor["user"],
            source=actor["source"],
            changes={"user": membership.user.get_username(), "role": membership.role},
        )
    owner.memberships.all().delete()
    audit.record(actor["request"], AuditEntry.DELETE, owner, user=actor["user"], source=actor["source"])
    try:
        owner.delete()
    except ProtectedError as exc:
        # Something no cleanup removes was added meanwhile (or a model gained a PROTECT key without a
        # cleanup): name it rather than fail with a 500. The transaction rolls the cleanups back.
        items = tuple((f"{obj._meta.verbose_name} {obj}", "") for obj in list(exc.protected_objects)[:10])
        raise DeletionRefused(
            owner, [Blocker("it still holds", items, "remove them first, then try again")]
        ) from None
