"""`{% trail tenant project "Compute pools" "compute:pools" pool.name %}`: the breadcrumbs of a page under
Tenants › tenant › project. After the owner come (label, URL name) pairs, each URL reversed with the
tenant's and project's names, and last the current page's label (unlinked). Without a label the last owner
named is the current page: `{% trail tenant %}`."""

from __future__ import annotations

from django import template
from django.urls import reverse

register = template.Library()


@register.inclusion_tag("includes/breadcrumbs.html")
def trail(tenant=None, project=None, *pages):
    crumbs = [("Tenants", reverse("tenancy:tenant_list"))]
    if tenant:
        crumbs.append((tenant.name, reverse("tenancy:tenant_detail", args=[tenant.name])))
    if project:
        crumbs.append((project.name, reverse("tenancy:project_detail", args=[tenant.name, project.name])))
    pairs, current = pages[:-1], pages[-1:]
    owner_args = [tenant.name, project.name] if project else [tenant.name]
    for label, url_name in zip(pairs[::2], pairs[1::2], strict=True):
        crumbs.append((label, reverse(url_name, args=owner_args)))
    if current:
        crumbs.append((current[0], None))
    else:
        crumbs[-1] = (crumbs[-1][0], None)
    return {"crumbs": crumbs}
