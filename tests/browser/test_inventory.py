"""The inventory grid in Chromium: filter, select hosts, preview a tag edit, apply it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from compute.discovery import run_discovery
from compute.models import DiscoveryRun, EdgeHost, TagEdit
from compute.tagging import apply_tag_edit
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_it_filters_the_grid_and_edits_a_tag_with_preview(live_server, page, world, connected_project, sim):
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    grid = "/tenants/acme/projects/research/compute/"
    log_in(page, live_server, "editor", next_path=grid, lands=grid)

    # Filter: not eligible, arm64 — the URL keeps the filter state.
    page.select_option("select[name=eligible]", "no")
    page.wait_for_url("**eligible=no**")
    page.select_option("select[name=arch]", "amd64")
    page.wait_for_url("**arch=amd64**")
    rows = page.locator("table.hosts tbody tr")
    expected = EdgeHost.objects.filter(
        project=connected_project, gone=False, eligible=False, architecture="amd64"
    ).count()
    assert rows.count() == min(expected, 50)

    # Pick an untagged, ready, healthy host and add the discovery tag.
    target = (
        EdgeHost.objects.filter(
            project=connected_project,
            state="ready",
            health="healthy",
            eligible=False,
            architecture="amd64",
            cpu_cores__gt=0,
            memory_mib__gt=0,
        )
        .exclude(tags__has_key="palette.ai")
        .order_by("name")
        .first()
    )
    assert target is not None and target.reasons == [
        {
            "code": "missing_tag",
            "params": {"tag": "palette.ai=true"},
            "text": "missing tag palette.ai=true — add it under stylus.site.tags in user-data "
            "or in Palette's Edge Host grid",
        }
    ], target and target.reasons
    # Typing is enough: the grid follows the search box without Enter.
    page.locator("input[name=q]").press_sequentially(target.uid, delay=20)
    page.wait_for_url(f"**q={target.uid}**")
    expect(page.locator("table.hosts tbody tr")).to_have_count(1)
    checkbox = page.locator(f"input[name=host][value='{target.uuid}']")
    checkbox.check()
    page.fill("input[name=add]", "palette.ai:true")
    # Leaving the search box must not re-fetch the grid (which would drop the selection).
    expect(checkbox).to_be_checked()
    page.click("text=Preview")
    page.wait_for_selector("text=Become eligible (1)")
    page.click("text=Apply to 1 host in Palette")
    page.wait_for_url("**/tags/**")
    edit = TagEdit.objects.get()
    assert edit.host_uids == [target.uid] and edit.add == {"palette.ai": "true"}
    apply_tag_edit(edit)  # the worker's job; its real-worker path is covered by the worker tests
    page.wait_for_selector("text=1 of 1 host updated", timeout=10_000)
    assert sim.state.hosts[target.uid].labels["palette.ai"] == "true"
