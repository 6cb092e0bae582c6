"""How long something took or has waited, in words every page, message and log line shares."""

from __future__ import annotations

from datetime import timedelta


def human_duration(value: timedelta | float) -> str:
    """`45 s` under two minutes, `61 min` under two hours, then `2 h 05 min` (a float is seconds)."""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
