from __future__ import annotations


def navigation(request):
    """The tenants the user can see, for the navigation's tenant switcher."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    from tenancy.access import visible_tenants

    return {"nav_tenants": visible_tenants(request.user).only("name", "display_name")}
