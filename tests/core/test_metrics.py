"""``/metrics`` for Prometheus: off without a token, refused without the right one, and a text that
Prometheus's own parser reads, with the Palette budget's counters, discovery, pools and the queue depth."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from compute.discovery import run_discovery
from compute.models import DiscoveryRun

pytestmark = pytest.mark.django_db


def _families(response) -> dict:
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def test_metrics_are_off_without_a_token_and_refused_with_a_wrong_one(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    settings.METRICS_TOKEN = "s3cret-token"
    refused = client.get("/metrics")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert b"s3cret" not in refused.content
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_metrics_parse_and_count_palette_requests_discovery_and_pools(
    client, settings, connected_project, django_assert_max_num_queries
):
    settings.METRICS_TOKEN = "s3cret-token"
    run = run_discovery(DiscoveryRun.objects.create(project=connected_project))
    assert run.status == "succeeded" and run.hosts_seen > 0
    with django_assert_max_num_queries(8):
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=0.0.4")
    families = _families(response)

    requests = families["paletteai_palette_requests"].samples
    searched = [s for s in requests if s.labels["family"] == "/v1/dashboard" and s.labels["status"] == "200"]
    assert searched and searched[0].value >= run.pages
    assert families["paletteai_palette_budget_shared"].samples[0].value == 1  # Redis is configured

    duration = families["paletteai_discovery_last_duration_seconds"].samples
    assert [(s.labels["project"], s.labels["status"]) for s in duration] == [("research", "succeeded")]
    seen = families["paletteai_discovery_last_hosts_seen"].samples
    assert [s.value for s in seen] == [run.hosts_seen]
    assert "paletteai_compute_pools" in families and "paletteai_pool_provisioning_seconds" in families
    depth = families["paletteai_task_queue_depth"].samples
    assert depth and depth[0].labels["queue"] == "celery" and depth[0].value >= 0
    assert "paletteai_palette_429_last_hour" in families
