"""Scheduled discoveries of many projects against one Palette start spread out, not all on the beat."""

from __future__ import annotations

import pytest

from compute.discovery import SCHEDULE_SPREAD, schedule_offset
from tenancy.models import Project, Tenant

pytestmark = pytest.mark.django_db


def test_each_project_starts_at_its_own_stable_offset_within_the_spread():
    tenant = Tenant.objects.create(name="spread", display_name="Spread")
    projects = [
        Project.objects.create(tenant=tenant, name=f"p{i}", display_name=f"P{i}", namespace=f"spread-p{i}")
        for i in range(40)
    ]
    offsets = [schedule_offset(p, 1800) for p in projects]
    assert all(0 <= o < SCHEDULE_SPREAD for o in offsets)
    assert len({round(o) for o in offsets}) > 20  # spread, not bunched
    assert offsets == [schedule_offset(p, 1800) for p in projects]  # the same each time
    assert max(schedule_offset(p, 30) for p in projects) < 30 / 4  # a short interval: a quarter of it


def test_the_beat_sends_each_projects_discovery_with_its_offset(
    world, sim, settings, monkeypatch, django_capture_on_commit_callbacks
):
    from core import tasks as core_tasks
    from tests.integrations.conftest import configure_palette, palette_values

    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    for name in ("vision", "speech"):
        Project.objects.create(tenant=world.tenant_a, name=name, display_name=name, namespace=f"acme-{name}")
    sent: list[tuple] = []
    monkeypatch.setattr(core_tasks, "send", lambda name, *args, countdown=0: sent.append((name, countdown)))
    settings.DISCOVERY_INTERVAL = 600
    from compute.tasks import scheduled_discovery_task

    with django_capture_on_commit_callbacks(execute=True):
        started = scheduled_discovery_task()
    projects = list(Project.objects.filter(tenant=world.tenant_a).order_by("pk"))
    assert started == len(projects) == 3
    assert sorted(c for _, c in sent) == sorted(schedule_offset(p, 600) for p in projects)
    assert {name for name, _ in sent} == {"compute.discovery"} and len({c for _, c in sent}) == len(sent)
