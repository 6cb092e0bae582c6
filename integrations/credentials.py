"""The Palette integration's fields: parsing, validation with messages that say what to fix.

The same rules serve the web form, manifests and the connection diagnosis, so a value that one
accepts the others accept too.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from palette import addresses

PALETTE_KEY = "palette"
CA_KEY = "ca.crt"
HUGGINGFACE_KEY = "huggingface"
NGC_KEY = "nvidia"
PROJECT_UID = re.compile(r"^[0-9a-f]{24}$")
FIELDS = ("apiKey", "defaultProjectID", "hostUrl", "tenant", "skipSSLCertificateVerification", "tlsSecretRef")
REQUIRED = ("apiKey", "defaultProjectID", "hostUrl", "tenant")
# Where the API key goes and whom it trusts: inherited or overridden as one unit (see merge).
CONNECTION = ("hostUrl", "apiKey", "skipSSLCertificateVerification", "tlsSecretRef")
HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$"
)


class CredentialError(ValueError):
    """A field of the Palette integration is wrong; `field` names it, the message says what to fix."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def normalize_host_url(value: str, allow_http: bool | None = None, *, resolve: bool = False) -> str:
    """Return the canonical base URL for `value` (a bare host or an https URL), or raise CredentialError.

    The host must be allowed by the address policy (palette.addresses, PALETTE_ALLOWED_NETWORKS): a
    literal address and the name's own rules always, what the name resolves to when `resolve` is set
    (saving); a name that does not resolve now is not refused for it (the diagnosis reports DNS).
    """
    allow_http = django_settings.ALLOW_HTTP_PALETTE if allow_http is None else allow_http
    raw = (value or "").strip()
    if not raw:
        raise CredentialError(
            "hostUrl", "Enter Palette's API host, e.g. https://api.spectrocloud.com or palette.example.com."
        )
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
    except ValueError:  # unbalanced or invalid [IPv6] brackets
        raise CredentialError(
            "hostUrl",
            "That is not a valid URL: check the host (an IPv6 address goes in [brackets]), "
            "e.g. https://palette.example.com.",
        ) from None
    if parts.scheme not in ("https", "http"):
        raise CredentialError("hostUrl", f"Use an https:// URL; {parts.scheme}:// is not supported.")
    if parts.scheme == "http" and not allow_http:
        raise CredentialError(
            "hostUrl", "Use https://. Plain http:// is refused unless ALLOW_HTTP_PALETTE=true (labs only)."
        )
    if parts.username or parts.password:
        raise CredentialError(
            "hostUrl",
            "Remove the user name or password from the URL; Palette authenticates with the API key.",
        )
    if parts.fragment or "#" in raw:
        raise CredentialError("hostUrl", "Remove the '#…' fragment from the URL.")
    if parts.query:
        raise CredentialError("hostUrl", "Remove the '?…' query from the URL.")
    host = parts.hostname or ""
    try:
        port = parts.port
    except ValueError:
        raise CredentialError("hostUrl", "The port in the URL is not a number between 1 and 65535.") from None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME.match(host):
            raise CredentialError("hostUrl", f"{host or 'The host'} is not a valid host name.") from None
    allowed = django_settings.PALETTE_ALLOWED_NETWORKS
    try:
        if resolve:
            addresses.resolve_checked(host, port or (443 if parts.scheme == "https" else 80), allowed)
        else:
            addresses.check_host(host, allowed)
    except addresses.AddressRefused as exc:
        raise CredentialError("hostUrl", str(exc)) from None
    except OSError:
        pass  # no answer from DNS now; the connection checks again before it connects
    literal = addresses.literal_address(host)
    if literal is not None and literal.version == 4 and host != str(literal):
        # "2852039166" or "0x7f.1": resolvers accept them, people reading the Settings would not.
        raise CredentialError("hostUrl", f"Write the IPv4 address {host} as {literal}.")
    path = parts.path.rstrip("/")
    if path in ("/v1",):
        path = ""  # people paste the API root; the client adds /v1 itself
    netloc = parts.netloc.lower()
    return f"{parts.scheme}://{netloc}{path}"


def parse_palette_json(
    text: str, *, partial: bool = False, allow_project_name: bool = False, resolve: bool = False
) -> dict:
    """Parse the `palette` key of a Secret into a dict of known fields, or raise CredentialError.

    `partial` allows missing fields (a project-level Secret that overrides some of its tenant's).
    `allow_project_name` lets a project name stand in defaultProjectID, for the diagnosis to
    look up its UID (the web form saves it with a warning; manifests refuse it).
    `resolve` checks what hostUrl resolves to: for values being saved, not for stored ones read back.
    """
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CredentialError(
            PALETTE_KEY,
            f"The 'palette' key must hold a JSON object: {exc.msg if hasattr(exc, 'msg') else exc}.",
        ) from None
    if not isinstance(data, dict):
        raise CredentialError(
            PALETTE_KEY,
            "The 'palette' key must hold a JSON object with apiKey, hostUrl, tenant and defaultProjectID.",
        )
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise CredentialError(
            PALETTE_KEY,
            f"Unknown field(s) {', '.join(unknown)} in the 'palette' JSON; "
            f"known fields: {', '.join(FIELDS)}.",
        )
    if not partial:
        missing = [f for f in REQUIRED if not data.get(f)]
        if missing:
            raise CredentialError(missing[0], f"The 'palette' JSON is missing {', '.join(missing)}.")
    return validate_fields(data, allow_project_name=allow_project_name, resolve=resolve)


def looks_like_project_uid(value: str) -> bool:
    return bool(PROJECT_UID.match(value or ""))


def validate_fields(data: dict, *, allow_project_name: bool = False, resolve: bool = True) -> dict:
    """Check each present field; return them normalised. `resolve`: check what hostUrl resolves to
    (saving)."""
    out: dict = {}
    for key, value in data.items():
        if key == "skipSSLCertificateVerification":
            if not isinstance(value, bool):
                raise CredentialError(
                    key, "skipSSLCertificateVerification must be true or false (a JSON boolean)."
                )
            if value and not django_settings.ALLOW_INSECURE_PALETTE_TLS:
                raise CredentialError(
                    key,
                    "Skipping TLS verification is refused here (ALLOW_INSECURE_PALETTE_TLS=false); "
                    "add the CA certificate instead.",
                )
            out[key] = value
            continue
        if not isinstance(value, str):
            raise CredentialError(key, f"{key} must be a string.")
        value = value.strip()
        if key == "hostUrl" and value:
            value = normalize_host_url(value, resolve=resolve)
        elif key == "defaultProjectID" and value:
            if not (allow_project_name and len(value) <= 128):
                check_project_uid(value)
        elif key == "apiKey" and value and (len(value) < 8 or any(c.isspace() for c in value)):
            raise CredentialError(
                key,
                "That does not look like a Palette API key (too short or contains spaces); "
                "copy it again from Profile > My API Keys.",
            )
        elif key == "tenant" and value and len(value) > 128:
            raise CredentialError(key, "The Palette tenant name is at most 128 characters.")
        elif key == "tlsSecretRef" and value and not re.match(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", value):
            raise CredentialError(
                key, "tlsSecretRef must name a Secret (lowercase letters, digits, '-' and '.')."
            )
        out[key] = value
    return out


def check_project_uid(value: str) -> None:
    """Palette's project UID is 24 hex characters; a project *name* is the most common mistake."""
    if PROJECT_UID.match(value):
        return
    if re.match(r"^[0-9a-fA-F]{24}$", value):
        raise CredentialError("defaultProjectID", "Use lowercase hex for the project UID.")
    raise CredentialError(
        "defaultProjectID",
        f"{value!r} looks like a project name, not its UID. defaultProjectID is Palette's project UID: "
        "24 hex characters (Palette > Project Settings, or the project list in the diagnosis once the API "
        "key works).",
    )


def own_connection(values: dict) -> bool:
    """Do these (project-level) values set a Palette connection of their own?

    Setting the host, the API key, a CA or skipping verification does; verifying alone does not:
    it only tightens the tenant's connection, it never points a key elsewhere.
    """
    return any(values.get(name) for name in CONNECTION)


def project_choice_problem(
    uid: str, *, current: str, tenant_default: str, allowed: list[str], tenant_admin: bool, own_key: bool
) -> str:
    """Why a project may not switch its defaultProjectID to Palette project `uid`, or "" when it may.

    Keeping the current value or the tenant's own default is always fine. Otherwise the UID must be
    in the tenant's allowed list when it has one; without a list, only a tenant admin may choose
    another Palette project for the tenant's key (a project with a key of its own chooses freely).
    """
    if not uid or uid in (current, tenant_default):
        return ""
    if allowed:
        if uid in allowed:
            return ""
        return (
            f"The tenant allows its projects these Palette projects: {', '.join(allowed)}. "
            f"Choose one, or ask a tenant admin to add {uid}."
        )
    if tenant_admin or own_key:
        return ""
    return (
        "Only a tenant admin can point a project at another Palette project with the tenant's API key: "
        "ask one to add it to the tenant's allowed Palette projects, or give this project a Palette "
        "connection of its own."
    )


def merge(tenant_values: dict, project_values: dict) -> dict[str, tuple[object, str]]:
    """Merge a tenant's and a project's values: field → (value, "project" | "tenant" | "default").

    The connection (CONNECTION: host, key, TLS mode, CA) comes as one unit: all from the project
    when it sets one of them, else all from the tenant, so that the tenant's key is never sent to a
    host or a trust the project chose. The other fields merge one by one, the project's value wins.
    A project may still turn the tenant's skipped verification back on.
    """
    own = own_connection(project_values)
    merged: dict[str, tuple[object, str]] = {}
    for name in FIELDS:
        if name in CONNECTION:
            layers = [(project_values, "project")] if own else [(tenant_values, "tenant")]
        else:
            layers = [(project_values, "project"), (tenant_values, "tenant")]
        default = (False if name == "skipSSLCertificateVerification" else "", "default")
        merged[name] = next(
            ((values[name], source) for values, source in layers if values.get(name) not in ("", None)),
            default,
        )
    if not own and project_values.get("skipSSLCertificateVerification") is False:
        merged["skipSSLCertificateVerification"] = (
            False,
            "project",
        )  # verifying only tightens the tenant's connection
    return merged
