"""Redis restarts (without persistence) while runs are queued: every run still completes or fails visibly.

Runs started while Redis is down are saved all the same (the message is sent on commit, and a
failure to send is logged, not raised: core.tasks.enqueue_on_commit) and must complete too.

Real processes: a Celery worker and Celery beat on a Redis server of this test's own (restarting the
suite's Redis would disturb other tests), PostgreSQL, the simulator over HTTPS. Beat runs the run
watchdog (core.watchdog), which re-sends what the broker lost.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from django.db import transaction

from compute.discovery import start_discovery
from compute.models import DiscoveryRun, ProfileSync
from compute.profiles import start_sync
from core.models import TaskRun, WorkerHeartbeat
from core.tasks import request_heartbeat
from core.watchdog import RESENT_NOTE
from integrations.diagnosis import start_check
from integrations.models import PaletteCheck
from tenancy.models import Project
from tests.conftest import wait_for
from tests.reliability.conftest import broker, configure

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RUN_MODELS = (DiscoveryRun, ProfileSync, PaletteCheck, WorkerHeartbeat)
# Short watchdog timings for the worker and beat processes (they read the environment).
WATCHDOG_ENV = {
    "RUN_RESEND_AFTER": "5",
    "RUN_WATCHDOG_INTERVAL": "2",
    "RUN_PENDING_TIMEOUT": "300",
    "RUN_RUNNING_TIMEOUT": "300",
}


def _runs() -> list[TaskRun]:
    return [run for model in RUN_MODELS for run in model.objects.all()]


def test_it_loses_no_run_when_redis_restarts_with_runs_queued(
    world, palette, private_redis, processes, report
):
    sim = palette(
        hosts=150, seed=3, projects=1, faults="latency:100ms"
    )  # each run takes a moment: a backlog builds
    configure(world.tenant_a, sim)
    projects = [world.project_a] + [
        Project.objects.create(
            tenant=world.tenant_a, name=f"team-{i}", display_name=f"Team {i}", namespace=f"acme-team-{i}"
        )
        for i in range(3)
    ]
    with broker(private_redis.url):
        processes.start("worker", broker_url=private_redis.url, env=WATCHDOG_ENV, concurrency=1)
        processes.start("beat", broker_url=private_redis.url, env=WATCHDOG_ENV)
        with transaction.atomic():  # as the pages and beat start them: row first, message on commit
            for project in projects:
                start_discovery(project, trigger="test")
                start_sync(project)
                start_check(project, trigger="test")
            start_check(world.tenant_a, trigger="test")
            request_heartbeat()
        runs = _runs()
        wait_for(
            lambda: any(r.status == TaskRun.RUNNING for r in _runs()) and private_redis.queued() >= 5,
            timeout=60,
            interval=0.05,
            message="a run in progress with a backlog queued behind it",
        )
        queued = private_redis.queued()
        states = Counter(r.status for r in _runs())
        private_redis.stop()
        # While Redis is down, work is still started (a click, beat): the row is saved, the message cannot be
        # sent.
        late = Project.objects.create(
            tenant=world.tenant_a, name="late", display_name="Late", namespace="acme-late"
        )
        with transaction.atomic():
            during = [start_discovery(late, trigger="test"), start_sync(late)]
        private_redis.start()  # same port, empty: every queued message is gone
        assert private_redis.queued() == 0
        restarted = time.monotonic()

        def settled():
            current = _runs()
            return current if all(r.is_terminal for r in current) else None

        final = wait_for(settled, timeout=120, interval=0.5, message="every run to finish after the restart")
        took = time.monotonic() - restarted
    assert {(type(r), r.pk) for r in final} >= {(type(r), r.pk) for r in runs + during}, "a run row vanished"
    outcome = Counter(r.status for r in final)
    for run in final:
        assert run.status == TaskRun.SUCCEEDED or run.first_error, (
            f"{type(run).__name__} {run.pk} failed without a reason"
        )
    resent = [r for r in final if RESENT_NOTE in r.log]
    assert resent, "no run needed the watchdog: the restart lost nothing, so the test proved nothing"
    assert outcome[TaskRun.SUCCEEDED] == len(final), {
        f"{type(r).__name__} {r.pk}": r.first_error for r in final if r.first_error
    }
    report(
        f"injected a Redis restart (no persistence) with {len(runs)} runs started "
        f"({states[TaskRun.RUNNING]} running, "
        f"{states[TaskRun.PENDING]} pending; {queued} messages queued and lost) "
        f"and {len(during)} runs started while it was "
        f"down; checked: all {len(final)} runs ended "
        f"{dict(outcome)} within {took:.0f} s, {len(resent)} re-sent by the watchdog, 0 vanished, 0 stuck"
    )
