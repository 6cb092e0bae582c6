"""Staged connection diagnosis of a tenant's or project's effective Palette integration.

Stages, in order, each with pass/fail and a reason a person can act on: URL parses → DNS
resolves (only to addresses the policy admits, palette.addresses; later stages connect to those
addresses, not to the name again) → TCP connects → TLS handshake verifies (system trust, custom CA
or skipped; shows the server certificate) → API key accepted → the key's tenant matches →
defaultProjectID exists and is readable → edge host search answers in that project. Until the key
is accepted, later stages are skipped once one fails; after it, tenant, project and edge-host
stages all run, so one check shows every problem. The project stage works for a key whose user
has only project roles: it reads in the project's scope (``ProjectUid``), never through the
tenant-role-only ``GET /v1/projects/{uid}``. Stages 1–6 failing means Failed; 7–8 failing means
Degraded (Palette answers but the project is wrong); all passing means Connected. Then two stages that
only ever warn (``warning: true`` on the stage), never fail the connection: a self-hosted Palette's license
activation and the tenant's pack registries (docs/palette-behaviour.md §16).
"""

from __future__ import annotations

import math
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from django.conf import settings as django_settings
from django.utils import timezone

from core.tasks import start_once
from palette import addresses
from palette import errors as perrors
from palette.client import PaletteClient
from palette.models import parse_time
from tenancy.models import owner_filter

from . import credentials
from .effective import EffectivePalette, palette_client
from .models import PaletteCheck

STAGES = [
    ("url", "URL parses"),
    ("dns", "DNS resolves"),
    ("tcp", "TCP connects"),
    ("tls", "TLS handshake verifies"),
    ("apikey", "API key accepted"),
    ("tenant", "Tenant matches"),
    ("project", "Project exists and is readable"),
    ("edgehosts", "Edge host search answers"),
    ("activation", "License activation"),
    ("registries", "Pack registries"),
]
DEGRADED_FROM = "project"
#: Stages after this one run even when an earlier one failed: the key works, so Palette can answer them.
INDEPENDENT_AFTER = "apikey"
#: A self-hosted trial ending within this many days is a warning in the readiness report (compute.readiness).
TRIAL_WARNING_DAYS = 7


class StageFailed(Exception):
    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


@dataclass
class Target:
    scheme: str
    host: str
    port: int
    #: What stage_dns resolved and the address policy admitted; the later stages connect only to these.
    addresses: tuple[str, ...] = ()


def _connect(target: Target, timeout: float) -> socket.socket:
    """A TCP connection to one of the checked addresses: never a second lookup, which could answer
    differently."""
    error: OSError = OSError(f"{target.host} has no checked address")
    for address in target.addresses:
        try:
            return socket.create_connection((address, target.port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error


def _cert_summary(der: bytes) -> dict:
    cert = x509.load_der_x509_certificate(der)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%d"),
    }


def _peer_certificate(target: Target, timeout: float) -> dict | None:
    """The server certificate, fetched without verification, to explain a verification failure."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with _connect(target, timeout) as sock:
            with context.wrap_socket(sock, server_hostname=target.host) as tls:
                der = tls.getpeercert(binary_form=True)
        return _cert_summary(der) if der else None
    except (OSError, ValueError):
        return None


def stage_url(palette: EffectivePalette) -> tuple[str, Target]:
    try:
        url = credentials.normalize_host_url(str(palette.value("hostUrl")))
    except credentials.CredentialError as exc:
        raise StageFailed(str(exc)) from None
    parts = urlsplit(url)
    return url, Target(
        parts.scheme, parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    )


def stage_dns(target: Target) -> str:
    try:
        found = addresses.resolve_checked(target.host, target.port, django_settings.PALETTE_ALLOWED_NETWORKS)
    except addresses.AddressRefused as exc:
        # Before any connection: the check must not probe internal ports for whoever typed the URL.
        raise StageFailed(str(exc)) from None
    except socket.gaierror as exc:
        raise StageFailed(
            f"{target.host} does not resolve ({exc.strerror}). Check the host name, or this server's DNS."
        ) from None
    target.addresses = tuple(found)
    return f"{target.host} → {', '.join(sorted(found)[:4])}"


def stage_tcp(target: Target, timeout: float) -> str:
    try:
        with _connect(target, timeout):
            pass
    except TimeoutError:
        raise StageFailed(
            f"No answer from {target.host}:{target.port} within {timeout:.0f} s: "
            "a firewall or proxy may drop the traffic."
        ) from None
    except OSError as exc:
        raise StageFailed(
            f"Cannot connect to {target.host}:{target.port} ({exc.strerror or exc}). "
            "Check the port and that Palette is reachable from this server."
        ) from None
    return f"connected to {target.host}:{target.port}"


def stage_tls(target: Target, palette: EffectivePalette, timeout: float) -> tuple[str, dict]:
    if target.scheme == "http":
        return "not used: plain http (ALLOW_HTTP_PALETTE, labs only)", {}
    skip = bool(palette.value("skipSSLCertificateVerification"))
    if skip:
        trust = "verification skipped"
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif palette.ca_pem:
        trust = "custom CA"
        context = ssl.create_default_context(cadata=palette.ca_pem)
    else:
        trust = "system trust store"
        context = ssl.create_default_context()
    try:
        with _connect(target, timeout) as sock:
            with context.wrap_socket(sock, server_hostname=target.host) as tls:
                der = tls.getpeercert(binary_form=True)
    except ssl.SSLCertVerificationError as exc:
        peer = _peer_certificate(target, timeout) or {}
        seen = f" The server presented {peer['subject']}, issued by {peer['issuer']}." if peer else ""
        if trust == "custom CA":
            advice = "The configured CA did not issue it: upload the CA that signed Palette's certificate."
        else:
            advice = (
                "Add Palette's CA certificate (CA certificate field), or, in a lab only, skip verification."
            )
        raise StageFailed(
            f"TLS: {exc.verify_message or exc.reason} ({trust}).{seen} {advice}", certificate=peer
        ) from None
    except ssl.SSLError as exc:
        raise StageFailed(
            f"TLS handshake with {target.host} failed ({exc.reason or exc}). Is this an HTTPS port?"
        ) from None
    except OSError as exc:
        raise StageFailed(
            f"Connection to {target.host}:{target.port} dropped during the TLS handshake "
            f"({exc.strerror or exc})."
        ) from None
    info = _cert_summary(der) if der else {}
    return (
        f"verified with {trust}; certificate {info.get('subject', '?')} "
        f"issued by {info.get('issuer', '?')}, expires {info.get('not_after', '?')}",
        info,
    )


class _Walk:
    """One run of the stages: what they share (the target, the client, the key's identity) and the record.

    Each stage method records itself as passed or raises StageFailed (or a PaletteError); `run` decides
    which stages run and records failures and skips.
    """

    def __init__(self, check: PaletteCheck, palette: EffectivePalette, on_stage=None):
        self.check, self.palette, self.on_stage = check, palette, on_stage
        self.timeout = float(django_settings.PALETTE_CONNECT_TIMEOUT)
        self.stages: list[dict] = []
        self.target: Target | None = None
        self.client: PaletteClient | None = None
        self.whoami = None

    def record(self, key: str, passed: bool | None, detail: str, **extra) -> None:
        self.stages.append(
            {"key": key, "name": dict(STAGES)[key], "passed": passed, "detail": detail, **extra}
        )
        self.check.stages = self.stages
        PaletteCheck.objects.filter(pk=self.check.pk).update(stages=self.stages)
        if self.on_stage:
            self.on_stage(self.stages)

    def stage(self, key: str) -> None:
        """Run the stage `key` (one of STAGES)."""
        {
            "url": self.url,
            "dns": self.dns,
            "tcp": self.tcp,
            "tls": self.tls,
            "apikey": self.apikey,
            "tenant": self.tenant,
            "project": self.project,
            "edgehosts": self.edgehosts,
            "activation": self.activation,
            "registries": self.registries,
        }[key]()

    def url(self) -> None:
        url, self.target = stage_url(self.palette)
        self.record("url", True, url)

    def dns(self) -> None:
        self.record("dns", True, stage_dns(self.target))

    def tcp(self) -> None:
        self.record("tcp", True, stage_tcp(self.target, self.timeout))

    def tls(self) -> None:
        detail, cert = stage_tls(self.target, self.palette, self.timeout)
        self.record("tls", True, detail, certificate=cert)
        self.client = palette_client(self.palette, name=f"check {self.check.owner}")

    def apikey(self) -> None:
        self.whoami = self.client.whoami()
        expiry = stage_key_expiry(self.client, self.whoami.user_uid)
        self.record(
            "apikey",
            True,
            f"accepted: user {self.whoami.user_uid or '?'} in tenant {self.whoami.org_name or '?'}"
            + (f"; {expiry['text']}" if expiry.get("text") else ""),
            warning=expiry.get("warns", False),
            key_expiry=expiry,
        )

    def tenant(self) -> None:
        expected = str(self.palette.value("tenant"))
        org_name = self.whoami.org_name
        if org_name and org_name.lower() != expected.lower():
            raise StageFailed(
                f"The API key belongs to tenant {org_name!r}, not {expected!r}. "
                f"Fix the tenant field or use a key from {expected!r}."
            )
        self.record("tenant", True, f"tenant {org_name or expected}")

    def project(self) -> None:
        uid = str(self.palette.value("defaultProjectID"))
        self.record("project", True, stage_project(self.client, uid, self.check))

    def edgehosts(self) -> None:
        uid = str(self.palette.value("defaultProjectID"))
        first = next(iter(self.client.iter_edge_hosts(project_uid=uid, page_size=1)), None)
        seen = f"edge host {first.uid} visible" if first else "no edge hosts registered in this project yet"
        self.record("edgehosts", True, "answers: " + seen)

    def activation(self) -> None:
        detail, warning, facts = stage_activation(self.client)
        self.record("activation", True, detail, warning=warning, activation=facts)

    def registries(self) -> None:
        detail, warning, names = stage_registries(self.client)
        self.record("registries", True, detail, warning=warning, registries=names)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def run(check: PaletteCheck, palette: EffectivePalette, *, on_stage=None) -> str:
    """Run every stage for `palette`, recording them on `check`; return the outcome.

    `on_stage(stages)` is called after each stage so the UI can show them filling in live.
    Never puts the API key in a stage detail: errors from `palette/` are already redacted.
    """
    walk = _Walk(check, palette, on_stage)
    keys = [k for k, _ in STAGES]
    failed_at: str | None = None
    try:
        for key in keys:
            if failed_at and keys.index(failed_at) <= keys.index(INDEPENDENT_AFTER):
                walk.record(key, None, "skipped: an earlier stage failed")
                continue
            try:
                walk.stage(key)
            except StageFailed as exc:
                failed_at = failed_at or key
                walk.record(key, False, exc.detail, **exc.extra)
            except perrors.PaletteError as exc:
                failed_at = failed_at or key
                walk.record(key, False, str(exc))
    finally:
        walk.close()
    if failed_at is None:
        return PaletteCheck.CONNECTED
    return (
        PaletteCheck.DEGRADED
        if keys.index(failed_at) >= keys.index(DEGRADED_FROM)
        else PaletteCheck.FAILED_OUTCOME
    )


def stage_project(client: PaletteClient, value: str, check: PaletteCheck) -> str:
    """The project must exist and be readable; a name instead of a UID gets the UID offered."""
    if not credentials.looks_like_project_uid(value):
        matches = [p for p in client.list_projects() if p.name.lower() == value.lower()]
        if matches:
            check.progress = {
                **check.progress,
                "suggested_project_uid": matches[0].uid,
                "suggested_project_name": matches[0].name,
            }
            PaletteCheck.objects.filter(pk=check.pk).update(progress=check.progress)
            raise StageFailed(
                f"defaultProjectID {value!r} is a project name; its UID is {matches[0].uid}. Use the UID.",
                suggestion=matches[0].uid,
            )
        raise StageFailed(
            f"defaultProjectID {value!r} is not a project UID, and no project has that name. "
            f"{_project_list(client)}"
        )
    try:
        client.list_edge_host_tags(project_uid=value)  # a cheap read in the project's own scope
    except perrors.NotFound:
        raise StageFailed(f"Project {value} does not exist. {_project_list(client)}") from None
    except perrors.PermissionDenied:
        raise StageFailed(
            f"Project {value} is not readable with this key: its user has no role there. Give the "
            f"user a project role (Project Viewer at least) or use another project. "
            f"{_project_list(client)}"
        ) from None
    name = next((p.name for p in _projects(client) or () if p.uid == value), "")
    return f"project {name} ({value})" if name else f"project {value}"


def _projects(client: PaletteClient):
    """The projects the key sees (a key with only project roles sees its own), or None if Palette won't
    say."""
    try:
        return client.list_projects()
    except perrors.PaletteError:
        return None


def _project_list(client: PaletteClient) -> str:
    projects = _projects(client)
    if projects is None:
        return ""
    if not projects:
        return "This key sees no projects."
    names = ", ".join(f"{p.name} ({p.uid})" for p in projects[:10])
    return f"Projects this key can read: {names}."


# -- self-hosted Palette: activation and pack registries (docs/palette-behaviour.md §16) --------------


def system_console(base_url: str) -> str:
    """A self-hosted Palette's system console, where an operator activates it: the host's ``/system``."""
    return base_url.rstrip("/") + "/system"


def stage_activation(client: PaletteClient) -> tuple[str, bool, dict]:
    """The license stage: (detail, warning, facts). Never a failure: SaaS (404) and a key that may not read
    it (401/403 here, the key having been accepted) are no problem; another error is only a warning."""
    try:
        activation = client.get_system_activation()
    except perrors.PaletteError as exc:
        if exc.status == 404:
            return "not applicable (SaaS Palette)", False, {"state": "", "applicable": False}
        if exc.status in (401, 403):
            return "not visible to this key", False, {"state": "", "visible": False}
        return f"could not be read: {exc}", True, {"state": ""}
    facts = {
        "state": activation.state,
        "expiresAt": activation.expires_at.isoformat() if activation.expires_at else "",
        "systemConsole": system_console(client.base_url),
    }
    outlook = license_outlook(facts)
    if outlook is None:  # answered, but without a state
        return "Palette's answer did not say its activation state.", True, facts
    return outlook.text, outlook.warns or outlook.blocks or activation.state == "Pending", facts


def stage_registries(client: PaletteClient) -> tuple[str, bool, list[dict] | None]:
    """The pack registry stage: (detail, warning, the registries). None at all is a warning."""
    try:
        found = client.list_registries()
    except perrors.PaletteError as exc:
        if exc.status in (401, 403):
            return "not visible to this key", False, None
        return f"could not be read: {exc}", True, None
    if not found:
        return (
            "none: this tenant sees no pack registry. Cluster profiles are built from packs, which come from "
            "a registry, so no cluster profile can be built here. Add a pack registry in Palette (Tenant "
            "Settings › Registries, or the system console of a self-hosted Palette).",
            True,
            [],
        )
    names = [
        f"{r.name}{' (default)' if r.is_default else ''}{' (private)' if r.is_private else ''}" for r in found
    ]
    listed = [
        {"name": r.name, "scope": r.scope, "private": r.is_private, "default": r.is_default} for r in found
    ]
    return f"{len(found)} registr{'y' if len(found) == 1 else 'ies'}: {', '.join(names)}", False, listed


@dataclass(frozen=True)
class LicenseOutlook:
    """What a self-hosted Palette's activation means now: ``blocks`` (Inactive, or the trial is over: no
    cluster is created or changed), ``warns`` (the trial ends within TRIAL_WARNING_DAYS), the days left and
    the words."""

    state: str
    expires_at: datetime | None
    days_left: int | None
    blocks: bool
    warns: bool
    text: str
    console: str


#: A key expiring within this many days makes the API key stage a warning (the Settings page says so too).
KEY_EXPIRY_WARNING_DAYS = 30


def stage_key_expiry(client: PaletteClient, user_uid: str, now: datetime | None = None) -> dict:
    """When the key in use expires, as far as Palette lets us see (``GET /v1/apiKeys``): the listing never
    shows key values, so the key is matched by its user — the earliest expiry among that user's active keys
    (docs/palette-behaviour.md §1). Facts for the stage: visible, expiresAt, daysLeft, keys (how many of the
    user's active keys were considered), text, warns. A key that may not list keys is no problem."""
    try:
        keys = client.list_api_keys()
    except perrors.PaletteError as exc:
        if exc.status in (401, 403, 404):
            return {"visible": False, "text": ""}
        return {"visible": False, "text": f"expiry could not be read ({exc.status or 'no answer'})"}
    mine = [k for k in keys if k.active and (not user_uid or k.user_uid == user_uid)]
    dated = sorted(k.expiry for k in mine if k.expiry)
    if not dated:
        return {"visible": True, "keys": len(mine), "expiresAt": "", "text": "no expiry listed"}
    now = now or timezone.now()
    days = math.floor((dated[0] - now).total_seconds() / 86400)
    when = f"{dated[0]:%Y-%m-%d}"
    if days < 0:
        text = f"Palette lists this user's key as expired on {when}: create a new key and save it here."
    else:
        text = f"expires in {days} day{'' if days == 1 else 's'} ({when})" + (
            "" if len(mine) == 1 else f", the earliest of this user's {len(mine)} active keys"
        )
    return {
        "visible": True,
        "keys": len(mine),
        "expiresAt": dated[0].isoformat(),
        "daysLeft": days,
        "text": text,
        "warns": days <= KEY_EXPIRY_WARNING_DAYS,
    }


def license_outlook(facts: dict | None, now: datetime | None = None) -> LicenseOutlook | None:
    """The outlook of the activation ``facts`` a connection check stored (its ``activation`` stage) at
    ``now``; None when there is none to judge (SaaS, not visible, never checked)."""
    state = (facts or {}).get("state") or ""
    if not state:
        return None
    now = now or timezone.now()
    expires = parse_time(facts.get("expiresAt"))
    console = facts.get("systemConsole") or ""
    days = math.ceil((expires - now).total_seconds() / 86400) if expires else None
    blocked = (
        f"Compute Pools cannot be created or changed until an operator activates Palette in its system "
        f"console ({console})."
    )
    if state == "Inactive":
        text = f"Inactive: the trial is over and Palette is not activated. {blocked}"
        return LicenseOutlook(state, expires, days, True, False, text, console)
    if state == "Pending" and expires and expires <= now:
        text = f"Pending, but the trial ended on {expires:%Y-%m-%d}. {blocked}"
        return LicenseOutlook(state, expires, 0, True, False, text, console)
    if state == "Pending":
        left = (
            f"{days} day{'' if days == 1 else 's'} left, ends {expires:%Y-%m-%d}"
            if expires
            else "no end date"
        )
        text = (
            f"Pending: trial, {left}. Activate Palette in its system console ({console}) before then: after "
            "the trial it deploys no new cluster and runs no day-2 operation."
        )
        near = expires is not None and expires - now <= timedelta(days=TRIAL_WARNING_DAYS)
        return LicenseOutlook(state, expires, days, False, near, text, console)
    if state == "Active":
        return LicenseOutlook(state, expires, days, False, False, "Active: Palette is activated.", console)
    return LicenseOutlook(state, expires, days, False, True, f"unknown activation state {state!r}.", console)


def stage_facts(check: PaletteCheck | None, key: str):
    """What the stage ``key`` of ``check`` stored under its own key (``activation``, ``registries``)."""
    stage = next((s for s in (check.stages if check else None) or () if s.get("key") == key), None)
    return stage.get(key) if stage else None


def latest_check(owner) -> PaletteCheck | None:
    """The newest finished check of a tenant or project (drives the status badge)."""
    return (
        PaletteCheck.objects.filter(**owner_filter(owner), status__in=PaletteCheck.TERMINAL)
        .order_by("-created")
        .first()
    )


def active_check(owner) -> PaletteCheck | None:
    return (
        PaletteCheck.objects.filter(**owner_filter(owner), status__in=PaletteCheck.ACTIVE)
        .order_by("-created")
        .first()
    )


def badge(owner) -> dict:
    """Connected / Degraded / Failed / Never checked, with the time of the last check."""
    check = latest_check(owner)
    if check is None:
        return {"label": "Never checked", "css": "muted", "check": None}
    label, css = {
        PaletteCheck.CONNECTED: ("Connected", "ok"),
        PaletteCheck.DEGRADED: ("Degraded", "warn"),
    }.get(check.outcome, ("Failed", "fail"))
    return {"label": label, "css": css, "check": check}


def start_check(owner, *, trigger: str = "manual") -> PaletteCheck:
    """A pending check of `owner` enqueued on commit, or the one already active (see
    core.tasks.start_once)."""
    return start_once(PaletteCheck, "integrations.palette_check", target=owner_filter(owner), trigger=trigger)


def perform_check(check: PaletteCheck, *, on_stage=None) -> PaletteCheck:
    """Claim and run a check against the owner's effective Palette integration; idempotent per row."""
    from .effective import resolve

    if not check.claim():
        return check
    effective = resolve(check.owner)
    if effective.palette is None:
        check.stages = [
            {
                "key": "url",
                "name": "URL parses",
                "passed": False,
                "detail": "No Palette integration: add Settings to this project or its tenant.",
            }
        ]
        PaletteCheck.objects.filter(pk=check.pk).update(
            stages=check.stages, outcome=PaletteCheck.FAILED_OUTCOME
        )
        check.outcome = PaletteCheck.FAILED_OUTCOME
        check.finish(PaletteCheck.FAILED, error=check.stages[0]["detail"])
        return check
    if effective.palette.problems:
        detail = " ".join(effective.palette.problems)
        check.stages = [{"key": "url", "name": "URL parses", "passed": False, "detail": detail}]
        PaletteCheck.objects.filter(pk=check.pk).update(
            stages=check.stages, outcome=PaletteCheck.FAILED_OUTCOME
        )
        check.outcome = PaletteCheck.FAILED_OUTCOME
        check.finish(PaletteCheck.FAILED, error=detail)
        return check
    try:
        outcome = run(check, effective.palette, on_stage=on_stage)
    except Exception as exc:  # a bug must end the run visibly, not leave it running forever
        PaletteCheck.objects.filter(pk=check.pk).update(outcome=PaletteCheck.FAILED_OUTCOME)
        check.finish(
            PaletteCheck.FAILED,
            error=f"The check stopped unexpectedly ({type(exc).__name__}); see the worker log.",
        )
        raise
    check.outcome = outcome
    PaletteCheck.objects.filter(pk=check.pk).update(outcome=outcome)
    failed = next((s for s in check.stages if s["passed"] is False), None)
    check.finish(
        PaletteCheck.SUCCEEDED if outcome == PaletteCheck.CONNECTED else PaletteCheck.FAILED,
        error=f"{failed['name']}: {failed['detail']}" if failed else "",
    )
    _tell_credentials(check)
    _tell_certificates(check, effective.palette)
    return check


def _tell_credentials(check: PaletteCheck) -> None:
    """credentials.rejected when the key stage failed on a 401, credentials.accepted when it passed, and
    credentials.expiring when the key expires within 30 days."""
    from .notify import credentials_accepted, credentials_expiring, credentials_rejected

    stage = next((s for s in check.stages if s.get("key") == "apikey"), None)
    if stage is None or stage["passed"] is None:
        return
    if stage["passed"]:
        credentials_accepted(check.owner)
        expiry = stage.get("key_expiry") or {}
        if expiry.get("daysLeft") is not None and expiry["daysLeft"] >= 0:
            credentials_expiring(check.owner, expiry["daysLeft"], expiry["expiresAt"])
    elif "(401)" in stage["detail"]:
        credentials_rejected(check.owner, "the connection check", stage["detail"])


def expiring_certificates(check: PaletteCheck, palette: EffectivePalette) -> list[dict]:
    """The certificates this check depends on that expire within 30 days (or have): the custom CA's and the
    server certificate Palette presented (its TLS stage). Each: what, subject, id, notAfter, daysLeft."""
    found = [
        {
            "what": "custom CA",
            "subject": c.subject,
            "id": c.fingerprint_sha256,
            "notAfter": f"{c.not_after:%Y-%m-%d}",
        }
        for c in palette.ca_certificates
    ]
    tls = next((s for s in check.stages if s.get("key") == "tls"), None)
    server = (tls or {}).get("certificate") or {}
    if server.get("not_after"):
        found.append(
            {
                "what": "Palette's server certificate",
                "subject": server.get("subject", ""),
                "id": server.get("subject", ""),
                "notAfter": server["not_after"],
            }
        )
    today = timezone.now().date()
    for cert in found:
        cert["daysLeft"] = (datetime.strptime(cert["notAfter"], "%Y-%m-%d").date() - today).days
    return [c for c in found if c["daysLeft"] <= KEY_EXPIRY_WARNING_DAYS]


def _tell_certificates(check: PaletteCheck, palette: EffectivePalette) -> None:
    """certificate.expiring for each certificate the connection depends on, at 30, 7 and 1 days."""
    from .notify import certificate_expiring

    for cert in expiring_certificates(check, palette):
        certificate_expiring(check.owner, cert)
