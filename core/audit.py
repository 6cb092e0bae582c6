"""The audit log: one function writes every entry, so no caller can forget to drop secret values."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest

from .models import AuditEntry

# Who answers "how did this user hold the role used here?" (user, tenant, obj) → {"subject", "groups"} or
# None. core knows nothing of single sign-on: tenancy registers its answer in TenancyConfig.ready().
_actor_context: list[Callable] = []


def register_actor_context(fn: Callable) -> None:
    """Let `fn(user, tenant, obj)` describe how `user` held its role on `obj` in `tenant` (a dict stored in
    AuditEntry.actor_via, or None). Idempotent: registering the same function twice keeps one."""
    if fn not in _actor_context:
        _actor_context.append(fn)


def actor_via(user, tenant, obj) -> dict:
    """The first registered answer for this entry, or {} (no user, no tenant, or nothing registered)."""
    if user is None or tenant is None:
        return {}
    for fn in _actor_context:
        found = fn(user, tenant, obj)
        if found:
            return found
    return {}


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the entry of
    X-Forwarded-For that the outermost trusted proxy appended. Used by the audit log and by login
    throttling (AXES_CLIENT_IP_CALLABLE), so both see the same address — never the ingress's."""
    if request is None:
        return None
    count = settings.TRUSTED_PROXY_COUNT
    if count:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= count:
            try:
                return str(ipaddress.ip_address(hops[-count]))
            except ValueError:
                pass  # a forged or garbled header: fall back to the connection's address
    return request.META.get("REMOTE_ADDR") or None


def record(
    request: HttpRequest | None,
    action: str,
    obj,
    *,
    verb: str = "",
    changes: dict | None = None,
    secret_fields: tuple[str, ...] = (),
    tenant=None,
    outcome: str = AuditEntry.SUCCESS,
    source: str = "web",
    user=None,
) -> AuditEntry:
    """Write one audit entry for `obj`.

    `changes` maps field name → new value; values of `secret_fields` are replaced by "(changed)"
    so the log says a key was rotated without ever holding it.
    """
    user = user or (request.user if request is not None and request.user.is_authenticated else None)
    safe = {k: ("(changed)" if k in secret_fields else v) for k, v in (changes or {}).items()}
    tenant = tenant if tenant is not None else getattr(obj, "audit_tenant", None)
    return AuditEntry.objects.create(
        user=user,
        username=user.get_username() if user else "",
        action=action,
        verb=verb,
        object_type=obj._meta.verbose_name if hasattr(obj, "_meta") else type(obj).__name__,
        object_id=str(getattr(obj, "pk", "") or ""),
        object_repr=str(obj)[:200],
        tenant=tenant,
        tenant_name=getattr(tenant, "name", ""),
        outcome=outcome,
        source_ip=client_ip(request),
        source=source,
        changes=safe,
        actor_via=actor_via(user, tenant, obj),
    )


def change(old, new) -> dict:
    """One field's change for `record`'s `changes`: shown as "field: old → new" (change_lines)."""
    return {"old": old, "new": new}


def _is_change(value) -> bool:
    return isinstance(value, dict) and set(value) == {"old", "new"}


def _text(value) -> str:
    """A changed value as a person reads it: lists and mappings spelled out, nothing as "(empty)"."""
    if value is None or value == "" or value == [] or value == {}:
        return "(empty)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def change_lines(changes: dict | None) -> list[str]:
    """An entry's changes as lines, for the audit page and its CSV: "field: old → new", or "field: value"
    where only the new value was recorded. Secret values were already replaced by "(changed)" in `record`."""
    lines = []
    for field, value in sorted((changes or {}).items()):  # by name: the database keeps no key order
        if _is_change(value):
            lines.append(f"{field}: {_text(value['old'])} → {_text(value['new'])}")
        else:
            lines.append(f"{field}: {_text(value)}")
    return lines


def form_changes(form) -> dict:
    """The fields a ModelForm changed, as strings: the new value of an object not saved yet, else the initial
    and the cleaned value (change)."""

    def shown(value) -> str:
        return "" if value is None else str(value)

    if form.instance._state.adding:
        return {name: shown(form.cleaned_data.get(name)) for name in form.changed_data}
    return {
        name: change(shown(form.initial.get(name)), shown(form.cleaned_data.get(name)))
        for name in form.changed_data
    }


def save_form(request: HttpRequest | None, action: str, form):
    """Save a valid ModelForm and record `action` on the saved object with the fields the form changed.

    Call it inside a transaction, so that the object and its audit entry are written together.
    """
    changes = form_changes(form)  # before saving: a new object's changes have no old value
    obj = form.save()
    record(request, action, obj, changes=changes)
    return obj
