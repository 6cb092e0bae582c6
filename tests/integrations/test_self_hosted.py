"""A self-hosted Palette's license activation and the tenant's pack registries in the connection check, the
Settings page and `check_palette --json`: the real client and the simulator over HTTPS, the simulator checking
every answer against the spec (docs/palette-behaviour.md §16)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from integrations import diagnosis
from integrations.models import PaletteCheck
from palette.sim import Simulator

from .conftest import configure_palette, palette_values

FORBIDDEN_KEY = "sim-no-activation-role"


@pytest.fixture(scope="module")
def hosted():
    """A simulator of its own (its license and registries change per test), validating every answer."""
    sim = Simulator(hosts=6, seed=3, validate=True).start()
    sim.state.add_key(FORBIDDEN_KEY, forbidden=["/v1/activations/system"])
    yield sim
    sim.stop()
    assert sim.violations == []


@pytest.fixture
def sim(hosted):
    registries = list(hosted.state.registries)
    yield hosted
    hosted.state.set_license("active")
    hosted.state.registries = registries
    assert hosted.violations == []


def _check(world, sim, **overrides) -> PaletteCheck:
    configure_palette(world.tenant_a, palette_values(sim, **overrides), ca_pem=sim.ca_pem)
    check = diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))
    # Whatever the license or the registries say, the connection itself is fine.
    assert check.outcome == PaletteCheck.CONNECTED, check.stages
    return check


def _last_status(sim, path: str) -> int:
    return [r.status for r in sim.seen() if r.path == path][-1]


def _stage(check, key):
    return next(s for s in check.stages if s["key"] == key)


def test_an_active_palette_passes_quietly_and_lists_its_registries(world, sim):
    check = _check(world, sim)
    activation, registries = _stage(check, "activation"), _stage(check, "registries")
    assert activation["passed"] is True and not activation["warning"]
    assert activation["detail"] == "Active: Palette is activated."
    assert activation["activation"] == {
        "state": "Active",
        "expiresAt": "",
        "systemConsole": f"{sim.url}/system",
    }
    assert registries["passed"] is True and not registries["warning"]
    assert registries["detail"] == "2 registries: Public Repo (default), Palette Registry"
    assert [r["name"] for r in registries["registries"]] == ["Public Repo", "Palette Registry"]


def test_a_pending_trial_warns_with_the_days_left(world, sim):
    sim.state.set_license("pending:5d")
    stage = _stage(_check(world, sim), "activation")
    assert stage["passed"] is True and stage["warning"] is True
    assert stage["detail"].startswith("Pending: trial, 5 days left, ends ")
    assert f"system console ({sim.url}/system)" in stage["detail"]
    assert "deploys no new cluster and runs no day-2 operation" in stage["detail"]
    assert stage["activation"]["state"] == "Pending" and stage["activation"]["expiresAt"]


def test_an_inactive_palette_warns_that_pools_cannot_change_and_links_the_system_console(world, sim):
    sim.state.set_license("inactive")
    stage = _stage(_check(world, sim), "activation")
    assert stage["passed"] is True and stage["warning"] is True
    assert stage["detail"] == (
        "Inactive: the trial is over and Palette is not activated. Compute Pools cannot be created or "
        "changed "
        f"until an operator activates Palette in its system console ({sim.url}/system)."
    )


def test_a_key_that_may_not_read_the_activation_is_no_error(world, sim):
    check = _check(world, sim, apiKey=FORBIDDEN_KEY)
    stage = _stage(check, "activation")
    assert stage == {
        "key": "activation",
        "name": "License activation",
        "passed": True,
        "detail": "not visible to this key",
        "warning": False,
        "activation": {"state": "", "visible": False},
    }
    assert _stage(check, "registries")["passed"] is True  # only that call is refused
    assert _last_status(sim, "/v1/activations/system") == 403
    assert FORBIDDEN_KEY not in json.dumps(check.stages)


def test_saas_palette_is_not_applicable(world, sim):
    sim.state.set_license("saas")
    stage = _stage(_check(world, sim), "activation")
    assert stage["detail"] == "not applicable (SaaS Palette)" and stage["warning"] is False
    assert _last_status(sim, "/v1/activations/system") == 404


def test_no_pack_registry_is_a_warning_that_says_why(world, sim):
    sim.state.registries = []
    stage = _stage(_check(world, sim), "registries")
    assert stage["passed"] is True and stage["warning"] is True and stage["registries"] == []
    assert stage["detail"].startswith("none: this tenant sees no pack registry.")
    assert "no cluster profile can be built here" in stage["detail"]


def test_the_settings_page_shows_the_countdown_and_check_palette_the_stages(world, sim):
    sim.state.set_license("pending:5d")
    _check(world, sim)
    client = world.client_for(world.owner)
    page = client.get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})).content.decode()
    assert 'id="license-countdown"' in page and "Palette trial: 5 days left" in page
    assert f'href="{sim.url}/system"' in page and "stage-warn" in page
    assert sim.api_key not in page

    sim.state.set_license("inactive")
    out = StringIO()
    call_command("check_palette", "-n", "tenant-acme", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["outcome"] == "connected"
    stage = next(s for s in result["stages"] if s["key"] == "activation")
    assert stage["warning"] is True and stage["activation"]["state"] == "Inactive"
    page = client.get(reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})).content.decode()
    assert "Palette is not activated." in page and "Palette trial" not in page

    out = StringIO()
    call_command("check_palette", "-n", "tenant-acme", stdout=out)
    assert "WARN  License activation: Inactive" in out.getvalue()


def test_an_active_palette_shows_no_countdown(world, sim):
    _check(world, sim)
    page = world.client_for(world.owner).get(
        reverse("integrations:tenant_settings", kwargs={"tenant": "acme"})
    )
    assert page.status_code == 200 and 'id="license-countdown"' not in page.content.decode()


def test_a_warning_stage_reads_the_same_on_the_settings_page_and_in_the_wizard():
    from django.template.loader import render_to_string

    shown = {
        kind: render_to_string("integrations/stage_head.html", {"s": stage}).split()
        for kind, stage in {
            "warn": {"name": "License", "passed": True, "warning": True, "detail": "5 days left"},
            "pass": {"name": "DNS", "passed": True, "detail": "resolves"},
            "skip": {"name": "TLS", "passed": None, "detail": "not run"},
            "fail": {"name": "TCP", "passed": False, "detail": "refused"},
        }.items()
    }
    assert (
        shown["warn"][:2] == ["<strong>!", "License</strong>"]
        and 'badge-warn">warning</span>' in shown["warn"]
    )
    assert shown["pass"][:3] == ["<strong>✓", "DNS</strong>", "—"]  # no warning badge
    assert shown["skip"][0] == "<strong>–" and shown["fail"][0] == "<strong>✗"
