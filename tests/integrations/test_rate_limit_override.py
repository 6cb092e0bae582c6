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
