"""core.durations: one way to say how long."""

from __future__ import annotations

from datetime import timedelta

from core.durations import human_duration


def test_it_says_seconds_then_minutes_then_hours():
    assert [human_duration(s) for s in (0, 45.9, 119, 120, 3660, 7199, 7200, 7500)] == [
        "0 s",
        "45 s",
        "119 s",
        "2 min",
        "61 min",
        "119 min",
        "2 h 00 min",
        "2 h 05 min",
    ]
    assert human_duration(timedelta(minutes=3, seconds=5)) == "3 min"
