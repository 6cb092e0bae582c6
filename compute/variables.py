"""Profile variables of a Compute Pool: checking values against the bundle's profiles, masking, storing,
sending.

A pool gives values per profile name: ``{<profile name>: {<variable>: <value>}}`` (the manifest's
``spec.profileVariables``, the wizard's Profile variables step). Each value is checked against the variable
Palette defines for that profile version (v1Variable, synced into ClusterProfile.variables): its ``format``
and ``regex``, whether the profile has it at all and whether it is ``hidden``. A required variable without a
default and without a value blocks readiness (compute.readiness), naming it.

Masked values — the variable ``isSensitive``, or its definition is not known (never synced): kept masked
rather than guessed — are stored encrypted in ComputePool.secret_variables, never in ComputePool.variables,
and never written where people or logs read: the create body the report shows and the pool stores carries
REDACTED in their place, `with_secrets` puts the values in right before the body goes to Palette, `scrub`
takes them out of what Palette answers, and export writes REDACTED unless asked for secrets.
"""

from __future__ import annotations

import base64
import binascii
import copy
import ipaddress
import json
import math
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from core.manifests import REDACTED
from palette.models import ProfileVariable

from .bundles import ProfileInfo

#: A version as Palette's variable format accepts it: 1, 1.2, 1.2.3, an optional v, a pre-release or build
#: suffix.
VERSION = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.-]+)?$")
FORMAT_HINTS = {
    "string": "text",
    "number": "a number (e.g. 3 or 2.5)",
    "boolean": "true or false",
    "ipv4": "an IPv4 address (e.g. 10.20.0.5)",
    "ipv4cidr": "an IPv4 network in CIDR notation (e.g. 10.20.0.0/16)",
    "ipv6": "an IPv6 address (e.g. fd00::5)",
    "version": "a version (e.g. 1.2.3 or v1.30.4)",
    "base64": "base64-encoded text",
}
MAX_VALUE_LENGTH = 10_000
MAX_NAME_LENGTH = 200

Values = dict[str, dict[str, str]]


def _fits(value: str, fmt: str) -> bool:
    try:
        if fmt == "number":
            return math.isfinite(float(value))
        if fmt == "boolean":
            return value in ("true", "false")
        if fmt == "ipv4":
            ipaddress.IPv4Address(value)
        elif fmt == "ipv6":
            ipaddress.IPv6Address(value)
        elif fmt == "ipv4cidr":
            if "/" not in value:
                return False
            ipaddress.IPv4Network(value, strict=False)
        elif fmt == "version":
            return bool(VERSION.match(value))
        elif fmt == "base64":
            base64.b64decode(value, validate=True)
    except (ValueError, binascii.Error):
        return False
    return True


def value_problem(var: ProfileVariable, value: str, *, show_value: bool = True) -> str:
    """Why `value` does not fit `var` ("" when it does): its format, then the profile's pattern. A masked
    value is never repeated in the message."""
    shown = f"{value[:60]!r}" if show_value else "the value"
    fmt = var.format or "string"
    if fmt in FORMAT_HINTS and not _fits(value, fmt):
        return f"{shown} is not {FORMAT_HINTS[fmt]}: the variable's format is {fmt}."
    if var.regex:
        try:
            matched = re.fullmatch(var.regex, value)
        except re.error:
            return ""  # a pattern Python does not read: Palette checks it at validation
        if not matched:
            return f"{shown} does not match the pattern {var.regex} the profile sets."
    return ""


def _by_name(profiles: Iterable[ProfileInfo]) -> dict[str, ProfileInfo]:
    out: dict[str, ProfileInfo] = {}
    for profile in profiles:
        out.setdefault(profile.name, profile)
    return out


def check_values(
    values: Values, profiles: Iterable[ProfileInfo]
) -> tuple[frozenset, list[tuple[str, str, str]]]:
    """(the masked (profile, variable) pairs, problems as (profile, variable, message)) for `values` given per
    profile name.

    A value is masked when its variable is sensitive, or when what it is cannot be known (the profile's
    variables were never read, the bundle has no such profile or variable): it is then never shown.
    """
    by_name = _by_name(profiles)
    masked: set[tuple[str, str]] = set()
    problems: list[tuple[str, str, str]] = []
    for pname, given in values.items():
        profile = by_name.get(pname)
        if profile is None or profile.variables is None:
            masked.update((pname, v) for v in given)
            if profile is None:
                problems.append(
                    (
                        pname,
                        "",
                        f"the bundle has no profile {pname}; its profiles are "
                        f"{', '.join(by_name) or 'none'}.",
                    )
                )
            continue
        defined = {v.name: v for v in profile.variables}
        for vname, value in given.items():
            var = defined.get(vname)
            if var is None:
                masked.add((pname, vname))
                names = ", ".join(v.name for v in profile.variables if not v.hidden) or "none"
                problems.append(
                    (
                        pname,
                        vname,
                        f"profile {profile.label} has no variable {vname}; its variables are {names}.",
                    )
                )
                continue
            if var.is_sensitive:
                masked.add((pname, vname))
            if var.hidden:
                problems.append(
                    (
                        pname,
                        vname,
                        f"variable {vname} of profile {profile.label} is hidden: Palette does not let a "
                        "cluster set it.",
                    )
                )
                continue
            problem = value_problem(var, value, show_value=not var.is_sensitive)
            if problem:
                problems.append(
                    (pname, vname, f"variable {vname} ({var.label}) of profile {profile.label}: {problem}")
                )
    return frozenset(masked), problems


def missing_values(
    values: Values, profiles: Iterable[ProfileInfo]
) -> list[tuple[ProfileInfo, ProfileVariable]]:
    """The required variables without a default that `values` gives no value for, in bundle order."""
    out = []
    for profile in profiles:
        given = values.get(profile.name) or {}
        for var in profile.variables or ():
            if var.needs_value and given.get(var.name, "") == "":
                out.append((profile, var))
    return out


def with_masked(spec, profiles: Iterable[ProfileInfo]):
    """`spec` with its masked pairs completed from `profiles`, and the problems of its values (see
    check_values)."""
    masked, problems = check_values(spec.variables, profiles)
    return replace(spec, masked=frozenset(spec.masked) | masked), problems


def split(spec) -> tuple[Values, Values]:
    """(plain values, masked values) of a spec, each {profile name: {variable: value}}."""
    plain: Values = {}
    secret: Values = {}
    for pname, given in spec.variables.items():
        for vname, value in given.items():
            target = secret if (pname, vname) in spec.masked else plain
            target.setdefault(pname, {})[vname] = value
    return plain, secret


def stored_secrets(pool) -> Values:
    """A pool's masked values (decrypted)."""
    if not pool.secret_variables:
        return {}
    data = json.loads(pool.secret_variables)
    return data if isinstance(data, dict) else {}


def encode_secrets(secret: Values) -> str:
    """The text ComputePool.secret_variables stores (encrypted by the field)."""
    return json.dumps(secret, sort_keys=True, separators=(",", ":")) if secret else ""


def seal(secret: Values) -> str:
    """Masked values encrypted for a place that is not encrypted itself (the wizard's draft in the
    session)."""
    from core.fields import encrypt

    return encrypt(json.dumps(secret, sort_keys=True)) if secret else ""


def unseal(token: str) -> Values:
    """What `seal` encrypted ({} for nothing, or for a token no key decrypts)."""
    from core.fields import decrypt

    if not token:
        return {}
    try:
        data = json.loads(decrypt(token))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _uid_names(pool) -> dict[str, str]:
    from .models import ClusterProfile

    names = {
        p.get("uid"): p.get("name") for p in (pool.bundle.profiles if pool.bundle_id and pool.bundle else ())
    }
    names.update(
        ClusterProfile.objects.filter(project_id=pool.project_id)
        .exclude(uid__in=list(names))
        .values_list("uid", "name")
    )
    return names


def with_secrets(body: dict, pool) -> dict:
    """The create (or validate) body to send for `pool`: its REDACTED variable values replaced by the stored
    ones.

    The body itself (the report's, the stored ``pool.request``) never holds them; this copy lives only for the
    call.
    """
    entries = [
        e
        for e in ((body.get("spec") or {}).get("profiles") or ())
        if any(v.get("value") == REDACTED for v in e.get("variables") or ())
    ]
    if not entries:
        return body
    secrets, plain, names = stored_secrets(pool), pool.variables or {}, _uid_names(pool)
    out = copy.deepcopy(body)
    for entry in (out.get("spec") or {}).get("profiles") or ():
        name = names.get(entry.get("uid"), "")
        for var in entry.get("variables") or ():
            if var.get("value") != REDACTED:
                continue
            value = (secrets.get(name) or {}).get(var.get("name"))
            if value is None:
                value = (plain.get(name) or {}).get(var.get("name"))
            if value is not None:
                var["value"] = value
    return out


def scrub(text: str, pool) -> str:
    """`text` (an error Palette answered, a step's message) without the pool's masked values."""
    if not text or not pool.secret_variables:
        return text
    try:
        values = {
            v for given in stored_secrets(pool).values() for v in given.values() if isinstance(v, str) and v
        }
    except ValueError:
        return text
    for value in sorted(values, key=len, reverse=True):
        if len(value) >= 6:
            text = text.replace(value, REDACTED)
        else:  # a short value only where it is quoted, as Palette quotes what it refuses
            for quoted in (f"'{value}'", f'"{value}"'):
                text = text.replace(quoted, f"'{REDACTED}'")
    return text


def rows(pool) -> list[dict[str, Any]]:
    """What the pool page shows: every variable value given, masked ones as masked (their value never
    read)."""
    out = [
        {"profile": p, "name": n, "value": v, "masked": False}
        for p, given in (pool.variables or {}).items()
        for n, v in given.items()
    ]
    if pool.secret_variables:
        out += [
            {"profile": p, "name": n, "value": "", "masked": True}
            for p, given in stored_secrets(pool).items()
            for n in given
        ]
    return sorted(out, key=lambda r: (r["profile"], r["name"]))
