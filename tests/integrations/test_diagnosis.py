"""The connection diagnosis against the Palette simulator over HTTPS: the real client, real TLS, real
sockets."""

from __future__ import annotations

import json
import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from integrations import diagnosis
from integrations.models import PaletteCheck
from palette.client import PaletteClient
from palette.errors import PermissionDenied

from .conftest import configure_palette, make_cert, palette_values


def _check(owner) -> PaletteCheck:
    check = (
        PaletteCheck.objects.create(project=owner)
        if hasattr(owner, "tenant_id")
        else PaletteCheck.objects.create(tenant=owner)
    )
    return diagnosis.perform_check(check)


def _stage(check, key):
    return next(s for s in check.stages if s["key"] == key)


def test_it_connects_with_the_right_ca(world, palette_sim):
    configure_palette(world.tenant_a, palette_values(palette_sim), ca_pem=palette_sim.ca_pem)
    check = _check(world.tenant_a)
    assert check.outcome == "connected", check.stages
    assert [s["passed"] for s in check.stages] == [True] * 10  # the last two only ever warn
    tls = _stage(check, "tls")
    assert "custom CA" in tls["detail"] and tls["certificate"]["issuer"]
    assert palette_sim.api_key not in json.dumps(check.stages)


def test_it_fails_tls_with_the_wrong_ca_and_shows_the_server_certificate(world, palette_sim):
    other_ca, _ = make_cert("Some Other CA")
    configure_palette(world.tenant_a, palette_values(palette_sim), ca_pem=other_ca)
    check = _check(world.tenant_a)
    assert check.outcome == "failed"
    tls = _stage(check, "tls")
    assert tls["passed"] is False
    assert (
        "custom CA" in tls["detail"]
        and "The server presented" in tls["detail"]
        and "configured CA did not issue it" in tls["detail"]
    )
    assert _stage(check, "apikey")["passed"] is None  # skipped, never sent the key
    assert check.first_error.startswith("TLS handshake verifies")


def test_it_fails_tls_against_the_system_trust_store(world, palette_sim):
    configure_palette(world.tenant_a, palette_values(palette_sim))
    check = _check(world.tenant_a)
    assert _stage(check, "tls")["passed"] is False
    assert "system trust store" in _stage(check, "tls")["detail"]


def test_it_connects_when_verification_is_skipped(world, palette_sim):
    configure_palette(world.tenant_a, palette_values(palette_sim, skipSSLCertificateVerification=True))
    check = _check(world.tenant_a)
    assert check.outcome == "connected"
    assert "verification skipped" in _stage(check, "tls")["detail"]


def test_it_reports_a_rejected_api_key_without_echoing_it(world, palette_sim):
    configure_palette(
        world.tenant_a, palette_values(palette_sim, apiKey="wrong-key-CANARY-123"), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    stage = _stage(check, "apikey")
    assert stage["passed"] is False and "401" in stage["detail"] and "API key" in stage["detail"]
    assert "CANARY" not in json.dumps(check.stages) and "CANARY" not in check.first_error
    assert check.outcome == "failed"


def test_it_reports_a_tenant_mismatch(world, palette_sim):
    configure_palette(
        world.tenant_a, palette_values(palette_sim, tenant="someone-else"), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    assert _stage(check, "tenant")["passed"] is False
    assert "belongs to tenant 'PaletteAI Demo', not 'someone-else'" in _stage(check, "tenant")["detail"]


def test_it_runs_the_edge_host_stage_after_a_tenant_mismatch(world, palette_sim):
    configure_palette(
        world.tenant_a, palette_values(palette_sim, tenant="someone-else"), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    assert check.outcome == "failed" and check.first_error.startswith("Tenant matches")
    assert _stage(check, "project")["passed"] is True and _stage(check, "edgehosts")["passed"] is True


def test_it_passes_a_key_whose_user_has_only_project_roles(world, palette_sim):
    project = palette_sim.project_uids[0]
    palette_sim.state.add_key("project-role-key", projects=[project])
    with PaletteClient(palette_sim.url, "project-role-key", ca_pem=palette_sim.ca_pem) as client:
        with pytest.raises(PermissionDenied):  # the tenant-role read a project-role key cannot make
            client.get_project(project)
    configure_palette(
        world.tenant_a, palette_values(palette_sim, apiKey="project-role-key"), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    assert check.outcome == "connected", check.stages
    assert _stage(check, "project")["detail"] == f"project Default ({project})"
    assert _stage(check, "edgehosts")["passed"] is True


def test_it_says_which_role_a_project_role_key_lacks(world, palette_sim):
    palette_sim.state.add_key("other-project-key", projects=[palette_sim.project_uids[1]])
    configure_palette(
        world.tenant_a, palette_values(palette_sim, apiKey="other-project-key"), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    project = _stage(check, "project")
    assert project["passed"] is False and "no role there" in project["detail"]
    # Only the project the key has a role in is offered, and the edge host stage still ran.
    offered = project["detail"].split("Projects this key can read: ")[1]
    assert offered == f"ml-platform ({palette_sim.project_uids[1]})."
    assert (
        _stage(check, "edgehosts")["passed"] is False
        and "no role in project" in _stage(check, "edgehosts")["detail"]
    )
    assert check.outcome == "degraded"


def test_it_offers_the_uid_when_a_project_name_is_given(world, palette_sim):
    configure_palette(
        world.tenant_a, palette_values(palette_sim, defaultProjectID="Default"), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    stage = _stage(check, "project")
    assert stage["passed"] is False and stage["suggestion"] == palette_sim.project_uids[0]
    assert check.outcome == "degraded"
    assert check.progress["suggested_project_uid"] == palette_sim.project_uids[0]


def test_it_lists_readable_projects_for_an_unknown_project(world, palette_sim):
    configure_palette(
        world.tenant_a, palette_values(palette_sim, defaultProjectID="0" * 24), ca_pem=palette_sim.ca_pem
    )
    check = _check(world.tenant_a)
    detail = _stage(check, "project")["detail"]
    assert "does not exist" in detail and palette_sim.project_uids[0] in detail
    assert check.outcome == "degraded"


def test_it_reports_dns_failures(world):
    configure_palette(
        world.tenant_a,
        {
            "apiKey": "abcdefghijkl",
            "hostUrl": "palette.does-not-exist.invalid",
            "tenant": "x",
            "defaultProjectID": "a" * 24,
            "skipSSLCertificateVerification": False,
        },
    )
    check = _check(world.tenant_a)
    assert _stage(check, "dns")["passed"] is False and "does not resolve" in _stage(check, "dns")["detail"]


def test_it_reports_a_closed_port(world):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        configure_palette(
            world.tenant_a,
            {
                "apiKey": "abcdefghijkl",
                "hostUrl": f"https://127.0.0.1:{port}",
                "tenant": "x",
                "defaultProjectID": "a" * 24,
                "skipSSLCertificateVerification": False,
            },
        )
        check = _check(world.tenant_a)
    assert _stage(check, "tcp")["passed"] is False and "Cannot connect" in _stage(check, "tcp")["detail"]


def test_it_checks_a_project_through_its_tenants_settings(world, palette_sim):
    configure_palette(world.tenant_a, palette_values(palette_sim), ca_pem=palette_sim.ca_pem)
    check = _check(world.project_a)
    assert check.outcome == "connected"


def test_it_fails_clearly_without_any_integration(world):
    check = _check(world.project_a)
    assert check.outcome == "failed" and "No Palette integration" in check.first_error


def test_it_runs_from_the_command_line_with_json(world, palette_sim):
    configure_palette(world.tenant_a, palette_values(palette_sim), ca_pem=palette_sim.ca_pem)
    out = StringIO()
    call_command("check_palette", "-n", "acme-research", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["outcome"] == "connected" and len(result["stages"]) == 10
    configure_palette(world.project_a, {"defaultProjectID": "0" * 24}, name="research-settings")
    with pytest.raises(SystemExit) as exit_info:
        call_command("check_palette", "-n", "acme-research", stdout=StringIO())
    assert exit_info.value.code == 1
    with pytest.raises(CommandError, match="No tenant or project owns namespace 'no-such-namespace'"):
        call_command("check_palette", "-n", "no-such-namespace", stdout=StringIO(), stderr=StringIO())
