"""The audit log page and its CSV export: what the user's tenants and projects show them (tenancy.access)."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from core.audit import change_lines
from core.htmx import render_page
from core.views import csv_cell

from .access import audit_entries_for_user


def _via(actor_via) -> tuple[str, str]:
    """The provider's subject and the groups that granted the role used (core.audit actor_via), for the CSV;
    the groups one per line, as group names may hold commas (cn=ml,ou=groups)."""
    via = actor_via if isinstance(actor_via, dict) else {}
    groups = via.get("groups") if isinstance(via.get("groups"), list) else []
    return str(via.get("subject") or ""), "\n".join(str(g) for g in groups)


@login_required
@require_GET
def audit_list(request):
    entries = audit_entries_for_user(request.user).select_related("user")
    tenant = request.GET.get("tenant", "")
    if tenant:
        entries = entries.filter(tenant_name=tenant)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
        writer = csv.writer(response)
        writer.writerow(
            [
                "time",
                "user",
                "action",
                "verb",
                "object type",
                "object",
                "tenant",
                "outcome",
                "source",
                "source ip",
                "changes",
                "sso subject",
                "sso groups",
            ]
        )
        for e in entries.iterator():
            writer.writerow(
                [
                    csv_cell(v)
                    for v in (
                        e.created.isoformat(),
                        e.username,
                        e.action,
                        e.verb,
                        e.object_type,
                        e.object_repr,
                        e.tenant_name,
                        e.outcome,
                        e.source,
                        e.source_ip,
                        "; ".join(change_lines(e.changes)),
                        *_via(e.actor_via),
                    )
                ]
            )
        return response
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render_page(request, "tenancy/audit_list.html", {"page": page, "tenant": tenant}, fragment="rows")
