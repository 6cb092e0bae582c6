"""The tenant overview's capacity section (it loads this fragment): eligible hosts and GPUs by model in each
project of the tenant the user sees."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.views.decorators.http import require_GET

from core.htmx import render_page
from tenancy import access

from ..capacity import capacity as capacity_data


@login_required
@require_GET
def capacity(request, tenant):
    tenant, role = access.get_tenant_for_user(request.user, tenant)
    projects = list(access.visible_projects(request.user).filter(tenant=tenant))
    data = capacity_data(projects)
    chart = {k: data[k] for k in ("labels", "hosts", "datasets")}
    return render_page(request, "compute/capacity.html", {"tenant": tenant, "data": data, "chart": chart})
