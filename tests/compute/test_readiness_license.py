"""A self-hosted Palette's license in the readiness report: Inactive or past its trial blocks, a trial ending
within 7 days warns (docs/palette-behaviour.md §16). The evaluator alone, then pool_plan on the facts the last
connection check stored, against the simulator over HTTPS (every answer checked against the spec)."""

from __future__ import annotations

import json
from datetime import timedelta

from compute.readiness import Integration, evaluate
from integrations import diagnosis
from integrations.models import PaletteCheck
from tests.compute.pool_fixtures import (
    fast_sim,  # noqa: F401  (a fixture)
    pool_project,  # noqa: F401  (a fixture)
)
from tests.compute.test_pools_cli import pool_doc, run, write
from tests.compute.test_readiness import NOW, host, inputs, requirement

CONSOLE = "https://palette.example.com/system"


def _report(state: str, expires=None, **facts):
    activation = {
        "state": state,
        "expiresAt": expires.isoformat() if expires else "",
        "systemConsole": CONSOLE,
    }
    integration = Integration(
        True,
        True,
        (),
        "connected",
        "https://palette.example.com",
        activation={**activation, **facts} if state else facts,
        checked_at=NOW - timedelta(minutes=5),
    )
    report = evaluate(inputs([host("a")], integration=integration))
    return report, requirement(report, "Palette license")


def test_an_inactive_palette_blocks_with_the_reason():
    report, license = _report("Inactive", NOW - timedelta(days=1))
    assert not report.ready and license.blocking and not license.passed
    assert license.reason.startswith(
        "Inactive: the trial is over and Palette is not activated. Compute Pools cannot be created or "
        "changed "
        f"until an operator activates Palette in its system console ({CONSOLE})."
    )
    assert "test the connection again" in license.reason
    assert report.summary().startswith("Palette license: Inactive")


def test_a_trial_that_ended_since_the_last_check_blocks():
    report, license = _report("Pending", NOW - timedelta(hours=2))
    assert not report.ready and license.blocking
    assert "the trial ended on 2026-03-02" in license.reason


def test_a_trial_ending_within_7_days_warns_and_a_longer_one_passes():
    report, license = _report("Pending", NOW + timedelta(days=5))
    assert report.ready and not license.passed and not license.blocking
    assert "5 days left" in license.reason and license in report.warnings
    report, license = _report("Pending", NOW + timedelta(days=7, hours=1))
    assert report.ready and license.passed and "8 days left" in license.reason
    report, license = _report("Pending", NOW + timedelta(hours=3))
    assert not license.passed and "1 day left" in license.reason


def test_active_saas_unreadable_and_never_checked_do_not_block():
    for state, facts, words in (
        ("Active", {}, "Active: Palette is activated."),
        ("", {"applicable": False}, "not applicable (SaaS Palette)."),
        ("", {"visible": False}, "not visible to this key."),
        ("", {}, "not known yet"),
    ):
        report, license = _report(state, **facts)
        assert report.ready and license.passed and not license.blocking, state
        assert license.reason.startswith(words), license.reason


def _check_connection(project) -> None:
    check = diagnosis.perform_check(PaletteCheck.objects.create(tenant=project.tenant))
    assert check.outcome == PaletteCheck.CONNECTED, check.stages


def _license_requirement(out: str) -> dict:
    return next(r for r in json.loads(out)["requirements"] if r["name"] == "Palette license")


def test_pool_plan_blocks_on_an_inactive_palette_and_warns_near_the_end(pool_project, fast_sim, tmp_path):
    path = write(tmp_path, pool_doc())
    fast_sim.state.set_license("inactive")
    _check_connection(pool_project)
    asked = len([r for r in fast_sim.seen() if r.path == "/v1/activations/system"])
    code, out, _ = run("pool_plan", "-f", path, "--json")
    assert code == 1
    license = _license_requirement(out)
    assert license["blocking"] is True and license["passed"] is False
    assert (
        "Compute Pools cannot be created or changed until an operator activates Palette" in license["reason"]
    )
    assert f"{fast_sim.url}/system" in license["reason"]
    code, out, _ = run("pool_plan", "-f", path)
    assert code == 1 and "✗ Palette license [blocking]: Inactive" in out

    fast_sim.state.set_license("pending:5d")
    _check_connection(pool_project)
    code, out, _ = run("pool_plan", "-f", path, "--json")
    assert code == 0, out
    license = _license_requirement(out)
    assert license["blocking"] is False and license["passed"] is False and "5 days left" in license["reason"]
    code, out, _ = run("pool_plan", "-f", path)
    assert code == 0 and "! Palette license [warning]: Pending: trial, 5 days left" in out
    # The report judged the stored checks: planning itself never asked Palette for the license.
    assert len([r for r in fast_sim.seen() if r.path == "/v1/activations/system"]) == asked + 1
