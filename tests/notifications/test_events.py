"""From what happens (a pool fails, a host turns unhealthy) to Notification rows: one per subject and event
until it recovers, no storm from flapping hosts, muted rules, thresholds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compute.discovery import run_discovery, start_discovery
from compute.models import DiscoveryRun
from compute.provisioning import create_pool
from compute.provisioning.context import Context
from core.events import Subject, emit
from notifications.models import Notification
from tests.compute.pool_fixtures import spec_for
from tests.notifications.helpers import rule, secret

pytestmark = pytest.mark.django_db
URL = "https://hooks.example.com/palette"


def host(uid: str) -> Subject:
    return Subject("EdgeHost", uid, uid)


def test_a_failed_pool_produces_exactly_one_notification_until_it_is_ready(world):
    secret(world.tenant_a)
    r = rule(world.tenant_a, URL, events=["pool.failed", "pool.ready"])  # a tenant rule hears its projects
    pool = create_pool(
        world.project_a, spec_for(world.project_a, "web", vip="10.12.40.51"), None, source="test"
    )
    pool.refresh_from_db()
    Context(pool, pool.tick, {}).fail(None, "config", "Palette refused the cluster profile")
    pool.refresh_from_db()
    Context(pool, pool.tick, {}).fail(None, "config", "refused again")  # a second failure: not sent again
    sent = list(Notification.objects.filter(rule=r))
    assert [(n.event, n.subject_name) for n in sent] == [("pool.failed", "web")]
    assert "Palette refused the cluster profile" in sent[0].message and sent[0].namespace == "acme-research"
    assert sent[0].details["failureClass"] == "config"

    Context(pool, pool.tick, {}).save(status="ready")
    Context(pool, pool.tick, {}).save(status="failed")
    events = list(Notification.objects.filter(rule=r).order_by("created").values_list("event", flat=True))
    assert events == ["pool.failed", "pool.ready", "pool.failed"]


def test_fifty_flapping_hosts_give_one_notification_each_until_recovered(world):
    secret(world.project_a)
    r = rule(world.project_a, URL)
    for _ in range(3):  # three discoveries saw them unhealthy
        for i in range(50):
            emit("host.unhealthy", "acme-research", host(f"h{i}"), "unhealthy")
    assert Notification.objects.filter(rule=r, event="host.unhealthy").count() == 50
    emit("host.recovered", "acme-research", host("h0"), "healthy")
    emit("host.recovered", "acme-research", host("h0"), "healthy")  # no second recovery
    emit("host.recovered", "acme-research", host("never-sick"), "healthy")  # never reported: nothing
    assert Notification.objects.filter(rule=r, event="host.recovered").count() == 1
    emit("host.unhealthy", "acme-research", host("h0"), "unhealthy again")
    assert Notification.objects.filter(rule=r, subject_uid="h0").count() == 3
    emit("host.unhealthy", "other-namespace", host("h1"), "elsewhere")
    assert Notification.objects.filter(rule=r).count() == 52


def test_a_muted_rule_records_without_sending_and_other_tenants_hear_nothing(world):
    secret(world.project_a)
    r = rule(world.project_a, URL, muted_until=timezone.now() + timedelta(hours=1))
    other = rule(world.tenant_b, URL, name="b-hook")
    emit("host.unhealthy", "acme-research", host("h1"), "unhealthy")
    assert list(Notification.objects.filter(rule=r).values_list("status", flat=True)) == ["muted"]
    assert not Notification.objects.filter(rule=other).exists()


def test_discovery_failed_is_sent_after_n_runs_in_a_row_once(world):
    secret(world.project_a)
    r = rule(world.project_a, URL, events=["discovery.failed"], discovery_failures=2)
    project = world.project_a
    for expected in (0, 1, 1):
        run = start_discovery(project)
        run_discovery(run)  # no Settings: the run fails
        assert run.status == DiscoveryRun.FAILED
        assert Notification.objects.filter(rule=r).count() == expected
    n = Notification.objects.get(rule=r)
    assert n.details == {"consecutiveFailures": 2} and "failed 2 time(s) in a row" in n.message


def test_a_host_turning_unhealthy_in_palette_gives_one_notification_and_capacity_drop(connected_project, sim):
    project = connected_project
    secret(project)
    r = rule(project, URL, events=["host.unhealthy", "host.recovered", "capacity.dropped"])
    assert run_discovery(start_discovery(project)).status == "succeeded"
    assert not Notification.objects.filter(rule=r).exists()
    uid = next(
        h.uid
        for h in sim.state.hosts.values()
        if h.project_uid == sim.project_uids[0]
        and h.health == "healthy"
        and "palette.ai" in h.labels
        and h.gpus
    )
    sim.state.update_host(uid, health="unhealthy", health_message="edge host agent heartbeat missed")
    for _ in range(2):
        assert run_discovery(start_discovery(project)).status == "succeeded"
    sent = list(Notification.objects.filter(rule=r).order_by("event"))
    assert [(n.event, n.subject_uid) for n in sent if n.event == "host.unhealthy"] == [
        ("host.unhealthy", uid)
    ]
    assert "heartbeat missed" in next(n for n in sent if n.event == "host.unhealthy").message
    sim.state.update_host(uid, health="healthy", health_message="")
    assert run_discovery(start_discovery(project)).status == "succeeded"
    assert Notification.objects.filter(rule=r, event="host.recovered", subject_uid=uid).count() == 1


def test_a_rejected_key_is_told_once_until_a_check_accepts_it_again(world, sim):
    from integrations import diagnosis
    from integrations.models import PaletteCheck
    from tests.integrations.conftest import configure_palette, palette_values

    hook = rule(world.tenant_a, URL, events=("credentials.rejected",))
    configure_palette(
        world.tenant_a, palette_values(sim, apiKey="not-the-simulators-key-1234"), ca_pem=sim.ca_pem
    )
    for _ in range(2):
        check = diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))
        assert check.outcome == PaletteCheck.FAILED_OUTCOME
    sent = Notification.objects.filter(rule=hook, event="credentials.rejected")
    assert sent.count() == 1 and "rejected the API key" in sent.get().message
    assert "not-the-simulators-key-1234" not in sent.get().message

    configure_palette(world.tenant_a, palette_values(sim), ca_pem=sim.ca_pem)
    diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))  # accepted: the problem ends
    configure_palette(
        world.tenant_a, palette_values(sim, apiKey="not-the-simulators-key-1234"), ca_pem=sim.ca_pem
    )
    diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))
    assert sent.count() == 2


def test_capacity_dropped_is_sent_when_eligible_gpus_fall_by_the_rules_threshold(
    world, connected_project, sim
):
    from compute.models import EdgeHost

    hook = rule(world.tenant_a, URL, events=("capacity.dropped",), capacity_drop=4)
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    gpu_hosts = [
        h for h in EdgeHost.objects.filter(project=connected_project, eligible=True) if h.gpu_total >= 4
    ]
    assert gpu_hosts, "the simulator's inventory has eligible GPU hosts"
    sim.state.hosts[gpu_hosts[0].uid].health = "unhealthy"  # no longer eligible: at least 4 GPUs fewer
    assert run_discovery(DiscoveryRun.objects.create(project=connected_project)).status == "succeeded"
    sent = Notification.objects.filter(rule=hook, event="capacity.dropped")
    assert sent.count() == 1 and sent.get().details["drop"] >= 4
