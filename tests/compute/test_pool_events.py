"""Palette's events on the pool page: fetched by the wait steps, interleaved with the pool's steps, the first
error kept, Palette's text escaped and bounded, "Refresh events" for a settled pool."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from compute.models import ComputePool
from compute.provisioning import events
from tests.compute.pool_fixtures import drive, fast_sim, new_pool, pool_project  # noqa: F401

ARGS = ["acme", "research"]


@pytest.fixture(autouse=True)
def _every_poll(monkeypatch):
    monkeypatch.setattr(events, "EVENTS_EVERY", 0.0)


def _activity(body: str) -> str:
    start = body.index('id="pool-activity"')
    return body[start : body.index("</ol>", start)]


def test_events_are_interleaved_with_the_steps_and_refresh_while_provisioning(world, pool_project, fast_sim):
    client = world.client_for(world.editor)
    pool = drive(new_pool(pool_project), until=lambda p: p.step == "wait" and bool(p.palette_events))
    assert not pool.is_terminal
    fragment = client.get(pool.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' in fragment and 'id="pool-events"' in fragment
    assert "cluster created" in fragment, (
        "the wait step read Palette's events while the pool was provisioning"
    )
    assert 'id="refresh-events"' not in fragment, "a pool that is changing refreshes by itself"
    pool = drive(pool)
    assert pool.status == ComputePool.READY
    activity = _activity(client.get(pool.get_absolute_url()).content.decode())
    order = [activity.index(s) for s in ("Create cluster", "cluster created", "Wait for Running and Healthy")]
    assert order == sorted(order), "events and steps in one list by time"
    assert "Palette ·\n              Normal" in activity


def test_the_first_error_stays_visible_after_newer_events(world, pool_project, fast_sim, settings):
    settings.POOL_PROVISION_TIMEOUT = 1.5
    fast_sim.fail_next_create(stage="provisioning")
    pool = drive(new_pool(pool_project))
    assert pool.status == ComputePool.FAILED
    assert pool.palette_events["firstProblem"]["reason"] == "ProvisioningFailed"
    cluster = fast_sim.state.clusters[pool.cluster_uid]
    now = time.time()
    cluster.events += [(now - 1 + i / 1000, "Normal", "Heartbeat", f"beat {i}") for i in range(60)]
    client = world.client_for(world.editor)
    assert client.post(reverse("compute:pool_events_refresh", args=[*ARGS, pool.uuid])).status_code == 302
    events.refresh(pool.pk)  # the compute.pool_events task body
    pool.refresh_from_db()
    reasons = [i["reason"] for i in pool.palette_events["items"]]
    assert len(reasons) == events.MAX_EVENTS and "ProvisioningFailed" not in reasons
    body = client.get(pool.get_absolute_url()).content.decode()
    first = body[body.index('id="first-palette-error"') :][:400]
    assert "ProvisioningFailed" in first and "control plane node failed to bootstrap" in first


def test_palette_text_is_escaped_bounded_and_bidi_visible(world, pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    cluster = fast_sim.state.clusters[pool.cluster_uid]
    cluster.events.append(
        (time.time(), "Warning", "<script>alert(1)</script>", "evil\u202eelif " + "y" * 4000)
    )
    events.refresh(pool.pk)
    pool.refresh_from_db()
    item = next(i for i in pool.palette_events["items"] if i["level"] == "warning")
    assert len(item["message"]) <= events.MAX_TEXT and "\u202e" not in item["message"]
    body = world.client_for(world.viewer).get(pool.get_absolute_url()).content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "evil[U+202E]elif" in body and "y" * 600 not in body


def test_refresh_is_polled_until_the_worker_answers_and_refused_to_viewers(world, pool_project, fast_sim):
    pool = drive(new_pool(pool_project))
    editor, viewer = world.client_for(world.editor), world.client_for(world.viewer)
    refresh = reverse("compute:pool_events_refresh", args=[*ARGS, pool.uuid])
    fragment = reverse("compute:pool_events", args=[*ARGS, pool.uuid])
    assert viewer.post(refresh).status_code == 403
    assert 'id="refresh-events"' not in viewer.get(pool.get_absolute_url()).content.decode()
    assert 'id="refresh-events"' in editor.get(pool.get_absolute_url()).content.decode()
    assert editor.post(refresh).status_code == 302
    pending = editor.get(fragment, HTTP_HX_REQUEST="true")
    assert pending.status_code == 200 and "Reading Palette" in pending.content.decode()
    assert 'hx-trigger="every 2s"' in pending.content.decode()
    events.refresh(pool.pk)
    done = viewer.get(fragment, HTTP_HX_REQUEST="true")
    assert done.status_code == 286 and "cluster is running" in done.content.decode()


def test_a_refresh_is_refused_while_the_pool_changes(world, pool_project, fast_sim):
    pool = new_pool(pool_project)
    response = world.client_for(world.editor).post(
        reverse("compute:pool_events_refresh", args=[*ARGS, pool.uuid]), follow=True
    )
    assert (
        response.status_code == 200 and "refresh by themselves while it changes" in response.content.decode()
    )
