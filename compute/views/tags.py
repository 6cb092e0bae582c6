"""Host tag edits: the preview of tags to add and remove on the selected (or filtered) hosts, starting the
edit, and the edit's result page."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core import audit
from core.htmx import poll_response, redirect_after_post, render_page
from core.models import AuditEntry
from tenancy import access

from ..eligibility import display_tags
from ..inventory import filter_hosts
from ..models import EdgeHost, TagEdit
from ..tagging import MAX_HOSTS, TagInputError, parse_add, parse_remove, preview, start_tag_edit


def _tag_request(project, data) -> tuple[list[EdgeHost], dict, list, str]:
    """Hosts, tags to add, keys to remove, and an error message ("" when valid) from the tag form."""
    try:
        add, remove = parse_add(data.get("add", "")), parse_remove(data.get("remove", ""))
    except TagInputError as exc:
        return [], {}, [], str(exc)
    if not add and not remove:
        return [], {}, [], "Type tags to add (key=value, or a bare key) or keys to remove."
    if data.get("scope") == "filter":
        matching, applied = filter_hosts(project, QueryDict(data.get("filter", "")))
        if applied.get("tag_error"):
            return [], add, remove, f"The grid's tag filter is not valid: {applied['tag_error']}"
        hosts = list(matching[: MAX_HOSTS + 1])
    else:
        hosts = list(
            EdgeHost.objects.filter(
                project=project, gone=False, uuid__in=[u for u in data.getlist("host") if _is_uuid(u)]
            )
        )
    if not hosts:
        return [], add, remove, "Select hosts in the grid, or choose all hosts matching the filter."
    if len(hosts) > MAX_HOSTS:
        return [], add, remove, f"More than {MAX_HOSTS} hosts match: narrow the filter."
    return hosts, add, remove, ""


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@login_required
@require_POST
def tags_preview(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    hosts, add, remove, error = _tag_request(project, request.POST)
    context = {
        "project": project,
        "tenant": project.tenant,
        "error": error,
        "post": request.POST,
        "preview": preview(project, hosts, add, remove) if not error else None,
        "add": display_tags(add),
        "remove": remove,
    }
    return render_page(request, "compute/tag_preview.html", context)


@login_required
@require_POST
def tags_apply(request, tenant, project):
    project, role = access.get_project_for_user(request.user, tenant, project, need=access.WRITE)
    hosts, add, remove, error = _tag_request(project, request.POST)
    if error:
        return render_page(
            request,
            "compute/tag_preview.html",
            {"project": project, "tenant": project.tenant, "error": error, "post": request.POST},
        )
    with transaction.atomic():
        edit = start_tag_edit(project, hosts, add, remove, user=request.user)
        audit.record(
            request,
            AuditEntry.ACTION,
            project,
            verb="edit edge host tags",
            changes={"add": add, "remove": remove, "hosts": len(hosts)},
        )
    return redirect_after_post(
        request, reverse("compute:tag_edit", args=[project.tenant.name, project.name, edit.uuid])
    )


@login_required
@require_GET
def tag_edit(request, tenant, project, edit):
    project, role = access.get_project_for_user(request.user, tenant, project)
    edit = get_object_or_404(TagEdit, uuid=edit, project=project)
    response = render_page(
        request,
        "compute/tag_edit.html",
        {"project": project, "tenant": project.tenant, "edit": edit},
        fragment="result",
    )
    return poll_response(response, edit.is_terminal) if request.htmx else response
