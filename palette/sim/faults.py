"""Fault injection for the simulator.

A fault spec is a comma-separated list, e.g. ``"429:0.2,500:0.05,reset:0.02,lost:0.1,latency:50ms"``:

- ``<status>:<p>`` — answer that HTTP status (4xx/5xx) with probability p, *before* handling the
  request (so nothing changes; retrying is safe). A 429 carries no Retry-After, as Palette's docs
  document none (docs/palette-behaviour.md §7); 503 carries ``Retry-After: 1``.
- ``reset:<p>`` — drop the connection with a TCP reset instead of answering (nothing was done).
- ``lost:<p>`` — do the work of a write (a cluster create, a delete, a tag change), then drop the
  connection with a TCP reset instead of answering: the answer is lost after the work was done, so
  the client cannot know whether its request took effect.
- ``malformed:<p>`` — answer a read (GET or POST search) with a truncated JSON body.
- ``latency:<d>`` or ``latency:<min>-<max>`` — delay every request (``50ms``, ``0.2s``, ``20-80ms``).

Faults apply to ``/v1`` only, never to the ``/__sim__`` admin endpoint.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


def _seconds(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m:
        raise ValueError(f"bad duration {text!r} (use e.g. 50ms or 0.2s)")
    value = float(m.group(1))
    return value / 1000.0 if (m.group(2) or "ms") == "ms" else value


@dataclass
class Faults:
    """Parsed fault spec. ``statuses`` maps HTTP status to probability."""

    statuses: dict[int, float] = field(default_factory=dict)
    reset: float = 0.0
    lost: float = 0.0
    malformed: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    spec: str = ""

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """Parse a fault spec string; ValueError with a clear message when it is wrong."""
        faults = cls(spec=(spec or "").strip())
        for raw in filter(None, (part.strip() for part in (spec or "").split(","))):
            name, _, value = raw.partition(":")
            name = name.strip().lower()
            if not value:
                raise ValueError(f"fault {raw!r} needs a value, e.g. 429:0.2 or latency:50ms")
            if name == "latency":
                low, _, high = value.partition("-")
                if high:
                    unit = "s" if high.endswith("s") and not high.endswith("ms") else "ms"
                    lo = _seconds(low if low[-1:] in "sm" else low + unit)
                    faults.latency = (lo, _seconds(high))
                else:
                    faults.latency = (_seconds(value),) * 2
                continue
            try:
                p = float(value)
            except ValueError:
                raise ValueError(f"fault {raw!r}: probability must be a number between 0 and 1") from None
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"fault {raw!r}: probability must be between 0 and 1")
            if name == "reset":
                faults.reset = p
            elif name == "lost":
                faults.lost = p
            elif name == "malformed":
                faults.malformed = p
            elif name.isdigit() and 400 <= int(name) <= 599:
                faults.statuses[int(name)] = p
            else:
                raise ValueError(
                    f"unknown fault {name!r} (use an HTTP status 4xx/5xx, reset, lost, malformed or latency)"
                )
        return faults

    @property
    def active(self) -> bool:
        """True if any fault can fire."""
        return bool(self.statuses or self.reset or self.lost or self.malformed or self.latency[1])


class FaultInjector:
    """Draws faults for each request from a seeded RNG (thread-safe)."""

    def __init__(self, faults: Faults | None = None, seed: int = 0):
        self.faults = faults or Faults()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def set(self, faults: Faults) -> None:
        """Replace the active faults."""
        self.faults = faults

    def latency(self) -> float:
        """Seconds to delay this request."""
        lo, hi = self.faults.latency
        if hi <= 0:
            return 0.0
        with self._lock:
            return self._rng.uniform(lo, hi)

    def draw(self) -> str | int | None:
        """The fault for this request: an HTTP status, ``"reset"``, or None."""
        f = self.faults
        if not (f.statuses or f.reset):
            return None
        with self._lock:
            if f.reset and self._rng.random() < f.reset:
                return "reset"
            for status, p in f.statuses.items():
                if self._rng.random() < p:
                    return status
        return None

    def lost(self) -> bool:
        """Whether to drop the answer of this (write) request after doing its work."""
        if not self.faults.lost:
            return False
        with self._lock:
            return self._rng.random() < self.faults.lost

    def malformed(self) -> bool:
        """Whether to garble this (read) response."""
        if not self.faults.malformed:
            return False
        with self._lock:
            return self._rng.random() < self.faults.malformed
