"""The client's self-hosted reads (`get_system_activation`, `list_registries`) and the simulator's flags for
them (`--license`, `--registries`, a key refused one operation), with validating clients and simulators
(docs/palette-behaviour.md §16)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from palette.errors import NotFound, PermissionDenied
from palette.sim import Simulator
from palette.sim.cli import build_parser, options_to_simulator
from palette.sim.state import parse_license


def _days_left(expires: datetime) -> float:
    return (expires - datetime.now(UTC)).total_seconds() / 86400


@pytest.mark.parametrize(
    ("flag", "state", "days"),
    [
        ("active", "Active", None),
        ("pending", "Pending", 30),
        ("pending:10d", "Pending", 10),
        ("Pending:5", "Pending", 5),
        ("inactive", "Inactive", -1),
    ],
)
def test_the_license_flag_sets_what_the_activation_answers(sim, make_client, flag, state, days):
    sim.state.set_license(flag)
    activation = make_client(sim).get_system_activation()
    assert activation.state == state
    if days is None:
        assert activation.expires_at is None
    else:
        assert abs(_days_left(activation.expires_at) - days) < 0.01
    assert sim.violations == []


def test_saas_has_no_activation_and_a_key_may_be_refused_it(sim, make_client):
    sim.state.set_license("saas")
    with pytest.raises(NotFound) as err:
        make_client(sim).get_system_activation()
    assert err.value.status == 404
    sim.state.set_license("active")
    sim.state.add_key("sim-limited", forbidden=["/v1/activations/system"])
    limited = make_client(sim, api_key="sim-limited")
    with pytest.raises(PermissionDenied) as err:
        limited.get_system_activation()
    assert err.value.status == 403 and "sim-limited" not in str(err.value)
    assert [r.name for r in limited.list_registries()] == ["Public Repo", "Palette Registry"]
    # Tenant scope: neither read carries the project header, and both answers validated.
    assert sim.violations == []


def test_registries_list_with_their_flags_and_scopes(make_client):
    with Simulator(
        hosts=4, seed=2, validate=True, registries=["Public Repo", "Acme Packs", "Mirror:public"]
    ) as sim:
        client = make_client(sim)
        found = client.list_registries()
        assert [(r.name, r.scope, r.is_private, r.is_default) for r in found] == [
            ("Public Repo", "system", False, True),
            ("Acme Packs", "tenant", True, False),
            ("Mirror", "tenant", False, False),
        ]
        assert all(len(r.uid) == 24 and r.kind == "pack" for r in found)
        assert [r.name for r in client.list_registries(scope="tenant")] == ["Acme Packs", "Mirror"]
        assert sim.violations == []
    with Simulator(hosts=4, seed=2, validate=True, registries=[]) as sim:
        assert make_client(sim).list_registries() == []
        assert sim.violations == []


def test_the_cli_accepts_the_new_forms_keeps_the_old_and_refuses_the_wrong(capsys):
    parser = build_parser()
    for value, state in (
        ("active", "Active"),
        ("INACTIVE", "Inactive"),
        ("pending:10d", "Pending"),
        ("saas", "SaaS"),
    ):
        options = vars(parser.parse_args(["--license", value, "--registries", "none", "--port", "0"]))
        sim = options_to_simulator({**options, "hosts": 2, "seed": 1})
        assert sim.state.license_state == state and sim.state.registries == []
    sim = options_to_simulator(
        {**vars(parser.parse_args(["--license", "pending:10d"])), "hosts": 2, "seed": 1}
    )
    assert 9.99 < _days_left(datetime.fromisoformat(sim.state.license_expires)) <= 10
    for wrong in ("expired", "inactive:3d", "pending:soon"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--license", wrong])
        assert "license must be one of active, pending, pending:<days>d" in capsys.readouterr().err
    with pytest.raises(ValueError, match="not 'pending:-2d'"):
        parse_license("pending:-2d")


def test_the_admin_endpoint_switches_the_license(sim, make_client):
    import requests

    def put(body):
        return requests.put(
            f"{sim.url}/__sim__/settings",
            json=body,
            headers={"ApiKey": sim.api_key},
            verify=sim.ca_path,
            timeout=5,
        )

    answer = put({"license": "pending:3d"})
    assert answer.status_code == 200 and answer.json()["license"] == "Pending"
    assert abs(_days_left(make_client(sim).get_system_activation().expires_at) - 3) < 0.01
    answer = put({"license": "lapsed"})
    assert answer.status_code == 400 and "license must be one of" in answer.json()["message"]
    assert make_client(sim).get_system_activation().state == "Pending"
    assert timedelta(days=2) < make_client(sim).get_system_activation().expires_at - datetime.now(UTC)
