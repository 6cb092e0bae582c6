"""Warnings about the state a change leaves behind, shown where the change was made (a page, `apply`).

Apps register checks in AppConfig.ready(), so `core` never imports them. A check takes the namespaces
a change touched (a tenant's or a project's) and returns messages, e.g. compute: pools whose cluster
lives in another Palette project than the Settings now name (compute.origin).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

Check = Callable[[set[str]], list[str]]
_checks: list[Check] = []


def register(check: Check) -> None:
    """Add a check run after every change (a Settings save, each `apply`)."""
    if check not in _checks:
        _checks.append(check)


def after_change(namespaces: Iterable[str]) -> list[str]:
    """Every registered check's messages about the state of `namespaces` now."""
    touched = {ns for ns in namespaces if ns}
    return [message for check in _checks for message in check(touched)] if touched else []
