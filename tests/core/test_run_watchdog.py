"""The run watchdog: lost messages are re-sent, runs nobody finishes fail visibly, projects never stay
blocked."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from compute.discovery import start_discovery
from compute.models import DiscoveryRun
from core.models import TaskRun, WorkerHeartbeat
from core.runs import run_kinds
from core.watchdog import RESENT_NOTE, check_runs


@pytest.fixture
def sent():
    """Messages the watchdog sends, as (task name, pk): the broker is the edge here."""
    messages: list[tuple[str, int]] = []
    return messages


def _aged(model, minutes: float, **fields):
    run = model.objects.create(**fields)
    model.objects.filter(pk=run.pk).update(created=timezone.now() - timedelta(minutes=minutes))
    return run


def test_it_knows_the_task_of_every_run_model():
    from paletteai_admin.celery import app

    app.loader.import_default_modules()
    concrete = {m._meta.label for m in apps.get_models() if issubclass(m, TaskRun)}
    assert concrete == {kind.label for kind in run_kinds()}, (
        "register new TaskRun models with core.runs.register_run_kind"
    )
    assert all(kind.task in app.tasks for kind in run_kinds())


def test_it_resends_runs_pending_too_long_and_notes_it_once(db, settings, sent):
    settings.RUN_RESEND_AFTER, settings.RUN_PENDING_TIMEOUT = 120, 3600
    old = _aged(WorkerHeartbeat, 5)
    fresh = _aged(WorkerHeartbeat, 1)
    now = timezone.now()
    check_runs(now, send=lambda task, pk: sent.append((task, pk)))
    assert sent == [("core.heartbeat", old.pk)]
    fresh.refresh_from_db()
    assert fresh.log == "" and fresh.status == TaskRun.PENDING
    check_runs(
        now + timedelta(seconds=60), send=lambda task, pk: sent.append((task, pk))
    )  # too soon for `old`
    check_runs(now + timedelta(seconds=121), send=lambda task, pk: sent.append((task, pk)))
    assert [pk for _, pk in sent].count(old.pk) == 2
    old.refresh_from_db()
    assert (
        old.status == TaskRun.PENDING
        and old.log.count(RESENT_NOTE) == 1
        and old.progress["watchdogResent"] == 2
    )


def test_it_fails_runs_no_worker_took_keeping_the_first_error(db, settings, sent):
    settings.RUN_RESEND_AFTER, settings.RUN_PENDING_TIMEOUT = 120, 3600
    run = _aged(WorkerHeartbeat, 61, first_error="an earlier problem")
    result = check_runs(send=lambda task, pk: sent.append((task, pk)))
    run.refresh_from_db()
    assert sent == [] and result.failed == [f"core.WorkerHeartbeat:{run.pk}"]
    assert run.status == TaskRun.FAILED and run.finished and run.first_error == "an earlier problem"
    assert (
        "No worker took this run within 61 min" in run.last_error
        and "Celery worker is running" in run.last_error
    )


def test_it_fails_runs_whose_worker_died_and_unblocks_the_project(world, settings, sent):
    settings.RUN_RUNNING_TIMEOUT = 1800
    stuck = DiscoveryRun.objects.create(
        project=world.project_a, status=TaskRun.RUNNING, started=timezone.now() - timedelta(minutes=31)
    )
    busy = DiscoveryRun.objects.create(
        project=world.project_b, status=TaskRun.RUNNING, started=timezone.now() - timedelta(minutes=5)
    )
    assert (
        start_discovery(world.project_a) == stuck
    )  # joined: without the watchdog the project is blocked for good
    check_runs(send=lambda task, pk: sent.append((task, pk)))
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert stuck.status == TaskRun.FAILED and "stopped without finishing" in stuck.first_error
    assert busy.status == TaskRun.RUNNING and not busy.first_error
    fresh = start_discovery(world.project_a)
    assert fresh != stuck and fresh.status == TaskRun.PENDING


def test_it_fails_only_a_run_still_in_the_status_it_read(db):
    """A worker claiming the row between the watchdog's read and its write wins (compare-and-set)."""
    from core.watchdog import _fail

    run = _aged(WorkerHeartbeat, 90)
    WorkerHeartbeat.objects.filter(pk=run.pk).update(status=TaskRun.RUNNING, started=timezone.now())
    assert not _fail(WorkerHeartbeat, run.pk, TaskRun.PENDING, "no worker")
    run.refresh_from_db()
    assert run.status == TaskRun.RUNNING and not run.last_error


def test_a_resent_message_runs_the_run(connected_project, settings):
    """The re-sent message goes to the right task with the right argument: the discovery really runs."""
    from paletteai_admin.celery import app

    app.loader.import_default_modules()
    settings.RUN_RESEND_AFTER = 60
    run = _aged(DiscoveryRun, 3, project=connected_project, trigger="schedule")
    beat = _aged(WorkerHeartbeat, 3)
    check_runs(send=lambda task, pk: app.tasks[task].apply(args=[pk]))
    run.refresh_from_db()
    beat.refresh_from_db()
    assert run.status == TaskRun.SUCCEEDED and run.hosts_seen > 0, run.first_error
    assert beat.status == TaskRun.SUCCEEDED
