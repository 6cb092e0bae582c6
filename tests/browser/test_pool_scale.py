"""Scaling a Ready pool's worker pool from its page in Chromium: live server, the simulator over HTTPS, a real
Celery worker on Redis. The user sees Updating, then Ready with the new node count."""

from __future__ import annotations

import re

import pytest
from django.db import transaction
from playwright.sync_api import expect

from compute.models import ComputePool
from tests.browser import log_in
from tests.compute.pool_fixtures import discover, make_bundle, new_pool
from tests.compute.test_pool_scale import WORKERS, PutLog
from tests.conftest import require_services, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "POOL_POLL_INTERVAL": "1",
    "POOL_RETRY_BASE": "1",
    "POOL_RESUME_GRACE": "1",
    "POOL_STEP_BUDGET": "5",
    "POOL_RELEASE_WAIT": "20",
    "POOL_PROVISION_TIMEOUT": "120",
}


def test_an_editor_scales_a_worker_pool_from_the_pool_page(
    live_server, page, world, connected_project, sim, settings, monkeypatch, celery_worker_process
):
    require_services()
    for key, value in WORKER_ENV.items():
        monkeypatch.setenv(key, value)
        setattr(settings, key, int(value))
    from palette.sim import Timings

    sim.state.timings = Timings(pending=0.5, provisioning=2, deleting=0.5, deleted_visible=0.5)
    discover(connected_project)
    make_bundle(connected_project)
    with transaction.atomic():
        pool = new_pool(connected_project, workers=WORKERS)
    pool = wait_for(
        lambda: ComputePool.objects.filter(pk=pool.pk, status=ComputePool.READY).first(),
        timeout=90,
        message="the pool to be Ready",
    )
    puts = PutLog(sim)
    path = pool.get_absolute_url()
    log_in(page, live_server, "editor", next_path=path, lands=path)
    row = page.locator('#pool-day2 tr[data-machine-pool="workers"] .node-count')
    expect(row).to_have_text("2")

    page.click("#scale summary")
    page.select_option("#scale-pool", "workers")
    page.fill("#scale-count", "3")
    page.click("#scale-submit")
    expect(page.locator("#messages")).to_contain_text("Scaling worker pool workers: 2 → 3 nodes")
    status = page.locator("#pool-timeline > p").first.locator(
        ".badge"
    )  # the pool's state, as the list shows it
    expect(status).to_have_text(re.compile("Updating"))
    expect(status).to_have_text("Ready", timeout=60_000)
    expect(row).to_have_text("3")
    assert len(puts.calls) == 1 and len(puts.calls[0][1]) == 3
    pool.refresh_from_db()
    assert pool.status == ComputePool.READY and len(pool.hosts["workers"]) == 3
