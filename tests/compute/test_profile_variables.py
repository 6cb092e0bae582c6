"""Cluster profile variables: synced from Palette, required ones block readiness, values from the wizard and a
manifest checked by format and pattern and sent in the create body, masked ones never shown, exported, audited
or logged."""

from __future__ import annotations

import json
import logging
import re

import pytest
import yaml
from django.db import connection
from django.urls import reverse

from compute.models import ClusterProfile, ComputePool, PoolStep
from compute.readiness import evaluate, gather
from compute.variables import value_problem
from core.models import AuditEntry
from palette.models import ProfileVariable
from palette.sim.state import Profile
from tests.compute.pool_fixtures import (
    ED25519,
    discover,
    drive,
    fast_pool_settings,
    fast_sim,  # noqa: F401  (a fixture)
    make_bundle,
    spec_for,
    wizard_vip,
)
from tests.compute.test_pools_cli import pool_doc, run, write

ARGS = ["acme", "research"]
TOKEN = "CNRY-var-token-7Hq2Lp9Xw4"  # the masked value: searched for everywhere it must not be
PROFILE = "edge-secure-infra"
VARIABLES = [
    {
        "name": "site_code",
        "displayName": "Site code",
        "description": "three letters, a dash, two digits",
        "format": "string",
        "regex": "^[a-z]{3}-[0-9]{2}$",
        "required": True,
        "inputType": "text",
    },
    {
        "name": "ntp_server",
        "displayName": "NTP server",
        "format": "ipv4",
        "required": False,
        "defaultValue": "10.0.0.1",
    },
    {
        "name": "replicas",
        "displayName": "Replicas",
        "format": "number",
        "required": False,
        "defaultValue": "1",
    },
    {
        "name": "api_token",
        "displayName": "API token",
        "format": "string",
        "regex": "^[A-Za-z0-9-]{8,}$",
        "required": True,
        "isSensitive": True,
    },
    {
        "name": "internal_flag",
        "displayName": "Internal",
        "format": "boolean",
        "hidden": True,
        "defaultValue": "true",
    },
]


@pytest.fixture
def secure_project(world, connected_project, fast_sim, settings):
    """The connected project with a project profile whose variables include required ones without a default
    (one masked), added through the simulator's state; discovered, synced, and bundle `secure` holding it."""
    fast_pool_settings(settings)
    with fast_sim.state.lock:
        base = next(
            p for p in fast_sim.state.profiles.values() if p.name == "edge-k3s-infra" and p.version == "1.3.0"
        )
    fast_sim.state.add_profile(
        Profile(
            uid="5ec0000000000000000000a1",
            name=PROFILE,
            version="1.0.0",
            cloud_type="edge-native",
            type="infra",
            scope="project",
            project_uid=fast_sim.project_uids[0],
            packs=[dict(p) for p in base.packs],
            created="2026-01-10T08:00:00.000Z",
            variables=[dict(v) for v in VARIABLES],
        )
    )
    discover(connected_project)
    make_bundle(connected_project, name="secure", profile_name=PROFILE, version="1.0.0")
    return connected_project


def secure_doc(values: dict | None = None, **kwargs) -> dict:
    doc = pool_doc(bundle="secure", **kwargs)
    if values is not None:
        doc["spec"]["profileVariables"] = {PROFILE: values}
    return doc


def test_the_sync_stores_the_variables_as_palette_lists_them(secure_project):
    row = ClusterProfile.objects.get(project=secure_project, name=PROFILE)
    assert row.variables == VARIABLES


def test_a_required_variable_without_a_default_blocks_readiness_naming_it(world, secure_project, tmp_path):
    report = evaluate(gather(secure_project, spec_for(secure_project, bundle="secure")))
    requirement = next(r for r in report.requirements if r.name == "Profile variables")
    assert not report.ready and requirement.blocking and not requirement.passed
    assert (
        "site_code (Site code) of profile edge-secure-infra 1.0.0 is required and has no default"
        in requirement.reason
    )
    assert "api_token (API token)" in requirement.reason
    assert "ntp_server" not in requirement.reason and "internal_flag" not in requirement.reason

    code, out, _ = run("pool_plan", "-f", write(tmp_path, secure_doc()))
    assert code == 1 and "✗ Profile variables [blocking]: site_code (Site code)" in out
    code, _, err = run("apply", "-f", write(tmp_path, secure_doc()))
    assert code == 1 and "not ready to provision — Profile variables: site_code" in err
    assert not ComputePool.objects.exists()

    # With the values, nothing blocks; the defaults are left to Palette.
    code, out, _ = run(
        "pool_plan", "-f", write(tmp_path, secure_doc({"site_code": "lab-01", "api_token": TOKEN})), "--json"
    )
    assert code == 0, out
    plan = json.loads(out)
    assert plan["request"]["spec"]["profiles"][0]["variables"] == [
        {"name": "site_code", "value": "lab-01"},
        {"name": "api_token", "value": "REDACTED"},
    ]
    assert TOKEN not in out

    # The wizard's review says so too when the Profile variables step was skipped.
    client = world.client_for(world.editor)
    for name, data in (
        ("general", {"name": "web-pool"}),
        ("variant", {"variant": "dedicated"}),
        ("bundle", {"bundle": "secure"}),
        ("nodes", NODES),
        ("network", {"ssh_keys": ED25519, "deletion_policy": "delete"}),
    ):
        if name == "network":
            data["vip"] = wizard_vip(client)
        assert client.post(step(name), data).status_code == 302, name
    review = client.get(step("review")).content.decode()
    assert (
        'id="readiness">blocked' in review
        and "site_code (Site code) of profile edge-secure-infra 1.0.0 is required" in review
    )


def test_manifest_values_reach_the_create_body_and_the_masked_one_is_never_shown(
    world, secure_project, fast_sim, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    code, out, err = run(
        "apply", "-f", write(tmp_path, secure_doc({"site_code": "lab-01", "replicas": 3, "api_token": TOKEN}))
    )
    assert code == 0, err
    pool = ComputePool.objects.get(name="gpu-pool-a")
    assert pool.variables == {
        PROFILE: {"replicas": "3", "site_code": "lab-01"}
    }  # the masked value is not among them
    assert json.loads(pool.secret_variables) == {PROFILE: {"api_token": TOKEN}}
    pool = drive(pool)
    assert pool.status == ComputePool.READY, pool.failure_message

    # Palette got every value given (numbers as text), and no default it was not given.
    uid = ClusterProfile.objects.get(project=secure_project, name=PROFILE).uid
    assert fast_sim.state.clusters[pool.cluster_uid].variables[uid] == {
        "site_code": "lab-01",
        "replicas": "3",
        "api_token": TOKEN,
    }
    # The stored body (what the pages and pool_plan show) has REDACTED in its place.
    assert {"name": "api_token", "value": "REDACTED"} in pool.request["spec"]["profiles"][0]["variables"]

    hits = assert_nowhere(world, pool, caplog)
    assert not hits, hits
    page = world.client_for(world.owner).get(pool.get_absolute_url()).content.decode()
    assert (
        'edge-secure-infra.api_token</code> = <span class="muted">•••• (masked' in page and "lab-01" in page
    )
    audit = json.dumps(
        list(AuditEntry.objects.filter(object_repr="gpu-pool-a").values("changes")), default=str
    )
    assert "edge-secure-infra.api_token (masked)" in audit

    # Export writes REDACTED, or the value when asked; applying the export keeps the stored value.
    exported = run("export", "-n", "acme-research")[1]
    assert "api_token: REDACTED" in exported and "site_code: lab-01" in exported
    assert TOKEN in run("export", "-n", "acme-research", "--show-secrets")[1]
    pool_docs = [d for d in yaml.safe_load_all(exported) if d and d.get("kind") == "ComputePool"]
    code, out, err = run("apply", "-f", write(tmp_path, *pool_docs))
    assert code == 0 and "unchanged" in out, err
    pool.refresh_from_db()
    assert json.loads(pool.secret_variables) == {PROFILE: {"api_token": TOKEN}}
    # A Ready pool's variables do not change.
    pool_docs[0]["spec"]["profileVariables"][PROFILE]["site_code"] = "lab-02"
    code, _, err = run("apply", "-f", write(tmp_path, *pool_docs))
    assert code == 1 and "only its description and labels can change" in err and "profile variables" in err


def test_bad_values_are_refused_with_a_message_naming_the_field(secure_project, tmp_path):
    values = {
        "site_code": "LAB",
        "ntp_server": "10.0.0",
        "replicas": "many",
        "api_token": "x!y",
        "internal_flag": "false",
        "colour": "red",
    }
    doc = secure_doc(values)
    doc["spec"]["profileVariables"]["other-profile"] = {"a": "b"}
    code, _, err = run("apply", "-f", write(tmp_path, doc))
    assert code == 1
    field = "spec.profileVariables.edge-secure-infra"
    assert (
        f"{field}.site_code: variable site_code (Site code) of profile edge-secure-infra 1.0.0: 'LAB' does "
        "not match the pattern ^[a-z]{3}-[0-9]{2}$ the profile sets."
    ) in err
    assert (
        f"{field}.ntp_server: variable ntp_server (NTP server) of profile edge-secure-infra 1.0.0: '10.0.0' "
        "is not an IPv4 address" in err
    )
    assert (
        f"{field}.replicas: variable replicas (Replicas) of profile edge-secure-infra 1.0.0: 'many' is not "
        "a number" in err
    )
    assert (
        f"{field}.api_token: variable api_token (API token) of profile edge-secure-infra 1.0.0: the value "
        "does not match" in err
    )
    assert "x!y" not in err  # a masked value is never repeated
    assert (
        f"{field}.internal_flag: variable internal_flag of profile edge-secure-infra 1.0.0 is hidden" in err
    )
    assert (
        f"{field}.colour: profile edge-secure-infra 1.0.0 has no variable colour; its variables are "
        "site_code, ntp_server" in err
    )
    assert (
        "spec.profileVariables.other-profile: the bundle has no profile other-profile; its profiles are "
        "edge-secure-infra." in err
    )

    code, _, err = run(
        "apply", "-f", write(tmp_path, secure_doc({"site_code": ["lab-01"], "api_token": TOKEN}))
    )
    assert code == 1 and f"{field}.site_code: must be a value (text, a number, or true/false)" in err
    code, _, err = run(
        "apply", "-f", write(tmp_path, secure_doc({"site_code": "lab-01", "api_token": "REDACTED"}))
    )
    assert code == 1 and f"{field}.api_token: holds the placeholder REDACTED written by export" in err
    assert not ComputePool.objects.exists()


@pytest.mark.parametrize(
    "fmt, good, bad",
    [
        ("number", "2.5", "1e999"),
        ("boolean", "false", "yes"),
        ("ipv4", "10.1.2.3", "10.1.2"),
        ("ipv4cidr", "10.1.0.0/16", "10.1.0.0"),
        ("ipv6", "fd00::5", "fd00::g"),
        ("version", "v1.30.4", "1.2.3.4"),
        ("base64", "aGVsbG8=", "not base64!"),
        ("string", "any", None),
    ],
)
def test_each_format_is_checked(fmt, good, bad):
    var = ProfileVariable(name="v", format=fmt)
    assert value_problem(var, good) == ""
    if bad is not None:
        assert f"the variable's format is {fmt}" in value_problem(var, bad)
        assert bad not in value_problem(var, bad, show_value=False)


NODES = {
    "cp_count": "1",
    "cp_worker_eligible": "on",
    "cp_architecture": "amd64",
    "cp_cpu": "4",
    "cp_memory_gib": "8",
    "cp_groups": "palette.ai=true",
    "worker_architecture": "amd64",
    "worker_count": "1",
    "worker_groups": "palette.ai=true",
}


def step(name: str) -> str:
    return reverse("compute:pool_wizard", args=[*ARGS, name])


def field_errors(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'class="field-error"[^>]*>([^<]*)<', response.content.decode())


def test_the_wizard_takes_checks_and_sends_the_values_and_never_shows_the_masked_one(
    world, secure_project, fast_sim, caplog
):
    caplog.set_level(logging.DEBUG)
    client = world.client_for(world.editor)
    for name, data in (("general", {"name": "web-pool"}), ("variant", {"variant": "dedicated"})):
        assert client.post(step(name), data).status_code == 302
    assert client.post(step("bundle"), {"bundle": "secure"})["Location"] == step("variables")
    page = client.get(step("variables")).content.decode()
    keys = {
        name: key
        for key, name in re.findall(
            r'<label for="id_(var-\d+)">[^<]*<small class="muted"><code>(\w+)</code>', page
        )
    }
    assert set(keys) == {"site_code", "ntp_server", "replicas", "api_token"}  # the hidden one is not offered
    assert f'name="{keys["api_token"]}" id="id_{keys["api_token"]}" autocomplete="new-password"' in page
    assert 'placeholder="10.0.0.1"' in page

    missing = field_errors(client.post(step("variables"), {}))
    assert (
        "Site code (site_code) is required: profile edge-secure-infra 1.0.0 gives it no default." in missing
    )
    assert (
        "API token (api_token) is required: profile edge-secure-infra 1.0.0 gives it no default." in missing
    )
    response = client.post(
        step("variables"), {keys["site_code"]: "LAB", keys["ntp_server"]: "10.0.0", keys["api_token"]: "x!y"}
    )
    bad = field_errors(response)
    assert (
        "Site code (site_code): &#x27;LAB&#x27; does not match the pattern ^[a-z]{3}-[0-9]{2}$ the profile "
        "sets." in bad
    )
    assert any(
        e.startswith("NTP server (ntp_server): &#x27;10.0.0&#x27; is not an IPv4 address") for e in bad
    )
    assert any(e.startswith("API token (api_token): the value does not match") for e in bad)
    assert "x!y" not in response.content.decode() and 'value="LAB"' in response.content.decode()

    response = client.post(step("variables"), {keys["site_code"]: "lab-01", keys["api_token"]: TOKEN})
    assert response.status_code == 302 and response["Location"] == step("nodes")
    page = client.get(step("variables")).content.decode()
    assert TOKEN not in page and "set — leave empty to keep it" in page and 'value="lab-01"' in page
    # Posting the step again without the masked value keeps it.
    assert (
        client.post(step("variables"), {keys["site_code"]: "lab-01", keys["replicas"]: "2"}).status_code
        == 302
    )
    assert client.post(step("nodes"), NODES).status_code == 302
    assert (
        client.post(
            step("network"), {"vip": wizard_vip(client), "ssh_keys": ED25519, "deletion_policy": "delete"}
        ).status_code
        == 302
    )

    review = client.get(step("review")).content.decode()
    assert 'id="readiness">ready' in review, re.findall(r"<li>.*?</li>", review)[:12]
    assert (
        'edge-secure-infra.api_token</code> = <span class="muted">•••• (masked)' in review
        and TOKEN not in review
    )
    assert "&quot;REDACTED&quot;" in review and "lab-01" in review
    assert TOKEN not in sessions_text()  # the draft holds it encrypted only
    response = client.post(step("review"))
    assert response.status_code == 302
    pool = drive(ComputePool.objects.get(name="web-pool"))
    assert pool.status == ComputePool.READY, pool.failure_message
    uid = ClusterProfile.objects.get(project=secure_project, name=PROFILE).uid
    assert fast_sim.state.clusters[pool.cluster_uid].variables[uid] == {
        "site_code": "lab-01",
        "replicas": "2",
        "api_token": TOKEN,
    }
    hits = assert_nowhere(world, pool, caplog)
    assert not hits, hits


def sessions_text() -> str:
    from django.contrib.sessions.models import Session

    return json.dumps(
        [s.get_decoded() for s in Session.objects.all()] + [s.session_data for s in Session.objects.all()],
        default=str,
    )


def assert_nowhere(world, pool: ComputePool, caplog) -> list[str]:
    """Where TOKEN was seen but must never be: pages (owner, superuser, Django admin), exports, audit log and
    its CSV, logs, the pool's steps, the session, every column of the pool's row as stored."""
    hits = []
    owner, root = world.client_for(world.owner), world.client_for(world.superuser)
    pages = [
        pool.get_absolute_url(),
        reverse("compute:pools", args=ARGS),
        reverse("tenancy:audit_list"),
        reverse("tenancy:audit_list") + "?format=csv",
        reverse("admin:compute_computepool_change", args=[pool.pk]),
        reverse("admin:compute_computepool_changelist"),
    ]
    for client in (owner, root):
        for url in pages:
            response = client.get(url)
            if response.status_code == 200 and TOKEN in response.content.decode():
                hits.append(f"page {url}")
    assert root.get(reverse("admin:compute_computepool_change", args=[pool.pk])).status_code == 200
    for args in (
        ("export",),
        ("export", "-n", "acme-research"),
        ("pool_plan", pool.name, "-n", "acme-research"),
    ):
        if TOKEN in run(*args)[1]:
            hits.append(" ".join(args))
    if TOKEN in json.dumps(list(AuditEntry.objects.values()), default=str):
        hits.append("audit rows")
    if TOKEN in caplog.text or any(TOKEN in f"{r.getMessage()} {r.args!r}" for r in caplog.records):
        hits.append("logs")
    if TOKEN in json.dumps(list(PoolStep.objects.filter(pool=pool).values()), default=str):
        hits.append("pool steps")
    if TOKEN in sessions_text():
        hits.append("session")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM compute_computepool WHERE id = %s", [pool.pk])
        row = cursor.fetchone()
    if TOKEN in repr(row):
        hits.append("database row")
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_variables FROM compute_computepool WHERE id = %s", [pool.pk])
        assert cursor.fetchone()[0], "the masked value is stored (encrypted)"
    return hits
