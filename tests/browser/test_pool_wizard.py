"""The Compute Pool wizard in Chromium to a Ready pool: live server, the simulator over HTTPS, a real Celery
worker on Redis."""

from __future__ import annotations

import ipaddress
import re

import pytest
from playwright.sync_api import expect

from compute.discovery import run_discovery
from compute.models import ClusterProfile, ComputePool, DiscoveryRun, EdgeHost, ProfileBundle, ProfileSync
from compute.profiles import sync_profiles
from palette.sim import Timings
from tests.browser import log_in
from tests.compute.pool_fixtures import ED25519
from tests.conftest import require_services, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

# The worker is a separate process: it reads its pool timings from the environment (as in test_pool_worker).
WORKER_ENV = {
    "POOL_POLL_INTERVAL": "1",
    "POOL_RETRY_BASE": "1",
    "POOL_RESUME_GRACE": "1",
    "POOL_STEP_BUDGET": "5",
    "POOL_RELEASE_WAIT": "20",
    "POOL_PROVISION_TIMEOUT": "120",
}


@pytest.fixture
def worker_settings(settings, monkeypatch, sim):
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, value)
        setattr(settings, key, int(value))
    # The kubeconfig lags behind Running as in Palette (an empty file for 10 s): the pool waits for
    # hasKubeConfig.
    sim.state.timings = Timings(pending=0.5, provisioning=2, deleting=0.5, deleted_visible=0.5)
    return settings


def type_into(page, selector: str, text: str) -> None:
    """Clear the field, then type key by key: the keyup events drive the live counts."""
    page.fill(selector, "")
    page.locator(selector).press_sequentially(text)


def test_it_runs_the_wizard_to_a_ready_pool(
    live_server, page, world, connected_project, sim, worker_settings, celery_worker_process
):
    require_services()
    assert (
        run_discovery(DiscoveryRun.objects.create(project=connected_project, trigger="test")).status
        == "succeeded"
    )
    assert sync_profiles(ProfileSync.objects.create(project=connected_project)).status == "succeeded"
    base = ClusterProfile.objects.get(project=connected_project, name="edge-k3s-infra", version="1.3.0")
    wizard = f"{live_server.url}/tenants/acme/projects/research/compute/pools/new/"

    log_in(
        page,
        live_server,
        "editor",
        next_path="/tenants/acme/projects/research/compute/pools/new/",
        lands=wizard.removeprefix(live_server.url),
    )

    # General: a bad name first; the message shows and nothing moves on.
    page.fill("#id_name", "Browser_Pool")
    page.click("#wizard-next")
    page.wait_for_selector(".field-error")
    page.fill("#id_name", "browser-pool")
    page.fill("#id_labels", "team=web")
    page.click("#wizard-next")
    page.wait_for_url(wizard + "variant/")
    page.check("input[name=variant][value=dedicated]")
    page.click("#wizard-next")
    page.wait_for_url(wizard + "bundle/")

    # Profile bundle: none yet, so the new-bundle form is open.
    page.fill("#id_bundle-name", "edge-infra")
    page.select_option("#id_bundle-base", base.uid)
    page.click("#create-bundle")
    page.wait_for_selector("text=Profile bundle edge-infra created.")
    assert (
        ProfileBundle.objects.get(project=connected_project, name="edge-infra").profiles[0]["uid"] == base.uid
    )
    assert page.locator("#id_bundle").input_value() == "edge-infra"
    page.click("#wizard-next")
    page.wait_for_url(wizard + "variables/")
    # Profile variables: edge-k3s-infra's site has a default, shown as the placeholder.
    assert page.locator("input[placeholder=lab-a]").count() == 1
    page.click("#wizard-next")
    page.wait_for_url(wizard + "nodes/")

    # Node pools: the counts follow every keystroke.
    matching = page.locator('#counts tr[data-pool="control-plane"] td.matching')
    initial = int(matching.inner_text())
    assert initial > 0
    type_into(page, "#id_cp_cpu", "4096")
    expect(matching).to_have_text("0")
    assert "not enough hosts" in page.locator("#counts").inner_text()
    type_into(page, "#id_cp_cpu", "4")
    expect(matching).to_have_text(str(initial))
    assert "enough hosts" in page.locator("#counts").inner_text()
    # Another worker pool slot: the step is saved and shown again with one more (empty, so no pool).
    expect(page.locator("details.worker-slot")).to_have_count(1)
    page.click("#add-worker")
    page.wait_for_url(wizard + "nodes/#worker-pools")
    expect(page.locator("details.worker-slot")).to_have_count(2)
    assert page.locator("#id_cp_cpu").input_value() == "4"
    page.click("#wizard-next")
    page.wait_for_url(wizard + "network/")

    # The VIP: a free address in the subnet the step shows for the hosts the pool would use.
    subnet = ipaddress.IPv4Network(page.locator("#host-subnets code.subnet").first.inner_text())
    taken = set(EdgeHost.objects.values_list("ip", flat=True))
    vip = next(str(a) for a in reversed(list(subnet.hosts())) if str(a) not in taken)
    page.fill("#id_vip", vip)
    page.fill("#id_ssh_keys", ED25519)
    page.click("#wizard-next")
    page.wait_for_url(wizard + "review/")

    # Review: the readiness report and the dry-run request, then Create.
    assert page.locator("#readiness").inner_text() == "ready"
    request_json = page.locator("#request-json").inner_text()
    assert '"name": "acme-research-browser-pool"' in request_json and vip in request_json
    page.click("#create-pool")
    page.wait_for_url(re.compile(r"/pools/[0-9a-f-]{36}/$"))
    pool = ComputePool.objects.get(project=connected_project, name="browser-pool")
    assert pool.labels == {"team": "web"} and pool.bundle.name == "edge-infra"

    # The real worker provisions it against the simulator; the page's timeline polls until Ready.
    log = celery_worker_process.log_path
    pool = wait_for(
        lambda: ComputePool.objects.filter(
            pk=pool.pk, status__in=(ComputePool.READY, ComputePool.FAILED)
        ).first(),
        timeout=90,
        message="the pool to be Ready",
    )
    assert pool.status == ComputePool.READY, pool.failure_message + log.read_text()[-3000:]
    page.wait_for_selector(".badge-ok:has-text('Ready')", timeout=15_000)
    assert pool.kubeconfig_kind == "admin"
    assert len([c for c in sim.state.clusters.values() if c.name == pool.cluster_name]) == 1
