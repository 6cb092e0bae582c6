"""`{{ entry.changes|change_lines }}`: an audit entry's changes as "field: old → new" lines (core.audit)."""

from __future__ import annotations

from django import template

from core.audit import change_lines as _change_lines

register = template.Library()


@register.filter
def change_lines(changes: dict | None) -> list[str]:
    return _change_lines(changes)
