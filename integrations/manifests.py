"""Manifests for Secret and Settings (kind handlers for core.manifests).

Secret is Kubernetes' v1 Secret as PaletteAI writes it: type Opaque, `data` (base64) and/or
`stringData` (plain; wins on the same key), with the keys `palette` (JSON of the Palette
integration), `ca.crt` (PEM CA bundle), `huggingface` ({"token": ...}) and `nvidia`
({"apiKey": ...}). Settings: `spec: {palette: {secretRef: {name}}, huggingFace?: ..., nvidiaNgc?: ...}`.

Both live in a tenant namespace (`tenant-<name>`) or a project namespace. Values are checked by
the same rules as the web forms (integrations.credentials, integrations.certificates) and
written through integrations.writes, which audits and schedules the Kubernetes sync.
Secret values never appear in messages or in a default export.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError

from core.manifests import MISSING, REDACTED, Document, Handler, Plan, shorten, type_name
from tenancy import access
from tenancy.manifests import (
    can_write_namespace,
    namespace_owner,
    tenant_namespace,
)
from tenancy.models import TENANT_NAMESPACE_PREFIX, Tenant, owner_for_namespace

from . import credentials, writes
from .certificates import CertificateError, parse_ca_bundle
from .models import MANAGED_BY_LABEL, Secret, Settings, validate_rate_limit

SECRET_KEYS = {
    credentials.PALETTE_KEY: "the Palette integration as JSON",
    credentials.CA_KEY: "a PEM CA certificate",
    credentials.HUGGINGFACE_KEY: 'JSON {"token": ...}',
    credentials.NGC_KEY: 'JSON {"apiKey": ...}',
}
TOKEN_FIELDS = {credentials.HUGGINGFACE_KEY: "token", credentials.NGC_KEY: "apiKey"}
# Settings spec key → (model field, the key its Secret must hold)
REFS = {
    "palette": ("palette_secret", credentials.PALETTE_KEY),
    "huggingFace": ("huggingface_secret", credentials.HUGGINGFACE_KEY),
    "nvidiaNgc": ("ngc_secret", credentials.NGC_KEY),
}
SECRET_NAME_VALIDATORS = Secret._meta.get_field("name").validators
NO_OWNER = (
    "no tenant or project owns namespace {ns}: use a tenant's namespace (tenant-<name>) or a project's, "
    "and create that Tenant or Project first or in this file."
)


def final_secret(plan: Plan, namespace: str, name: str) -> tuple[bool, dict | None]:
    """Does Secret namespace/name exist once the file is applied, and its data (None when the file's copy is
    broken)."""
    doc = plan.find("Secret", name, namespace)
    if doc is not None:
        return True, doc.state.get("data")
    secret = Secret.objects.filter(namespace=namespace, name=name).first()
    return (True, secret.get_data()) if secret is not None else (False, None)


def _delete_stored(
    model: type[Secret] | type[Settings], delete: Callable[..., None], doc: Document, plan: Plan
) -> str:
    """Delete the Secret or Settings `doc` names with its writes function (which audits it)."""
    stored = model.objects.filter(namespace=doc.namespace, name=doc.name).first()
    if stored is None:
        return "not found"
    delete(stored, request=plan.request, user=plan.user, source=plan.audit_source)
    return "deleted"


def _stored(model: type[Secret] | type[Settings], namespace: str | None):
    """The stored Secrets or Settings to export, of one namespace or all, in namespace and name order."""
    stored = model.objects.order_by("namespace", "name")
    return stored.filter(namespace=namespace) if namespace else stored


def _credential(data: dict | None) -> tuple[str, str] | None:
    """(hostUrl, apiKey) of a Palette Secret's data, for the one-credential-one-Settings rule."""
    try:
        # Lenient: stored Secrets may hold a project name the web form accepted with a warning.
        values = credentials.parse_palette_json(
            (data or {}).get(credentials.PALETTE_KEY), partial=True, allow_project_name=True
        )
    except credentials.CredentialError:
        return None
    return (values["hostUrl"], values["apiKey"]) if values.get("hostUrl") and values.get("apiKey") else None


def _remember_secrets(plan: Plan, key: str, value: str) -> None:
    """Register the value and the keys inside its JSON so no message can echo them."""
    plan.secrets.add(value)
    if key in (credentials.PALETTE_KEY, *TOKEN_FIELDS):
        try:
            data = json.loads(value)
        except ValueError:
            return
        if isinstance(data, dict):
            plan.secrets.update(
                v.strip() for k, v in data.items() if k in ("apiKey", "token") and isinstance(v, str)
            )


def _read_values(doc: Document, plan: Plan) -> dict[str, tuple[str | None, str]]:
    """key → (text, path in the manifest) from `data` (base64) and then `stringData` (plain, wins).

    A key whose value is broken maps to None: it is reported here, and still counts as present
    so that the documents referring to it get no second, misleading message.
    """
    values: dict[str, tuple[str | None, str]] = {}
    for section in ("data", "stringData"):
        raw = doc.get(section)
        if raw is MISSING or raw is None:
            continue
        if not isinstance(raw, dict):
            plan.error(doc, section, f"must be a mapping of key: value, not {type_name(raw)}.")
            continue
        for key, value in raw.items():
            path = f"{section}.{shorten(key)}"
            if key not in SECRET_KEYS:
                known = "; ".join(f"{k} ({what})" for k, what in SECRET_KEYS.items())
                plan.error(doc, path, f"unknown key; an integration Secret holds {known}.")
                continue
            if not isinstance(value, str):
                hint = (
                    " Quote the JSON ('{...}') or use a block scalar (|)." if isinstance(value, dict) else ""
                )
                plan.error(doc, path, f"must be a string, not {type_name(value)}.{hint}")
                values[key] = (None, path)
                continue
            if section == "data":
                try:
                    value = base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
                except UnicodeDecodeError:
                    plan.error(
                        doc, path, "decodes to binary data, not text; these keys hold text (JSON or PEM)."
                    )
                    values[key] = (None, path)
                    continue
                except (binascii.Error, ValueError):
                    plan.error(
                        doc,
                        path,
                        "not valid base64: encode the value with `base64 -w0`, "
                        "or write it as plain text under stringData.",
                    )
                    values[key] = (None, path)
                    continue
            _remember_secrets(plan, key, value)
            values[key] = (value, path)
    return values


def _check_token(doc: Document, plan: Plan, key: str, value: str, path: str) -> None:
    field = TOKEN_FIELDS[key]
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    if not isinstance(data, dict) or set(data) != {field}:
        plan.error(doc, path, f'must hold a JSON object with only "{field}", e.g. {{"{field}": "..."}}.')
        return
    token = data[field]
    if not isinstance(token, str) or not token.strip() or any(c.isspace() for c in token.strip()):
        plan.error(doc, f"{path}.{field}", "must be a non-empty string without spaces; copy it again.")


class SecretHandler(Handler):
    kind = "Secret"
    api_versions = ("v1",)
    order = 30
    body_keys = ("type", "data", "stringData")

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        return can_write_namespace(plan, user, doc.namespace, need=access.ADMIN)  # as on the Settings page

    def validate(self, doc: Document, plan: Plan) -> None:
        values = _read_values(doc, plan)  # first, so no later message can echo a value
        owner = namespace_owner(plan, doc.namespace)
        if owner is None:
            plan.error(doc, "metadata.namespace", NO_OWNER.format(ns=doc.namespace))
        plan.check_text(doc, "metadata.name", doc.name, validators=SECRET_NAME_VALIDATORS)
        kind = doc.get("type")
        if kind not in (MISSING, None, "Opaque"):
            plan.error(doc, "type", "integration Secrets are of type Opaque; write type: Opaque.")
        labels = plan.string_map(doc, "metadata.labels")
        sections = [doc.get(s) for s in ("data", "stringData") if doc.get(s) not in (MISSING, None)]
        # Unreadable or empty: its data is unknown, so references to it get no knock-on message.
        unknown = not values or not all(isinstance(section, dict) for section in sections)
        if not values and all(section == {} for section in sections):
            plan.error(
                doc, "stringData", f"the Secret is empty; add one of the keys {', '.join(SECRET_KEYS)}."
            )
        for key, (value, path) in values.items():
            if value is None:
                continue
            if value.strip() == REDACTED:
                plan.error(
                    doc,
                    path,
                    f"holds the placeholder {REDACTED} written by export; put the real value here, "
                    "or export with --show-secrets.",
                )
            elif key == credentials.PALETTE_KEY and owner is not None:
                self._check_palette(doc, plan, value, path, partial=owner.is_project)
            elif key == credentials.CA_KEY:
                try:
                    parse_ca_bundle(value)
                except CertificateError as exc:
                    plan.error(doc, path, str(exc))
            elif key in TOKEN_FIELDS:
                _check_token(doc, plan, key, value, path)
        doc.state.update(
            data=None if unknown else {k: v for k, (v, _) in values.items()},
            paths={k: p for k, (_, p) in values.items()},
            labels=labels,
        )

    @staticmethod
    def _check_palette(doc: Document, plan: Plan, value: str, path: str, *, partial: bool) -> None:
        # Tenant-level credentials must be complete; a project's may override only some fields.
        try:
            doc.state["palette"] = values = credentials.parse_palette_json(
                value, partial=partial, resolve=True
            )
        except credentials.CredentialError as exc:
            plan.error(doc, path if exc.field == credentials.PALETTE_KEY else f"{path}.{exc.field}", str(exc))
            return
        missing = [f for f in ("hostUrl", "apiKey") if not values.get(f)]
        if partial and credentials.own_connection(values) and missing:
            plan.error(
                doc,
                path,
                f"a project's own Palette connection needs {' and '.join(missing)} too (the tenant's key "
                "is never sent to a host or trust the project chose); add them, or drop hostUrl, apiKey, "
                "skipSSLCertificateVerification and tlsSecretRef to inherit the tenant's connection.",
            )

    def check(self, plan: Plan) -> None:
        for doc in plan.of_kind("Secret"):
            self._check_project_choice(doc, plan)
            ref = (doc.state.get("palette") or {}).get("tlsSecretRef")
            if not ref:
                continue
            path = f"{doc.state['paths'][credentials.PALETTE_KEY]}.tlsSecretRef"
            exists, data = final_secret(plan, doc.namespace, ref)
            if not exists:
                plan.error(
                    doc,
                    path,
                    f"Secret {ref} does not exist in namespace {doc.namespace}; add it (with key ca.crt) "
                    "to this file or create it first.",
                )
            elif data is not None and credentials.CA_KEY not in data:
                plan.error(doc, path, f"Secret {ref} has no ca.crt key; put the CA certificate under ca.crt.")

    @staticmethod
    def _check_project_choice(doc: Document, plan: Plan) -> None:
        """A project's defaultProjectID follows its tenant's allowed Palette projects, as on the Settings
        page."""
        values = doc.state.get("palette") or {}
        owner = namespace_owner(plan, doc.namespace)
        if not values.get("defaultProjectID") or owner is None or owner.kind != "Project":
            return
        stored = Secret.objects.filter(namespace=doc.namespace, name=doc.name).first()
        try:
            current = (
                credentials.parse_palette_json(
                    stored.get_data().get(credentials.PALETTE_KEY, "{}"),
                    partial=True,
                    allow_project_name=True,
                )
                if stored
                else {}
            )
        except credentials.CredentialError:
            current = {}
        tenant_namespace_ = tenant_namespace(owner.tenant)
        tenant_settings = Settings.objects.filter(namespace=tenant_namespace_).first()
        allowed = tenant_settings.allowed_project_ids if tenant_settings else []
        settings_doc = next((d for d in plan.of_kind("Settings") if d.namespace == tenant_namespace_), None)
        if settings_doc is not None and "allowed" in settings_doc.state:
            allowed = settings_doc.state["allowed"]
        tenant_default = ""
        if tenant_settings is not None:
            _, data = final_secret(plan, tenant_namespace_, tenant_settings.palette_secret)
            try:
                tenant_default = credentials.parse_palette_json(
                    (data or {}).get(credentials.PALETTE_KEY, "{}"), partial=True, allow_project_name=True
                ).get("defaultProjectID", "")
            except credentials.CredentialError:
                pass
        tenant = Tenant.objects.filter(name=owner.tenant).first()
        tenant_admin = (
            plan.user is None or tenant is None or access.tenant_role(plan.user, tenant) == access.ADMIN
        )
        problem = credentials.project_choice_problem(
            values["defaultProjectID"],
            current=current.get("defaultProjectID", ""),
            tenant_default=tenant_default,
            allowed=allowed,
            tenant_admin=tenant_admin,
            own_key=credentials.own_connection(values),
        )
        if problem:
            plan.error(doc, f"{doc.state['paths'][credentials.PALETTE_KEY]}.defaultProjectID", problem)

    def apply(self, doc: Document, plan: Plan) -> str:
        data, labels = doc.state["data"], doc.state["labels"]
        existing = Secret.objects.filter(namespace=doc.namespace, name=doc.name).first()
        if existing is not None:
            # The labels save_secret would write: the file's (or the stored ones) plus ours.
            expected = {**(labels or existing.labels or {}), MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1]}
            if existing.get_data() == data and existing.labels == expected:
                return "unchanged"
        writes.save_secret(
            owner_for_namespace(doc.namespace),
            doc.name,
            data,
            labels=labels,
            request=plan.request,
            user=plan.user,
            source=plan.audit_source,
        )
        return "configured" if existing else "created"

    def validate_delete(self, doc: Document, plan: Plan) -> None:
        if not Secret.objects.filter(namespace=doc.namespace, name=doc.name).exists():
            return
        users = [
            s.name
            for s in Settings.objects.filter(namespace=doc.namespace)
            if doc.name in (s.palette_secret, s.huggingface_secret, s.ngc_secret)
            and not plan.find("Settings", s.name, s.namespace)
        ]
        if users:
            plan.error(
                doc,
                "",
                f"Settings {', '.join(users)} still use this Secret; delete or change them first "
                "(they may be listed in this file).",
            )
        for other in Secret.objects.filter(namespace=doc.namespace).exclude(name=doc.name):
            if plan.find("Secret", other.name, other.namespace):
                continue
            try:
                values = credentials.parse_palette_json(
                    other.get_data().get(credentials.PALETTE_KEY), partial=True, allow_project_name=True
                )
            except credentials.CredentialError:
                continue
            if values.get("tlsSecretRef") == doc.name:
                plan.error(
                    doc,
                    "",
                    f"Secret {other.name} names this Secret as its tlsSecretRef (CA certificate); "
                    "change or delete that Secret first.",
                )

    def delete(self, doc: Document, plan: Plan) -> str:
        return _delete_stored(Secret, writes.delete_secret, doc, plan)

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        out = []
        for secret in _stored(Secret, namespace):
            metadata: dict = {"name": secret.name, "namespace": secret.namespace}
            if secret.labels:
                metadata["labels"] = dict(secret.labels)
            values = {k: (v if show_secrets else REDACTED) for k, v in sorted(secret.get_data().items())}
            out.append(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": metadata,
                    "type": "Opaque",
                    "stringData": values,
                }
            )
        return out


class SettingsHandler(Handler):
    kind = "Settings"
    api_versions = ("spectrocloud.com/v1alpha1",)
    order = 40

    def authorize(self, doc: Document, plan: Plan, user: Any) -> bool:
        return can_write_namespace(plan, user, doc.namespace, need=access.ADMIN)  # as on the Settings page

    def validate(self, doc: Document, plan: Plan) -> None:
        namespace = doc.namespace
        if namespace_owner(plan, namespace) is None:
            plan.error(doc, "metadata.namespace", NO_OWNER.format(ns=namespace))
        plan.check_text(
            doc, "metadata.name", doc.name, validators=Settings._meta.get_field("name").validators
        )
        existing = Settings.objects.filter(namespace=namespace).exclude(name=doc.name).first()
        if existing is not None:
            plan.error(
                doc,
                "metadata.name",
                f"namespace {namespace} already has Settings {existing.name}, and a Settings name "
                f"cannot be changed: use name {existing.name} (or delete those Settings first).",
            )
        for other in plan.of_kind("Settings"):
            if other.namespace == namespace and other.index < doc.index:
                plan.error(
                    doc,
                    "metadata.name",
                    f"document {other.index} already defines Settings {other.name} in {namespace}; "
                    "a tenant or project has one Settings.",
                )
        if plan.mapping(doc, "spec", keys=REFS) is None:
            return
        if doc.get("spec.palette") in (MISSING, None):
            plan.error(
                doc,
                "spec.palette",
                "required: every Settings needs the Palette integration, "
                "palette: {secretRef: {name: <Secret with key palette>}}.",
            )
        refs: dict[str, str] = {}
        for key in REFS:
            keys = ("secretRef", "allowedProjectIDs", "rateLimit") if key == "palette" else ("secretRef",)
            if plan.mapping(doc, f"spec.{key}", keys=keys, required=False) is None:
                continue
            if plan.mapping(doc, f"spec.{key}.secretRef", keys=("name",)) is None:
                continue
            name = plan.text(
                doc, f"spec.{key}.secretRef.name", max_length=253, validators=SECRET_NAME_VALIDATORS
            )
            if name:
                refs[key] = name
        doc.state["refs"] = refs
        self._read_allowed(doc, plan)
        self._read_rate_limit(doc, plan)

    @staticmethod
    def _read_rate_limit(doc: Document, plan: Plan) -> None:
        """spec.palette.rateLimit: this Palette's own rate limit, a number or "/v1/family=rate" pairs (README,
        "Palette's rate limits"); absent: the installation's."""
        value = doc.get("spec.palette.rateLimit")
        doc.state["rate_limit"] = ""
        if value is MISSING or value is None:
            return
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            plan.error(
                doc, "spec.palette.rateLimit", "must be a number or a string such as /v1/dashboard=50."
            )
            return
        text = str(value).strip()
        try:
            validate_rate_limit(text)
        except ValidationError as exc:
            plan.error(doc, "spec.palette.rateLimit", exc.messages[0])
            return
        doc.state["rate_limit"] = text

    @staticmethod
    def _read_allowed(doc: Document, plan: Plan) -> None:
        """spec.palette.allowedProjectIDs: the Palette project UIDs a tenant's projects may use (tenant
        Settings only)."""
        value = doc.get("spec.palette.allowedProjectIDs")
        if value is MISSING or value is None:
            doc.state["allowed"] = []
            return
        path = "spec.palette.allowedProjectIDs"
        if not doc.namespace.startswith(TENANT_NAMESPACE_PREFIX):
            plan.error(
                doc,
                path,
                "only a tenant's Settings list the Palette projects its projects may use; remove it here.",
            )
            return
        if not isinstance(value, list) or not all(isinstance(uid, str) for uid in value) or len(value) > 200:
            plan.error(
                doc, path, "must be a list of Palette project UIDs (24 hex characters each), at most 200."
            )
            return
        for index, uid in enumerate(value):
            try:
                credentials.check_project_uid(uid)
            except credentials.CredentialError as exc:
                plan.error(doc, f"{path}[{index}]", str(exc))
                return
        doc.state["allowed"] = sorted(set(value))

    def check(self, plan: Plan) -> None:
        self._check_secret_refs(plan)
        self._check_settings_refs(plan)
        self._check_unique_credentials(plan)

    @staticmethod
    def _final_settings(plan: Plan) -> dict[str, tuple[str, dict[str, str], Document | None]]:
        """namespace → (Settings name, spec key → Secret name, the file's document or None) once the file is
        applied."""
        final: dict[str, tuple[str, dict[str, str], Document | None]] = {}
        for s in Settings.objects.all():
            refs = {key: getattr(s, field) for key, (field, _) in REFS.items() if getattr(s, field)}
            final[s.namespace] = (s.name, refs, None)
        for doc in plan.of_kind("Settings"):
            if "refs" in doc.state:
                final[doc.namespace] = (doc.name, doc.state["refs"], doc)
        return final

    def _check_secret_refs(self, plan: Plan) -> None:
        """Every Secret a Settings names exists (in the file or stored) and holds the key of its
        integration."""
        for namespace, (name, refs, doc) in self._final_settings(plan).items():
            for key, secret_name in refs.items():
                wanted = REFS[key][1]
                secret_doc = plan.find("Secret", secret_name, namespace)
                if doc is None and secret_doc is None:
                    continue  # stored Settings and Secret the file does not touch
                exists, data = final_secret(plan, namespace, secret_name)
                if doc is not None and not exists:
                    plan.error(
                        doc,
                        f"spec.{key}.secretRef.name",
                        f"Secret {secret_name} does not exist in namespace {namespace}; "
                        "add it to this file or create it first.",
                    )
                elif data is not None and wanted not in data:
                    message = (
                        f"Secret {secret_name} has no {wanted} key ({SECRET_KEYS[wanted]}), "
                        f"which Settings {name} need for {key}."
                    )
                    if doc is not None:
                        plan.error(doc, f"spec.{key}.secretRef.name", message)
                    else:
                        plan.error(secret_doc, "", message)

    @staticmethod
    def _check_settings_refs(plan: Plan) -> None:
        """A Tenant's or Project's settingsRef names the Settings in its own namespace."""
        for doc in plan.of_kind("Tenant") + plan.of_kind("Project"):
            if "settings_ref" not in doc.state:
                continue
            namespace, name = doc.state["settings_ref"]
            if (
                plan.find("Settings", name, namespace)
                or Settings.objects.filter(namespace=namespace, name=name).exists()
            ):
                continue
            plan.error(
                doc,
                "spec.settingsRef.name",
                f"there are no Settings {name} in namespace {namespace}; "
                "add them to this file or create them first.",
            )

    def _check_unique_credentials(self, plan: Plan) -> None:
        """A Palette credential (host + API key) backs one Settings per tenant (see
        writes.check_credential_unique): a second one in the same tenant is refused, the file's newcomer gets
        the error; other tenants' Settings sharing it are named in a warning of the apply's output."""
        entries = []
        for namespace, (name, refs, doc) in self._final_settings(plan).items():
            secret_name = refs.get("palette")
            if not secret_name:
                continue
            secret_doc = plan.find("Secret", secret_name, namespace)
            touched = doc is not None or secret_doc is not None
            entries.append((touched, namespace, name, secret_name, doc, secret_doc))
        if not any(entry[0] for entry in entries):
            return  # the file changes no Palette credential: no Secret needs decrypting
        users: dict[tuple[str, str], list[tuple]] = {}
        for entry in sorted(entries, key=lambda e: e[:3]):
            credential = _credential(final_secret(plan, entry[1], entry[3])[1])
            if credential is not None:
                owner = namespace_owner(plan, entry[1])
                users.setdefault(credential, []).append((*entry, owner.tenant if owner else ""))
        for credential, group in users.items():
            for index, entry in enumerate(group):
                if entry[0]:  # touched by the file
                    self._check_shared(plan, credential, group, index)

    @staticmethod
    def _check_shared(plan: Plan, credential: tuple[str, str], group: list[tuple], index: int) -> None:
        """Refuse the group's entry `index` when an earlier one is in its tenant; else warn about other
        tenants'."""
        _, namespace, name, _, doc, secret_doc, tenant = group[index]
        same = [f"{e[1]}/{e[2]}" for e in group[:index] if e[6] == tenant]
        if not same:
            elsewhere = [f"{e[1]}/{e[2]} (tenant {e[6]})" for e in group if e[6] != tenant]
            warning = writes.shared_key_warning(credential[0], elsewhere)
            if warning:
                plan.warnings.append(f"Settings {namespace}/{name}: {warning}")
            return
        message = (
            f"this Palette API key for {credential[0]} already backs Settings {same[0]}. "
            "Use one tenant-level Settings and let projects inherit it, or create a separate API key."
        )
        if doc is not None:
            plan.error(doc, "spec.palette.secretRef.name", message)
        else:
            plan.error(secret_doc, secret_doc.state["paths"].get(credentials.PALETTE_KEY, ""), message)

    def apply(self, doc: Document, plan: Plan) -> str:
        refs = doc.state["refs"]
        wanted = {field: refs.get(key, "") for key, (field, _) in REFS.items()}
        existing = Settings.objects.filter(namespace=doc.namespace, name=doc.name).first()
        wanted_allowed = doc.state.get("allowed", [])
        if (
            existing is not None
            and all(getattr(existing, f) == v for f, v in wanted.items())
            and existing.allowed_project_ids == wanted_allowed
            and existing.palette_rate_limit == doc.state.get("rate_limit", "")
        ):
            return "unchanged"
        owner = owner_for_namespace(doc.namespace)
        writes.save_settings(
            owner,
            doc.name,
            request=plan.request,
            user=plan.user,
            source=plan.audit_source,
            allowed_project_ids=wanted_allowed if isinstance(owner, Tenant) else None,
            palette_rate_limit=doc.state.get("rate_limit", ""),
            **wanted,
        )
        return "configured" if existing else "created"

    def delete(self, doc: Document, plan: Plan) -> str:
        return _delete_stored(Settings, writes.delete_settings, doc, plan)

    def export(self, namespace: str | None, show_secrets: bool) -> list[dict]:
        out = []
        for s in _stored(Settings, namespace):
            spec = {
                key: {"secretRef": {"name": getattr(s, field)}}
                for key, (field, _) in REFS.items()
                if getattr(s, field)
            }
            if s.allowed_project_ids:
                spec["palette"]["allowedProjectIDs"] = list(s.allowed_project_ids)
            if s.palette_rate_limit:
                spec["palette"]["rateLimit"] = s.palette_rate_limit
            out.append(
                {
                    "apiVersion": self.api_versions[0],
                    "kind": "Settings",
                    "metadata": {"name": s.name, "namespace": s.namespace},
                    "spec": spec,
                }
            )
        return out

    def amend_export(self, documents: list[dict]) -> None:
        # A tenant's or project's Settings are the ones in its namespace: write them back as settingsRef.
        names = dict(Settings.objects.values_list("namespace", "name"))
        for doc in documents:
            if doc["kind"] == "Tenant":
                namespace = tenant_namespace(doc["metadata"]["name"])
                if namespace in names:
                    doc["spec"]["settingsRef"] = {"name": names[namespace], "namespace": namespace}
            elif doc["kind"] == "Project" and doc["metadata"]["namespace"] in names:
                doc["spec"]["settingsRef"] = {"name": names[doc["metadata"]["namespace"]]}


HANDLERS = (SecretHandler(), SettingsHandler())
