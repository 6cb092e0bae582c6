"""What the home page shows: every tenant and project the user sees, with a few facts about each.

Apps further down the import chain (integrations, compute) add the home page's columns with
`register_column`, so tenancy never imports them. A column provider takes the visible tenants and
projects and returns {("t" | "p", pk): [item]}, an item being {"text", "url", "tone"} (tone: ok, warn,
fail or muted); it costs a fixed number of queries however many tenants and projects it is given.
Several providers may fill one column (e.g. "Recent failures"): their items are shown one after another.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from . import access
from .models import Project, Tenant
from .overview import worker_status

Key = tuple[str, int]
ColumnProvider = Callable[[list[Tenant], list[Project]], dict[Key, list[dict]]]
_columns: list[tuple[int, str, ColumnProvider]] = []

#: "Recent failures": failed discovery runs, Compute Pools and connection checks of the last 7 days.
FAILURE_WINDOW = timedelta(days=7)


def register_column(order: int, name: str, provider: ColumnProvider) -> None:
    """Add `provider` to the home page's column `name`; `order` places it (10 = connection, 20 = hosts,
    30 = pools, 40 = failures)."""
    if all(p is not provider for _, _, p in _columns):
        _columns.append((order, name, provider))
        _columns.sort(key=lambda item: item[0])


def item(text: str, url: str = "", tone: str = "") -> dict:
    return {"text": text, "url": url, "tone": tone}


def column_names() -> list[str]:
    return list(dict.fromkeys(name for _, name, _ in _columns))


def home_rows(user) -> list[dict]:
    """[{"tenant", "cells", "projects": [{"project", "cells"}]}], cells in column_names() order."""
    tenants = list(access.visible_tenants(user).order_by("name"))
    projects = list(access.visible_projects(user).order_by("tenant__name", "name"))
    names = column_names()
    cells: dict[Key, dict[str, list[dict]]] = {}
    for _, name, provider in _columns:
        for key, items in provider(tenants, projects).items():
            cells.setdefault(key, {}).setdefault(name, []).extend(items)

    def row_cells(key: Key) -> list[list[dict]]:
        return [cells.get(key, {}).get(name, []) for name in names]

    by_tenant: dict[int, list[dict]] = {t.pk: [] for t in tenants}
    for p in projects:
        by_tenant.setdefault(p.tenant_id, []).append({"project": p, "cells": row_cells(("p", p.pk))})
    return [{"tenant": t, "cells": row_cells(("t", t.pk)), "projects": by_tenant[t.pk]} for t in tenants]


def home_context(user) -> dict:
    rows = home_rows(user)
    return {"rows": rows, "column_names": column_names(), **worker_status()}
