"""EdgeHost.reasons: from English strings to {"code", "params", "text"} dicts (compute.eligibility.Reason),
and back.

Forwards, each string is matched to a code by the rules that wrote it, and kept only when the code and
params found write exactly that text again; a string that matches no code becomes code "other" with its
text. Backwards, each dict becomes its text. Both are idempotent (an item already converted is kept).
The rules are a frozen copy of compute.eligibility's as they were when reasons became structured, so
that later wording changes never change what this migration does.
"""

import ast
import re

from django.db import migrations

OTHER = "other"
BARE = "a bare tag"
ADVICE = {
    "missing_tag": "add it under stylus.site.tags in user-data or in Palette's Edge Host grid",
    "wrong_tag": "change it under stylus.site.tags or in Palette's Edge Host grid",
    "unpaired": "the host is registered but not paired with a Palette project yet",
    "no_hardware": "the host's agent has not sent CPU and memory yet",
}


def _label(code, p):
    if code == "missing_tag":
        return f"missing tag {p['tag']}"
    if code == "wrong_tag":
        return f"tag {p['key']} is {BARE if p['value'] is None else repr(p['value'])}, needs {p['tag']}"
    if code == "in_use":
        return f"in use by cluster {', '.join(p['clusters']) if p['clusters'] else 'a cluster'}"
    if code == "bad_state":
        return f"state {p['state'] or 'unknown'}, needs ready"
    if code == "unhealthy":
        return f"unhealthy: {p['message']}" if p["message"] else "unhealthy"
    return {
        "unpaired": "unpaired",
        "no_health": "health not reported yet",
        "no_hardware": "hardware not reported",
        "gone": "gone from Palette",
    }[code]


def _text(code, params):
    label = _label(code, params)
    return f"{label} — {ADVICE[code]}" if code in ADVICE else label


def _tag_value(shown):
    return None if shown == BARE else ast.literal_eval(shown)


def _clusters(shown):
    return [] if shown == "a cluster" else shown.split(", ")


# (code, the whole text without its advice, params from the match)
RULES = [
    ("missing_tag", r"missing tag (?P<tag>.*)", lambda m: {"tag": m["tag"]}),
    (
        "wrong_tag",
        r"tag (?P<key>.*?) is (?P<value>a bare tag|'.*'|\".*\"), needs (?P<tag>.*)",
        lambda m: {"key": m["key"], "value": _tag_value(m["value"]), "tag": m["tag"]},
    ),
    ("in_use", r"in use by cluster (?P<clusters>.*)", lambda m: {"clusters": _clusters(m["clusters"])}),
    ("unpaired", r"unpaired", lambda m: {}),
    ("bad_state", r"state (?P<state>.*), needs ready", lambda m: {"state": m["state"]}),
    ("unhealthy", r"unhealthy(: (?P<message>.*))?", lambda m: {"message": m["message"] or ""}),
    ("no_health", r"health not reported yet", lambda m: {}),
    ("no_hardware", r"hardware not reported", lambda m: {}),
    ("gone", r"gone from Palette", lambda m: {}),
]
PATTERNS = [
    (code, re.compile(label + (re.escape(f" — {ADVICE[code]}") if code in ADVICE else ""), re.S), params)
    for code, label, params in RULES
]


def structured(text):
    """The {"code", "params", "text"} of one stored reason string."""
    for code, pattern, params_of in PATTERNS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        try:
            params = params_of(match)
        except (ValueError, SyntaxError):  # a tag value that is not a Python string literal
            continue
        if _text(code, params) == text:
            return {"code": code, "params": params, "text": text}
    return {"code": OTHER, "params": {}, "text": text}


def to_structured(reasons):
    return [structured(r) if isinstance(r, str) else r for r in reasons or []]


def to_text(reasons):
    return [r["text"] if isinstance(r, dict) else r for r in reasons or []]


def _convert(convert):
    def run(apps, schema_editor):
        EdgeHost = apps.get_model("compute", "EdgeHost")
        changed = []
        for host in EdgeHost.objects.only("pk", "reasons").iterator(chunk_size=1000):
            new = convert(host.reasons)
            if new != host.reasons:
                host.reasons = new
                changed.append(host)
            if len(changed) >= 1000:
                EdgeHost.objects.bulk_update(changed, ["reasons"])
                changed = []
        EdgeHost.objects.bulk_update(changed, ["reasons"])

    return run


class Migration(migrations.Migration):

    dependencies = [
        ('compute', '0012_pool_palette_origin_and_variables'),
    ]

    operations = [
        migrations.RunPython(_convert(to_structured), _convert(to_text)),
    ]
