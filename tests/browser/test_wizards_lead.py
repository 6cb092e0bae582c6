"""The wizards lead on, in Chromium against the simulator over HTTPS: the bundle form syncs the profiles it
needs, the GPU family is picked from the inventory, the Network step shows the hosts' subnets and checks the
VIP, and a Ready pool offers its kubeconfig to editors."""

from __future__ import annotations

import ipaddress
import re

import pytest
from playwright.sync_api import expect

from compute.models import ComputePool, EdgeHost, ProfileSync
from compute.profiles import sync_profiles
from tests.browser import log_in
from tests.compute.pool_fixtures import (
    ED25519,
    discover,
    drive,
    fast_pool_settings,
    fast_sim,  # noqa: F401  (a fixture)
    make_bundle,
    new_pool,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PROJECT = "/tenants/acme/projects/research/compute/"
WIZARD = PROJECT + "pools/new/"


def counted(number: int, word: str) -> str:
    return f"{number} {word}{'' if number == 1 else 's'}"


def test_the_bundle_form_syncs_the_profiles_it_needs(live_server, page, world, connected_project, sim):
    log_in(page, live_server, "editor", next_path=WIZARD + "bundle/", lands=WIZARD + "bundle/")
    status = page.locator("#bundle-profiles-status")
    expect(status).to_contain_text("No cluster profiles synced yet.")
    expect(page.locator("#create-bundle")).to_be_disabled()
    expect(page.locator("#id_bundle-base option")).to_have_count(1)  # "—" only

    page.click("#sync-profiles-now")
    page.wait_for_url(f"{live_server.url}{WIZARD}bundle/")
    expect(status).to_contain_text("Syncing the cluster profiles from Palette")
    # The worker's part, done here: the sync the click asked for.
    run = ProfileSync.objects.get(project=connected_project)
    assert sync_profiles(run).status == "succeeded"

    # The form follows the sync: the synced edge-native profiles appear without a reload.
    expect(page.locator("#id_bundle-base")).to_contain_text(
        "edge-k3s-infra 1.3.0 (Infrastructure, edge-native)"
    )
    expect(status).to_have_count(0)
    expect(page.locator("#create-bundle")).to_be_enabled()
    page.fill("#id_bundle-name", "edge-infra")
    page.select_option("#id_bundle-base", label="edge-k3s-infra 1.3.0 (Infrastructure, edge-native)")
    page.click("#create-bundle")
    expect(page.locator("text=Profile bundle edge-infra created.")).to_be_visible()


def test_gpu_families_and_the_hosts_subnets_lead_the_wizard(live_server, page, world, connected_project, sim):
    discover(connected_project)
    make_bundle(connected_project)
    log_in(page, live_server, "editor", next_path=WIZARD, lands=WIZARD)
    page.fill("#id_name", "lead-pool")
    page.click("#wizard-next")
    page.check("input[name=variant][value=dedicated]")
    page.click("#wizard-next")
    page.select_option("#id_bundle", "edge-infra")
    page.click("#wizard-next")
    page.click("#wizard-next")  # the profile variables have defaults
    page.wait_for_url(f"{live_server.url}{WIZARD}nodes/")

    # The GPU family is picked from the eligible hosts' GPUs, with how many hosts and GPUs have each.
    options = page.locator("#id_worker_gpu_family option").all_inner_texts()
    assert options[0] == "None — no GPUs required"
    t4_hosts = [
        h
        for h in EdgeHost.objects.filter(project=connected_project, gone=False, eligible=True)
        if any(g["model"] == "TU104GL [Tesla T4]" for g in h.gpus)
    ]
    t4_gpus = sum(g["count"] for h in t4_hosts for g in h.gpus if g["model"] == "TU104GL [Tesla T4]")
    assert t4_hosts, "the simulator's inventory has eligible T4 hosts"
    t4 = f"NVIDIA T4 — {counted(len(t4_hosts), 'host')}, {counted(t4_gpus, 'GPU')}"
    assert t4 in options and any(re.fullmatch(r"Any NVIDIA GPU — \d+ hosts, \d+ GPUs", o) for o in options)
    assert not any(re.search(r"\b1 (hosts|GPUs)\b", o) for o in options)
    # A T4 worker pool: the live counts follow the chosen family.
    page.fill("#id_worker_name", "gpu")
    page.select_option("#id_worker_gpu_family", label=t4)
    expect(page.locator('#counts tr[data-pool="gpu"] td.matching')).to_have_text(str(len(t4_hosts)))
    page.click("#wizard-next")
    page.wait_for_url(f"{live_server.url}{WIZARD}network/")

    # Network: the chosen hosts' subnets are shown, and a VIP outside them is refused, saying which they are.
    subnets = page.locator("#host-subnets code.subnet").all_inner_texts()
    assert subnets and all(ipaddress.IPv4Network(s) for s in subnets)
    page.fill("#id_vip", "10.99.0.10")
    page.fill("#id_ssh_keys", ED25519)
    page.click("#wizard-next")
    error = page.locator("#id_vip-error")
    expect(error).to_contain_text("10.99.0.10 is outside the subnet")
    expect(error).to_contain_text(subnets[0])
    assert page.url == f"{live_server.url}{WIZARD}network/"
    taken = set(EdgeHost.objects.values_list("ip", flat=True))
    free = next(a for a in reversed(list(ipaddress.IPv4Network(subnets[0]).hosts())) if str(a) not in taken)
    page.fill("#id_vip", str(free))
    page.click("#wizard-next")
    page.wait_for_url(f"{live_server.url}{WIZARD}review/")
    expect(page.locator("#readiness")).to_have_text("ready")


def test_a_ready_pool_offers_its_kubeconfig_to_editors_only(
    live_server, page, browser, world, connected_project, fast_sim, settings
):
    fast_pool_settings(settings)
    discover(connected_project)
    make_bundle(connected_project)
    pool = drive(new_pool(connected_project, "kube-pool"))
    assert pool.status == ComputePool.READY, pool.failure_message
    url = pool.get_absolute_url()

    log_in(page, live_server, "editor", next_path=url, lands=url)
    expect(page.locator("#next-steps")).to_contain_text("Next steps in PaletteAI")
    expect(page.locator("#next-steps")).to_contain_text(
        "export KUBECONFIG=~/Downloads/kube-pool-kubeconfig.yaml"
    )
    with page.expect_download() as download:
        page.click("#download-kubeconfig")
    assert download.value.suggested_filename == "kube-pool-kubeconfig.yaml"
    assert "kind: Config" in open(download.value.path()).read()

    viewer = browser.new_context().new_page()
    try:
        log_in(viewer, live_server, "viewer", next_path=url, lands=url)
        expect(viewer.locator("#next-steps")).to_contain_text(
            "a project editor or admin can download it here"
        )
        expect(viewer.locator("#download-kubeconfig")).to_have_count(0)
    finally:
        viewer.context.close()
