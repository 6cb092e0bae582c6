"""Effective settings: what a project (or tenant) actually uses after inheritance.

A project without Settings uses its tenant's. With both, each integration merges field by field
and the project's values win. Every value carries where it came from, for the UI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core import dberrors, palette_budget
from palette import errors as perrors
from palette import ratelimit
from tenancy.models import Project, Tenant

from . import credentials
from .certificates import CertificateError, CertificateInfo, parse_ca_bundle
from .models import Secret, Settings

log = logging.getLogger(__name__)


@dataclass
class EffectivePalette:
    """The merged Palette integration: field → (value, source) plus the CA bundle, if any."""

    fields: dict[str, tuple[object, str]]
    ca_pem: str = ""
    ca_source: str = ""
    problems: list[str] = field(default_factory=list)
    #: The Palette's own rate limits (Settings.palette_rate_limit of the Settings whose host is used), or
    #: None for the installation's (core.palette_budget).
    rate_limits: dict[str, float] | None = None

    def value(self, name: str):
        return self.fields[name][0]

    def __repr__(self) -> str:
        # Reprs end up in logs and tracebacks (Django logs whole template contexts at DEBUG): mask the key.
        from core.fields import mask

        shown = {k: ((mask(str(v)) if k == "apiKey" else v), src) for k, (v, src) in self.fields.items()}
        return f"EffectivePalette(fields={shown!r}, ca_source={self.ca_source!r}, problems={self.problems!r})"

    @property
    def complete(self) -> bool:
        return not self.problems and all(self.value(f) for f in credentials.REQUIRED)

    @property
    def ca_certificates(self) -> list[CertificateInfo]:
        try:
            return parse_ca_bundle(self.ca_pem) if self.ca_pem else []
        except CertificateError:
            return []


@dataclass
class Effective:
    owner: Tenant | Project
    tenant_settings: Settings | None
    project_settings: Settings | None
    palette: EffectivePalette | None
    huggingface_source: str = ""
    ngc_source: str = ""

    @property
    def configured(self) -> bool:
        return self.palette is not None


def settings_for(owner: Tenant | Project) -> Settings | None:
    if isinstance(owner, Project):
        return Settings.objects.filter(project=owner).first()
    return Settings.objects.filter(tenant=owner).first()


def _secret(namespace: str, name: str) -> Secret | None:
    if not name:
        return None
    return Secret.objects.filter(namespace=namespace, name=name).first()


def _palette_values(s: Settings | None, problems: list[str]) -> tuple[dict, str]:
    """The fields of one Settings' Palette Secret and that Secret's namespace."""
    if s is None:
        return {}, ""
    secret = _secret(s.namespace, s.palette_secret)
    if secret is None:
        problems.append(
            f"Settings {s} names Secret {s.palette_secret}, which does not exist in {s.namespace}."
        )
        return {}, s.namespace
    raw = secret.get_data().get(credentials.PALETTE_KEY)
    if raw is None:
        problems.append(f"Secret {secret} has no 'palette' key.")
        return {}, s.namespace
    try:
        return credentials.parse_palette_json(raw, partial=True, allow_project_name=True), s.namespace
    except credentials.CredentialError as exc:
        problems.append(f"Secret {secret}: {exc}")
        return {}, s.namespace


def resolve(owner: Tenant | Project) -> Effective:
    """The effective settings of a tenant or project (a few queries; not for use per row of a list)."""
    tenant = owner.tenant if isinstance(owner, Project) else owner
    tenant_settings = settings_for(tenant)
    project_settings = settings_for(owner) if isinstance(owner, Project) else None
    if tenant_settings is None and project_settings is None:
        return Effective(owner, None, None, None)
    problems: list[str] = []
    tenant_values, tenant_ns = _palette_values(tenant_settings, problems)
    project_values, project_ns = _palette_values(project_settings, problems)
    merged = credentials.merge(tenant_values, project_values)
    palette = EffectivePalette(merged, problems=problems)
    own_missing = [
        f for f in ("hostUrl", "apiKey") if credentials.own_connection(project_values) and not merged[f][0]
    ]
    missing = [f for f in credentials.REQUIRED if not merged[f][0]]
    if own_missing:
        palette.problems.append(
            f"The project sets its own Palette connection but not {' and '.join(own_missing)}: "
            "a project's own connection needs its own host URL and API key (the tenant's key is never sent "
            "to a host the project chose). Set them on the project's Settings, or clear its host, key, TLS "
            "and CA to inherit the tenant's connection."
        )
    elif missing and not problems:
        palette.problems.append(
            f"Missing {', '.join(missing)}: set them in the project's or the tenant's Palette integration."
        )
    connection = project_settings if merged["hostUrl"][1] == "project" else tenant_settings
    if connection is not None and connection.palette_rate_limit:
        try:
            palette.rate_limits = ratelimit.parse_limits(connection.palette_rate_limit)
        except ValueError as exc:
            palette.problems.append(f"Settings {connection}: Palette rate limit: {exc}")
    project_uid, uid_source = merged["defaultProjectID"]
    allowed = tenant_settings.allowed_project_ids if tenant_settings else []
    if uid_source == "project" and allowed and project_uid not in allowed:
        palette.problems.append(
            f"Palette project {project_uid} is not one the tenant {tenant.name} allows its projects to use "
            f"({', '.join(allowed)}): pick one of those, or ask a tenant admin to add it."
        )
    ref, source = merged["tlsSecretRef"]
    if ref:
        # The CA Secret lives in the namespace of the Settings that named it.
        namespace = project_ns if source == "project" else tenant_ns
        ca = _secret(namespace, ref)
        if ca is None or credentials.CA_KEY not in ca.get_data():
            palette.problems.append(
                f"tlsSecretRef names {namespace}/{ref}, which does not exist or has no ca.crt key."
            )
        else:
            palette.ca_pem, palette.ca_source = ca.get_data()[credentials.CA_KEY], source
    hf = (
        "project"
        if project_settings and project_settings.huggingface_secret
        else ("tenant" if tenant_settings and tenant_settings.huggingface_secret else "")
    )
    ngc = (
        "project"
        if project_settings and project_settings.ngc_secret
        else ("tenant" if tenant_settings and tenant_settings.ngc_secret else "")
    )
    return Effective(owner, tenant_settings, project_settings, palette, hf, ngc)


class NotConfigured(Exception):
    """The owner has no usable Palette integration; the message says what is missing."""


def working_palette(owner: Tenant | Project) -> EffectivePalette:
    """The owner's complete effective Palette integration, or NotConfigured with the reason."""
    palette = resolve(owner).palette
    if palette is None:
        raise NotConfigured("No Palette integration: add Settings to this project or its tenant.")
    if not palette.complete:
        raise NotConfigured(" ".join(palette.problems) or "The Palette integration is incomplete.")
    return palette


def palette_client(palette: EffectivePalette, *, name: str = "", **kwargs):
    """The one way to build a Palette client from effective settings (trust, timeouts, default project, the
    address policy of PALETTE_ALLOWED_NETWORKS). `project_uid` overrides the default project (a pool's
    own)."""
    from django.conf import settings as django_settings

    from palette.client import PaletteClient

    kwargs.setdefault(
        "timeout",
        (float(django_settings.PALETTE_CONNECT_TIMEOUT), float(django_settings.PALETTE_READ_TIMEOUT)),
    )
    # The installation's rate budget (core.palette_budget): waits bounded inside a web request or a
    # transaction; `lane="bulk"` from the scans, so interactive calls go first.
    kwargs.setdefault("max_wait", palette_budget.wait_bound)
    kwargs.setdefault("rate_limits", palette.rate_limits)
    return PaletteClient(
        str(palette.value("hostUrl")),
        str(palette.value("apiKey")),
        project_uid=kwargs.pop("project_uid", None) or str(palette.value("defaultProjectID")) or None,
        ca_pem=palette.ca_pem or None,
        skip_verify=bool(palette.value("skipSSLCertificateVerification")),
        name=name,
        # Always the address policy: every connection refuses internal targets (checked as it connects).
        allowed_networks=tuple(django_settings.PALETTE_ALLOWED_NETWORKS),
        **kwargs,
    )


#: How often a run goes back to pending after a transient database error before it fails, and the waits.
RUN_DB_ATTEMPTS = 8
RUN_DB_BACKOFF = (2, 5, 10, 20, 40, 60, 60)


def _try_again_later(run, exc: BaseException) -> bool:
    """After a transient database error (busy SQLite, dropped connection, serialization failure): put the run
    back to pending and send its task again after a pause, so it starts over (each run is idempotent: an
    upsert by uid, the same tags, the same profiles). False once RUN_DB_ATTEMPTS are used up: it fails then.
    """
    from core.runs import task_for
    from core.tasks import send

    dberrors.recover_connection()
    tries = int((run.progress or {}).get("database_retries") or 0) + 1
    if tries >= RUN_DB_ATTEMPTS:
        return False
    wait = RUN_DB_BACKOFF[min(tries, len(RUN_DB_BACKOFF)) - 1]
    try:
        run.set_progress(database_retries=tries)
        if not run.requeue(
            f"The database was busy or unreachable ({dberrors.describe(exc)}); "
            f"trying again in {wait} s (try {tries + 1} of {RUN_DB_ATTEMPTS})."
        ):
            return True  # ended meanwhile (the watchdog): nothing to resend
    except Exception as again:  # the database is still out of reach: the watchdog re-sends or fails the run
        log.warning(
            "%s %s: could not put it back to pending (%s)",
            type(run).__name__,
            run.pk,
            dberrors.describe(again),
        )
        return True
    log.warning(
        "%s %s: transient database error (%s), re-sent in %s s",
        type(run).__name__,
        run.pk,
        dberrors.describe(exc),
        wait,
    )
    send(task_for(type(run)), run.pk, countdown=wait)
    return True


def run_with_palette(run, owner: Tenant | Project, work, *, name: str, what: str, **client_kwargs):
    """Claim `run` (a TaskRun) and call ``work(client, palette)`` with a client for `owner`'s Palette
    integration.

    The one frame of the background runs that talk to Palette (discovery, profile sync, tag edits). A run
    claimed elsewhere is returned untouched. The run ends Failed with the reason when the integration is
    incomplete, with "Palette unreachable: ..." on a Palette error, and with a pointer to the worker log on
    anything else (a bug must end the run visibly, not leave it running); a transient database error
    (busy, dropped, serialization failure) puts it back to pending and sends it again instead, up to
    RUN_DB_ATTEMPTS tries. Otherwise it ends Succeeded,
    unless `work` ended it itself. `what` names the run in that last message ("Discovery").
    """
    if not run.claim():
        return run
    try:
        palette = working_palette(owner)
    except NotConfigured as exc:
        run.finish(run.FAILED, error=str(exc))
        return run
    try:
        with palette_client(palette, name=name, **client_kwargs) as client:
            work(client, palette)
    except perrors.PaletteError as exc:
        run.finish(run.FAILED, error=f"Palette unreachable: {exc}")
        if exc.status == 401:
            from .notify import credentials_rejected

            credentials_rejected(owner, what.lower(), str(exc))
        return run
    except Exception as exc:
        if dberrors.is_transient(exc) and _try_again_later(run, exc):
            return run
        log.exception("%s %s failed", type(run).__name__, run.pk)
        run.finish(
            run.FAILED, error=f"{what} stopped unexpectedly ({type(exc).__name__}); see the worker log."
        )
        return run
    if run.is_active:
        run.finish(run.SUCCEEDED)
    return run
