"""``/metrics``: this installation's numbers for Prometheus (PaletteAI's monitoring stack scrapes it).

Everything is read when Prometheus scrapes, from what every process shares: the Palette rate budget's
counters (in Redis when REDIS_URL is set: all processes; in the embedded mode this process's own), the
database (runs, pools) and the broker (queue depth). Apps add their own families in ``AppConfig.ready()``
with ``register``; core knows nothing of the apps above it.

Protected by a bearer token: METRICS_TOKEN unset → 404 (off); set → ``Authorization: Bearer <token>``
or 401. Keep the endpoint inside the cluster too (see docs/operations.md, "Metrics").
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from kombu.exceptions import ChannelError
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from . import palette_budget

log = logging.getLogger(__name__)

_collectors: list[Callable[[], Iterable[Metric]]] = []


def register(collect: Callable[[], Iterable[Metric]]) -> None:
    """Add a function yielding metric families to every scrape (from an AppConfig.ready())."""
    if collect not in _collectors:
        _collectors.append(collect)


def palette_budget_metrics() -> Iterable[Metric]:
    """The Palette rate budget: requests by family and status, waits by lane, 429s, slowed families."""
    budget = palette_budget.budget()
    snap = budget.snapshot()
    requests = CounterMetricFamily(
        "paletteai_palette_requests",
        "Requests sent to Palette, by Palette host, endpoint family and HTTP status (error: no answer).",
        labels=["host", "family", "status"],
    )
    for (host, family, status), count in sorted(snap.requests.items()):
        requests.add_metric([host, family, status], count)
    yield requests
    waits = CounterMetricFamily(
        "paletteai_palette_rate_limit_waits",
        "Requests that waited for a slot in the Palette rate budget, by endpoint family and lane.",
        labels=["family", "lane"],
    )
    waited = CounterMetricFamily(
        "paletteai_palette_rate_limit_wait_seconds",
        "Seconds spent waiting for slots in the Palette rate budget, by endpoint family and lane.",
        labels=["family", "lane"],
    )
    for (family, lane), (count, seconds) in sorted(snap.waits.items()):
        waits.add_metric([family, lane], count)
        waited.add_metric([family, lane], seconds)
    yield waits
    yield waited
    limited = GaugeMetricFamily(
        "paletteai_palette_429_last_hour", "429 answers from Palette in the last hour (all hosts)."
    )
    limited.add_metric([], budget.recent_429s())
    yield limited
    share = GaugeMetricFamily(
        "paletteai_palette_rate_share",
        "Share of its limit an endpoint family is paced at after 429s (1 when absent: full rate).",
        labels=["host", "family"],
    )
    for (host, family), factor in sorted(snap.factors.items()):
        share.add_metric([host, family], factor)
    yield share
    shared = GaugeMetricFamily(
        "paletteai_palette_budget_shared", "1 when the rate budget is shared by all processes (Redis)."
    )
    shared.add_metric([], 1 if budget.shared else 0)
    yield shared


def queue_metrics() -> Iterable[Metric]:
    """Messages waiting in the task queue (Celery's default queue, on whichever broker is configured)."""
    from celery import current_app

    depth = GaugeMetricFamily("paletteai_task_queue_depth", "Tasks waiting for a worker.", labels=["queue"])
    queue = current_app.conf.task_default_queue
    try:
        with current_app.connection_for_read() as conn:
            try:
                count = conn.default_channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # not declared yet: no worker has started and nothing was sent
                count = 0
            depth.add_metric([queue], count)
    except Exception as exc:  # the broker may be down: the other families still answer
        log.warning("metrics: the broker did not say its queue depth (%s)", type(exc).__name__)
    yield depth


register(palette_budget_metrics)
register(queue_metrics)


class _Collector:
    def collect(self) -> Iterable[Metric]:
        for collect in list(_collectors):
            yield from collect()


def render() -> bytes:
    """The Prometheus text exposition of every registered family."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector())
    return generate_latest(registry)


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404("Metrics are off: set METRICS_TOKEN.")
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("A bearer token is required (METRICS_TOKEN).\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        response["Content-Type"] = "text/plain; charset=utf-8"
        return response
    # The 0.0.4 text format: what every Prometheus release reads (2.x as well as 3.x).
    return HttpResponse(render(), content_type=CONTENT_TYPE_PLAIN_0_0_4)
