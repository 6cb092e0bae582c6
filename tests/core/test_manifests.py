"""Manifests: apply (all or nothing, idempotent), export (redacted or round-trip), delete, and the three
commands."""

from __future__ import annotations

import base64
import datetime
import io
import json
import sys

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.contrib.auth.models import User
from django.core.management import call_command

from core.manifests import apply_text, delete_text, export_text, handlers
from core.models import AuditEntry
from integrations.models import Secret, Settings
from tenancy.models import Membership, Project, Tenant

CANARY = "CANARY-7f3a9c1e5b2d4f60"
PROJECT_UID = "65f0c1d2e3a4b5c6d7e8f901"
V1A1 = "spectrocloud.com/v1alpha1"


def make_ca() -> tuple[str, str]:
    """A self-signed CA certificate and its private key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Palette Test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


CA_PEM, KEY_PEM = make_ca()


def palette_json(**overrides) -> str:
    values = {
        "apiKey": CANARY,
        "defaultProjectID": PROJECT_UID,
        "hostUrl": "https://palette.example.com",
        "tenant": "acme",
        "skipSSLCertificateVerification": False,
        "tlsSecretRef": "palette-ca",
        **overrides,
    }
    return json.dumps(values, indent=2) + "\n"


def doc_secrets() -> list[dict]:
    """The two Secrets of PaletteAI's documentation: key `palette` (JSON, stringData) and key `ca.crt` (base64
    data)."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "palette-api-secret", "namespace": "primary-dev"},
            "type": "Opaque",
            "stringData": {"palette": palette_json()},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "palette-ca", "namespace": "primary-dev"},
            "type": "Opaque",
            "data": {"ca.crt": base64.b64encode(CA_PEM.encode()).decode()},
        },
    ]


def example() -> list[dict]:
    """The example set: Tenant acme, Project primary-dev, Settings dev-settings with Palette, Hugging Face and
    NGC (the README shows its Settings and Palette Secret)."""
    return [
        {
            "apiVersion": V1A1,
            "kind": "Tenant",
            "metadata": {"name": "acme"},
            "spec": {"displayName": "Acme", "gpuLimit": 64},
        },
        {
            "apiVersion": V1A1,
            "kind": "Project",
            "metadata": {"name": "primary-dev", "namespace": "primary-dev"},
            "spec": {
                "tenantRef": {"name": "acme"},
                "displayName": "Primary dev",
                "settingsRef": {"name": "dev-settings"},
                "gpuLimit": 16,
            },
        },
        {
            "apiVersion": V1A1,
            "kind": "Settings",
            "metadata": {"name": "dev-settings", "namespace": "primary-dev"},
            "spec": {
                "palette": {"secretRef": {"name": "palette-api-secret"}},
                "huggingFace": {"secretRef": {"name": "hf-token"}},
                "nvidiaNgc": {"secretRef": {"name": "ngc-key"}},
            },
        },
        *doc_secrets(),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hf-token", "namespace": "primary-dev"},
            "type": "Opaque",
            "stringData": {"huggingface": json.dumps({"token": "hf_CANARYtoken123456"})},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "ngc-key", "namespace": "primary-dev"},
            "type": "Opaque",
            "stringData": {"nvidia": json.dumps({"apiKey": "nvapi-CANARYngc123456"})},
        },
    ]


def dump(docs: list[dict]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def apply_ok(docs_or_text) -> list[str]:
    text = docs_or_text if isinstance(docs_or_text, str) else dump(docs_or_text)
    result = apply_text(text, source="example.yaml")
    assert result.errors == []
    return [str(c) for c in result.changes]


def run(command: str, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    """call_command with captured output and exit status."""
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    try:
        call_command(command, *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_it_applies_the_design_example():
    lines = apply_ok(example())
    assert lines == [
        "tenant/acme created",
        "project/primary-dev -n primary-dev created",
        "secret/palette-api-secret -n primary-dev created",
        "secret/palette-ca -n primary-dev created",
        "secret/hf-token -n primary-dev created",
        "secret/ngc-key -n primary-dev created",
        "settings/dev-settings -n primary-dev created",
    ]
    tenant = Tenant.objects.get(name="acme")
    project = Project.objects.get(namespace="primary-dev")
    assert (tenant.display_name, tenant.gpu_limit, project.tenant, project.gpu_limit) == (
        "Acme",
        64,
        tenant,
        16,
    )
    settings = Settings.objects.get(namespace="primary-dev")
    assert (
        settings.name,
        settings.project,
        settings.palette_secret,
        settings.huggingface_secret,
        settings.ngc_secret,
    ) == ("dev-settings", project, "palette-api-secret", "hf-token", "ngc-key")
    assert json.loads(Secret.objects.get(name="palette-api-secret").get_data()["palette"])["apiKey"] == CANARY
    assert Secret.objects.get(name="palette-ca").get_data() == {"ca.crt": CA_PEM}
    entries = AuditEntry.objects.all()
    assert entries.count() == 7 and {e.source for e in entries} == {"cli"}
    assert CANARY not in json.dumps(list(entries.values()), default=str)


@pytest.mark.django_db
def test_it_applies_the_documentation_secrets_as_they_are_once_a_project_owns_the_namespace(world):
    Project.objects.create(
        tenant=world.tenant_a, name="primary-dev", display_name="Primary dev", namespace="primary-dev"
    )
    assert apply_ok(doc_secrets()) == [
        "secret/palette-api-secret -n primary-dev created",
        "secret/palette-ca -n primary-dev created",
    ]


@pytest.mark.django_db
def test_it_accepts_documents_in_any_order_and_references_within_the_file():
    lines = apply_ok(list(reversed(example())))
    assert lines[:2] == ["tenant/acme created", "project/primary-dev -n primary-dev created"]


@pytest.mark.django_db
def test_it_reports_unchanged_on_a_second_apply_and_writes_no_audit_entry():
    apply_ok(example())
    before = AuditEntry.objects.count()
    lines = apply_ok(example())
    assert all(line.endswith(" unchanged") for line in lines) and len(lines) == 7
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_it_reports_configured_for_what_changed_only():
    apply_ok(example())
    docs = example()
    docs[0]["spec"]["gpuLimit"] = 80
    docs[3]["stringData"]["palette"] = palette_json(tenant="acme-corp")
    lines = apply_ok(docs)
    assert (
        "tenant/acme configured" in lines and "secret/palette-api-secret -n primary-dev configured" in lines
    )
    assert sum(line.endswith(" configured") for line in lines) == 2
    assert Tenant.objects.get(name="acme").gpu_limit == 80
    update = AuditEntry.objects.filter(action=AuditEntry.UPDATE, object_type="tenant").get()
    assert update.changes == {"gpu_limit": {"old": "64", "new": "80"}}


@pytest.mark.django_db
def test_it_writes_nothing_when_one_document_is_bad():
    docs = example()
    docs[4]["data"]["ca.crt"] = "!!! not base64 !!!"
    result = apply_text(dump(docs), source="example.yaml")
    assert result.errors == [
        "example.yaml: document 5 (Secret primary-dev/palette-ca): data.ca.crt: not valid base64: encode the "
        "value with `base64 -w0`, or write it as plain text under stringData."
    ]
    assert result.changes == []
    assert not Tenant.objects.exists() and not Project.objects.exists() and not Secret.objects.exists()
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_it_lists_every_problem_in_file_order():
    docs = example()
    docs[0]["spec"]["gpuLimit"] = "lots"
    docs[1]["spec"]["displayName"] = 42
    docs.append(["not", "a", "mapping"])
    docs.append(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "primary-dev"}}
    )
    assert apply_text(dump(docs), source="f.yaml").errors == [
        "f.yaml: document 1 (Tenant acme): spec.gpuLimit: must be a whole number, not text.",
        "f.yaml: document 2 (Project primary-dev/primary-dev): spec.displayName: "
        "must be a string, not a number; put the value in quotes.",
        "f.yaml: document 8: a manifest must be a mapping with apiVersion, kind and metadata, not a list.",
        "f.yaml: document 9 (ConfigMap primary-dev/x): kind: unknown kind 'ConfigMap'; "
        f"this tool manages {', '.join(handlers())}.",
    ]


@pytest.mark.django_db
def test_it_rolls_back_everything_when_a_write_fails_late(monkeypatch):
    from django.core.exceptions import ValidationError

    from integrations import writes

    def refuse(*args, **kwargs):
        raise ValidationError("refused for the test")

    monkeypatch.setattr(writes, "save_settings", refuse)
    result = apply_text(dump(example()), source="f.yaml")
    assert result.errors == ["f.yaml: document 3 (Settings primary-dev/dev-settings): refused for the test"]
    assert not Tenant.objects.exists() and not Secret.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_it_changes_nothing_in_a_dry_run():
    result = apply_text(dump(example()), dry_run=True)
    assert result.ok and [c.action for c in result.changes] == ["created"] * 7
    assert not Tenant.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_it_refuses_a_palette_credential_that_already_backs_other_settings():
    apply_ok(example())
    docs = [
        {
            "apiVersion": V1A1,
            "kind": "Project",
            "metadata": {"name": "second", "namespace": "second"},
            "spec": {"tenantRef": {"name": "acme"}, "displayName": "Second"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "same-key", "namespace": "second"},
            "stringData": {"palette": palette_json(tlsSecretRef="")},
        },
        {
            "apiVersion": V1A1,
            "kind": "Settings",
            "metadata": {"name": "second-settings", "namespace": "second"},
            "spec": {"palette": {"secretRef": {"name": "same-key"}}},
        },
    ]
    errors = apply_text(dump(docs), source="f.yaml").errors
    assert errors == [
        "f.yaml: document 3 (Settings second/second-settings): spec.palette.secretRef.name: "
        "this Palette API key for https://palette.example.com "
        "already backs Settings primary-dev/dev-settings. "
        "Use one tenant-level Settings and let projects inherit it, or create a separate API key."
    ]


@pytest.mark.django_db
def test_it_applies_a_palette_key_another_tenant_uses_and_warns_naming_its_settings(tmp_path):
    apply_ok(example())
    docs = [
        {
            "apiVersion": V1A1,
            "kind": "Tenant",
            "metadata": {"name": "globex"},
            "spec": {"displayName": "Globex"},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "same-key", "namespace": "tenant-globex"},
            "stringData": {"palette": palette_json(tlsSecretRef="")},
        },
        {
            "apiVersion": V1A1,
            "kind": "Settings",
            "metadata": {"name": "globex-settings", "namespace": "tenant-globex"},
            "spec": {"palette": {"secretRef": {"name": "same-key"}}},
        },
    ]
    result = apply_text(dump(docs), source="f.yaml", dry_run=True)
    assert result.errors == [] and "settings/globex-settings -n tenant-globex created" in map(
        str, result.changes
    )
    assert (
        "Settings tenant-globex/globex-settings: This Palette API key for https://palette.example.com is "
        "also used by Settings primary-dev/dev-settings (tenant acme): rotating or revoking it in Palette "
        "affects every tenant that uses it."
    ) in result.warnings
    assert not any(CANARY in w for w in result.warnings)
    path = tmp_path / "globex.yaml"
    path.write_text(dump(docs))
    code, out, err = run("apply", "-f", str(path))
    assert code == 0 and "settings/globex-settings -n tenant-globex created" in out
    assert (
        "warning: Settings tenant-globex/globex-settings: This Palette API key" in err and CANARY not in err
    )


@pytest.mark.django_db
def test_it_limits_a_web_user_to_their_roles(world):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hf", "namespace": "acme-research"},
        "stringData": {"huggingface": '{"token": "hf_abcdefgh1234"}'},
    }
    tenant = {
        "apiVersion": V1A1,
        "kind": "Tenant",
        "metadata": {"name": "newco"},
        "spec": {"displayName": "New"},
    }
    assert apply_text(dump([secret]), user=world.viewer).errors == [
        "manifest: document 1 (Secret acme-research/hf): your role does not allow changing this Secret."
    ]
    assert apply_text(dump([secret]), user=world.outsider).errors
    assert apply_text(dump([tenant]), user=world.owner).errors == [
        "manifest: document 1 (Tenant newco): your role does not allow changing this Tenant."
    ]
    # Secrets and Settings need the role their Settings page needs: a project admin, not an editor.
    assert apply_text(dump([secret]), user=world.editor).errors == [
        "manifest: document 1 (Secret acme-research/hf): your role does not allow changing this Secret."
    ]
    project_admin = User.objects.create_user("project-admin")
    Membership.objects.create(user=project_admin, project=world.project_a, role=Membership.PROJECT_ADMIN)
    result = apply_text(dump([secret]), user=project_admin)
    assert result.ok and AuditEntry.objects.get(object_repr="acme-research/hf").username == "project-admin"
    assert AuditEntry.objects.get(object_repr="acme-research/hf").source == "cli"


# Export -------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_exports_without_secret_values_by_default():
    apply_ok(example())
    text = export_text()
    assert "CANARY" not in text and "BEGIN CERTIFICATE" not in text
    assert text.startswith("# PaletteAI Admin export (all namespaces). Secret values are REDACTED")
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == [
        "Tenant",
        "Project",
        "Secret",
        "Secret",
        "Secret",
        "Secret",
        "Settings",
    ]
    assert all(
        set(v for v in d["stringData"].values()) == {"REDACTED"} for d in docs if d["kind"] == "Secret"
    )
    # A redacted export says what to do when someone applies it anyway.
    errors = apply_text(text, source="export.yaml").errors
    assert len(errors) == 4 and all("holds the placeholder REDACTED written by export" in e for e in errors)


@pytest.mark.django_db
def test_it_round_trips_an_export_with_secrets_into_an_empty_database():
    apply_ok(example())
    text = export_text(show_secrets=True)
    assert CANARY in text and "settingsRef" in text
    assert all(line.endswith(" unchanged") for line in apply_ok(text))
    Settings.objects.all().delete()
    Secret.objects.all().delete()
    Project.objects.all().delete()
    Tenant.objects.all().delete()
    assert all(line.endswith(" created") for line in apply_ok(text))
    assert export_text(show_secrets=True) == text


@pytest.mark.django_db
def test_it_exports_one_namespace():
    apply_ok(example())
    docs = list(yaml.safe_load_all(export_text("primary-dev")))
    assert {d["metadata"].get("namespace") for d in docs} == {"primary-dev"} and "Tenant" not in {
        d["kind"] for d in docs
    }
    assert [d["kind"] for d in yaml.safe_load_all(export_text("tenant-acme"))] == ["Tenant"]
    assert export_text("nowhere").endswith("# No objects found.\n")


@pytest.mark.django_db
def test_it_exports_a_tenant_settings_ref_in_the_tenant_namespace():
    docs = [
        example()[0],
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pal", "namespace": "tenant-acme"},
            "stringData": {"palette": palette_json(tlsSecretRef="")},
        },
        {
            "apiVersion": V1A1,
            "kind": "Settings",
            "metadata": {"name": "acme-settings", "namespace": "tenant-acme"},
            "spec": {"palette": {"secretRef": {"name": "pal"}}},
        },
    ]
    docs[0]["spec"]["settingsRef"] = {"name": "acme-settings", "namespace": "tenant-acme"}
    apply_ok(docs)
    assert Settings.objects.get(name="acme-settings").tenant.name == "acme"
    tenant = next(yaml.safe_load_all(export_text("tenant-acme")))
    assert tenant["spec"]["settingsRef"] == {"name": "acme-settings", "namespace": "tenant-acme"}


# Delete -------------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_deletes_what_the_file_names_in_reverse_order():
    apply_ok(example())
    result = delete_text(dump(example()), source="f.yaml")
    assert result.ok and [str(c) for c in result.changes][0] == "settings/dev-settings -n primary-dev deleted"
    assert str(result.changes[-1]) == "tenant/acme deleted"
    assert not Tenant.objects.exists() and not Secret.objects.exists() and not Settings.objects.exists()
    assert AuditEntry.objects.filter(action=AuditEntry.DELETE).count() == 7
    assert [c.action for c in delete_text(dump(example())).changes] == ["not found"] * 7


@pytest.mark.django_db
def test_it_refuses_deletions_that_would_break_what_stays():
    apply_ok(example())
    docs = example()
    # A Tenant or Project takes its own Settings and Secrets along (tenancy.deletion); a Secret deleted by
    # itself must not leave Settings or another Secret pointing at nothing.
    errors = delete_text(dump([docs[0], docs[4]]), source="f.yaml").errors
    assert errors == [
        "f.yaml: document 2 (Secret primary-dev/palette-ca): Secret palette-api-secret names this Secret "
        "as its tlsSecretRef (CA certificate); change or delete that Secret first.",
    ]
    errors = delete_text(dump([docs[1], docs[3]]), source="f.yaml").errors
    assert errors == [
        "f.yaml: document 2 (Secret primary-dev/palette-api-secret): Settings dev-settings still use "
        "this Secret; delete or change them first (they may be listed in this file)."
    ]
    assert Secret.objects.count() == 4 and Project.objects.exists()


# Commands -----------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_it_exits_0_and_prints_one_line_per_object(tmp_path):
    path = tmp_path / "example.yaml"
    path.write_text(dump(example()))
    code, out, err = run("apply", "-f", str(path))
    assert (code, err) == (0, "") and out.splitlines()[0] == "tenant/acme created"
    code, out, _ = run("apply", "-f", str(path))
    assert code == 0 and out.count(" unchanged") == 7


@pytest.mark.django_db
def test_it_exits_1_with_every_problem_and_no_traceback(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x, namespace: nowhere}\n"
        "data: {palette: '%%%'}\n---\n- 1\n"
    )
    code, out, err = run("apply", "-f", str(path))
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}: document 1 (Secret nowhere/x): data.palette: not valid base64")
    assert lines[1].startswith(
        f"{path}: document 1 (Secret nowhere/x): metadata.namespace: "
        "no tenant or project owns namespace nowhere"
    )
    assert (
        lines[2]
        == f"{path}: document 2: a manifest must be a mapping with apiVersion, kind and metadata, not a list."
    )
    assert lines[3] == "Nothing was changed (3 problems)."
    assert "Traceback" not in err
    code, _, err = run("apply", "-f", str(tmp_path / "missing.yaml"))
    assert code == 1 and "cannot read the file: No such file or directory" in err


@pytest.mark.django_db
def test_it_round_trips_export_show_secrets_into_apply_from_stdin(monkeypatch):
    apply_ok(example())
    code, exported, _ = run("export", "--show-secrets")
    assert code == 0 and CANARY in exported
    code, out, err = run("apply", "-f", "-", stdin=exported, monkeypatch=monkeypatch)
    assert (code, err) == (0, "") and out.count(" unchanged") == 7
    code, redacted, _ = run("export", "-n", "primary-dev")
    assert code == 0 and "CANARY" not in redacted and "hf_CANARY" not in redacted


@pytest.mark.django_db
def test_it_deletes_from_the_command_line(tmp_path):
    apply_ok(example())
    path = tmp_path / "example.yaml"
    path.write_text(dump(example()[4:5]))
    code, _, err = run("delete", "-f", str(path))
    assert code == 1 and "Secret palette-api-secret names this Secret as its tlsSecretRef" in err
    path.write_text(dump(example()[:1]))
    code, out, _ = run("delete", "-f", str(path), "--dry-run")
    assert code == 0 and out.splitlines()[-1] == "tenant/acme deleted (dry run)" and Tenant.objects.exists()
    assert Secret.objects.count() == 4
    code, out, _ = run("delete", "-f", str(path))
    assert (
        code == 0
        and not Tenant.objects.exists()
        and not Project.objects.exists()
        and not Secret.objects.exists()
    )


@pytest.mark.django_db
def test_it_deletes_a_tenant_with_its_settings_and_secrets():
    docs = [
        example()[0],
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pal", "namespace": "tenant-acme"},
            "stringData": {"palette": palette_json(tlsSecretRef="")},
        },
        {
            "apiVersion": V1A1,
            "kind": "Settings",
            "metadata": {"name": "acme-settings", "namespace": "tenant-acme"},
            "spec": {"palette": {"secretRef": {"name": "pal"}}},
        },
    ]
    apply_ok(docs)
    assert [str(c) for c in delete_text(dump(docs[:1])).changes] == ["tenant/acme deleted"]
    assert not Secret.objects.exists() and not Settings.objects.exists()
    deleted = AuditEntry.objects.filter(action=AuditEntry.DELETE, source="cli").values_list(
        "object_repr", flat=True
    )
    assert sorted(deleted) == ["acme", "tenant-acme/acme-settings", "tenant-acme/pal"]


@pytest.mark.django_db
def test_it_lets_only_permitted_users_delete(world):
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "hf", "namespace": "acme-research"},
        "stringData": {"huggingface": '{"token": "hf_abcdefgh1234"}'},
    }
    apply_ok([secret])
    assert delete_text(dump([secret]), user=world.viewer).errors == [
        "manifest: document 1 (Secret acme-research/hf): your role does not allow deleting this Secret."
    ]
    tenant = {"apiVersion": V1A1, "kind": "Tenant", "metadata": {"name": "globex"}}
    assert delete_text(
        dump([tenant]), user=world.outsider
    ).errors  # tenant admins do not delete tenants; superusers do
    assert delete_text(dump([secret]), user=world.owner).ok and not Secret.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_it_commits_and_schedules_one_sync_per_written_secret_even_when_the_broker_fails(monkeypatch):
    from integrations import tasks

    calls = []

    def delay(secret_id):
        calls.append(secret_id)
        raise OSError("broker unavailable")

    monkeypatch.setattr(tasks.sync_secret_task, "delay", delay)
    assert apply_ok(example())[0] == "tenant/acme created"
    assert len(calls) == 4 and Secret.objects.count() == 4  # committed; the failed enqueue is only logged
    apply_ok(example())
    assert len(calls) == 4  # unchanged objects schedule nothing
