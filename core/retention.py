"""Retention: finished runs and history older than their kind's retention setting are deleted.

Every kind registered in core.runs with a retention setting (days; 0 keeps its rows for ever) is
pruned daily by beat (task `core.prune`) and by `manage.py prune [--dry-run]`. Whatever its age, a
run that is pending or running stays, and so does the newest run of each target (a project, a
tenant) in each state: "last successful scan", the connection badge and "failing since" keep their
rows. Rows go in batches of BATCH, each its own short transaction, so the web and the workers never
wait behind one long delete (SQLite has a single writer). A history kind may name rows that stay whatever
their age (`keep`, registered from its AppConfig.ready(): a notification still being delivered).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from .models import TaskRun
from .runs import Kind, kinds

log = logging.getLogger(__name__)
BATCH = 500
_kept: dict[str, Q] = {}


def keep(label: str, rows: Q) -> None:
    """Rows of the registered kind `label` matching `rows` are never pruned, however old (e.g. the
    notifications still pending: Q(status__in=("pending", "sending")))."""
    _kept[label] = rows


@dataclass(frozen=True)
class Pruned:
    """What one prune did (or, in a dry run, would do) to one kind: `count` rows older than `days` days."""

    name: str
    days: int
    count: int


def prune(*, dry_run: bool = False, now: datetime | None = None) -> list[Pruned]:
    """Delete the expired rows of every kind with a retention setting; with `dry_run`, only count them.

    Idempotent: a second pass right after finds nothing more to delete.
    """
    now = now or timezone.now()
    result = []
    for kind in kinds():
        if not kind.retention:
            continue
        days = int(getattr(settings, kind.retention))
        count = 0
        if days > 0:
            for batch in _expired(kind, now - timedelta(days=days)):
                if not dry_run:
                    kind.model.objects.filter(pk__in=batch).delete()
                count += len(batch)
        if count and not dry_run:
            log.info("prune: removed %d %s older than %d days", count, kind.name, days)
        result.append(Pruned(kind.name, days, count))
    return result


def _newest_per_target(kind: Kind) -> set[int]:
    """The pks of the newest run of each target in each state: never pruned."""
    if not kind.targets:
        return set()
    ranked = kind.model.objects.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F(target) for target in kind.targets] + [F("status")],
            order_by=[F("created").desc(), F("pk").desc()],
        )
    )
    return set(ranked.filter(rank=1).values_list("pk", flat=True))


def _expired(kind: Kind, cutoff: datetime) -> Iterator[list[int]]:
    """Batches of pks of the rows of `kind` created before `cutoff` that may go, in pk order."""
    rows = kind.model.objects.filter(created__lt=cutoff)
    kept: set[int] = set()
    if issubclass(kind.model, TaskRun):
        rows = rows.exclude(status__in=TaskRun.ACTIVE)
        kept = _newest_per_target(kind)
    if kind.label in _kept:
        rows = rows.exclude(_kept[kind.label])
    last = 0
    while True:
        # Keyset pages by pk: each batch is a fresh, bounded query, also while the previous ones are deleted.
        pks = list(rows.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not pks:
            return
        last = pks[-1]
        batch = [pk for pk in pks if pk not in kept]
        if batch:
            yield batch
