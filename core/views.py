from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tenancy.access import audit_entries_for_user

from .htmx import render_page


@require_GET
def healthz(request):
    """The process is up. No database, no broker: a liveness probe must not flap with them."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    """Ready to serve: the database answers and the Celery broker accepts a connection."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any database failure means not ready
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        from paletteai_admin.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:  # broker down or misconfigured
        checks["broker"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503)


#: A spreadsheet runs a cell starting with one of these as a formula (CSV injection): such cells get a leading '.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """``value`` as CSV text that a spreadsheet shows as text, never evaluates (OWASP's CSV injection advice)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


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
        writer.writerow(["time", "user", "action", "verb", "object type", "object", "tenant", "outcome", "source", "source ip", "changes"])
        for e in entries.iterator():
            writer.writerow([csv_cell(v) for v in (e.created.isoformat(), e.username, e.action, e.verb, e.object_type,
                                                   e.object_repr, e.tenant_name, e.outcome, e.source, e.source_ip,
                                                   e.changes)])
        return response
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render_page(request, "core/audit_list.html", {"page": page, "tenant": tenant}, fragment="rows")
