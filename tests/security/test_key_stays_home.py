"""The tenant's Palette API key goes only to the tenant's Palette: never to a host or a trust a project chose.

A project admin once could save the project's Settings with a host of their own and TLS skipped (or
verified with a CA of their own), leave the key blank, and the connection check, discovery, tag edits
and provisioning sent `ApiKey: <the tenant's key>` there. Here a recording HTTPS listener on loopback
stands for that host; the real form, the real manifest import and the real diagnosis are driven, and
the listener must never see the tenant's key. Also: a stored key is not sent to a host it was not
stored with (changing the host asks for the key again), and a project picks only the Palette projects
its tenant allows.
"""

from __future__ import annotations

import json
import ssl
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse

from integrations import diagnosis, effective, writes
from integrations.models import PaletteCheck, Secret, Settings
from tenancy.models import Membership
from tests.fakes.hostile_palette import HostilePalette
from tests.integrations.conftest import configure_palette, make_cert, palette_values

OTHER_UID = "0123456789abcdef01234567"


class RecordingListener(HostilePalette):
    """The attacker's host: HTTPS on loopback, answering like Palette's /v1/users/info and recording every
    request."""

    def __init__(self):
        super().__init__()
        self.ca_pem, key_pem = make_cert("127.0.0.1", days=30, ip="127.0.0.1")
        folder = Path(tempfile.mkdtemp())
        (folder / "cert.pem").write_text(self.ca_pem)
        (folder / "key.pem").write_text(key_pem)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.answer(200, json.dumps({"metadata": {"uid": "u1"}, "spec": {"emailId": "x@example.com"}}))

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def keys_seen(self) -> list[str]:
        return [headers.get("ApiKey", "") for _, _, headers in self.requests if headers.get("ApiKey")]


@pytest.fixture
def listener():
    with RecordingListener() as recording:
        yield recording


@pytest.fixture
def tenant_connected(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    return world.tenant_a


@pytest.fixture
def project_admin(world):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("padmin", password="correct-horse-battery-9")
    Membership.objects.create(user=user, project=world.project_a, role=Membership.PROJECT_ADMIN)
    return world.client_for(user)


def project_save_url(world) -> str:
    return reverse("integrations:project_palette_save", args=[world.tenant_a.name, world.project_a.name])


def run_project_check(world) -> PaletteCheck:
    check = diagnosis.start_check(world.project_a, trigger="manual")
    return diagnosis.perform_check(check)


@pytest.mark.parametrize("tls", ["skip", "verify-own-ca"])
def test_it_never_sends_the_tenant_key_to_a_host_a_project_admin_typed(
    world, sim, tenant_connected, project_admin, listener, tls
):
    form = {
        "settings_name": "research-settings",
        "host_url": listener.url,
        "api_key": "",
        "tenant": "",
        "default_project_id": "",
        "tls": "skip" if tls == "skip" else "verify",
    }
    if tls != "skip":
        form["ca_pem"] = listener.ca_pem
    response = project_admin.post(project_save_url(world), form)
    assert response.status_code == 200
    assert b"Enter this project&#x27;s own API key" in response.content
    assert not Settings.objects.filter(project=world.project_a).exists()  # nothing saved
    run_project_check(world)  # what the worker does after a save, and discovery/provisioning do later
    assert sim.api_key not in listener.keys_seen()
    assert listener.requests == []


def test_it_never_sends_the_tenant_key_where_a_project_secret_points_alone(
    world, sim, tenant_connected, listener
):
    # Settings written around the form (the Django admin, an old row): only a host at project level.
    configure_palette(world.project_a, {"hostUrl": listener.url}, ca_pem=listener.ca_pem, name="research")
    palette = effective.resolve(world.project_a).palette
    assert palette.value("apiKey") == "" and not palette.complete
    assert "needs its own host URL and API key" in " ".join(palette.problems)
    check = run_project_check(world)
    assert check.outcome == PaletteCheck.FAILED_OUTCOME
    assert listener.requests == []


def test_it_refuses_the_same_through_a_manifest(world, tenant_connected, project_admin, listener):
    docs = "\n---\n".join(
        [
            "apiVersion: v1\nkind: Secret\nmetadata: {name: research-palette, namespace: acme-research}\n"
            "stringData:\n  palette: '"
            + json.dumps({"hostUrl": listener.url, "skipSSLCertificateVerification": True})
            + "'\n",
            "apiVersion: spectrocloud.com/v1alpha1\nkind: Settings\n"
            "metadata: {name: research-settings, namespace: acme-research}\n"
            "spec: {palette: {secretRef: {name: research-palette}}}\n",
        ]
    )
    url = reverse("integrations:project_settings_import", args=[world.tenant_a.name, world.project_a.name])
    response = project_admin.post(url, {"manifest": docs})
    assert b"own Palette connection needs apiKey too" in response.content
    assert not Secret.objects.filter(namespace="acme-research").exists()
    assert listener.requests == []


def test_it_sends_a_project_its_own_key_to_its_own_host(
    world, sim, tenant_connected, project_admin, listener
):
    # The legitimate case: a project with a connection of its own (key, host and trust together).
    response = project_admin.post(
        project_save_url(world),
        {
            "settings_name": "research-settings",
            "host_url": listener.url,
            "api_key": "project-own-key-12345",
            "tls": "verify",
            "ca_pem": listener.ca_pem,
            "tenant": "",
            "default_project_id": "",
        },
    )
    assert response.status_code == 302
    run_project_check(world)
    assert listener.keys_seen() and set(listener.keys_seen()) == {"project-own-key-12345"}


def test_it_asks_for_the_key_again_when_the_host_changes(world, sim, tenant_connected, listener):
    client = world.client_for(world.owner)
    url = reverse("integrations:tenant_palette_save", args=[world.tenant_a.name])
    values = palette_values(sim)
    form = {
        "host_url": listener.url,
        "api_key": "",
        "tenant": values["tenant"],
        "default_project_id": values["defaultProjectID"],
        "tls": "skip",
    }
    response = client.post(url, form)
    assert (
        b"Paste the API key again: the host URL and TLS verification (now skipped) changed"
        in response.content
    )
    palette = effective.resolve(world.tenant_a).palette
    assert palette.value("hostUrl") == sim.url  # unchanged
    run_check = diagnosis.perform_check(diagnosis.start_check(world.tenant_a))
    assert run_check.outcome == PaletteCheck.CONNECTED
    assert listener.requests == []


def test_it_keeps_the_stored_key_when_only_other_fields_change(world, sim, tenant_connected):
    client = world.client_for(world.owner)
    url = reverse("integrations:tenant_palette_save", args=[world.tenant_a.name])
    values = palette_values(sim)
    response = client.post(
        url,
        {
            "host_url": sim.url,
            "api_key": "",
            "tenant": "Renamed",
            "default_project_id": values["defaultProjectID"],
            "tls": "verify",
        },
    )
    assert response.status_code == 302
    assert effective.resolve(world.tenant_a).palette.value("apiKey") == sim.api_key


def test_it_lets_only_tenant_admins_repoint_a_project_without_an_allowed_list(
    world, sim, tenant_connected, project_admin
):
    form = {
        "settings_name": "research-settings",
        "host_url": "",
        "api_key": "",
        "tenant": "",
        "default_project_id": OTHER_UID,
        "tls": "inherit",
    }
    response = project_admin.post(project_save_url(world), form)
    assert b"Only a tenant admin can point a project at another Palette project" in response.content
    assert not Settings.objects.filter(project=world.project_a).exists()
    response = world.client_for(world.owner).post(project_save_url(world), form)
    assert response.status_code == 302
    assert effective.resolve(world.project_a).palette.fields["defaultProjectID"] == (OTHER_UID, "project")


def test_it_holds_projects_to_the_tenant_allowed_list(world, sim, tenant_connected, project_admin):
    tenant_settings = Settings.objects.get(tenant=world.tenant_a)
    writes.save_settings(
        world.tenant_a,
        tenant_settings.name,
        palette_secret=tenant_settings.palette_secret,
        allowed_project_ids=[sim.project_uids[1]],
    )
    form = {
        "settings_name": "research-settings",
        "host_url": "",
        "api_key": "",
        "tenant": "",
        "tls": "inherit",
    }
    response = project_admin.post(project_save_url(world), {**form, "default_project_id": OTHER_UID})
    assert (
        b"The tenant allows its projects these Palette projects: " + sim.project_uids[1].encode()
        in response.content
    )
    response = project_admin.post(
        project_save_url(world), {**form, "default_project_id": sim.project_uids[1]}
    )
    assert response.status_code == 302
    assert effective.resolve(world.project_a).palette.complete
    # A value outside the list written around the form does not reach Palette either.
    configure_palette(world.project_a, {"defaultProjectID": OTHER_UID}, name="research-settings")
    palette = effective.resolve(world.project_a).palette
    assert not palette.complete and "is not one the tenant acme allows" in " ".join(palette.problems)


def test_it_sets_the_allowed_list_on_the_tenant_page_and_in_the_manifest(world, sim, tenant_connected):
    from core.manifests import apply_text, export_text

    client = world.client_for(world.owner)
    values = palette_values(sim)
    response = client.post(
        reverse("integrations:tenant_palette_save", args=[world.tenant_a.name]),
        {
            "host_url": sim.url,
            "api_key": "",
            "tenant": values["tenant"],
            "default_project_id": values["defaultProjectID"],
            "tls": "verify",
            "allowed_project_ids": f"{sim.project_uids[1]}\n{OTHER_UID}",
        },
    )
    assert response.status_code == 302
    assert Settings.objects.get(tenant=world.tenant_a).allowed_project_ids == sorted(
        [sim.project_uids[1], OTHER_UID]
    )
    exported = export_text(namespace="tenant-acme")
    assert "allowedProjectIDs" in exported and OTHER_UID in exported
    bad = (
        "apiVersion: spectrocloud.com/v1alpha1\nkind: Settings\n"
        "metadata: {name: main, namespace: acme-research}\n"
        "spec: {palette: {secretRef: {name: x}, allowedProjectIDs: [Default]}}\n"
    )
    errors = apply_text(bad, source="f.yaml").errors
    assert any("only a tenant's Settings list the Palette projects" in e for e in errors), errors
