"""Events that something happened (a pool failed, a host turned unhealthy), for whoever listens.

Domain code calls `emit` where the thing happens (compute's provisioning end states, discovery's end,
integrations' connection check); the notifications app registers a listener in its AppConfig.ready(),
so no lower app imports it (docs/architecture.md, "Layers"). A listener runs inside the emitter's
transaction, in a savepoint: what it records commits with the state change or not at all, and a
listener that fails is logged and never breaks the emitter.

`EVENTS` are the events a notification rule may subscribe to; `CLEARING` events are emitted too but
only end a condition (a discovery that succeeded again), they are never sent on their own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

log = logging.getLogger(__name__)

EVENTS = {
    "pool.ready": "a Compute Pool became Ready",
    "pool.failed": "a Compute Pool's provisioning, day-2 change or deletion failed",
    "pool.deleted": "a Compute Pool was deleted",
    "discovery.failed": "discovery failed N runs in a row (N per rule, 3 by default)",
    "host.unhealthy": "an edge host turned unhealthy",
    "host.offline": "an edge host was not seen, or its health was unknown, for N minutes (N per rule)",
    "host.recovered": "an unhealthy or offline edge host is healthy or seen again",
    "capacity.dropped": "the eligible GPUs of a project fell by at least N in one discovery (N per rule)",
    "credentials.rejected": "Palette answered 401 to a connection check or a background run",
    "certificate.expiring": "the custom CA or Palette's server certificate expires within 30, 7 or 1 days",
    "credentials.expiring": "the Palette API key in use expires within 30, 7 or 1 days (one message each)",
}
CLEARING = ("discovery.succeeded", "credentials.accepted")


@dataclass(frozen=True)
class Subject:
    kind: str  # "ComputePool", "EdgeHost", "Project", ...
    name: str
    uid: str


@dataclass(frozen=True)
class Event:
    name: str
    namespace: str
    subject: Subject
    message: str
    details: dict = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=timezone.now)


Listener = Callable[[Event], None]
_listeners: list[Listener] = []


def register_listener(listener: Listener) -> None:
    """Call `listener(event)` for every event emitted from now on (once, however often registered)."""
    if listener not in _listeners:
        _listeners.append(listener)


def emit(name: str, namespace: str, subject: Subject, message: str, details: dict | None = None) -> None:
    """Tell every listener that `name` happened to `subject` in `namespace`. Never raises.

    `message` and `details` reach receivers outside this installation: no secret may be in them.
    """
    if name not in EVENTS and name not in CLEARING:
        raise ValueError(f"unknown event {name!r}")  # a programming error, not bad input
    event = Event(name, namespace, subject, message, dict(details or {}))
    for listener in list(_listeners):
        try:
            with transaction.atomic():
                listener(event)
        except Exception:  # noqa: BLE001 — a notification must never break what it reports on
            log.exception("event %s for %s %s: a listener failed", name, subject.kind, subject.uid)
