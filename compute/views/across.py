"""The Compute overview (the "Compute" navigation entry): every project the user sees, with its eligible
hosts, GPUs by family, Compute Pools by state and last discovery, linking to its inventory and pools."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

from core.htmx import render_page
from tenancy import access

from .. import across


@login_required
@require_GET
def compute_overview(request):
    projects = list(access.visible_projects(request.user).order_by("tenant__name", "name"))
    hosts = across.host_counts(projects)
    families = across.gpu_families(projects)
    pools = across.pools_by_state(projects)
    discovery = across.last_discovery(projects)
    rows = [
        {
            "project": p,
            "hosts": hosts[p.pk],
            "families": families[p.pk],
            "pools": [
                {"label": label, "count": n, "tone": across.pool_tone(s)} for s, label, n in pools[p.pk]
            ],
            "discovery": discovery[p.pk],
        }
        for p in projects
    ]
    return render_page(request, "compute/across.html", {"rows": rows, "nav": "compute"})
