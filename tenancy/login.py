"""The login page: the local form and "Sign in with <provider>" (tenancy.oidc); README "Single sign-on".

Break-glass: with LOCAL_LOGIN=false only superusers may log in with a local password.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from . import oidc


class LocalLoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not settings.LOCAL_LOGIN and not user.is_superuser:
            where = f" Sign in with {oidc.provider_name()} instead." if oidc.enabled() else ""
            raise ValidationError(
                "Local accounts are turned off here (LOCAL_LOGIN=false) except for platform administrators."
                + where,
                code="local_login_off",
            )


class LoginView(auth_views.LoginView):
    form_class = LocalLoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "oidc_enabled": oidc.enabled(),
            "provider_name": oidc.provider_name(),
            "local_login": settings.LOCAL_LOGIN,
        }
