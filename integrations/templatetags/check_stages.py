"""How a connection check's stage reads, in one place for the Settings page and the onboarding wizard."""

from __future__ import annotations

from django import template

register = template.Library()

#: A stage's kind (its CSS class stage-<kind>) and the mark before its name.
MARKS = {"warn": "!", "pass": "✓", "skip": "–", "fail": "✗"}


@register.filter
def stage_kind(stage: dict) -> str:
    """warn (passed, with something to look at), pass, skip (not run) or fail."""
    if stage.get("warning"):
        return "warn"
    if stage.get("passed") is None:
        return "skip"
    return "pass" if stage["passed"] else "fail"


@register.filter
def stage_mark(kind: str) -> str:
    return MARKS.get(kind, "")
