from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.utils.cache import add_never_cache_headers, patch_vary_headers


def content_security_policy() -> str:
    """CONTENT_SECURITY_POLICY, with the single sign-on provider's origin in form-action when OIDC_ISSUER is
    set: signing out is a form whose answer sends the browser on to the provider's logout (README "Single
    sign-on"), and browsers hold a redirect after a form to the form-action list."""
    policy = settings.CONTENT_SECURITY_POLICY
    issuer = urlsplit(settings.OIDC_ISSUER) if settings.OIDC_ISSUER else None
    if issuer is None or not issuer.netloc:
        return policy
    return policy.replace("form-action 'self'", f"form-action 'self' {issuer.scheme}://{issuer.netloc}")


class SecurityHeadersMiddleware:
    """Headers every response of ours needs, in one place (static files are served before this, by
    whitenoise).

    Content-Security-Policy (no external origin; Django 5.2 has no built-in CSP); ``Cache-Control: no-store``
    for a signed-in user's pages, fragments and exports; ``Vary: HX-Request``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        # A signed-in user's answers hold tenant data (settings, inventories, the audit CSV, YAML exports):
        # no browser or proxy may keep a copy, e.g. for the next person at a shared machine or Back after
        # logout.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        # Views answer htmx with a fragment and everything else with the page (core.htmx), any view may branch
        # on request.htmx: a cache must never hand one to the other. Cheap to say on every response.
        patch_vary_headers(response, ("HX-Request",))
        return response
