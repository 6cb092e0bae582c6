from __future__ import annotations

import pytest
from django.db import transaction

from core.models import WorkerHeartbeat
from core.tasks import heartbeat, request_heartbeat
from tests.conftest import wait_for


def test_it_claims_a_heartbeat_once(db):
    run = WorkerHeartbeat.objects.create()
    heartbeat(run.pk)
    heartbeat(run.pk)  # a redelivered message finds the row no longer pending
    run.refresh_from_db()
    assert run.status == WorkerHeartbeat.SUCCEEDED and run.worker and run.started and run.finished
    assert WorkerHeartbeat.objects.count() == 1


def test_it_records_first_and_last_error(db):
    run = WorkerHeartbeat.objects.create()
    assert run.claim() and not run.claim()
    run.record_error("first")
    run.record_error("second")
    run.finish(WorkerHeartbeat.FAILED, error="third")
    run.refresh_from_db()
    assert (run.first_error, run.last_error, run.status) == ("first", "third", "failed")


@pytest.mark.worker
def test_it_round_trips_a_task_through_redis_and_a_real_worker(celery_worker_process):
    with transaction.atomic():
        run = request_heartbeat()
    done = wait_for(
        lambda: WorkerHeartbeat.objects.filter(pk=run.pk, status=WorkerHeartbeat.SUCCEEDED).first(),
        timeout=30,
        message="the worker to answer the heartbeat",
    )
    assert done.worker
    assert "core.heartbeat" in celery_worker_process.log_path.read_text()
