"""The `ago` filter: "just now" within a minute, then Django's timesince."""

from __future__ import annotations

from datetime import timedelta

from django.template import Context, Template
from django.utils import timezone


def render(moment) -> str:
    return Template("{% load when %}{{ moment|ago }}").render(Context({"moment": moment}))


def test_it_says_just_now_within_a_minute_then_how_long_ago():
    now = timezone.now()
    assert render(now - timedelta(seconds=5)) == "just now"
    assert render(now - timedelta(minutes=3, seconds=5)) == "3\xa0minutes ago"
    assert render(now - timedelta(days=2, hours=1)) == "2\xa0days, 1\xa0hour ago"
    assert render(None) == ""
