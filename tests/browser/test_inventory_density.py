"""The inventory as a newcomer sees it at 1280 px in Chromium: one line per host (short GPU names, "+N" tags),
nothing clipped, a header that stays in view, the bulk bar for selected hosts; the host page's memory in GiB
and its "Edit tags"; `palette.ai=true` typed in the tag editor."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from compute.discovery import run_discovery
from compute.eligibility import BARE_TAG_VALUE
from compute.inventory import memory_label
from compute.models import DiscoveryRun, EdgeHost, TagEdit
from compute.tagging import apply_tag_edit
from tests.browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GRID = "/tenants/acme/projects/research/compute/"
VIEWPORT = {"width": 1280, "height": 800}

# Each row's height next to a one-line row's: a probe row with a single short cell, measured and removed.
ROW_HEIGHTS = """() => {
  const body = document.querySelector("table.hosts tbody");
  const probe = body.insertRow(0);
  const cell = probe.insertCell();
  cell.colSpan = 99;
  cell.textContent = "x";
  const line = probe.getBoundingClientRect().height;
  probe.remove();
  return {line, rows: [...body.rows].map((r) => r.getBoundingClientRect().height)};
}"""


@pytest.fixture
def discovered(connected_project):
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    return connected_project


def _open_grid(page, live_server, path=GRID):
    page.set_viewport_size(VIEWPORT)
    log_in(page, live_server, "editor", next_path=path, lands=path)


def _row(page, host):
    return page.locator(f"table.hosts tbody tr:has(input[name=host][value='{host.uuid}'])")


def _untagged_ready_host(project):
    return (
        EdgeHost.objects.filter(project=project, state="ready", health="healthy", eligible=False)
        .exclude(tags__has_key="palette.ai")
        .exclude(cpu_cores=None)
        .order_by("name")
        .first()
    )


def test_every_host_is_one_line_with_nothing_clipped(live_server, page, world, discovered):
    hosts = list(EdgeHost.objects.filter(project=discovered, gone=False).order_by("name", "uid")[:50])
    assert len(hosts) == 50  # the simulator's hosts: a full first page
    _open_grid(page, live_server)
    expect(page.locator("table.hosts tbody tr")).to_have_count(50)

    for width in (1280, 1400):
        page.set_viewport_size({"width": width, "height": 800})
        heights = page.evaluate(ROW_HEIGHTS)
        tall = [h for h in heights["rows"] if h > heights["line"] + 2]
        assert not tall, (
            f"{len(tall)} rows taller than one line ({heights['line']}px) at {width}px: {tall[:5]}"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        table = page.locator("table.hosts").bounding_box()
        assert table["x"] >= 0 and table["x"] + table["width"] <= width
        # The selection column is on screen on every row (it was cut off at 1400 px).
        boxes = page.locator("table.hosts tbody input[name=host]")
        edges = boxes.evaluate_all("els => els.map((e) => [e.getBoundingClientRect().left, e.offsetWidth])")
        assert len(edges) == 50 and all(left >= 0 and left + w <= width and w > 0 for left, w in edges), edges
        expect(boxes.first).to_be_in_viewport()

    # GPUs by their short name, the string Palette sent in the title.
    a100 = next(h for h in hosts if any(g["model"] == "GA100 [A100 PCIe 40GB]" for g in h.gpus))
    (gpu,) = a100.gpus
    cell = _row(page, a100).locator("td.gpu span")
    expect(cell).to_have_text(f"A100 40GB ×{gpu['count']}")
    expect(cell).to_have_attribute("title", f"NVIDIA GA100 [A100 PCIe 40GB] × {gpu['count']}")
    assert cell.evaluate("e => e.scrollWidth <= e.clientWidth")  # the short name is not cut
    t4 = next((h for h in hosts if any(g["model"] == "TU104GL [Tesla T4]" for g in h.gpus)), None)
    if t4 is not None:
        expect(_row(page, t4).locator("td.gpu span")).to_have_text(f"T4 ×{t4.gpus[0]['count']}")

    # The first two tags, then "+N" with the others in its title.
    many = max(hosts, key=lambda h: len(h.tags))
    shown = sorted(f"{k}={v}" if v != BARE_TAG_VALUE else k for k, v in many.tags.items())
    assert len(shown) >= 4, shown
    tags = _row(page, many).locator("td.tags")
    expect(tags.locator("code.tag")).to_have_text(shown[:2])
    expect(tags.locator(".more-tags")).to_have_text(f"+{len(shown) - 2}")
    expect(tags.locator(".more-tags")).to_have_attribute("title", " ".join(shown[2:]))


def test_the_header_stays_and_the_bulk_bar_follows_the_selection(live_server, page, world, discovered):
    _open_grid(page, live_server)
    bar, count = page.locator("#bulk-bar"), page.locator("#bulk-count")
    expect(bar).to_be_hidden()
    boxes = page.locator("table.hosts tbody input[name=host]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(count).to_have_text("2 selected")
    expect(bar).to_be_in_viewport(ratio=1)  # at the top, without scrolling
    for name in ("add", "remove"):
        expect(bar.locator(f"input[name={name}]")).to_be_visible()
    expect(bar.get_by_role("button", name="Preview")).to_be_visible()

    # Scrolled to the last host: the bar and, under it, the header are still in view.
    last = boxes.last
    last.scroll_into_view_if_needed()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    first_row = page.locator("table.hosts tbody tr").first.bounding_box()
    assert first_row["y"] < 0, "the page did not scroll"
    last.check()
    expect(count).to_have_text("3 selected")
    bar_box = bar.bounding_box()
    header = page.locator("table.hosts thead th", has_text="GPU")
    assert -1 <= bar_box["y"] <= 1, bar_box
    assert abs(header.bounding_box()["y"] - (bar_box["y"] + bar_box["height"])) <= 2, (header, bar_box)
    expect(header).to_be_in_viewport()

    bar.get_by_role("button", name="Clear").click()
    expect(bar).to_be_hidden()
    assert [b.is_checked() for b in boxes.all()] == [False] * boxes.count()
    # With nothing selected the header sticks to the very top.
    page.evaluate("window.scrollBy(0, -1); window.scrollTo(0, document.body.scrollHeight)")
    expect(header).to_be_in_viewport()
    assert abs(header.bounding_box()["y"]) <= 1


def test_the_editor_takes_equals_and_colon_alike(live_server, page, world, discovered):
    target = _untagged_ready_host(discovered)
    _open_grid(page, live_server)
    _row(page, target).locator("input[name=host]").check()
    previews = []
    for typed in ("palette.ai=true", "palette.ai:true"):
        page.fill("input[name=add]", typed)
        page.click("#bulk-bar button[type=submit]")
        preview = page.locator("#tag-preview article")
        expect(preview).to_contain_text("Become eligible (1)")
        expect(preview.locator("header")).to_contain_text("add palette.ai=true")
        previews.append(preview.inner_text())
        page.evaluate("document.getElementById('tag-preview').innerHTML = ''")
    assert previews[0] == previews[1]


def test_the_host_page_shows_gib_and_edits_its_tags(live_server, page, world, discovered, sim):
    target = _untagged_ready_host(discovered)
    gpu_host = EdgeHost.objects.filter(project=discovered, gone=False).exclude(gpu_total=0).first()
    _open_grid(page, live_server)
    page.click(f"text={gpu_host.name}")
    page.wait_for_url(f"**/{gpu_host.uuid}/**")
    assert gpu_host.memory_mib % 1024 == 0
    expect(page.locator("dt:has-text('Memory') + dd")).to_have_text(f"{gpu_host.memory_mib // 1024} GiB")
    gpu, gpus = gpu_host.gpus[0], page.locator("dt:has-text('GPUs') + dd")
    expect(gpus).to_contain_text(f"{gpu['vendor']} {gpu['model']} × {gpu['count']}")  # in full
    expect(gpus).to_contain_text(f"({memory_label(gpu['memoryMiB'])} each)")
    listed = page.request.get(f"{live_server.url}{GRID}?q={gpu_host.uid}").text()
    assert f"<td>{gpu_host.memory_mib // 1024} GiB</td>" in listed  # the list says the same

    page.goto(f"{live_server.url}{GRID}hosts/{target.uuid}/")
    page.get_by_text("Edit tags").click()
    page.fill("#host-tags input[name=add]", "palette.ai=true")
    page.locator("#host-tags").get_by_role("button", name="Preview").click()
    expect(page.locator("#tag-preview header")).to_contain_text("Preview: 1 host")
    expect(page.locator("#tag-preview")).to_contain_text(f"Become eligible (1): {target}")
    page.get_by_role("button", name="Apply to 1 host in Palette").click()
    page.wait_for_url("**/tags/**")
    edit = TagEdit.objects.get()
    assert edit.host_uids == [target.uid] and edit.add == {"palette.ai": "true"}
    apply_tag_edit(edit)
    page.wait_for_selector("text=1 of 1 host updated", timeout=10_000)
    assert sim.state.hosts[target.uid].labels["palette.ai"] == "true"
