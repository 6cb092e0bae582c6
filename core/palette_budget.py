"""This installation's one Palette rate budget (see palette.ratelimit and the README's "Palette's rate
limits").

Every process (web, workers, beat, manage.py) installs the same budget when Django starts
(CoreConfig.ready): in Redis when REDIS_URL is set, so all of them together stay under Palette's per-address
limits; in the process otherwise (the embedded mode). PALETTE_RATE_LIMIT sets the limits (empty: Palette's
published ones; 0: no pacing). An integration may carry its own limits for a self-hosted Palette
(Settings.rate_limit, passed per client by integrations.effective.palette_client).

How long one request may wait for its slot is bounded where waiting would hold something up:
PALETTE_WAIT_IN_TRANSACTION inside a database transaction, PALETTE_WAIT_IN_REQUEST in a web request
(BudgetMiddleware marks those); a background task outside a transaction waits as long as it takes.
"""

from __future__ import annotations

import contextvars

from django.conf import settings
from django.db import connection

from palette import ratelimit

_in_request: contextvars.ContextVar[bool] = contextvars.ContextVar("palette_budget_in_request", default=False)


def build() -> ratelimit.Budget:
    """The budget the settings ask for: shared in Redis, or this process's own."""
    limits = ratelimit.parse_limits(settings.PALETTE_RATE_LIMIT)
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=1)
        return ratelimit.SharedRateLimiter(client, limits)
    return ratelimit.RateLimiter(limits)


def install() -> ratelimit.Budget:
    """Build the budget and make it every Palette client's default in this process."""
    budget = build()
    ratelimit.install(budget)
    return budget


def budget() -> ratelimit.Budget:
    """The budget every client of this process uses (for the Settings page and the metrics)."""
    return ratelimit.default_limiter()


def wait_bound() -> float | None:
    """How long a request to Palette may wait for its slot right now (None: as long as it takes)."""
    bounds = []
    if connection.in_atomic_block:
        bounds.append(float(settings.PALETTE_WAIT_IN_TRANSACTION))
    if _in_request.get():
        bounds.append(float(settings.PALETTE_WAIT_IN_REQUEST))
    return min(bounds) if bounds else None


class BudgetMiddleware:
    """Marks the time of a web request, so a Palette call made while answering it waits a bounded time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _in_request.set(True)
        try:
            return self.get_response(request)
        finally:
            _in_request.reset(token)


def summary(host_url: str, limits: dict[str, float] | None = None) -> dict:
    """The budget as one Palette host sees it, for the Settings page and ``check_palette --json``: whether
    it is shared, the limits in force (requests per second by family; `limits` is the integration's own),
    the 429s of the last hour and the families slowed by them (their current share of the limit)."""
    from palette.transport import normalize_base_url

    current = budget()
    host = normalize_base_url(host_url)
    merged = {**current.limits, **(limits or {})}
    families = {family: ratelimit.limit_for(family, merged) for family in ratelimit.PUBLISHED_LIMITS}
    return {
        "shared": current.shared,
        "paced": current.enabled and any(families.values()),
        "limits": families,
        "rateLimited429LastHour": current.recent_429s(host),
        "slowed": {f: round(share, 2) for (h, f), share in current.snapshot().factors.items() if h == host},
    }
