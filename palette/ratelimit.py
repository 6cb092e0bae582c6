"""Client-side rate limiting that keeps a process under Palette's published limits.

Palette limits requests per source IP and per parent resource prefix (``/v1/<resource>``):
10 req/s for ``/v1/dashboard`` and ``/v1/edgehosts`` (and the default), 50 req/s for
``/v1/spectroclusters`` and ``/v1/clusterprofiles`` (docs/palette-behaviour.md §7). A single limiter
per process, shared by all threads and clients, spaces requests per (host, prefix) so that a full
discovery never provokes a 429 on its own.

Spacing is strict (no burst allowance) and runs a little under the published rate (``headroom``):
network jitter can bunch requests on arrival, and a schedule at exactly the limit would then
cross it. The same ``TokenBucket`` answers "may I, now?" for the simulator's server side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

#: Palette's published limits in requests per second, by parent resource prefix.
PUBLISHED_LIMITS: dict[str, float] = {
    "/v1/dashboard": 10.0,
    "/v1/edgehosts": 10.0,
    "/v1/projects": 10.0,
    "/v1/users": 10.0,
    "/v1/spectroclusters": 50.0,
    "/v1/clusterprofiles": 50.0,
    "/v1/cloudconfigs": 50.0,
    "/v1/events": 50.0,
}
#: Limit for any prefix not listed (Palette's default).
DEFAULT_LIMIT = 10.0


def prefix_of(path: str) -> str:
    """The rate-limit bucket of a path: its first two segments, e.g. ``/v1/dashboard``."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    return "/" + "/".join(parts[:2])


def limit_for(path: str, limits: Mapping[str, float] | None = None) -> float:
    """Requests per second allowed for a path's prefix."""
    return (limits or PUBLISHED_LIMITS).get(prefix_of(path), DEFAULT_LIMIT)


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, holding at most ``capacity``.

    Thread-safe. ``try_take`` never blocks (the simulator's 429 decision); ``reserve`` books the
    next free slot and returns how long the caller must wait for it (the client's pacing).
    """

    def __init__(self, rate: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def try_take(self) -> tuple[bool, float]:
        """Take a token if one is available: (taken, seconds until one will be)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True, 0.0
            return False, (1.0 - self._tokens) / self.rate

    def reserve(self) -> float:
        """Take a token now or book the next one (the balance may go negative): seconds to wait."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0.0 else -self._tokens / self.rate


class RateLimiter:
    """Per (host, prefix) pacing shared by every thread that uses it.

    ``acquire(host, path)`` blocks until the request may be sent. ``enabled = False`` (or
    ``disable()``) turns it into a no-op, e.g. for benchmarks against a simulator without limits.
    """

    def __init__(
        self,
        limits: Mapping[str, float] | None = None,
        *,
        headroom: float = 0.95,
        enabled: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limits = dict(PUBLISHED_LIMITS if limits is None else limits)
        self.headroom = headroom
        self.enabled = enabled
        self._sleep = sleep
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(self, host: str, path: str) -> TokenBucket:
        """The bucket for a host and path prefix (created on first use)."""
        key = (host, prefix_of(path))
        bucket = self._buckets.get(key)
        if bucket is None:
            with self._lock:
                bucket = self._buckets.get(key)
                if bucket is None:
                    rate = self.limits.get(key[1], DEFAULT_LIMIT) * self.headroom
                    bucket = self._buckets[key] = TokenBucket(rate, capacity=1.0)
        return bucket

    def acquire(self, host: str, path: str) -> float:
        """Wait until a request to ``path`` on ``host`` may be sent; returns the seconds waited."""
        if not self.enabled:
            return 0.0
        wait = self.bucket(host, path).reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def disable(self) -> None:
        """Stop limiting (process-wide for every client sharing this limiter)."""
        self.enabled = False

    def enable(self) -> None:
        """Resume limiting."""
        self.enabled = True


_default: RateLimiter | None = None
_default_lock = threading.Lock()


def default_limiter() -> RateLimiter:
    """The process-wide limiter every client uses unless given another one."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = RateLimiter()
    return _default
