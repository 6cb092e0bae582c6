"""Discovery end to end: the view enqueues, a real Celery worker on Redis runs it against the simulator over
HTTPS."""

from __future__ import annotations

import pytest
from django.urls import reverse

from compute.models import DiscoveryRun, EdgeHost
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _discover(client):
    url = reverse("compute:discover", kwargs={"tenant": "acme", "project": "research"})
    assert client.post(url).status_code == 302
    return wait_for(
        lambda: (
            DiscoveryRun.objects.filter(status__in=DiscoveryRun.TERMINAL).order_by("-created").first()
            if not DiscoveryRun.objects.filter(status__in=DiscoveryRun.ACTIVE).exists()
            else None
        ),
        timeout=60,
        message="the discovery run to finish",
    )


def test_it_discovers_through_a_real_worker_and_sees_palette_change(
    world, connected_project, sim, celery_worker_process
):
    client = world.client_for(world.editor)
    run = _discover(client)
    assert run.status == "succeeded", run.first_error + celery_worker_process.log_path.read_text()[-2000:]
    expected = {h.uid for h in sim.state.hosts.values() if h.project_uid == sim.project_uids[0]}
    assert set(EdgeHost.objects.values_list("uid", flat=True)) == expected

    host = EdgeHost.objects.filter(eligible=True).order_by("uid").first()
    gone = EdgeHost.objects.filter(eligible=True).order_by("uid")[1]
    sim.state.update_host(host.uid, remove_labels=["palette.ai"])
    sim.state.remove_host(gone.uid)
    run = _discover(client)
    assert run.status == "succeeded" and (run.updated, run.removed) == (1, 1)
    host.refresh_from_db()
    gone.refresh_from_db()
    assert not host.eligible and "missing tag palette.ai=true" in host.reasons[0]["text"]
    assert gone.gone
