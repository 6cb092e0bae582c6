from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.models import AuditEntry
from integrations import effective
from integrations.models import PaletteCheck, Secret, Settings

from .conftest import configure_palette, make_cert

UID = "65f0a1b2c3d4e5f60718293a"
KEY = "pk-CANARY-0123456789abcdef"


def tenant_url(name, **kw):
    return reverse(f"integrations:tenant_{name}", kwargs={"tenant": "acme", **kw})


def project_url(name, **kw):
    return reverse(f"integrations:project_{name}", kwargs={"tenant": "acme", "project": "research", **kw})


def _form(**overrides):
    data = {
        "settings_name": "acme-settings",
        "host_url": "palette.example.com",
        "api_key": KEY,
        "tenant": "acme",
        "default_project_id": UID,
        "tls": "verify",
        "ca_pem": "",
    }
    data.update(overrides)
    return data


def _palette_json(namespace="tenant-acme", name="acme-settings-palette"):
    return json.loads(Secret.objects.get(namespace=namespace, name=name).get_data()["palette"])


def test_it_saves_a_tenant_palette_integration_and_never_shows_the_key(
    world, django_capture_on_commit_callbacks
):
    client = world.client_for(world.owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(tenant_url("palette_save"), _form())
    assert response.status_code == 302
    assert _palette_json() == {
        "apiKey": KEY,
        "defaultProjectID": UID,
        "hostUrl": "https://palette.example.com",
        "skipSSLCertificateVerification": False,
        "tenant": "acme",
    }
    settings = Settings.objects.get(tenant=world.tenant_a)
    assert settings.name == "acme-settings" and settings.palette_secret == "acme-settings-palette"
    assert PaletteCheck.objects.filter(tenant=world.tenant_a, trigger="saved").exists()
    assert len(callbacks) >= 2  # Kubernetes sync and the check are enqueued after commit, never inside it
    page = client.get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})).content.decode()
    assert "CANARY" not in page and "••••cdef" in page
    assert "https://palette.example.com" in page
    # Stored encrypted: the raw column does not hold the key.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT data FROM integrations_secret")
        assert all("CANARY" not in row[0] for row in cursor.fetchall())
    assert not any("CANARY" in json.dumps(e.changes) for e in AuditEntry.objects.all())


def test_it_keeps_the_stored_key_when_the_field_is_blank(world):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    response = client.post(
        tenant_url("palette_save"), _form(api_key="", tenant="acme-corp", settings_name="")
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert _palette_json()["apiKey"] == KEY and _palette_json()["tenant"] == "acme-corp"


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"host_url": "ftp://x"}, "ftp:// is not supported"),
        ({"host_url": "https://u:p@x.example.com"}, "Remove the user name or password"),
        ({"api_key": ""}, "Paste the API key once"),
        ({"api_key": "short"}, "does not look like a Palette API key"),
        ({"tenant": ""}, "Required."),
        ({"default_project_id": ""}, "Required."),
        ({"settings_name": "Bad Name"}, "DNS-1123"),
        ({"ca_pem": "not a certificate"}, "No PEM certificate found"),
        ({"ca_pem": "".join(make_cert("Root"))}, "contains a private key"),
        ({"ca_pem": make_cert("leaf", ca=False)[0]}, "is not a CA certificate"),
        ({"tls": "skip", "ca_pem": make_cert("Root")[0]}, "not both"),
        ({"tls": "sometimes"}, "Select a valid choice"),
    ],
)
def test_it_explains_bad_palette_input_and_keeps_what_was_typed(world, overrides, message):
    response = world.client_for(world.owner).post(
        tenant_url("palette_save"), _form(**overrides), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert "palette.example.com" in body or overrides.get("host_url", "") in body
    assert "CANARY" not in body  # the key is never sent back, even on error
    assert not Settings.objects.exists() and not Secret.objects.exists()


def test_it_saves_a_project_name_with_a_warning(world):
    response = world.client_for(world.owner).post(
        tenant_url("palette_save"), _form(default_project_id="Default"), follow=True
    )
    assert "looks like a project name" in response.content.decode()
    assert _palette_json()["defaultProjectID"] == "Default"


def test_it_applies_the_uid_a_check_offered(world):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form(default_project_id="Default"))
    PaletteCheck.objects.create(
        tenant=world.tenant_a,
        status="failed",
        outcome="degraded",
        finished="2026-01-01T00:00Z",
        progress={"suggested_project_uid": UID},
    )
    assert client.post(tenant_url("use_project_uid")).status_code == 302
    assert _palette_json()["defaultProjectID"] == UID


def test_it_refuses_skipping_tls_when_forbidden_and_audits_it_when_allowed(world, settings):
    client = world.client_for(world.owner)
    settings.ALLOW_INSECURE_PALETTE_TLS = False
    response = client.post(tenant_url("palette_save"), _form(tls="skip"))
    assert "ALLOW_INSECURE_PALETTE_TLS=false" in response.content.decode()
    settings.ALLOW_INSECURE_PALETTE_TLS = True
    assert client.post(tenant_url("palette_save"), _form(tls="skip")).status_code == 302
    entry = AuditEntry.objects.get(verb="skip TLS verification on")
    assert "Never use it in production" in entry.changes["warning"] and entry.username == "owner"


def test_it_stores_a_ca_and_shows_its_details(world):
    ca, _ = make_cert("Acme Private CA")
    client = world.client_for(world.owner)
    assert client.post(tenant_url("palette_save"), _form(ca_pem=ca)).status_code == 302
    assert _palette_json()["tlsSecretRef"] == "acme-settings-ca"
    assert (
        Secret.objects.get(name="acme-settings-ca")
        .get_data()["ca.crt"]
        .startswith("-----BEGIN CERTIFICATE-----")
    )
    page = client.get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})).content.decode()
    assert "CN=Acme Private CA" in page and "SHA-256" in page


def test_it_rotates_a_key_and_rechecks_everything_that_depends_on_it(world):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    response = client.post(
        tenant_url("palette_save"), _form(api_key="pk-rotated-0123456789", settings_name=""), follow=True
    )
    assert "Credentials rotated" in response.content.decode() and "acme/research" in response.content.decode()
    assert PaletteCheck.objects.filter(project=world.project_a, trigger="rotation").exists()


def test_it_shows_inherited_and_overridden_values_with_their_source(world):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    response = client.post(
        project_url("palette_save"),
        {
            "settings_name": "research-settings",
            "host_url": "",
            "api_key": "",
            "tenant": "",
            "default_project_id": "0123456789abcdef01234567",
            "tls": "inherit",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    eff = effective.resolve(world.project_a)
    assert eff.palette.fields["defaultProjectID"] == ("0123456789abcdef01234567", "project")
    assert eff.palette.fields["hostUrl"] == ("https://palette.example.com", "tenant")
    assert eff.palette.fields["apiKey"] == (KEY, "tenant") and eff.palette.complete
    page = client.get(
        reverse("integrations:project_settings", kwargs={"tenant": "acme", "project": "research"})
    ).content.decode()
    assert "inherited: https://palette.example.com" in page and "CANARY" not in page


def test_it_saves_a_key_another_tenant_uses_and_warns_naming_its_settings(world):
    # Sharing one Palette API key across tenants is the platform team's choice: saved, with a warning.
    configure_palette(
        world.tenant_b,
        {
            "apiKey": KEY,
            "hostUrl": "https://palette.example.com",
            "tenant": "acme",
            "defaultProjectID": UID,
            "skipSSLCertificateVerification": False,
        },
        name="globex-settings",
    )
    response = world.client_for(world.owner).post(tenant_url("palette_save"), _form(), follow=True)
    page = response.content.decode()
    assert "Palette integration saved." in page
    assert (
        "This Palette API key for https://palette.example.com is also used by Settings "
        "tenant-globex/globex-settings (tenant globex): rotating or revoking it in Palette affects every "
        "tenant"
    ) in page
    assert "CANARY" not in page
    assert Settings.objects.filter(tenant=world.tenant_a).exists()
    assert _palette_json()["apiKey"] == KEY


def test_it_refuses_the_tenants_key_copied_into_one_of_its_projects(world):
    # Within a tenant a copy is refused: the project inherits the key, and a copy would outlive a rotation.
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    response = client.post(project_url("palette_save"), _form(settings_name="research-settings"))
    assert "already backs Settings tenant-acme/acme-settings" in response.content.decode()
    assert "let projects inherit it" in response.content.decode()
    assert not Settings.objects.filter(project=world.project_a).exists()
    assert not Secret.objects.filter(namespace="acme-research").exists()  # nothing half-written


def test_a_rejected_ca_keeps_the_pasted_text_but_never_a_private_key(world):
    client = world.client_for(world.owner)
    leaf = make_cert("leaf", ca=False)[0]
    body = client.post(
        tenant_url("palette_save"), _form(ca_pem=leaf), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "is not a CA certificate" in body
    assert leaf.strip().splitlines()[1] in body  # the pasted certificate is there to fix, not to paste again
    assert 'name="api_key"' in body and "CANARY" not in body  # the key field stays blank
    key_pair = "".join(make_cert("Root"))
    body = client.post(
        tenant_url("palette_save"), _form(ca_pem=key_pair), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "contains a private key" in body and "PRIVATE KEY" not in body.replace(
        "contains a private key", ""
    )


def test_a_project_under_a_working_tenant_integration_says_it_inherits_it(world):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    page = client.get(project_url("settings")).content.decode()
    assert "Add the Palette integration first" not in page
    assert "This project uses" in page and reverse("integrations:tenant_settings", args=["acme"]) in page
    response = client.post(
        project_url("token_save", kind="huggingface"), {"huggingface-token": "hf_abcdefgh1234"}
    )
    assert "This project uses tenant acme&#x27;s Palette integration" in response.content.decode()


@pytest.mark.parametrize(
    "kind,good,bad,message",
    [
        ("huggingface", "hf_" + "a" * 34, "not-a-token", "not a Hugging Face token"),
        ("ngc", "nvapi-" + "b" * 60, "x", "not an NGC API key"),
    ],
)
def test_it_saves_and_tests_tokens_locally(world, kind, good, bad, message):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    test = client.post(tenant_url("token_test", kind=kind), {f"{kind}-token": bad}).content.decode()
    assert message in test
    test = client.post(tenant_url("token_test", kind=kind), {f"{kind}-token": good}).content.decode()
    assert "format looks right" in test and "No network check is made" in test
    bad_save = client.post(
        tenant_url("token_save", kind=kind), {f"{kind}-token": bad}, HTTP_HX_REQUEST="true"
    )
    assert message in bad_save.content.decode()
    assert client.post(tenant_url("token_save", kind=kind), {f"{kind}-token": good}).status_code == 302
    settings = Settings.objects.get(tenant=world.tenant_a)
    secret_name = settings.huggingface_secret if kind == "huggingface" else settings.ngc_secret
    assert (
        secret_name
        and good
        not in client.get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})).content.decode()
    )
    assert client.post(tenant_url("token_save", kind=kind), {f"{kind}-remove": "on"}).status_code == 302
    assert not Secret.objects.filter(name=secret_name).exists()


def test_it_polls_a_check_until_it_ends(world):
    client = world.client_for(world.owner)
    check = PaletteCheck.objects.create(
        tenant=world.tenant_a,
        stages=[{"key": "url", "name": "URL parses", "passed": True, "detail": "https://x"}],
    )
    url = tenant_url("check_status", check=check.uuid)
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'hx-trigger="every 1s"' in response.content.decode()
    PaletteCheck.objects.filter(pk=check.pk).update(status="succeeded", outcome="connected")
    response = client.get(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 286 and "every 1s" not in response.content.decode()
    other = PaletteCheck.objects.create(tenant=world.tenant_b)
    assert client.get(tenant_url("check_status", check=other.uuid)).status_code == 404


def test_it_starts_one_check_at_a_time(world):
    client = world.client_for(world.owner)
    client.post(tenant_url("palette_save"), _form())
    PaletteCheck.objects.all().delete()
    client.post(tenant_url("check_start"), HTTP_HX_REQUEST="true")
    client.post(tenant_url("check_start"), HTTP_HX_REQUEST="true")
    assert PaletteCheck.objects.filter(tenant=world.tenant_a).count() == 1


@pytest.mark.parametrize("name", ["palette_save", "use_project_uid", "check_start"])
def test_it_guards_every_settings_action(world, name):
    assert world.client_for(world.viewer).post(tenant_url(name), _form()).status_code == 403
    assert world.client_for(world.outsider).post(tenant_url(name), _form()).status_code == 404
    assert world.client_for(world.viewer).post(project_url(name), _form()).status_code == 403
    assert world.client_for(world.outsider).post(project_url(name), _form()).status_code == 404


def test_it_lets_viewers_read_settings_without_forms(world):
    world.client_for(world.owner).post(tenant_url("palette_save"), _form())
    page = (
        world.client_for(world.viewer)
        .get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"}))
        .content.decode()
    )
    assert (
        "Effective Palette settings" in page
        and "Save Palette integration" not in page
        and "CANARY" not in page
    )
    assert (
        world.client_for(world.outsider)
        .get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"}))
        .status_code
        == 404
    )
