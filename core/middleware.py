from __future__ import annotations

from django.conf import settings


class SecurityHeadersMiddleware:
    """Content-Security-Policy (no external origin) on every response; Django 5.2 has no built-in CSP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response
