from __future__ import annotations

import re

from django import forms
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError

from tenancy.models import DNS1123_LABEL, Project

from . import credentials
from .certificates import CertificateError, parse_ca_bundle
from .models import validate_rate_limit

MAX_CA_BYTES = 256 * 1024
TLS_CHOICES = [
    ("inherit", "Inherit from the tenant"),
    ("verify", "Verify (recommended)"),
    ("skip", "Skip verification (labs only)"),
]


def _optional_text(max_length: int, label: str, help_text: str) -> forms.CharField:
    """A text field that may be left blank (at project level: inherit the tenant's value)."""
    return forms.CharField(max_length=max_length, required=False, label=label, help_text=help_text)


class PaletteIntegrationForm(forms.Form):
    """The Palette integration of one tenant or project. Secrets are write-only: blank keeps the stored value.

    At project level every field may be left blank to inherit the tenant's value.
    """

    #: Set by form_actions.save_palette when other tenants' Settings use the same API key.
    shared_key_warning = ""

    settings_name = forms.CharField(
        max_length=63,
        validators=[DNS1123_LABEL],
        required=False,
        label="Settings name",
        help_text="DNS-1123 label, e.g. dev-settings. Cannot be changed later.",
    )
    host_url = _optional_text(
        300, "Palette host URL", "https URL or bare host, e.g. api.spectrocloud.com or palette.example.com."
    )
    api_key = forms.CharField(
        max_length=500,
        required=False,
        label="API key",
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    tenant = _optional_text(128, "Palette tenant", "The tenant (organisation) name in Palette.")
    default_project_id = _optional_text(
        128, "Default project ID", "Palette's project UID: 24 hex characters, not the project's name."
    )
    tls = forms.ChoiceField(choices=TLS_CHOICES, initial="verify", label="TLS certificate verification")
    ca_pem = forms.CharField(
        required=False,
        max_length=MAX_CA_BYTES,
        label="CA certificate (PEM)",
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "-----BEGIN CERTIFICATE-----"}),
        help_text=(
            "For a self-hosted Palette with a private CA. A bundle of several certificates is fine. "
            "Blank keeps the stored one."
        ),
    )
    ca_file = forms.FileField(required=False, label="…or upload the CA file")
    remove_ca = forms.BooleanField(required=False, label="Remove the stored CA certificate")
    inherit_connection = forms.BooleanField(
        required=False,
        label="Use the tenant's connection",
        help_text=(
            "Drops this project's own host URL, API key, TLS setting and CA; the tenant's are used instead."
        ),
    )
    allowed_project_ids = forms.CharField(
        required=False,
        label="Palette projects the tenant's projects may use",
        max_length=25 * 200,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "one project UID per line"}),
        help_text=(
            "Besides the default project above. Empty: only tenant admins may point a project at another "
            "Palette project with the tenant's API key."
        ),
    )
    palette_rate_limit = forms.CharField(
        required=False,
        label="Palette rate limit",
        max_length=200,
        help_text=(
            "For a self-hosted Palette with other limits: requests per second per endpoint family, a number "
            "(0: no pacing) or pairs such as /v1/dashboard=50,/v1/edgehosts=50. Empty: this installation's "
            "PALETTE_RATE_LIMIT (Palette's published limits unless set)."
        ),
    )

    FIELD_OF = {
        "hostUrl": "host_url",
        "apiKey": "api_key",
        "tenant": "tenant",
        "defaultProjectID": "default_project_id",
        "skipSSLCertificateVerification": "tls",
        "tlsSecretRef": "ca_pem",
    }

    def __init__(
        self,
        *args,
        owner,
        current: dict,
        has_settings: bool,
        inherits: dict | None,
        has_ca: bool,
        tenant_admin: bool = False,
        allowed: list[str] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.owner, self.current, self.inherits, self.has_ca = owner, current, inherits, has_ca
        # The tenant's list of allowed Palette projects, and whether the user may choose outside it (a tenant
        # admin).
        self.tenant_admin, self.allowed = tenant_admin, list(allowed or [])
        self.is_project = isinstance(owner, Project)
        if self.is_project:
            del self.fields["allowed_project_ids"]
            if inherits is None or not credentials.own_connection(current):
                del self.fields["inherit_connection"]
        else:
            del self.fields["inherit_connection"]
            self.initial.setdefault("allowed_project_ids", "\n".join(self.allowed))
        self.ca_text = ""
        if has_settings:
            del self.fields["settings_name"]
        else:
            self.fields["settings_name"].required = True
            self.fields["settings_name"].initial = f"{owner.name}-settings"
        if not self.is_project or inherits is None:
            self.fields["tls"].choices = TLS_CHOICES[1:]
        if current.get("apiKey"):
            from core.fields import mask

            self.fields[
                "api_key"
            ].help_text = (
                f"Stored: {mask(current['apiKey'])}. Leave blank to keep it; paste a new key to rotate."
            )
        else:
            self.fields["api_key"].help_text = "Create one in Palette under Profile > My API Keys."
        for key, name in (
            ("hostUrl", "host_url"),
            ("tenant", "tenant"),
            ("defaultProjectID", "default_project_id"),
        ):
            self.initial.setdefault(name, current.get(key, ""))
            if inherits and inherits.get(key):
                self.fields[name].widget.attrs["placeholder"] = f"inherited: {inherits[key]}"
        skip = current.get("skipSSLCertificateVerification")
        self.initial.setdefault(
            "tls",
            "skip"
            if skip
            else ("verify" if skip is False or not self.is_project or inherits is None else "inherit"),
        )

    def clean_ca_file(self):
        upload = self.cleaned_data.get("ca_file")
        if upload is None:
            return None
        if upload.size > MAX_CA_BYTES:
            raise forms.ValidationError(
                "The CA file is larger than 256 KiB; upload only the CA certificate(s)."
            )
        return upload.read()

    def clean(self):
        data = super().clean()
        values: dict = {}
        text = {
            "hostUrl": data.get("host_url", ""),
            "tenant": data.get("tenant", ""),
            "defaultProjectID": data.get("default_project_id", ""),
        }
        for key, value in text.items():
            if value:
                values[key] = value
        values["apiKey"] = data.get("api_key") or self.current.get("apiKey", "")
        if not values["apiKey"]:
            values.pop("apiKey")
        tls = data.get("tls")
        if tls in ("verify", "skip"):
            values["skipSSLCertificateVerification"] = tls == "skip"
        if data.get("inherit_connection"):
            values = {k: v for k, v in values.items() if k not in credentials.CONNECTION}
        try:
            values = credentials.validate_fields(values, allow_project_name=True)
        except credentials.CredentialError as exc:
            self.add_error(self.FIELD_OF.get(exc.field, None), str(exc))
            return data
        if "allowed_project_ids" in self.fields:
            self.allowed = self._clean_allowed(data.get("allowed_project_ids") or "")
        try:
            validate_rate_limit(data.get("palette_rate_limit") or "")
        except ValidationError as exc:
            self.add_error("palette_rate_limit", exc.messages[0])
        # CA: new text or file replaces, "remove" drops, blank keeps.
        raw_ca = data.get("ca_file") or (data.get("ca_pem") or "").strip()
        if raw_ca:
            try:
                self.ca_infos = parse_ca_bundle(raw_ca)
            except CertificateError as exc:
                self.add_error("ca_file" if data.get("ca_file") else "ca_pem", str(exc))
                return data
            from .certificates import normalize_pem

            self.ca_text = normalize_pem(raw_ca if isinstance(raw_ca, str) else raw_ca.decode("ascii"))
        if values.get("skipSSLCertificateVerification") and (
            self.ca_text or (self.has_ca and not data.get("remove_ca"))
        ):
            self.add_error(
                "tls", "Choose one: verify with the CA certificate, or skip verification — not both."
            )
        if data.get("inherit_connection"):
            self.ca_text, data["remove_ca"] = "", self.has_ca
        self._check_connection(data, values)
        self._check_project_choice(values)
        complete_needed = not self.is_project or self.inherits is None
        if complete_needed:
            labels = {
                "hostUrl": "host_url",
                "apiKey": "api_key",
                "tenant": "tenant",
                "defaultProjectID": "default_project_id",
            }
            for key, name in labels.items():
                if not values.get(key) and name not in self.errors:
                    self.add_error(
                        name,
                        "Required."
                        + (
                            " Paste the API key once; it is stored encrypted and never shown again."
                            if key == "apiKey"
                            else ""
                        ),
                    )
        self.values = values
        return data

    def _clean_allowed(self, text: str) -> list[str]:
        uids = [uid for uid in re.split(r"[\s,]+", text.strip()) if uid]
        for uid in uids:
            try:
                credentials.check_project_uid(uid)
            except credentials.CredentialError as exc:
                self.add_error("allowed_project_ids", str(exc))
                break
        return sorted(set(uids))

    def _check_connection(self, data: dict, values: dict) -> None:
        """A key is only sent to the host and trust it was stored with; a project's own connection is
        whole."""
        has_ca = bool(self.ca_text) or (self.has_ca and not data.get("remove_ca"))
        if (
            self.is_project
            and self.inherits is not None
            and credentials.own_connection({**values, "tlsSecretRef": has_ca})
        ):
            if not values.get("hostUrl") and "host_url" not in self.errors:
                self.add_error(
                    "host_url",
                    "Enter the host URL: a project with a Palette connection of its own (API key, "
                    "TLS or CA) sets its host too. Leave key, TLS and CA blank to inherit the tenant's.",
                )
            if not values.get("apiKey"):
                self.add_error(
                    "api_key",
                    "Enter this project's own API key: a project that sets its own host, TLS or CA "
                    "never uses the tenant's key.",
                )
            if data.get("tls") == "inherit":
                self.add_error(
                    "tls",
                    "Choose Verify or Skip: a project with a connection of its own does not inherit "
                    "the tenant's TLS setting.",
                )
        stored_key = self.current.get("apiKey")
        if not stored_key or data.get("api_key") or data.get("inherit_connection"):
            return
        changed = []
        if values.get("hostUrl") != self.current.get("hostUrl"):
            changed.append("the host URL")
        if values.get("skipSSLCertificateVerification") and not self.current.get(
            "skipSSLCertificateVerification"
        ):
            changed.append("TLS verification (now skipped)")
        if self.ca_text or data.get("remove_ca"):
            changed.append("the CA certificate")
        if changed:
            self.add_error(
                "api_key",
                f"Paste the API key again: {' and '.join(changed)} changed, and a stored key is only "
                "sent to the host and TLS trust it was saved with.",
            )

    def _check_project_choice(self, values: dict) -> None:
        if not self.is_project:
            return
        problem = credentials.project_choice_problem(
            values.get("defaultProjectID", ""),
            current=self.current.get("defaultProjectID", ""),
            tenant_default=(self.inherits or {}).get("defaultProjectID", ""),
            allowed=self.allowed,
            tenant_admin=self.tenant_admin,
            own_key=credentials.own_connection(values),
        )
        if problem:
            self.add_error("default_project_id", problem)

    @property
    def project_name_warning(self) -> str:
        value = getattr(self, "values", {}).get("defaultProjectID", "")
        if value and not credentials.looks_like_project_uid(value):
            return (
                f"Default project ID {value!r} looks like a project name, not its UID. Saved as typed: "
                "run Test connection and this page will offer the matching UID."
            )
        return ""

    @property
    def warnings(self) -> list[str]:
        """What a saved form has to tell besides success: a project name typed as its ID, a shared key."""
        return [w for w in (self.project_name_warning, self.shared_key_warning) if w]


HF_TOKEN = re.compile(r"^hf_[A-Za-z0-9]{30,}$")
NGC_KEY = re.compile(r"^(nvapi-[A-Za-z0-9_-]{40,}|[A-Za-z0-9+/=]{60,})$")


class TokenForm(forms.Form):
    """A Hugging Face token or an NVIDIA NGC API key: write-only, format-checked locally."""

    token = forms.CharField(
        max_length=500,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )
    remove = forms.BooleanField(required=False, label="Remove this integration")

    def __init__(self, *args, kind: str, stored: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        from core.fields import mask

        self.fields["token"].label = "Hugging Face token" if kind == "huggingface" else "NVIDIA NGC API key"
        self.fields["token"].help_text = (
            f"Stored: {mask(stored)}. Blank keeps it."
            if stored
            else (
                "A Hub token with read access (starts with hf_)."
                if kind == "huggingface"
                else "An NGC API key (starts with nvapi-)."
            )
        )
        self.stored = stored

    def clean_token(self):
        token = self.cleaned_data["token"]
        if token:
            problem = format_problem(self.kind, token)
            if problem:
                raise forms.ValidationError(problem)
        return token

    def clean(self):
        data = super().clean()
        if (
            not data.get("remove")
            and not data.get("token")
            and not self.stored
            and "token" not in self.errors
        ):
            self.add_error("token", "Paste the token to add this integration.")
        return data


def format_problem(kind: str, token: str) -> str:
    """What is wrong with the token's format, or "" when it looks right (no network involved)."""
    if kind == "huggingface":
        if not HF_TOKEN.match(token):
            return (
                "That is not a Hugging Face token: they start with hf_ followed by at least 30 letters "
                "and digits."
            )
    elif not NGC_KEY.match(token):
        return "That is not an NGC API key: they start with nvapi- (or are a long base64 legacy key)."
    return ""


def online_checks_note() -> str:
    if django_settings.INTEGRATION_ONLINE_CHECKS:
        return ""
    return (
        "Format checked locally. No network check is made (air-gapped installs); "
        "set INTEGRATION_ONLINE_CHECKS=true to enable one."
    )
