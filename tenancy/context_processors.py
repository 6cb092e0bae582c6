from __future__ import annotations

from .access import visible_tenants


def navigation(request):
    """The tenants the user can see, for the navigation's tenant switcher."""
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"nav_tenants": visible_tenants(request.user).only("name", "display_name")}
