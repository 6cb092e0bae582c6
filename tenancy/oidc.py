"""Single sign-on with OpenID Connect: authorization code with PKCE (S256), by Authlib (README "Single
sign-on").

On when OIDC_ISSUER and OIDC_CLIENT_ID are set. The ID token is verified (signature from the provider's
JWKS, issuer, audience, expiry, nonce); its groups claim (OIDC_GROUPS_CLAIM) replaces the user's groups
at each login, so roles from groups (tenancy.group_roles) follow the provider. A user is found by
issuer + subject only, never by a matching local username (that would let the provider take over a local
account). Every failure is a page that says what happened and what to do; no token, code or client secret
reaches it or the log.
"""

from __future__ import annotations

import logging
import re
import time

import requests
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET
from joserfc.errors import JoseError

from core import audit
from core.fields import encrypt
from core.models import AuditEntry

from . import access
from .models import OidcIdentity

log = logging.getLogger(__name__)
MAX_GROUPS = 1000
NEXT_KEY = "oidc_next"
# In a single sign-on session: when its groups were last read from the provider (epoch seconds), and the
# encrypted ID token of the login (tenancy.oidc_session).
SESSION_CHECKED = "oidc_checked"
SESSION_ID_TOKEN = "oidc_id_token"
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_CLIENT_ID)


def provider_name() -> str:
    return settings.OIDC_PROVIDER_NAME


def client():
    """A fresh Authlib client: the discovery document and the JWKS are read for each login, so a provider's
    key rotation needs no restart."""
    oauth = OAuth()
    return oauth.register(
        name="oidc",
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET or None,
        server_metadata_url=f"{settings.OIDC_ISSUER}/.well-known/openid-configuration",
        client_kwargs={
            "scope": settings.OIDC_SCOPES,
            "code_challenge_method": "S256",
            "default_timeout": settings.OIDC_TIMEOUT,
        },
    )


def _failure(request, title: str, text: str, status: int = 400):
    return render(
        request,
        "registration/oidc_error.html",
        {"title": title, "text": text, "provider_name": provider_name(), "local_login": settings.LOCAL_LOGIN},
        status=status,
    )


def _unreachable(request, exc: Exception):
    log.warning("OIDC provider %s unreachable: %s", settings.OIDC_ISSUER, type(exc).__name__)
    return _failure(
        request,
        f"{provider_name()} cannot be reached",
        f"This console could not read {settings.OIDC_ISSUER}/.well-known/openid-configuration or talk to the "
        "provider. Try again in a minute; if it persists, ask your administrator to check OIDC_ISSUER "
        "and that this server reaches the provider.",
        status=502,
    )


def _redirect_uri(request) -> str:
    return settings.OIDC_REDIRECT_URI or request.build_absolute_uri(reverse("tenancy:oidc_callback"))


@require_GET
def oidc_login(request):
    """Start a sign-in: remember where to go next and send the browser to the provider."""
    if not enabled():
        return _failure(request, "Single sign-on is off", "OIDC_ISSUER and OIDC_CLIENT_ID are not set.", 404)
    wanted = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()}, require_https=request.is_secure())
    request.session[NEXT_KEY] = wanted if safe else ""
    oauth = client()
    try:
        metadata = oauth.load_server_metadata()
        if str(metadata.get("issuer", "")).rstrip("/") != settings.OIDC_ISSUER:
            return _failure(
                request,
                f"{provider_name()} is misconfigured",
                f"The discovery document names another issuer than OIDC_ISSUER={settings.OIDC_ISSUER}; "
                "ask your administrator to set OIDC_ISSUER to the provider's issuer exactly.",
                status=502,
            )
        return oauth.authorize_redirect(request, _redirect_uri(request))
    except (requests.RequestException, ValueError, KeyError) as exc:
        return _unreachable(request, exc)


@require_GET
def oidc_callback(request):
    """The provider's answer: exchange the code (with the PKCE verifier), verify the ID token, log in."""
    if not enabled():
        return _failure(request, "Single sign-on is off", "OIDC_ISSUER and OIDC_CLIENT_ID are not set.", 404)
    try:
        token = client().authorize_access_token(request)
    except MismatchingStateError:
        return _failure(
            request,
            "This sign-in cannot be finished",
            "The answer from the provider does not belong to a sign-in started in this browser (the state "
            "does not match): it was started in another tab or browser, or it expired. Start again below.",
        )
    except OAuthError as exc:
        return _oauth_failure(request, exc)
    except requests.RequestException as exc:
        return _unreachable(request, exc)
    except (JoseError, ValueError) as exc:
        log.warning("OIDC ID token rejected: %s", type(exc).__name__)
        return _failure(
            request,
            "The provider's answer could not be verified",
            "The ID token's signature, issuer, audience, expiry or nonce is wrong. Start again; if it "
            "persists, ask your administrator to check OIDC_ISSUER and OIDC_CLIENT_ID.",
        )
    claims = token.get("userinfo") if isinstance(token, dict) else None
    if not claims or not claims.get("sub"):
        return _failure(
            request, "No ID token", "The provider answered without an ID token; check OIDC_SCOPES."
        )
    return _log_in(request, dict(claims), token)


def error_code(exc: OAuthError) -> str:
    """The provider's error code when it is a plain code (access_denied), else "error": never its free
    text, which is the provider's (or an attacker's) words."""
    return exc.error if isinstance(exc.error, str) and _ERROR_CODE.match(exc.error) else "error"


def _oauth_failure(request, exc: OAuthError):
    code = error_code(exc)
    log.warning("OIDC sign-in failed: %s", code)
    if code in ("invalid_client", "unauthorized_client"):
        return _failure(
            request,
            f"{provider_name()} refused this console",
            "The provider did not accept this console's client credentials. Ask your administrator to check "
            "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (or OIDC_CLIENT_SECRET_FILE) against the client "
            "registered at the provider.",
            status=502,
        )
    if code in ("access_denied", "login_required", "consent_required", "interaction_required"):
        return _failure(
            request,
            "Sign-in was not completed",
            f"{provider_name()} did not sign you in ({code}). Try again, or ask your identity-provider "
            "administrator whether you may use this application.",
        )
    return _failure(
        request,
        "Sign-in failed",
        f"{provider_name()} answered {code}. Start again; if it persists, tell your administrator this code.",
    )


def groups_from(claims: dict) -> list[str] | None:
    """The groups claim as a list of names, or None when the token has none (or an unusable one)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return None
    return sorted({g for g in value if isinstance(g, str) and 0 < len(g) <= 256})[:MAX_GROUPS]


def _username(claims: dict) -> str:
    """A free username from preferred_username or email (never an existing account's), else the subject."""
    users = get_user_model().objects
    base = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])
    base = re.sub(r"[^\w.@+-]", "-", base)[:140] or "user"
    name, n = base, 1
    while users.filter(username=name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _user_for(claims: dict, groups: list[str] | None, refresh_token: str):
    identity = (
        OidcIdentity.objects.select_related("user")
        .filter(issuer=settings.OIDC_ISSUER, subject=str(claims["sub"])[:255])
        .first()
    )
    if identity is None:
        user = get_user_model().objects.create_user(_username(claims))
        user.set_unusable_password()
        identity = OidcIdentity(user=user, issuer=settings.OIDC_ISSUER, subject=str(claims["sub"])[:255])
    user = identity.user
    user.email = str(claims.get("email") or "")[:254]
    user.first_name = str(claims.get("given_name") or "")[:150]
    user.last_name = str(claims.get("family_name") or "")[:150]
    user.save()
    identity.groups = groups or []
    identity.groups_claim_present = groups is not None
    identity.last_login = identity.refreshed_at = timezone.now()
    identity.refresh_token = refresh_token
    identity.save()
    return user


def signed_in(request, id_token: str | None) -> None:
    """Mark the session as a single sign-on one (tenancy.oidc_session refreshes it) and keep the ID token,
    encrypted, for the provider's logout (id_token_hint)."""
    request.session[SESSION_CHECKED] = time.time()
    request.session[SESSION_ID_TOKEN] = encrypt(id_token) if id_token else ""


def _log_in(request, claims: dict, token: dict):
    groups = groups_from(claims)
    user = _user_for(claims, groups, str(token.get("refresh_token") or ""))
    if not user.is_active:
        return _failure(
            request, "Account disabled", "Your account here is disabled; ask a platform administrator."
        )
    wanted = request.session.get(NEXT_KEY) or reverse(settings.LOGIN_REDIRECT_URL)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    user._oidc_groups = groups or []
    signed_in(request, token.get("id_token"))
    # Who signed in, as the provider knows them, and the groups their roles here come from.
    audit.record(
        request,
        AuditEntry.ACTION,
        user,
        verb=f"signed in with {provider_name()}"[:80],
        changes={"issuer": settings.OIDC_ISSUER, "subject": str(claims["sub"])[:255], "groups": groups or []},
    )
    if groups is None:
        messages.warning(
            request,
            f"You are signed in, but {provider_name()} sent no groups "
            f"({settings.OIDC_GROUPS_CLAIM} claim), so "
            "you have no role here. Ask your identity-provider administrator to add the groups claim to this "
            "application's ID token, or a platform administrator to give you a role.",
        )
    elif not user.is_superuser and not access.visible_tenants(user).exists():
        messages.warning(
            request,
            "You are signed in, but none of your groups has a role in a tenant or project here. Ask a tenant "
            "admin to map one of your groups to a role (on the tenant's or project's page).",
        )
    return redirect(wanted)
