"""Bounded input on the Settings page: a pasted Secret is never shown back, sizes are capped before storing.

A JSON-style Secret (`{"kind": "Secret", ...}`) slipped past the old regex and was rendered back after an
error; the decision now comes from the parsed documents. The CA textarea was unlimited (2.4 MB saved) and
a 30 MiB CA file was stored in full before it was refused.
"""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from core.manifests import may_hold_secrets
from integrations.models import Secret
from tests.integrations.conftest import configure_palette, palette_values

CANARY = "CNRY-pasted-secret-5Tg7Yh8Uj"


def import_url(world) -> str:
    return reverse("integrations:tenant_settings_import", args=[world.tenant_a.name])


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "p"},
                "stringData": {"palette": json.dumps({"apiKey": CANARY})},
            }
        ),
        '{"apiVersion": "v1", "kind": "\\u0053ecret", "metadata": {"name": "p"}, "stringData": {"x": "'
        + CANARY
        + '"}}',
        "apiVersion: v1\nkind: Tenant\nmetadata: {name: acme}\n"
        f"spec: {{displayName: Acme, apiKey: {CANARY}}}\n",
        # unreadable YAML
        f"apiVersion: v1\nkind: Secret\nmetadata: {{name: p}}\nstringData: {{palette: '{CANARY}'\n",
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "p"},
                "data": {"palette": base64.b64encode(json.dumps({"apiKey": CANARY}).encode()).decode()},
            }
        ),
    ],
    ids=["json-secret", "json-escaped-kind", "key-in-wrong-place", "broken-yaml", "json-secret-base64"],
)
def test_it_never_shows_a_pasted_secret_back(world, text):
    response = world.client_for(world.owner).post(import_url(world), {"manifest": text})
    assert response.status_code == 200
    assert CANARY.encode() not in response.content
    assert base64.b64encode(json.dumps({"apiKey": CANARY}).encode()) not in response.content
    assert b"Your text is not shown again because it may hold secret values" in response.content


@pytest.mark.parametrize("text", ["kind: [unclosed", "apiVersion: v1\nkind: Tenant\nmetadata: {name: acme\n"])
def test_it_keeps_unreadable_text_without_anything_secret_looking(text):
    assert not may_hold_secrets(text)


@pytest.mark.parametrize("text", ["kind: Tenant\nx: [" + "Zx9" * 10, "key: {apikey: x\n", '"data": {"a": 1'])
def test_it_drops_unreadable_text_that_looks_secret(text):
    assert may_hold_secrets(text)


def test_it_shows_a_rejected_manifest_without_secrets_back(world):
    text = (
        "apiVersion: spectrocloud.com/v1alpha1\nkind: Tenant\nmetadata: {name: acme}\n"
        "spec: {displayName: Acme, gpuLimit: -3}\n"
    )
    assert not may_hold_secrets(text)
    response = world.client_for(world.owner).post(import_url(world), {"manifest": text})
    assert b"gpuLimit: -3" in response.content


def test_it_refuses_an_oversized_ca_text_and_saves_nothing(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    before = Secret.objects.get(namespace="tenant-acme", name="main-settings-ca").get_data()
    values = palette_values(sim)
    huge = sim.ca_pem * (300 * 1024 // len(sim.ca_pem) + 1)
    response = world.client_for(world.owner).post(
        reverse("integrations:tenant_palette_save", args=["acme"]),
        {
            "host_url": sim.url,
            "api_key": "",
            "tenant": values["tenant"],
            "default_project_id": values["defaultProjectID"],
            "tls": "verify",
            "ca_pem": huge,
        },
    )
    assert response.status_code == 200
    assert b"at most 262144 characters" in response.content
    assert Secret.objects.get(namespace="tenant-acme", name="main-settings-ca").get_data() == before


def test_it_keeps_no_more_of_an_upload_than_the_limit():
    assert settings.FILE_UPLOAD_HANDLERS == ["core.uploads.BoundedUploadHandler"]
    upload = SimpleUploadedFile("ca.crt", b"A" * (30 * 1024 * 1024), content_type="application/x-pem-file")
    request = RequestFactory().post("/", {"ca_file": upload})
    kept = request.FILES["ca_file"]
    assert kept.size == settings.MAX_UPLOAD_BYTES + 1
    assert len(kept.read()) == settings.MAX_UPLOAD_BYTES + 1


def test_it_refuses_a_30_mib_ca_file_by_its_size(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    values = palette_values(sim)
    upload = SimpleUploadedFile("ca.crt", b"A" * (30 * 1024 * 1024))
    response = world.client_for(world.owner).post(
        reverse("integrations:tenant_palette_save", args=["acme"]),
        {
            "host_url": sim.url,
            "api_key": "",
            "tenant": values["tenant"],
            "default_project_id": values["defaultProjectID"],
            "tls": "verify",
            "ca_file": upload,
        },
    )
    assert response.status_code == 200
    assert b"The CA file is larger than 256 KiB" in response.content


@pytest.mark.parametrize(
    "url_name, args", [("tenancy:tenant_edit", ["acme"]), ("tenancy:project_edit", ["acme", "research"])]
)
def test_it_caps_descriptions_on_the_web_forms_as_manifests_do(world, url_name, args):
    from tenancy.models import Project, Tenant

    client = world.client_for(world.owner)
    page = client.get(reverse(url_name, args=args)).content.decode()
    assert 'maxlength="2000"' in page
    form = {
        "name": args[-1],
        "display_name": "Acme",
        "description": "x" * 2001,
        "gpu_limit": 0,
        "namespace": "acme-research",
    }
    response = client.post(reverse(url_name, args=args), form)
    assert response.status_code == 200 and b"at most 2000 characters" in response.content
    assert (
        Tenant.objects.get(name="acme").description == ""
        and Project.objects.get(name="research").description == ""
    )
