"""Pacing that keeps one installation under Palette's rate limits.

Palette limits requests per **source address** and per parent resource prefix (``/v1/<resource>``, an
"endpoint family"): 10 req/s for ``/v1/dashboard`` and ``/v1/edgehosts`` (and the default), 50 req/s for
``/v1/spectroclusters`` and ``/v1/clusterprofiles`` (docs/palette-behaviour.md §7). Every process of an
installation (web, worker replicas, beat, the CLI) usually shares one address, so they must share one
budget per (Palette host, family):

- ``RateLimiter`` keeps the budget in this process (the embedded mode without Redis, and tools);
- ``SharedRateLimiter`` keeps it in Redis, booked atomically by one Lua script (GCRA: one "theoretical
  arrival time" per budget, read from Redis's own clock so every process agrees), and falls back to an
  in-process budget while Redis does not answer.

Both behave the same:

- **Strict spacing** a little under the limit (``headroom``): no burst allowance, since network jitter
  can bunch requests on arrival.
- **Lanes.** ``interactive`` (connection checks, tag edits, provisioning) books the next free slot at
  once; ``bulk`` (discovery, profile sync) books only a slot that is at most ``BULK_HORIZON`` away and
  otherwise sleeps and asks again. A large scan therefore never queues far ahead, and an interactive call
  waits at most about ``BULK_HORIZON`` behind it.
- **A bound on waiting.** ``max_wait`` (seconds, or a callable asked at each request: a web request or
  a database transaction gets a bound, a worker's scan none) turns a longer wait into ``BudgetExhausted``
  instead of a sleep, so "Palette is busy, try again in N s" reaches the user.
- **Adaptive on 429.** ``slow_down`` halves the family's rate (at most once a second, never below
  ``MIN_FACTOR``), honours a ``Retry-After`` by booking nothing before it, and the rate recovers by
  ``RECOVERY_PER_SECOND`` of the full rate per second. The 429s of the last hour are counted per host.
- **Counters** for the metrics endpoint: requests by host, family and status; waits by family and lane.

Limits come from ``limits`` (the installation's, ``PALETTE_RATE_LIMIT``) and may be overridden per call
(an integration's own limits, for a self-hosted Palette). A limit of 0 switches pacing off for that family.
The simulator's server side uses ``TokenBucket`` to decide its 429s.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

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

LANES = ("interactive", "bulk")
#: How far ahead a bulk request may book its slot (seconds); further, it sleeps and asks again.
BULK_HORIZON = 0.25
#: A 429 multiplies the family's rate by this, at most once per SLOWDOWN_DEBOUNCE seconds...
SLOWDOWN = 0.5
SLOWDOWN_DEBOUNCE = 1.0
#: ... never below this share of the limit ...
MIN_FACTOR = 0.1
#: ... and the share grows back by this much per second.
RECOVERY_PER_SECOND = 0.02
#: After Redis fails to answer, the shared budget uses its in-process fallback for this many seconds.
REDIS_RETRY_AFTER = 5.0
#: The window of the 429 count shown on the Settings page and in check_palette --json.
WINDOW_429 = 3600.0


class BudgetExhausted(Exception):
    """The next slot of a budget is further away than the caller may wait (``retry_in`` seconds)."""

    def __init__(self, family: str, retry_in: float):
        self.family = family
        self.retry_in = retry_in
        super().__init__(f"the request budget for {family} is booked for the next {retry_in:.1f} s")


def prefix_of(path: str) -> str:
    """The rate-limit bucket of a path: its first two segments, e.g. ``/v1/dashboard``."""
    parts = path.split("?", 1)[0].strip("/").split("/")
    return "/" + "/".join(parts[:2])


def limit_for(path: str, limits: Mapping[str, float] | None = None) -> float:
    """Requests per second allowed for a path's prefix (``limits`` over Palette's published ones)."""
    family = prefix_of(path)
    if limits and family in limits:
        return limits[family]
    if limits and "*" in limits:
        return limits["*"]
    return PUBLISHED_LIMITS.get(family, DEFAULT_LIMIT)


def parse_limits(text: str) -> dict[str, float] | None:
    """``PALETTE_RATE_LIMIT`` and an integration's override: empty → None (Palette's published limits);
    a number → that many requests per second for every family (``0``: pacing off); or comma-separated
    ``/v1/family=rate`` pairs, optionally with ``*=rate`` for the rest. ValueError says what to fix."""
    text = (text or "").strip()
    if not text:
        return None
    limits: dict[str, float] = {}
    for item in text.split(","):
        family, sep, rate = item.strip().rpartition("=")
        family = family.strip() if sep else "*"
        try:
            value = float(rate)
        except ValueError:
            value = -1.0
        if value < 0 or value != value or value == float("inf"):
            raise ValueError(
                f"{item.strip()!r} is not a rate: give requests per second as a number (0 switches pacing "
                "off), or /v1/family=rate pairs such as /v1/dashboard=20,/v1/edgehosts=20."
            )
        if family != "*" and not (family.startswith("/v1/") and family.count("/") == 2):
            raise ValueError(
                f"{family!r} is not an endpoint family: write it as /v1/<resource>, e.g. /v1/dashboard."
            )
        limits[family] = value
    return limits


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, holding at most ``capacity``.

    Thread-safe. ``try_take`` never blocks (the simulator's 429 decision).
    """

    def __init__(self, rate: float, capacity: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def try_take(self) -> tuple[bool, float]:
        """Take a token if one is available: (taken, seconds until one will be)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True, 0.0
            return False, (1.0 - self._tokens) / self.rate


@dataclass
class Snapshot:
    """What a budget has counted (for the metrics endpoint)."""

    #: (host, family, status) → requests answered; status is the HTTP status or "error" (no answer).
    requests: dict[tuple[str, str, str], int] = field(default_factory=dict)
    #: (family, lane) → (requests that waited, seconds waited in all).
    waits: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    #: (host, family) → current share of the limit, for families slowed by a 429.
    factors: dict[tuple[str, str], float] = field(default_factory=dict)


def recovered(factor: float, stamp: float, now: float) -> float:
    """A slowed family's share of its limit at `now`, `stamp` being when it was last slowed."""
    return min(1.0, factor + max(0.0, now - stamp) * RECOVERY_PER_SECOND)


class Budget:
    """What both budgets share: limits, lanes, the wait bound and the acquire loop. Subclasses book."""

    shared = False

    def __init__(
        self,
        limits: Mapping[str, float] | None = None,
        *,
        headroom: float = 0.95,
        enabled: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.limits = dict(limits or {})
        self.headroom = headroom
        self.enabled = enabled
        self._sleep = sleep
        self._rng = random.Random()

    def rate(self, path: str, overrides: Mapping[str, float] | None = None) -> float:
        """Requests per second this budget allows for `path`'s family (0: not paced)."""
        return limit_for(path, {**self.limits, **(overrides or {})}) * self.headroom

    def acquire(
        self,
        host: str,
        path: str,
        *,
        lane: str = "interactive",
        max_wait: float | Callable[[], float | None] | None = None,
        limits: Mapping[str, float] | None = None,
    ) -> float:
        """Wait until a request to `path` on `host` may be sent; the seconds waited.

        Raises BudgetExhausted when the slot is further away than `max_wait` allows."""
        rate = self.rate(path, limits)
        if not self.enabled or rate <= 0:
            return 0.0
        family = prefix_of(path)
        bound = max_wait() if callable(max_wait) else max_wait
        waited = 0.0
        while True:
            remaining = None if bound is None else max(0.0, bound - waited)
            horizon = BULK_HORIZON if lane == "bulk" else remaining
            if horizon is not None and remaining is not None:
                horizon = min(horizon, remaining)
            booked, wait = self._book(host, family, 1.0 / rate, horizon)
            if booked:
                waited += wait
                if wait > 0:
                    self._sleep(wait)
                if waited > 0:
                    self._count_wait(family, lane, waited)
                return waited
            if lane != "bulk" or (remaining is not None and wait - BULK_HORIZON >= remaining):
                raise BudgetExhausted(family, wait)
            pause = max(0.01, wait - BULK_HORIZON) * (1.0 + 0.1 * self._rng.random())
            self._sleep(pause)
            waited += pause

    def disable(self) -> None:
        """Stop pacing (for every client sharing this budget)."""
        self.enabled = False

    def enable(self) -> None:
        """Resume pacing."""
        self.enabled = True

    # What subclasses provide.
    def _book(self, host: str, family: str, interval: float, horizon: float | None) -> tuple[bool, float]:
        """Book the next slot if it is at most `horizon` seconds away (None: any): (booked, wait)."""
        raise NotImplementedError

    def _count_wait(self, family: str, lane: str, seconds: float) -> None:
        raise NotImplementedError

    def slow_down(self, host: str, path: str, retry_after: float | None = None) -> None:
        """Palette answered 429: slow the family down, and book nothing before `retry_after` seconds."""
        raise NotImplementedError

    def observe(self, host: str, path: str, status: int | str) -> None:
        """Count one answered request (status "error" when there was no answer)."""
        raise NotImplementedError

    def recent_429s(self, host: str | None = None) -> int:
        """How many 429s Palette (`host`, or any) answered in the last hour."""
        raise NotImplementedError

    def snapshot(self) -> Snapshot:
        raise NotImplementedError


class RateLimiter(Budget):
    """The budget of one process, shared by all its threads and clients (see the module docstring)."""

    def __init__(self, limits=None, *, clock: Callable[[], float] = time.monotonic, **options):
        super().__init__(limits, **options)
        self._clock = clock
        self._lock = threading.Lock()
        self._tat: dict[tuple[str, str], float] = {}
        self._factors: dict[tuple[str, str], tuple[float, float]] = {}
        self._429s: deque[tuple[float, str]] = deque()
        self._requests: dict[tuple[str, str, str], int] = {}
        self._waits: dict[tuple[str, str], tuple[int, float]] = {}

    def _book(self, host, family, interval, horizon):
        with self._lock:
            now = self._clock()
            key = (host, family)
            if key in self._factors:
                interval /= recovered(*self._factors[key], now)
            start = max(now, self._tat.get(key, now))
            wait = start - now
            if horizon is not None and wait > horizon:
                return False, wait
            self._tat[key] = start + interval
            return True, wait

    def _count_wait(self, family, lane, seconds):
        with self._lock:
            count, total = self._waits.get((family, lane), (0, 0.0))
            self._waits[(family, lane)] = (count + 1, total + seconds)

    def slow_down(self, host, path, retry_after=None):
        key = (host, prefix_of(path))
        with self._lock:
            now = self._clock()
            self._429s.append((now, host))
            factor, stamp = self._factors.get(key, (1.0, now - SLOWDOWN_DEBOUNCE))
            if now - stamp >= SLOWDOWN_DEBOUNCE:
                self._factors[key] = (max(MIN_FACTOR, recovered(factor, stamp, now) * SLOWDOWN), now)
            if retry_after:
                self._tat[key] = max(self._tat.get(key, now), now + retry_after)

    def observe(self, host, path, status):
        key = (host, prefix_of(path), str(status))
        with self._lock:
            self._requests[key] = self._requests.get(key, 0) + 1

    def recent_429s(self, host=None):
        with self._lock:
            since = self._clock() - WINDOW_429
            while self._429s and self._429s[0][0] < since:
                self._429s.popleft()
            return sum(1 for _, h in self._429s if host is None or h == host)

    def snapshot(self):
        with self._lock:
            now = self._clock()
            factors = {k: recovered(f, s, now) for k, (f, s) in self._factors.items()}
            return Snapshot(
                dict(self._requests), dict(self._waits), {k: f for k, f in factors.items() if f < 1.0}
            )


#: Books the next slot of one budget (KEYS: the arrival time, the slow-down hash) on Redis's clock.
#: ARGV: interval (s), horizon (s; negative: any), recovery per second. Returns {booked, wait} (wait as text:
#: Redis turns Lua numbers into integers).
_BOOK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local slowed = redis.call('HMGET', KEYS[2], 'factor', 'stamp')
if slowed[1] then
  local factor = tonumber(slowed[1]) + math.max(0, now - tonumber(slowed[2])) * tonumber(ARGV[3])
  if factor < 1 then interval = interval / factor end
end
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local wait = start - now
local horizon = tonumber(ARGV[2])
if horizon >= 0 and wait > horizon then return {0, tostring(wait)} end
local ttl = math.ceil((start + interval - now) * 1000) + 60000
redis.call('SET', KEYS[1], tostring(start + interval), 'PX', ttl)
return {1, tostring(wait)}
"""

#: A 429 (KEYS: the slow-down hash, the arrival time, the 429 log). ARGV: retry-after (s, 0: none), the
#: slowdown, the floor, the debounce, recovery per second, the 429 window, a unique member for the log.
_SLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local slowed = redis.call('HMGET', KEYS[1], 'factor', 'stamp')
local factor, stamp = 1, now - tonumber(ARGV[4])
if slowed[1] then factor, stamp = tonumber(slowed[1]), tonumber(slowed[2]) end
if now - stamp >= tonumber(ARGV[4]) then
  factor = math.min(1, factor + math.max(0, now - stamp) * tonumber(ARGV[5]))
  factor = math.max(tonumber(ARGV[3]), factor * tonumber(ARGV[2]))
  redis.call('HSET', KEYS[1], 'factor', tostring(factor), 'stamp', tostring(now))
  redis.call('EXPIRE', KEYS[1], 3600)
end
local retry = tonumber(ARGV[1])
if retry > 0 then
  local until_ = now + retry
  local tat = tonumber(redis.call('GET', KEYS[2]) or '0')
  if until_ > tat then redis.call('SET', KEYS[2], tostring(until_), 'PX', math.ceil(retry * 1000) + 60000) end
end
redis.call('ZADD', KEYS[3], now, ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
redis.call('EXPIRE', KEYS[3], math.ceil(tonumber(ARGV[6])))
return 1
"""


class SharedRateLimiter(Budget):
    """The budget of every process of one installation, in Redis (see the module docstring).

    `redis` is a redis-py client; `prefix` names this installation's keys. While Redis does not answer,
    each process paces itself with its own in-process budget (asking Redis again every REDIS_RETRY_AFTER
    seconds) and logs so at most once a minute.
    """

    shared = True

    def __init__(self, redis, limits=None, *, prefix: str = "paletteai:palette-budget", **options):
        super().__init__(limits, **options)
        self.redis = redis
        self.prefix = prefix
        self.fallback = RateLimiter(limits, **options)
        self._book_script = redis.register_script(_BOOK)
        self._slow_script = redis.register_script(_SLOW)
        self._warned = 0.0
        self._down_until = 0.0

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        # Not asked again for a while: each try of a Redis that is down costs its connect timeout.
        self._down_until = now + REDIS_RETRY_AFTER
        if now - self._warned > 60:
            self._warned = now
            log.warning("Redis did not answer (%s); pacing Palette requests per process until it does.", exc)

    def _up(self) -> bool:
        return time.monotonic() >= self._down_until

    def _book(self, host, family, interval, horizon):
        from redis.exceptions import RedisError

        if not self._up():
            return self.fallback._book(host, family, interval, horizon)
        budget = f"{host}|{family}"
        try:
            booked, wait = self._book_script(
                keys=[self._key("tat", budget), self._key("slowed", budget)],
                args=[repr(interval), -1 if horizon is None else repr(horizon), RECOVERY_PER_SECOND],
            )
        except RedisError as exc:
            self._unavailable(exc)
            return self.fallback._book(host, family, interval, horizon)
        return bool(int(booked)), float(wait)

    def _count_wait(self, family, lane, seconds):
        self._safely(
            lambda p: p.hincrby(self._key("waits"), f"{family}|{lane}|count", 1).hincrbyfloat(
                self._key("waits"), f"{family}|{lane}|seconds", seconds
            )
        )

    def slow_down(self, host, path, retry_after=None):
        from redis.exceptions import RedisError

        if not self._up():
            return self.fallback.slow_down(host, path, retry_after)
        budget = f"{host}|{prefix_of(path)}"
        try:
            self._slow_script(
                keys=[self._key("slowed", budget), self._key("tat", budget), self._key("429", host)],
                args=[
                    repr(float(retry_after or 0)),
                    SLOWDOWN,
                    MIN_FACTOR,
                    SLOWDOWN_DEBOUNCE,
                    RECOVERY_PER_SECOND,
                    WINDOW_429,
                    uuid.uuid4().hex,
                ],
            )
        except RedisError as exc:
            self._unavailable(exc)
            self.fallback.slow_down(host, path, retry_after)

    def observe(self, host, path, status):
        self._safely(lambda p: p.hincrby(self._key("requests"), f"{host}|{prefix_of(path)}|{status}", 1))

    def _safely(self, build: Callable) -> None:
        from redis.exceptions import RedisError

        if not self._up():
            return
        try:
            build(self.redis.pipeline(transaction=False)).execute()
        except RedisError as exc:
            self._unavailable(exc)

    def recent_429s(self, host=None):
        from redis.exceptions import RedisError

        if not self._up():
            return self.fallback.recent_429s(host)
        try:
            keys = [self._key("429", host)] if host else list(self.redis.scan_iter(self._key("429", "*")))
            now = float(self.redis.time()[0])
            return sum(int(self.redis.zcount(k, now - WINDOW_429, "+inf")) for k in keys)
        except RedisError as exc:
            self._unavailable(exc)
            return self.fallback.recent_429s(host)

    def snapshot(self):
        from redis.exceptions import RedisError

        if not self._up():
            return self.fallback.snapshot()
        try:
            requests = self.redis.hgetall(self._key("requests"))
            waits = self.redis.hgetall(self._key("waits"))
            slowed = {
                k: self.redis.hmget(k, "factor", "stamp")
                for k in self.redis.scan_iter(self._key("slowed", "*"))
            }
            seconds, micros = self.redis.time()
        except RedisError as exc:
            self._unavailable(exc)
            return self.fallback.snapshot()
        return _decode_snapshot(
            requests, waits, slowed, float(seconds) + float(micros) / 1e6, len(self._key("slowed", ""))
        )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode_snapshot(requests: dict, waits: dict, slowed: dict, now: float, skip: int) -> Snapshot:
    snap = Snapshot()
    for name, count in requests.items():
        host, family, status = _text(name).rsplit("|", 2)
        snap.requests[(host, family, status)] = int(count)
    for name, value in waits.items():
        family, lane, what = _text(name).rsplit("|", 2)
        count, seconds = snap.waits.get((family, lane), (0, 0.0))
        snap.waits[(family, lane)] = (int(value), seconds) if what == "count" else (count, float(value))
    for key, (factor, stamp) in slowed.items():
        if factor is not None:
            host, family = _text(key)[skip:].rsplit("|", 1)
            share = recovered(float(factor), float(stamp), now)
            if share < 1.0:
                snap.factors[(host, family)] = share
    return snap


_default: Budget | None = None
_default_lock = threading.Lock()


def default_limiter() -> Budget:
    """The budget every client uses unless given another one: the installation's once `install` ran
    (the console sets it up at start, see core.palette_budget), else one per process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = RateLimiter()
    return _default


def install(budget: Budget) -> None:
    """Make `budget` the one every client uses by default (called once per process at start)."""
    global _default
    with _default_lock:
        _default = budget
