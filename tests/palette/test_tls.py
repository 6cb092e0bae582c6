"""TLS: custom CA works, a wrong CA fails clearly with no fallback, skip-verify is per client only."""

from __future__ import annotations

import logging
import os
import stat

import pytest

from palette import PaletteClient, PaletteTLSError
from palette.sim import Simulator
from palette.sim.tls import ensure_certificates


def test_it_trusts_the_simulators_ca_given_as_pem_text(big_sim, make_client):
    client = make_client(big_sim)
    assert client.whoami().tenant_uid == big_sim.state.tenant_uid
    bundle = client.transport.ca_bundle
    assert bundle and stat.S_IMODE(os.stat(bundle).st_mode) == 0o600  # private temporary bundle
    assert stat.S_IMODE(os.stat(os.path.dirname(bundle)).st_mode) == 0o700
    client.close()
    assert not os.path.exists(bundle)


def test_it_fails_clearly_with_a_wrong_ca_and_never_falls_back(big_sim, make_client, tmp_path):
    other_ca = ensure_certificates(tmp_path / "other").ca_pem
    records = []
    client = make_client(big_sim, ca_pem=other_ca, request_log=records.append)
    before = len(big_sim.seen())
    with pytest.raises(PaletteTLSError) as err:
        client.whoami()
    message = str(err.value)
    assert big_sim.url in message and "certificate verify failed" in message
    assert "tlsSecretRef" in message  # says what to do
    assert not err.value.transient
    assert len(records) == 1  # not retried
    assert len(big_sim.seen()) == before  # no request ever reached the server


def test_it_uses_the_system_trust_store_by_default(big_sim, make_client):
    client = make_client(big_sim, ca_pem=None)
    with pytest.raises(PaletteTLSError, match="certificate verify failed"):
        client.list_projects()


def test_it_keeps_the_custom_ca_when_requests_ca_bundle_is_set(big_sim, make_client, monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE override a session's verify setting unless it is passed per call.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert make_client(big_sim).whoami().org_name


def test_it_skips_verification_for_that_client_only_and_warns_once(big_sim, make_client, caplog):
    caplog.set_level(logging.WARNING, logger="palette.client")
    insecure = make_client(big_sim, ca_pem=None, skip_verify=True, name="tenant-a/test-settings")
    assert insecure.whoami().user_uid == big_sim.state.user_uid
    make_client(big_sim, ca_pem=None, skip_verify=True, name="tenant-a/test-settings").list_projects()
    warnings = [r for r in caplog.records if "verification is disabled" in r.getMessage()]
    assert len(warnings) == 1 and "tenant-a/test-settings" in warnings[0].getMessage()
    # Nothing global changed: a client without the flag still verifies, and still fails.
    with pytest.raises(PaletteTLSError):
        make_client(big_sim, ca_pem=None, name="tenant-b/other").whoami()


def test_it_talks_plain_http_to_a_simulator_without_tls():
    with Simulator(hosts=5, tls=False) as sim:
        assert sim.url.startswith("http://")
        with PaletteClient(sim.url, sim.api_key) as client:
            assert [p.name for p in client.list_projects()][0] == "Default"


def test_it_reuses_the_ca_in_a_tls_dir_across_restarts(tmp_path):
    with Simulator(hosts=1, tls_dir=tmp_path) as first:
        pem = first.ca_pem
    with Simulator(hosts=1, tls_dir=tmp_path) as second:
        assert second.ca_pem == pem
        with PaletteClient(second.url, second.api_key, ca_pem=pem) as client:
            assert client.whoami().org_name
    assert stat.S_IMODE(os.stat(tmp_path / "ca.key").st_mode) == 0o600
