"""Eligibility and readiness reasons are structured (code, params, text): the codes, what the pages and the
CLI show of them, the count the wizard reads, and the migration of stored strings to codes and back."""

from __future__ import annotations

import html
import importlib
import io
import json
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from compute.eligibility import BARE_TAG_VALUE, CODES, GONE, Policy, Reason, reasons, stored_reasons
from compute.inventory import inventory_json
from compute.models import EdgeHost
from compute.readiness import evaluate
from tests.compute.test_readiness import host, inputs, requirement, spec

MIGRATION = importlib.import_module("compute.migrations.0013_structured_reasons")
BEFORE, AFTER = ("compute", "0012_pool_palette_origin_and_variables"), ("compute", "0013_structured_reasons")
MISSING_TEXT = (
    "missing tag palette.ai=true — add it under stylus.site.tags in user-data or in Palette's Edge Host grid"
)


def facts(**kwargs):
    values = dict(
        tags={"palette.ai": "true"},
        state="ready",
        health="healthy",
        health_message="",
        clusters=[],
        cpu_cores=8,
        memory_mib=16384,
    )
    return SimpleNamespace(**{**values, **kwargs})


# (facts, code, params, text, short): every code, with the English text it had before codes.
CASES = [
    (facts(tags={}), "missing_tag", {"tag": "palette.ai=true"}, MISSING_TEXT, "missing tag palette.ai=true"),
    (
        facts(tags={"palette.ai": "false"}),
        "wrong_tag",
        {"key": "palette.ai", "value": "false", "tag": "palette.ai=true"},
        "tag palette.ai is 'false', needs palette.ai=true — change it under stylus.site.tags or in Palette's "
        "Edge Host grid",
        "tag palette.ai is 'false', needs palette.ai=true",
    ),
    (
        facts(tags={"palette.ai": BARE_TAG_VALUE}),
        "wrong_tag",
        {"key": "palette.ai", "value": None, "tag": "palette.ai=true"},
        "tag palette.ai is a bare tag, needs palette.ai=true — change it under stylus.site.tags or in "
        "Palette's Edge Host grid",
        "tag palette.ai is a bare tag, needs palette.ai=true",
    ),
    (
        facts(state="in-use", clusters=["ml-a", "ml-b"]),
        "in_use",
        {"clusters": ["ml-a", "ml-b"]},
        "in use by cluster ml-a, ml-b",
        "in use by cluster ml-a, ml-b",
    ),
    (facts(state="in-use"), "in_use", {"clusters": []}, "in use by cluster a cluster", None),
    (
        facts(state="unpaired"),
        "unpaired",
        {},
        "unpaired — the host is registered but not paired with a Palette project yet",
        "unpaired",
    ),
    (facts(state="error"), "bad_state", {"state": "error"}, "state error, needs ready", None),
    (facts(state=""), "bad_state", {"state": ""}, "state unknown, needs ready", None),
    (
        facts(health="unhealthy", health_message="disk pressure — on /"),
        "unhealthy",
        {"message": "disk pressure — on /"},
        "unhealthy: disk pressure — on /",
        # The label comes from the code, not from cutting the text at " — ".
        "unhealthy: disk pressure — on /",
    ),
    (facts(health="unhealthy"), "unhealthy", {"message": ""}, "unhealthy", None),
    (facts(health=""), "no_health", {}, "health not reported yet", None),
    (
        facts(cpu_cores=None),
        "no_hardware",
        {},
        "hardware not reported — the host's agent has not sent CPU and memory yet",
        "hardware not reported",
    ),
]


def test_the_codes_are_stable():
    assert CODES == (
        "missing_tag",
        "wrong_tag",
        "in_use",
        "unpaired",
        "bad_state",
        "unhealthy",
        "no_health",
        "no_hardware",
        "gone",
        "other",
    )
    assert GONE == Reason("gone", {}, "gone from Palette") and GONE.short == "gone from Palette"


@pytest.mark.parametrize("host_facts, code, params, text, short", CASES)
def test_each_reason_has_its_code_params_and_todays_text(host_facts, code, params, text, short):
    (reason,) = reasons(host_facts, Policy())
    assert (reason.code, reason.params, reason.text) == (code, params, text)
    assert reason.short == (short or text) and str(reason) == text
    assert reason.to_json() == {"code": code, "params": params, "text": text}
    assert Reason.from_json(json.loads(json.dumps(reason.to_json()))) == reason


def test_an_eligible_host_has_no_reasons_and_several_come_in_order():
    assert reasons(facts(), Policy()) == []
    many = reasons(facts(tags={}, state="unpaired", health="", memory_mib=0), Policy("team", "ml"))
    assert [r.code for r in many] == ["missing_tag", "unpaired", "no_health", "no_hardware"]
    assert many[0].text.startswith("missing tag team=ml — ")
    bare = reasons(facts(tags={"palette.ai": "true"}), Policy("team", ""))
    assert bare == [Reason.of("missing_tag", tag="team")]


def test_a_reason_read_back_never_fails():
    assert stored_reasons(["an old string — with advice"]) == [
        Reason("other", {}, "an old string — with advice")
    ]
    assert Reason.from_json({"code": "other", "params": {}, "text": "x — y"}).short == "x — y"
    # Params that do not fit the code (hand-edited data) show the whole text rather than fail the page.
    assert (
        Reason.from_json({"code": "missing_tag", "params": {}, "text": "missing tag?"}).short
        == "missing tag?"
    )
    assert stored_reasons(None) == []


def _host(project, uid, **kwargs) -> EdgeHost:
    return EdgeHost.objects.create(project=project, uid=uid, name=uid, fingerprint="x", **kwargs)


def test_the_pages_show_the_short_label_and_the_text(world):
    unpaired = Reason.of("unpaired")
    unhealthy = Reason.of("unhealthy", message="fan — failing")
    target = _host(world.project_a, "edge-1", reasons=[unpaired.to_json(), unhealthy.to_json()])
    client = world.client_for(world.viewer)
    grid = client.get(reverse("compute:inventory", args=["acme", "research"])).content.decode()
    assert f'<li title="{html.escape(unpaired.text)}">unpaired</li>' in grid
    assert f'<li title="{html.escape(unhealthy.text)}">{html.escape(unhealthy.text)}</li>' in grid
    detail = client.get(
        reverse("compute:host_detail", args=["acme", "research", target.uuid])
    ).content.decode()
    assert (
        f"<li>{html.escape(unpaired.text)}</li>" in detail
        and f"<li>{html.escape(unhealthy.text)}</li>" in detail
    )


def test_the_json_lists_the_reason_texts_with_gone_first(world):
    _host(world.project_a, "edge-1", reasons=[Reason.of("missing_tag", tag="palette.ai=true").to_json()])
    _host(world.project_a, "edge-2", gone=True, reasons=[Reason.of("unpaired").to_json()])
    out = io.StringIO()
    call_command("inventory", "-n", "acme-research", "--json", stdout=out)
    assert [h["reasons"] for h in json.loads(out.getvalue())] == [[MISSING_TEXT]]
    gone = next(h for h in inventory_json(world.project_a, include_gone=True) if h["uid"] == "edge-2")
    assert gone["reasons"] == ["gone from Palette", Reason.of("unpaired").text]
    out = io.StringIO()
    call_command("inventory", "-n", "acme-research", stdout=out)
    assert "edge-1" in out.getvalue() and MISSING_TEXT in out.getvalue()


def test_the_host_requirement_carries_the_matching_count():
    hosts = [host("ok-1"), host("ok-2"), host("tiny", cores=2), host("busy", state="in-use", clusters=("x",))]
    three = spec(cp={"nodeCount": 3, "cpu": {"cpuCount": 4}})
    report = evaluate(inputs(hosts, spec=three))
    cp = requirement(report, "Control-plane hosts")
    assert not cp.passed and cp.code == "hosts"
    assert cp.params == {"pool": "control-plane", "role": "control-plane", "needed": 3, "found": 2}
    assert ": found 2 — " in cp.reason  # the text people read is unchanged
    report = evaluate(inputs([*hosts, host("ok-3")], spec=three))
    cp = requirement(report, "Control-plane hosts")
    assert cp.passed and cp.params["found"] == 3 and ": found 3; using " in cp.reason
    # Only the host requirements have a code so far; the JSON of the report keeps its shape.
    assert set(cp.to_json()) == {"name", "passed", "blocking", "reason"}


# -- the migration --------------------------------------------------------------------------------------


def test_the_migration_matches_every_stored_string_to_its_code_and_back():
    stored = [text for _facts, _code, _params, text, _short in CASES] + [GONE.text]
    converted = MIGRATION.to_structured(stored)
    expected = [{"code": c, "params": p, "text": t} for _f, c, p, t, _s in CASES]
    # "state unknown" is what a host with no state and one in state "unknown" both read as: the
    # migration keeps what the text says (the same text either way).
    blank = expected.index(
        {"code": "bad_state", "params": {"state": ""}, "text": "state unknown, needs ready"}
    )
    expected[blank] = {**expected[blank], "params": {"state": "unknown"}}
    assert converted == expected + [GONE.to_json()]
    # The migration's frozen rules agree with compute.eligibility's, param for param.
    assert [Reason.from_json(r) for r in converted] == [
        Reason.of(r["code"], **r["params"]) for r in converted
    ]
    assert MIGRATION.to_text(converted) == stored
    # Idempotent both ways.
    assert MIGRATION.to_structured(converted) == converted and MIGRATION.to_text(stored) == stored


@pytest.mark.parametrize(
    "text",
    [
        "something a later version wrote",
        "missing tag palette.ai=true — do something else",
        "unhealthy: ",
        "tag palette.ai is not-a-literal, needs palette.ai=true — change it under stylus.site.tags or in "
        "Palette's Edge Host grid",
        # Quoted, but not a string literal Python reads.
        "tag palette.ai is '\\N{nope}', needs palette.ai=true — change it under stylus.site.tags or in "
        "Palette's Edge Host grid",
        "",
    ],
)
def test_a_string_matching_no_code_becomes_other_with_its_text(text):
    assert MIGRATION.to_structured([text]) == [{"code": "other", "params": {}, "text": text}]
    assert MIGRATION.to_text(MIGRATION.to_structured([text])) == [text]


def test_odd_but_exact_texts_keep_their_code():
    quoted = Reason.of("wrong_tag", key="palette.ai", value="it's", tag="palette.ai=true")
    empty = Reason.of("wrong_tag", key="palette.ai", value="", tag="palette.ai=true")
    newline = Reason.of("unhealthy", message="line one\nline two")
    for reason in (quoted, empty, newline):
        assert MIGRATION.to_structured([reason.text]) == [reason.to_json()]


@pytest.mark.django_db(transaction=True)
def test_the_migration_converts_stored_rows_forwards_and_backwards(world):
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    try:
        executor.migrate([BEFORE])
        old = (
            MigrationExecutor(connection).loader.project_state([BEFORE]).apps.get_model("compute", "EdgeHost")
        )
        strings = [MISSING_TEXT, "unhealthy: disk full", "a reason from nowhere"]
        row = old.objects.create(
            project_id=world.project_a.pk, uid="edge-1", fingerprint="x", reasons=strings
        )
        old.objects.create(project_id=world.project_a.pk, uid="edge-2", fingerprint="x", eligible=True)

        executor = MigrationExecutor(connection)
        executor.migrate([AFTER])
        new = executor.loader.project_state([AFTER]).apps.get_model("compute", "EdgeHost")
        assert new.objects.get(pk=row.pk).reasons == [
            Reason.of("missing_tag", tag="palette.ai=true").to_json(),
            Reason.of("unhealthy", message="disk full").to_json(),
            {"code": "other", "params": {}, "text": "a reason from nowhere"},
        ]
        assert new.objects.get(uid="edge-2").reasons == []

        executor = MigrationExecutor(connection)
        executor.migrate([BEFORE])
        assert old.objects.get(pk=row.pk).reasons == strings
        assert old.objects.get(uid="edge-2").reasons == []
    finally:
        MigrationExecutor(connection).migrate(leaves)
