"""The Settings page reads what it needs: a save decrypts only its own Secrets, the check poll only the
check."""

from __future__ import annotations

import pytest
from django.urls import reverse

import core.fields
from integrations import diagnosis
from tests.integrations.conftest import configure_palette, palette_values


@pytest.fixture
def decryptions(monkeypatch):
    """Counts every decryption of a stored secret value (the encrypted field decrypts on load)."""
    calls = []
    real = core.fields.decrypt

    def counting(token):
        calls.append(1)
        return real(token)

    monkeypatch.setattr(core.fields, "decrypt", counting)
    return calls


def many_other_settings(world, sim, count: int) -> None:
    from tenancy.models import Tenant

    for index in range(count):
        tenant = Tenant.objects.create(name=f"other-{index}", display_name=f"Other {index}")
        configure_palette(tenant, palette_values(sim, apiKey=f"other-key-{index:04d}-abcdef"))


@pytest.mark.parametrize("others", [1, 12])
def test_it_decrypts_the_same_few_secrets_on_a_save_however_many_settings_exist(
    world, sim, decryptions, others
):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    many_other_settings(world, sim, others)
    values = palette_values(sim)
    client = world.client_for(world.owner)
    decryptions.clear()
    response = client.post(
        reverse("integrations:tenant_palette_save", args=["acme"]),
        {
            "host_url": sim.url,
            "api_key": "",
            "tenant": "Renamed",
            "default_project_id": values["defaultProjectID"],
            "tls": "verify",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert 1 <= len(decryptions) <= 4, len(decryptions)  # its Palette and CA Secrets, read and rewritten


def test_it_still_checks_a_new_key_against_other_settings_and_names_them(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    many_other_settings(world, sim, 1)
    values = palette_values(sim)
    response = world.client_for(world.owner).post(
        reverse("integrations:tenant_palette_save", args=["acme"]),
        {
            "host_url": sim.url,
            "api_key": "other-key-0000-abcdef",
            "tenant": values["tenant"],
            "default_project_id": values["defaultProjectID"],
            "tls": "verify",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "is also used by Settings tenant-other-0/main-settings (tenant other-0)" in page


def test_it_polls_the_check_without_reading_a_secret(world, sim, decryptions, django_assert_max_num_queries):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    check = diagnosis.start_check(world.tenant_a)
    client = world.client_for(world.owner)
    url = reverse("integrations:tenant_check_status", args=["acme", check.uuid])
    decryptions.clear()
    with django_assert_max_num_queries(8):
        response = client.get(url, HTTP_HX_REQUEST="true")
    assert (
        response.status_code == 200
        and b'id="check"' in response.content
        and b"Test connection" in response.content
    )
    assert decryptions == []
