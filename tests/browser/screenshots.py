"""The README's screenshots, taken in Chromium from the real pages: `make screenshots` rewrites
docs/screenshots/*.png. Not part of `make test` (the file name is not test_*.py); it runs with the same
fixtures and fails, like every browser test, on any console error or failed request on the way."""

from __future__ import annotations

from pathlib import Path

import pytest

from compute.discovery import run_discovery
from compute.models import DiscoveryRun
from integrations import diagnosis
from integrations.models import PaletteCheck
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_take_the_readme_screenshots(live_server, page, world, connected_project):
    check = PaletteCheck.objects.create(tenant=world.tenant_a, trigger="manual")
    assert diagnosis.perform_check(check).outcome == PaletteCheck.CONNECTED
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    page.set_viewport_size({"width": 1280, "height": 900})
    log_in(page, live_server, "owner", next_path="/", lands="/")
    shots = {
        "overview.png": "/",
        "settings.png": f"/tenants/{world.tenant_a.name}/settings/",
        "inventory.png": f"/tenants/{world.tenant_a.name}/projects/{connected_project.name}/compute/",
    }
    for name, path in shots.items():
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(OUT / name))
        assert (OUT / name).stat().st_size > 10_000
