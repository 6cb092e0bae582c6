"""One active run per target: the database constraint, the race it closes, and the command line joining a
queued run."""

from __future__ import annotations

import threading

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, connections, transaction
from django.db.models.signals import pre_save

from compute.discovery import start_discovery
from compute.models import DiscoveryRun, ProfileSync
from core.migration_steps import SUPERSEDED, cancel_extra_active_runs
from core.tasks import create_or_active, start_once
from integrations.models import PaletteCheck
from tests.conftest import require_services


def test_the_database_refuses_a_second_active_run_for_one_target(world):
    DiscoveryRun.objects.create(project=world.project_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        DiscoveryRun.objects.create(project=world.project_a, status=DiscoveryRun.RUNNING)
    # Ended runs are history, other targets are independent, NULL targets never collide.
    DiscoveryRun.objects.create(project=world.project_a, status=DiscoveryRun.SUCCEEDED)
    DiscoveryRun.objects.create(project=world.project_b)
    ProfileSync.objects.create(project=world.project_a)
    PaletteCheck.objects.create(tenant=world.tenant_a)
    PaletteCheck.objects.create(tenant=world.tenant_b)
    PaletteCheck.objects.create(project=world.project_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaletteCheck.objects.create(tenant=world.tenant_a, status=PaletteCheck.RUNNING)


@pytest.mark.django_db(transaction=True)
def test_a_request_that_loses_the_race_joins_the_winners_run(world, monkeypatch):
    """Another request commits its run between our check and our insert: we get that run and send nothing."""
    winner: list = []

    def other_request(project):
        try:
            winner.append(
                DiscoveryRun.objects.create(project=project, trigger="schedule")
            )  # its own connection
        finally:
            connections.close_all()

    def other_request_commits_first(sender, instance, **kwargs):
        if instance.trigger == "manual" and not winner:
            thread = threading.Thread(target=other_request, args=(instance.project,))
            thread.start()
            thread.join()

    sent = []
    monkeypatch.setattr("core.tasks.enqueue_on_commit", lambda name, *args: sent.append((name, args)))
    pre_save.connect(other_request_commits_first, sender=DiscoveryRun)
    try:
        run = start_once(
            DiscoveryRun, "compute.discovery", target={"project": world.project_a}, trigger="manual"
        )
    finally:
        pre_save.disconnect(other_request_commits_first, sender=DiscoveryRun)
    assert run.pk == winner[0].pk and run.trigger == "schedule"
    assert DiscoveryRun.objects.filter(project=world.project_a).count() == 1
    assert sent == []  # the loser enqueues nothing: the winner's request does


def test_a_new_run_is_created_when_none_is_active(world):
    DiscoveryRun.objects.create(project=world.project_a, status=DiscoveryRun.FAILED)
    run, created = create_or_active(DiscoveryRun, {"project": world.project_a}, trigger="cli")
    again, created_again = create_or_active(DiscoveryRun, {"project": world.project_a}, trigger="cli")
    assert created and not created_again and again.pk == run.pk and run.status == DiscoveryRun.PENDING


def test_discover_on_the_command_line_performs_a_run_still_waiting_for_a_worker(connected_project):
    queued = start_discovery(
        connected_project, trigger="schedule"
    )  # no worker in this test: it stays pending
    call_command("discover", "-n", connected_project.namespace)
    queued.refresh_from_db()
    assert queued.status == DiscoveryRun.SUCCEEDED and queued.hosts_seen > 0
    assert DiscoveryRun.objects.filter(project=connected_project).count() == 1


def test_discover_on_the_command_line_does_not_start_a_second_run_beside_a_running_one(connected_project):
    running = start_discovery(connected_project, trigger="schedule")
    assert running.claim()  # a worker has it
    with pytest.raises(CommandError, match="already running on a worker; wait for it"):
        call_command("discover", "-n", connected_project.namespace)
    assert list(DiscoveryRun.objects.filter(project=connected_project)) == [running]


def test_the_upgrade_keeps_the_newest_active_run_per_target_and_cancels_the_others(world):
    require_services(redis=False)  # SQLite cannot alter a schema inside the test's transaction
    constraint = next(
        c for c in DiscoveryRun._meta.constraints if c.name == "discoveryrun_one_active_per_project"
    )
    with connection.schema_editor() as editor:
        editor.remove_constraint(DiscoveryRun, constraint)  # the schema before the upgrade
    older = DiscoveryRun.objects.create(project=world.project_a, status=DiscoveryRun.RUNNING)
    newer = DiscoveryRun.objects.create(project=world.project_a)
    other = DiscoveryRun.objects.create(project=world.project_b)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's inserts; the upgrade itself only updates
    with connection.schema_editor() as editor:
        cancel_extra_active_runs("compute", "DiscoveryRun", "project").code(apps, editor)
        editor.add_constraint(DiscoveryRun, constraint)
    for run in (older, newer, other):
        run.refresh_from_db()
    assert (older.status, older.first_error) == (DiscoveryRun.CANCELLED, SUPERSEDED) and older.finished
    assert newer.status == other.status == DiscoveryRun.PENDING
