"""The API key's expiry (GET /v1/apiKeys, matched by the key's user): in the connection check, on the
Settings page, in check_palette --json, and as one credentials.expiring notification at 30, 7 and 1 days."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from integrations import diagnosis
from integrations.models import PaletteCheck
from notifications.models import Notification
from tests.notifications.helpers import rule

from .conftest import configure_palette, palette_values

pytestmark = pytest.mark.django_db


def _expires_in(sim, days: float) -> None:
    sim.state.keys[sim.api_key].expiry = (timezone.now() + timedelta(days=days)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def _check(world) -> dict:
    check = diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))
    assert check.outcome == PaletteCheck.CONNECTED, check.stages
    return next(s for s in check.stages if s["key"] == "apikey")


def test_a_key_far_from_expiry_passes_and_one_close_to_it_warns_with_the_days_left(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    _expires_in(sim, 90.5)
    stage = _check(world)
    assert stage["passed"] is True and stage["warning"] is False
    assert "expires in 90 days" in stage["detail"] and stage["key_expiry"]["daysLeft"] == 90

    _expires_in(sim, 5.5)
    stage = _check(world)
    assert stage["passed"] is True and stage["warning"] is True and stage["key_expiry"]["daysLeft"] == 5
    page = world.client_for(world.owner).get(
        reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})
    )
    text = page.content.decode()
    assert 'id="key-expiry" class="warning-box"' in text and "Palette API key: expires in 5 days" in text
    assert sim.api_key not in text
    out = StringIO()
    call_command("check_palette", "-n", "tenant-acme", "--json", stdout=out)
    assert json.loads(out.getvalue())["apiKeyExpiry"]["daysLeft"] == 5


def test_a_key_without_an_expiry_or_a_user_who_may_not_list_keys_is_no_warning(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    sim.state.keys[sim.api_key].expiry = ""
    stage = _check(world)
    assert stage["warning"] is False and stage["key_expiry"]["text"] == "no expiry listed"
    sim.state.keys[sim.api_key].forbidden = frozenset({"/v1/apiKeys"})
    stage = _check(world)
    assert stage["warning"] is False and stage["key_expiry"] == {"visible": False, "text": ""}


def test_credentials_expiring_is_sent_once_at_each_mark(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    hook = rule(world.tenant_a, "https://hooks.example.com/x", events=("credentials.expiring",))
    _expires_in(sim, 20.5)
    for _ in range(3):  # three checks at 20 days left: one notification (the 30-day mark)
        _check(world)
    sent = Notification.objects.filter(rule=hook, event="credentials.expiring")
    assert sent.count() == 1 and "expires in 20 days" in sent.get().message
    _expires_in(sim, 6.5)  # the 7-day mark
    _check(world)
    _check(world)
    assert sent.count() == 2
    assert sim.api_key not in json.dumps(list(sent.values("message", "details")), default=str)


def test_certificate_expiring_names_the_custom_ca_once_per_mark(world, sim):
    from .conftest import make_cert

    ca, _key = make_cert("Acme Private CA", days=5)
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=ca)  # not the simulator's CA: TLS fails
    hook = rule(world.tenant_a, "https://hooks.example.com/x", events=("certificate.expiring",))
    for _ in range(2):
        check = diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))
        assert check.outcome != PaletteCheck.CONNECTED  # the CA's expiry is told whatever the check found
    sent = Notification.objects.filter(rule=hook, event="certificate.expiring")
    assert sent.count() == 1
    message = sent.get().message
    assert "custom CA" in message and "Acme Private CA" in message and "expires in 5 days" in message
