"""A self-hosted Palette's own rate limits on its Settings, used by every client built for it, and the
budget as `check_palette --json` reports it (limits in force, 429s of the last hour)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from core import palette_budget
from integrations.effective import palette_client, resolve
from integrations.models import Settings
from tests.integrations.conftest import configure_palette, palette_values

pytestmark = pytest.mark.django_db


def test_an_integration_rate_limit_paces_its_clients_and_a_bad_one_says_what_to_fix(world, sim):
    settings = configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    palette = resolve(world.project_a).palette
    assert palette.rate_limits is None  # the installation's
    with palette_client(palette) as client:
        assert client.transport.limiter.rate("/v1/dashboard/x", client.transport.rate_limits) == 10 * 0.95

    Settings.objects.filter(pk=settings.pk).update(palette_rate_limit="/v1/dashboard=50,*=20")
    palette = resolve(world.project_a).palette
    assert palette.rate_limits == {"/v1/dashboard": 50.0, "*": 20.0}
    with palette_client(palette) as client:
        limiter, own = client.transport.limiter, client.transport.rate_limits
        assert limiter.rate("/v1/dashboard/x", own) == pytest.approx(47.5)
        assert limiter.rate("/v1/spectroclusters/x", own) == pytest.approx(19.0)
        client.list_projects()  # and Palette accepts what it sends

    settings.palette_rate_limit = "dashboard=50"
    with pytest.raises(ValidationError, match="write it as /v1/<resource>"):
        settings.full_clean()


def test_check_palette_json_reports_the_budget_for_the_owners_palette(world, sim):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    out = StringIO()
    call_command("check_palette", "-n", "acme-research", "--json", stdout=out)
    report = json.loads(out.getvalue())["rateLimit"]
    assert report["shared"] is True and report["paced"] is True
    assert report["limits"]["/v1/dashboard"] == 10 and report["limits"]["/v1/spectroclusters"] == 50
    before = report["rateLimited429LastHour"]

    palette_budget.budget().slow_down(sim.url, "/v1/dashboard/edgehosts/search", None)
    out = StringIO()
    call_command("check_palette", "-n", "acme-research", "--json", stdout=out)
    report = json.loads(out.getvalue())["rateLimit"]
    assert report["rateLimited429LastHour"] == before + 1
    assert report["slowed"]["/v1/dashboard"] < 0.6  # halved, recovering since


def _settings_manifest(tmp_path, world, rate_limit) -> str:
    manifest = tmp_path / "settings.yaml"
    manifest.write_text(
        "apiVersion: spectrocloud.com/v1alpha1\nkind: Settings\n"
        f"metadata: {{name: main-settings, namespace: {world.tenant_a.namespace}}}\n"
        "spec:\n  palette:\n    secretRef: {name: main-settings-palette}\n"
        f"    rateLimit: {rate_limit}\n"
    )
    return str(manifest)


def test_the_settings_manifest_carries_the_rate_limit_both_ways_and_refuses_a_bad_one(world, sim, tmp_path):
    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    out = StringIO()
    call_command("apply", "-f", _settings_manifest(tmp_path, world, '"/v1/dashboard=50"'), stdout=out)
    assert "configured" in out.getvalue()
    assert Settings.objects.get(tenant=world.tenant_a).palette_rate_limit == "/v1/dashboard=50"
    exported = StringIO()
    call_command("export", "-n", world.tenant_a.namespace, stdout=exported)
    assert "rateLimit: /v1/dashboard=50" in exported.getvalue()
    out = StringIO()
    call_command("apply", "-f", _settings_manifest(tmp_path, world, '"/v1/dashboard=50"'), stdout=out)
    assert "unchanged" in out.getvalue()

    err = StringIO()
    with pytest.raises(SystemExit):
        call_command(
            "apply", "-f", _settings_manifest(tmp_path, world, "fast"), stdout=StringIO(), stderr=err
        )
    assert "spec.palette.rateLimit" in err.getvalue() and "requests per second" in err.getvalue()
    assert Settings.objects.get(tenant=world.tenant_a).palette_rate_limit == "/v1/dashboard=50"


def test_the_settings_page_shows_the_limits_in_force_and_the_429s_of_the_last_hour(client, world, sim):
    settings = configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    Settings.objects.filter(pk=settings.pk).update(palette_rate_limit="/v1/dashboard=50")
    palette_budget.budget().slow_down(sim.url, "/v1/dashboard/x", None)
    client.force_login(world.owner)
    page = client.get(f"/tenants/{world.tenant_a.name}/settings/").content.decode()
    budget = page[page.index('id="rate-budget"') : page.index("</small>", page.index('id="rate-budget"'))]
    assert "this integration's own" in budget and "50 req/s for /v1/dashboard" in budget
    assert "one budget for all of this console's processes" in budget
    assert '<strong id="rate-429">1</strong>' in budget and "/v1/dashboard slowed to" in budget
    assert 'name="palette_rate_limit"' in page and 'value="/v1/dashboard=50"' in page
