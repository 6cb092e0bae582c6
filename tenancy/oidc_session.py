"""A single sign-on session after the login (README "Single sign-on"): its groups are read again from the
provider at most every OIDC_REFRESH_INTERVAL seconds, and signing out also ends the provider's session.

Refresh: with the refresh token of the user's last login (`OidcIdentity.refresh_token`, encrypted), the new
ID token's groups claim (or the userinfo endpoint's, when the provider sends no new ID token) replaces the
user's groups, so a group removed at the provider takes its roles away within the interval. The token and
the time of the last read are kept per user, under a row lock: two tabs or browsers of one user refresh
once, and a rotated refresh token is never sent twice.

- The provider refuses the refresh token (revoked, expired, the user removed): the session ends.
- The provider issued no refresh token: the session ends and a page request is sent through the
  provider again, which signs the user straight back in while the provider's own session lasts.
- The provider cannot be reached: the session goes on with the groups it has, asks again a minute later,
  and ends once the last read is more than twice the interval old.

Sign out: the console's session ends first; then, when the provider's discovery document names an
`end_session_endpoint`, the browser goes there (RP-initiated logout, with id_token_hint and
post_logout_redirect_uri = this console's login page, which must be registered at the provider).
"""

from __future__ import annotations

import logging
import time

import requests
from authlib.integrations.base_client.errors import OAuthError
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.db import transaction
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect
from joserfc.errors import JoseError

from core.fields import decrypt

from . import oidc
from .models import OidcIdentity

log = logging.getLogger(__name__)
RETRY_KEY = "oidc_retry_at"
RETRY_AFTER = 60  # seconds between two tries while the provider cannot be reached

# Why a session ended, for the login page (None: it goes on).
RENEW = "renew"


def refresh_groups(request) -> str | None:
    """Read the user's groups from the provider again when due. None when the session goes on, else the
    sentence that says why it ended (RENEW: send the browser through the provider again)."""
    checked = request.session.get(oidc.SESSION_CHECKED)
    now = time.time()
    interval = settings.OIDC_REFRESH_INTERVAL
    if checked is None or now - checked < interval or now < request.session.get(RETRY_KEY, 0):
        return None
    with transaction.atomic():
        identity = OidcIdentity.objects.select_for_update().filter(user_id=request.user.pk).first()
        if identity is None:
            return f"Your account is no longer linked to {oidc.provider_name()}."
        last = identity.refreshed_at.timestamp() if identity.refreshed_at else 0.0
        if now - last < interval:  # another tab or browser of this user has just read them
            _adopt(request, identity, last)
            return None
        if not identity.refresh_token:
            return RENEW
        try:
            claims, token = _read_claims(identity.refresh_token)
        except requests.RequestException as exc:
            return _unreachable(request, exc, now, last, interval)
        except OAuthError as exc:
            log.info("OIDC refresh refused for user %s: %s", request.user.pk, oidc.error_code(exc))
            identity.refresh_token = ""
            identity.save(update_fields=["refresh_token"])
            return f"{oidc.provider_name()} has ended your sign-in ({oidc.error_code(exc)}). Sign in again."
        except (JoseError, ValueError, KeyError) as exc:
            log.warning("OIDC refreshed ID token rejected: %s", type(exc).__name__)
            return f"{oidc.provider_name()}'s answer could not be verified. Sign in again."
        if str(claims.get("sub", "")) != identity.subject:
            return f"{oidc.provider_name()} answered for another account. Sign in again."
        _store(identity, claims, token)
        _adopt(request, identity, identity.refreshed_at.timestamp())
    return None


def _read_claims(refresh_token: str) -> tuple[dict, dict]:
    """(claims, token) from a refresh-token grant: the new ID token's claims, verified, or userinfo's."""
    client = oidc.client()
    token = client.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
    claims = client.parse_id_token(token, nonce=None) if token.get("id_token") else None
    if claims is None:
        claims = client.userinfo(token=token)
    return dict(claims), token


def _store(identity: OidcIdentity, claims: dict, token: dict) -> None:
    groups = oidc.groups_from(claims)
    if sorted(identity.groups) != (groups or []):
        log.info("OIDC groups of user %s changed at refresh", identity.user_id)
    identity.groups = groups or []
    identity.groups_claim_present = groups is not None
    identity.refreshed_at = timezone.now()
    # Providers that rotate refresh tokens send a new one; the others let the old one be used again.
    identity.refresh_token = str(token.get("refresh_token") or identity.refresh_token)
    identity.save(update_fields=["groups", "groups_claim_present", "refreshed_at", "refresh_token"])


def _adopt(request, identity: OidcIdentity, when: float) -> None:
    request.session[oidc.SESSION_CHECKED] = when
    request.session.pop(RETRY_KEY, None)
    request.user._oidc_groups = [g for g in identity.groups if isinstance(g, str)]


def _unreachable(request, exc: Exception, now: float, last: float, interval: int) -> str | None:
    log.warning("OIDC provider unreachable at refresh: %s", type(exc).__name__)
    if now - last > 2 * interval:
        return (
            f"{oidc.provider_name()} could not be reached to confirm your groups for "
            f"{int(now - last) // 60} minutes. Sign in again once it answers."
        )
    request.session[RETRY_KEY] = now + RETRY_AFTER
    return None


class OidcSessionMiddleware:
    """Refresh a single sign-on session's groups when due (after AuthenticationMiddleware); end it when the
    provider no longer vouches for the user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if oidc.enabled() and request.user.is_authenticated and oidc.SESSION_CHECKED in request.session:
            ended = refresh_groups(request)
            if ended is not None:
                return self._ended(request, ended)
        return self.get_response(request)

    def _ended(self, request, reason: str):
        path = request.get_full_path()
        logout(request)
        if reason == RENEW and request.method == "GET" and not request.htmx:
            return redirect(f"{reverse('tenancy:oidc_login')}?{urlencode({'next': path})}")
        if reason == RENEW:
            reason = f"Your sign-in with {oidc.provider_name()} needs to be renewed. Sign in again."
        messages.warning(request, reason)
        if request.htmx:  # come back to the page, not to the fragment it asked for
            path = request.htmx.current_url_abs_path or reverse(settings.LOGIN_REDIRECT_URL)
        login_url = f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': path})}"
        return HttpResponseClientRedirect(login_url) if request.htmx else redirect(login_url)


@require_POST
def sign_out(request):
    """End this console's session, then the provider's when it offers RP-initiated logout."""
    id_token = request.session.get(oidc.SESSION_ID_TOKEN) if oidc.SESSION_CHECKED in request.session else None
    logout(request)
    login_url = reverse(settings.LOGOUT_REDIRECT_URL)
    if not id_token or not oidc.enabled():
        return redirect(login_url)
    try:
        hint = decrypt(id_token)
        end = oidc.client().create_logout_url(
            post_logout_redirect_uri=request.build_absolute_uri(login_url),
            id_token_hint=hint,
            client_id=settings.OIDC_CLIENT_ID,
        )
    except RuntimeError:  # the provider names no end_session_endpoint
        messages.info(
            request,
            f"You are signed out here. {oidc.provider_name()} offers no sign-out for applications, so you "
            "may still be signed in there.",
        )
        return redirect(login_url)
    except (requests.RequestException, ValueError) as exc:
        log.warning("OIDC provider unreachable at sign-out: %s", type(exc).__name__)
        messages.warning(
            request,
            f"You are signed out here, but {oidc.provider_name()} could not be reached to end your session "
            "there.",
        )
        return redirect(login_url)
    return redirect(end["url"])
