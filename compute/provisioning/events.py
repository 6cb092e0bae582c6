"""Palette's component events of a pool's cluster: fetched by the worker, stored on the pool, shown on its
page interleaved with the pool's own steps.

The wait steps (provisioning's wait, deletion's wait_deleted, the upgrade's wait) fetch them at most every
EVENTS_EVERY seconds; a settled pool's page offers "Refresh events", which sends `compute.pool_events`. Only
the newest MAX_EVENTS are kept (`PaletteClient.newest_component_events`: two pages at most), plus the first
warning or error ever seen for the cluster, which stays visible after newer events push it out. Event text is
Palette's: bounded and with bidi controls made visible by the client, masked variable values scrubbed here,
escaped by the template.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from palette import errors as perrors

from ..models import ComputePool
from .context import STEP_LABELS, log

#: How many events a pool keeps (Palette's page size: one page of the listing's newest end).
MAX_EVENTS = 50
#: The wait steps fetch events at most this often (seconds): they poll more often than events change.
EVENTS_EVERY = 20.0
#: Longest text kept per event field on the pool (the client bounds it already; this bounds what we store).
MAX_TEXT = 500


def _level(severity: str) -> str:
    s = severity.lower()
    if s in ("", "normal", "info", "information"):
        return "normal"
    return "error" if s in ("error", "critical", "fatal", "failed") else "warning"


def _item(event, pool: ComputePool) -> dict[str, str]:
    from ..variables import scrub

    def clean(text: str) -> str:
        text = scrub(perrors.visible_controls(text or ""), pool)
        return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"

    return {
        "uid": clean(event.uid)[:100],
        "at": event.time.isoformat() if event.time else "",
        "severity": clean(event.severity)[:40] or "Normal",
        "level": _level(event.severity),
        "reason": clean(event.reason)[:200],
        "message": clean(event.message),
        "object": clean(f"{event.object_kind} {event.object_name}".strip())[:200],
    }


def fetch(client, pool: ComputePool) -> dict[str, Any]:
    """The pool's events value after asking Palette (never raises on a Palette error: it is recorded)."""
    stored = dict(pool.palette_events or {})
    if stored.get("cluster") != pool.cluster_uid:
        stored = {}  # another cluster (a new one after a Retry): its first error is not this one's
    stored.update(cluster=pool.cluster_uid, fetched=timezone.now().isoformat())
    stored.pop("requested", None)
    try:
        events, total = client.newest_component_events("spectrocluster", pool.cluster_uid, limit=MAX_EVENTS)
    except perrors.PaletteError as exc:
        log.info("compute pool %s: events not read: %s", pool.pk, exc)
        stored["error"] = _bounded(f"Reading Palette's events failed: {exc}", pool)
        return stored
    items = [_item(e, pool) for e in events]
    first = next((i for i in items if i["level"] != "normal"), None)
    kept = stored.get("firstProblem")
    if first is not None and (not kept or (first["at"] and first["at"] < kept.get("at", ""))):
        stored["firstProblem"] = first
    stored.update(items=items, total=total, error="")
    return stored


def _bounded(text: str, pool: ComputePool) -> str:
    from ..variables import scrub

    text = scrub(perrors.visible_controls(text), pool)
    return text if len(text) <= 1000 else text[:999] + "…"


def due(pool: ComputePool, now: datetime | None = None) -> bool:
    """Whether a wait step should fetch the events now (none yet, or the last fetch is EVENTS_EVERY old)."""
    if not pool.cluster_uid:
        return False
    fetched = _parse((pool.palette_events or {}).get("fetched"))
    return fetched is None or (now or timezone.now()) - fetched >= timedelta(seconds=EVENTS_EVERY)


def record(ctx, client) -> None:
    """In a wait step: fetch and store the events when they are due (written conditional on the step's
    tick)."""
    pool = ctx.pool
    if client is not None and due(pool):
        ctx.save(palette_events=fetch(client, pool))


def request_refresh(pool: ComputePool) -> bool:
    """Ask a worker to fetch a settled pool's events (the page's "Refresh events"); False when the pool is not
    settled (its steps fetch them) or has no cluster."""
    if not pool.is_terminal or not pool.cluster_uid:
        return False
    from core.tasks import enqueue_on_commit

    value = dict(pool.palette_events or {})
    value["requested"] = timezone.now().isoformat()
    with transaction.atomic():
        ComputePool.objects.filter(pk=pool.pk).update(palette_events=value)
        enqueue_on_commit("compute.pool_events", pool.pk)
    pool.palette_events = value
    return True


def refresh(pool_id: int, **client_kwargs) -> None:
    """The `compute.pool_events` task: fetch a settled pool's events with its project's Palette client."""
    from .context import Context

    pool = ComputePool.objects.select_related("project__tenant").filter(pk=pool_id).first()
    if pool is None or not pool.cluster_uid:
        return
    ctx = Context(pool, pool.tick, client_kwargs)
    try:
        client = ctx.client()
        if client is None:
            value = dict(pool.palette_events or {})
            value.pop("requested", None)
            value["error"] = _bounded(f"Events not read: {ctx.moved or ctx._not_configured}", pool)
        else:
            value = fetch(client, pool)
    finally:
        ctx.close()
    # Not conditional on a tick: a settled pool has no step writing; a step that started meanwhile overwrites.
    ComputePool.objects.filter(pk=pool.pk).update(palette_events=value)


def _parse(value) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def view(pool: ComputePool) -> dict[str, Any]:
    """What templates/compute/pool_events.html shows: Palette's events and the pool's steps in one list by
    time (oldest first), the first warning or error, when they were fetched, whether a refresh is pending."""
    stored = pool.palette_events or {}
    if stored.get("cluster") and stored.get("cluster") != pool.cluster_uid:
        stored = {}
    rows: list[dict[str, Any]] = []
    for item in stored.get("items") or ():
        at = _parse(item.get("at"))
        rows.append({**item, "kind": "event", "at": at})
    for step in pool.steps.all():
        rows.append(
            {
                "kind": "step",
                "at": step.started,
                "label": STEP_LABELS.get(step.name, step.name),
                "status": step.status,
                "attempt": step.attempt,
                "level": "error" if step.status == "failed" else "normal",
            }
        )
    floor = timezone.make_aware(datetime(1970, 1, 2))
    rows.sort(key=lambda r: r["at"] or floor)
    fetched, requested = _parse(stored.get("fetched")), _parse(stored.get("requested"))
    first = stored.get("firstProblem")
    return {
        "rows": rows,
        "first_problem": first,
        "first_problem_at": _parse(first.get("at")) if first else None,
        "shown": len(stored.get("items") or ()),
        "total": stored.get("total") or 0,
        "fetched": fetched,
        "error": stored.get("error") or "",
        "pending": bool(requested and (fetched is None or requested > fetched)),
        "can_refresh": pool.is_terminal and bool(pool.cluster_uid),
    }
