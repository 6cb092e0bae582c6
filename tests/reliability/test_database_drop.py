"""PostgreSQL drops the request's connection half-way through a multi-write view: an error page, nothing
half-written.

The request runs in the live server (real HTTP, its own database connection); when the view's first
row is inserted, another connection terminates that backend (pg_terminate_backend), so the next
write of the same view fails for real.
"""

from __future__ import annotations

import json

import psycopg
import pytest
import requests
from django.db import connection
from django.db.models.signals import post_save
from django.urls import reverse

from compute.models import ComputePool
from core.models import AuditEntry
from tenancy.models import Project
from tests.compute.pool_fixtures import discover, make_bundle
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

ERROR_PAGE = "Something went wrong on our side"


@pytest.fixture
def drop_connection_on_insert(services):
    """`arm(model, name)`: when a `model` row called `name` is inserted, terminate the inserting connection's
    backend."""
    db = connection.settings_dict
    armed: dict = {}
    dropped: list[int] = []

    def receiver(sender, instance, created, **kwargs):
        if not created or armed.get(sender) != getattr(instance, "name", None):
            return
        from django.db import connection as request_connection  # the live server thread's own connection

        pid = request_connection.connection.info.backend_pid
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"],
            user=db["USER"],
            password=db["PASSWORD"] or None,
            dbname=db["NAME"],
            autocommit=True,
        ) as admin:
            # Waits (up to 5 s) until the backend is gone: the view's next statement meets a dead connection.
            assert admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()[0]
        dropped.append(pid)
        armed.pop(sender)

    def arm(model, name: str) -> None:
        armed[model] = name
        post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"drop-{model.__name__}")

    arm.dropped = dropped
    yield arm
    for model in (Project, ComputePool):
        post_save.disconnect(sender=model, dispatch_uid=f"drop-{model.__name__}")


def browser(live_server, username: str) -> requests.Session:
    """A logged-in session through the real login form (CSRF cookie and token), as a browser has."""
    session = requests.Session()
    session.get(live_server.url + reverse("login"))
    answer = session.post(
        live_server.url + reverse("login"),
        allow_redirects=False,
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
    )
    assert answer.status_code == 302 and "sessionid" in session.cookies, answer.text[:500]
    return session


def post(session: requests.Session, url: str, data: dict) -> requests.Response:
    return session.post(
        url,
        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        allow_redirects=False,
        timeout=30,
    )


def test_it_shows_the_error_page_and_writes_no_half_project(
    world, live_server, drop_connection_on_insert, report
):
    session = browser(live_server, "owner")
    url = live_server.url + reverse("tenancy:project_create", args=[world.tenant_a.name])
    data = {"name": "doomed", "display_name": "Doomed", "namespace": "", "description": "", "gpu_limit": "0"}
    audit_before = AuditEntry.objects.count()
    drop_connection_on_insert(Project, "doomed")
    answer = post(session, url, data)
    assert drop_connection_on_insert.dropped, "the connection was never dropped"
    assert answer.status_code == 500 and ERROR_PAGE in answer.text, answer.text[:500]
    assert "Traceback" not in answer.text and "psycopg" not in answer.text
    assert not Project.objects.filter(name="doomed").exists(), (
        "the project row survived the dropped transaction"
    )
    assert AuditEntry.objects.count() == audit_before
    # The same user trying again is not blocked by anything half-written ("already has a project called
    # doomed").
    again = post(session, url, data)
    assert again.status_code == 302, again.text[:500]
    assert Project.objects.filter(name="doomed").count() == 1
    assert AuditEntry.objects.filter(object_repr__contains="doomed").count() == 1
    report(
        "injected pg_terminate_backend on the request's connection right after the Project insert "
        "(before its audit entry); checked: HTTP 500 with templates/500.html, no traceback, "
        "0 project rows, 0 audit rows; the retry creates exactly 1 of each"
    )


def _queued_pool_steps(settings) -> int:
    """compute.pool_step messages waiting in this test process's Redis database."""
    import redis

    messages = redis.Redis.from_url(settings.REDIS_URL).lrange("celery", 0, -1)
    return sum(1 for raw in messages if json.loads(raw).get("headers", {}).get("task") == "compute.pool_step")


def test_it_creates_no_pool_and_sends_no_message_when_the_connection_drops(
    world, connected_project, sim, live_server, drop_connection_on_insert, services, report
):
    discover(connected_project)
    make_bundle(connected_project)
    session = browser(live_server, "editor")
    url = live_server.url + reverse("compute:pool_create", args=["acme", "research"])
    data = {
        "name": "gpu-pool-a",
        "variant": "dedicated",
        "bundle": "edge-infra",
        "cp_count": "1",
        "cp_worker_eligible": "on",
        "cp_architecture": "amd64",
        "cp_cpu": "4",
        "cp_memory_gib": "8",
        "cp_groups": "palette.ai=true",
        "worker_architecture": "amd64",
        "worker_groups": "palette.ai=true",
        "vip": "10.20.99.10",
        "ssh_keys": "",
        "deletion_policy": "delete",
        "create": "1",
    }
    queued_before = _queued_pool_steps(services)
    audit_before = AuditEntry.objects.count()
    drop_connection_on_insert(ComputePool, "gpu-pool-a")
    answer = post(session, url, data)
    assert drop_connection_on_insert.dropped, "the connection was never dropped"
    assert answer.status_code == 500 and ERROR_PAGE in answer.text, answer.text[:500]
    assert not ComputePool.objects.exists(), "the pool row survived the dropped transaction"
    assert AuditEntry.objects.count() == audit_before
    assert _queued_pool_steps(services) == queued_before, (
        "a provisioning message was sent for a pool that does not exist"
    )
    assert not [c for c in sim.state.clusters.values() if c.name.endswith("gpu-pool-a")], (
        "Palette was asked to build it"
    )
    again = post(session, url, data)
    assert again.status_code == 302, again.text[:500]
    assert ComputePool.objects.filter(name="gpu-pool-a").count() == 1
    assert (
        _queued_pool_steps(services) == queued_before + 1
    )  # the check above sees messages when there are some
    report(
        "injected pg_terminate_backend right after the ComputePool insert "
        "(before its audit entry and on-commit provisioning message); checked: HTTP 500 error page, "
        "0 pool rows, 0 audit rows, 0 pool_step messages on Redis, "
        "no cluster in Palette; the retry creates 1 pool and sends 1 message"
    )
