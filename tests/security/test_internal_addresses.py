"""No internal targets: a Palette host URL never leads this server to itself, its cloud metadata service,
the cluster's services or (unless allowed) private networks — at save time, in `apply --dry-run`, in the
connection check, and again by the real client right before it connects (DNS rebinding).

Name resolution is the edge faked here (`socket.getaddrinfo`); every outgoing connection is recorded and
only loopback ones (the simulator) may happen at all: a test never connects to a metadata address.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import dataclass, field
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.urls import reverse

from integrations import credentials, diagnosis, effective
from integrations.models import PaletteCheck, Secret
from palette.client import PaletteClient
from palette.errors import PaletteAddressRefused, PaletteConnectionError
from palette.sim import Simulator
from palette.transport import RetryPolicy
from paletteai_admin.settings import envnetworks
from tests.integrations.conftest import configure_palette

UID = "65f0a1b2c3d4e5f60718293a"
KEY = "pk-internal-0123456789abcdef"
PUBLIC = "93.184.216.34"
NEVER = "refused even when PALETTE_ALLOWED_NETWORKS includes it"

# (host URL, what the refusal must say). Each is refused with no networks allowed (the production default).
FORMS = [
    ("https://169.254.169.254", "169.254.169.254 is a cloud metadata address"),
    ("https://2852039166", "2852039166 (that is 169.254.169.254) is a cloud metadata address"),
    ("https://0xa9fea9fe", "(that is 169.254.169.254) is a cloud metadata address"),
    ("https://0251.0376.0251.0376", "(that is 169.254.169.254) is a cloud metadata address"),
    ("https://169.254.43518", "(that is 169.254.169.254) is a cloud metadata address"),
    ("https://[fd00:ec2::254]", "fd00:ec2::254 is a cloud metadata address"),
    ("https://[::ffff:169.254.169.254]", "an IPv6 form of 169.254.169.254, a cloud metadata address"),
    ("https://[64:ff9b::a9fe:a9fe]", "an IPv6 form of 169.254.169.254, a cloud metadata address"),
    ("https://100.100.100.200", "100.100.100.200 is a cloud metadata address"),
    ("https://168.63.129.16", "168.63.129.16 is a cloud metadata address"),
    ("https://metadata.google.internal", "metadata.google.internal is a cloud metadata service"),
    ("https://localhost:8443", "localhost is this server itself (loopback)"),
    ("https://palette.localhost", "palette.localhost is this server itself (loopback)"),
    ("https://127.0.0.1:8443", "127.0.0.1 is a loopback address"),
    ("https://127.1", "127.1 (that is 127.0.0.1) is a loopback address"),
    ("https://[::1]", "::1 is a loopback address"),
    ("https://[::ffff:127.0.0.1]", "an IPv6 form of 127.0.0.1, a loopback address"),
    ("https://0.0.0.0", "0.0.0.0 is an unspecified address"),
    ("https://[::]", ":: is an unspecified address"),
    ("https://kubernetes.default.svc", "kubernetes.default.svc is an internal name"),
    ("https://kubernetes.default.svc.cluster.local:443", "is an internal name"),
    ("https://kubernetes.default", "kubernetes.default is an internal name"),
    ("https://169.254.10.10", "169.254.10.10 is a link-local address"),
    ("https://[fe80::1]", "fe80::1 is a link-local address"),
    (
        "https://10.1.2.3",
        "10.1.2.3 is a private address; Palette must be reached at a public or allowed address. "
        "For an on-premises Palette on a private network set PALETTE_ALLOWED_NETWORKS=10.0.0.0/8.",
    ),
    ("https://172.16.5.4", "set PALETTE_ALLOWED_NETWORKS=172.16.0.0/12"),
    ("https://192.168.1.10", "set PALETTE_ALLOWED_NETWORKS=192.168.0.0/16"),
    ("https://[fd12:3456::1]", "fd12:3456::1 is a private address"),
    ("https://100.64.0.7", "100.64.0.7 is a carrier-grade NAT (shared) address"),
    ("https://224.0.0.1", "224.0.0.1 is a multicast address"),
    ("https://192.0.2.10", "192.0.2.10 is a special-purpose (non-public) address"),
]
# The forms the web form and `apply --dry-run` are tried with (every form above goes through the same
# validate_fields; these cover each kind once).
SAMPLE = [FORMS[0], FORMS[1], FORMS[5], FORMS[10], FORMS[11], FORMS[17], FORMS[19], FORMS[24]]


@dataclass
class FakeDNS:
    """Answers for some names; every lookup of those is recorded. Other names go to the real resolver."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        name = host.decode() if isinstance(host, bytes) else host
        if name not in fake.answers:
            return real(host, port, family, type, proto, flags)
        fake.lookups.append(name)
        if not fake.answers[name]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in fake.answers[name]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return fake


@pytest.fixture
def connections(monkeypatch) -> list:
    """Every outgoing connection attempt. Only loopback (the simulator) gets through; anything else fails the
    test."""
    attempts: list = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address) -> None:
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            pytest.fail(f"a connection to {address} was attempted")

    def connect(self, address):
        guard(address)
        return real_connect(self, address)

    def connect_ex(self, address):
        guard(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts


@pytest.fixture
def production(settings):
    """The production default: no network allowed besides public addresses."""
    settings.PALETTE_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def sim():
    simulator = Simulator(hosts=3, seed=2).start()
    yield simulator
    simulator.stop()


def _effective(host_url: str, **values) -> effective.EffectivePalette:
    fields = {
        "apiKey": KEY,
        "defaultProjectID": UID,
        "hostUrl": host_url,
        "tenant": "acme",
        "skipSSLCertificateVerification": False,
        "tlsSecretRef": "",
        **values,
    }
    return effective.EffectivePalette({name: (value, "tenant") for name, value in fields.items()})


@pytest.mark.parametrize("url,reason", FORMS, ids=[u for u, _ in FORMS])
def test_it_refuses_every_internal_address_form_with_the_reason(production, connections, url, reason):
    for check in (
        lambda: credentials.normalize_host_url(url, resolve=True),
        lambda: credentials.validate_fields({"hostUrl": url}),
        lambda: credentials.parse_palette_json(json.dumps({"hostUrl": url}), partial=True),
    ):
        with pytest.raises(credentials.CredentialError) as refused:
            check()
        assert refused.value.field == "hostUrl"
        assert reason in str(refused.value)
        assert "PALETTE_ALLOWED_NETWORKS" in str(refused.value)
    assert connections == []


def test_it_never_admits_metadata_addresses_even_inside_an_allowed_network(settings, connections):
    settings.PALETTE_ALLOWED_NETWORKS = ["169.254.0.0/16", "fd00::/8", "100.64.0.0/10", "0.0.0.0/0"]
    assert credentials.normalize_host_url("https://169.254.10.10") == "https://169.254.10.10"
    for url in (
        "https://169.254.169.254",
        "https://2852039166",
        "https://[fd00:ec2::254]",
        "https://100.100.100.200",
        "https://[::ffff:169.254.169.254]",
        "https://metadata.google.internal",
        "https://0.0.0.0",
    ):
        with pytest.raises(credentials.CredentialError) as refused:
            credentials.normalize_host_url(url)
        assert NEVER in str(refused.value) or "whatever PALETTE_ALLOWED_NETWORKS says" in str(
            refused.value
        ), url
    assert connections == []


def test_it_admits_a_private_address_inside_an_allowed_network(settings, dns, connections):
    settings.PALETTE_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd12:3456::/48"]
    assert credentials.validate_fields({"hostUrl": "https://10.20.1.5:8443"}) == {
        "hostUrl": "https://10.20.1.5:8443"
    }
    assert credentials.normalize_host_url("https://[fd12:3456::7]") == "https://[fd12:3456::7]"
    with pytest.raises(credentials.CredentialError, match="10.30.0.1 is a private address"):
        credentials.normalize_host_url("https://10.30.0.1")
    # A name is judged by every address it resolves to, and an internal name only counts inside the networks.
    dns.answers.update(
        {
            "palette.corp.example": ["10.20.1.5"],
            "palette.svc": ["10.20.9.9"],
            "mixed.corp.example": ["10.20.1.5", "10.30.0.1"],
            "public.svc": [PUBLIC],
        }
    )
    assert (
        credentials.normalize_host_url("palette.corp.example", resolve=True) == "https://palette.corp.example"
    )
    assert credentials.validate_fields({"hostUrl": "palette.svc"}) == {"hostUrl": "https://palette.svc"}
    with pytest.raises(
        credentials.CredentialError, match="mixed.corp.example resolves to 10.30.0.1, a private"
    ):
        credentials.validate_fields({"hostUrl": "mixed.corp.example"})
    with pytest.raises(
        credentials.CredentialError, match=f"public.svc is an internal name .* resolves to {PUBLIC}"
    ):
        credentials.validate_fields({"hostUrl": "public.svc"})
    assert connections == []


def test_it_refuses_a_name_that_resolves_internally_when_saved_but_not_for_a_missing_answer(production, dns):
    dns.answers.update(
        {"palette.corp.example": ["10.20.1.5"], "nowhere.example.com": [], "api.example.com": [PUBLIC]}
    )
    with pytest.raises(credentials.CredentialError) as refused:
        credentials.validate_fields({"hostUrl": "https://palette.corp.example"})
    assert str(refused.value).startswith("palette.corp.example resolves to 10.20.1.5, a private address; ")
    assert "PALETTE_ALLOWED_NETWORKS=10.0.0.0/8" in str(refused.value)
    # DNS not answering now is for the connection check to report, not a reason to refuse the Settings.
    assert (
        credentials.validate_fields({"hostUrl": "nowhere.example.com"})["hostUrl"]
        == "https://nowhere.example.com"
    )
    assert credentials.validate_fields({"hostUrl": "api.example.com"}) == {
        "hostUrl": "https://api.example.com"
    }
    # Stored values read back are not resolved again (that is the connection's job, right before it connects).
    dns.lookups.clear()
    stored = json.dumps({"hostUrl": "https://palette.corp.example"})
    assert credentials.parse_palette_json(stored, partial=True) == {"hostUrl": "https://palette.corp.example"}
    assert dns.lookups == []


@pytest.mark.parametrize("url,reason", SAMPLE, ids=[u for u, _ in SAMPLE])
def test_it_refuses_them_in_the_settings_form(world, production, connections, url, reason):
    client = world.client_for(world.owner)
    form = {
        "settings_name": "acme-settings",
        "host_url": url,
        "api_key": KEY,
        "tenant": "acme",
        "default_project_id": UID,
        "tls": "verify",
        "ca_pem": "",
    }
    response = client.post(reverse("integrations:tenant_palette_save", kwargs={"tenant": "acme"}), form)
    assert response.status_code == 200
    assert reason.split(";")[0] in response.content.decode()
    assert not Secret.objects.filter(namespace=world.tenant_a.namespace).exists()
    assert connections == []


@pytest.mark.parametrize("url,reason", SAMPLE, ids=[u for u, _ in SAMPLE])
def test_it_refuses_them_in_apply_dry_run_without_connecting(
    world, production, connections, tmp_path, url, reason
):
    palette = {"apiKey": KEY, "defaultProjectID": UID, "hostUrl": url, "tenant": "acme"}
    manifest = tmp_path / "palette.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Secret\n"
        f"metadata: {{name: palette-api-secret, namespace: {world.tenant_a.namespace}}}\n"
        f"type: Opaque\nstringData:\n  palette: '{json.dumps(palette)}'\n"
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("apply", "-f", str(manifest), "--dry-run", stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert "stringData.palette.hostUrl" in err.getvalue() and reason in err.getvalue(), err.getvalue()
    assert not Secret.objects.exists()
    assert connections == []


def test_it_refuses_a_rebound_name_in_the_real_client_before_connecting(production, dns, connections):
    dns.answers["palette.example.com"] = [PUBLIC]
    palette = _effective(credentials.validate_fields({"hostUrl": "palette.example.com"})["hostUrl"])
    client = effective.palette_client(palette, name="rebinding")
    # The name now answers with the metadata address (a short TTL, then another answer).
    dns.answers["palette.example.com"] = ["169.254.169.254"]
    dns.lookups.clear()
    with client, pytest.raises(PaletteAddressRefused) as refused:
        client.whoami()
    message = str(refused.value)
    assert message.startswith("palette.example.com resolves to 169.254.169.254, a cloud metadata address; ")
    assert NEVER in message and KEY not in message
    assert refused.value.transient is False
    assert dns.lookups == ["palette.example.com"], "refused once, not retried"
    assert connections == []


def test_it_rechecks_every_new_connection_of_a_live_client(sim, dns, connections):
    dns.answers["localhost"] = ["127.0.0.1"]
    url = sim.url.replace("127.0.0.1", "localhost")
    with PaletteClient(
        url, sim.api_key, ca_pem=sim.ca_pem, allowed_networks=("127.0.0.0/8",), rate_limiter=False
    ) as client:
        assert client.whoami().org_name
        assert [a[0] for a in connections] == ["127.0.0.1"]  # the checked address, not the name again
        dns.answers["localhost"] = ["127.0.0.1", "169.254.169.254"]
        client.transport.session.adapters["https://"].poolmanager.clear()  # as an idle keep-alive would end
        with pytest.raises(PaletteAddressRefused, match="localhost resolves to 169.254.169.254"):
            client.whoami()
    assert [a[0] for a in connections] == ["127.0.0.1"]


def test_it_refuses_loopback_in_the_real_client_unless_allowed(sim, connections):
    with PaletteClient(
        sim.url, sim.api_key, ca_pem=sim.ca_pem, allowed_networks=(), rate_limiter=False
    ) as client:
        with pytest.raises(PaletteAddressRefused, match="127.0.0.1 is a loopback address"):
            client.whoami()
    assert connections == []
    with PaletteClient(
        sim.url,
        sim.api_key,
        ca_pem=sim.ca_pem,
        allowed_networks=("127.0.0.0/8", "::1/128"),
        rate_limiter=False,
    ) as client:
        assert client.whoami().org_name
    assert connections


def test_it_keeps_an_ordinary_connection_failure_transient_in_the_guarded_client(connections):
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with PaletteClient(
        f"https://127.0.0.1:{port}",
        KEY,
        allowed_networks=("127.0.0.0/8",),
        rate_limiter=False,
        retry=RetryPolicy(attempts=1),
    ) as client:
        with pytest.raises(PaletteConnectionError) as failed:
            client.whoami()
    assert failed.value.transient and failed.value.before_send
    assert [a[:2] for a in connections] == [("127.0.0.1", port)]


def test_it_checks_the_name_when_a_proxy_connects(production, dns, connections):
    dns.answers["palette.example.com"] = ["10.0.0.5"]
    for url in ("https://palette.example.com", "https://169.254.169.254"):
        with effective.palette_client(_effective(url), name="proxied") as client:
            client.transport.session.proxies = {"https": "http://proxy.example.com:3128"}
            with pytest.raises(PaletteAddressRefused):
                client.whoami()
    assert connections == []


def test_it_stops_the_connection_check_at_dns_without_probing_the_port(world, production, dns, connections):
    dns.answers["palette.example.com"] = [PUBLIC]
    configure_palette(
        world.tenant_a,
        {"apiKey": KEY, "hostUrl": "https://palette.example.com", "tenant": "acme", "defaultProjectID": UID},
    )
    dns.answers["palette.example.com"] = ["10.0.0.5"]
    check = diagnosis.perform_check(PaletteCheck.objects.create(tenant=world.tenant_a))
    stages = {s["key"]: s for s in check.stages}
    assert stages["url"]["passed"] is True
    assert stages["dns"]["passed"] is False
    assert stages["dns"]["detail"].startswith("palette.example.com resolves to 10.0.0.5, a private address")
    assert stages["tcp"]["passed"] is None and stages["tls"]["passed"] is None
    assert check.outcome == PaletteCheck.FAILED_OUTCOME
    assert connections == []


def test_it_makes_a_stored_internal_url_unusable_with_the_reason(world, production, connections):
    # Saved before this check existed, or mirrored in from Kubernetes: refused when read, no client is built.
    configure_palette(
        world.tenant_a,
        {"apiKey": KEY, "hostUrl": "https://169.254.169.254", "tenant": "acme", "defaultProjectID": UID},
    )
    palette = effective.resolve(world.tenant_a).palette
    assert not palette.complete
    assert any("169.254.169.254 is a cloud metadata address" in problem for problem in palette.problems)
    with pytest.raises(effective.NotConfigured, match="cloud metadata address"):
        effective.working_palette(world.tenant_a)
    assert connections == []


def test_it_reads_allowed_networks_and_refuses_bad_ones(monkeypatch):
    monkeypatch.setenv("X_NETWORKS", " 10.20.0.0/16, fd12:3456::/48 ,192.0.2.7,")
    assert envnetworks("X_NETWORKS") == ["10.20.0.0/16", "fd12:3456::/48", "192.0.2.7/32"]
    monkeypatch.delenv("X_NETWORKS")
    assert envnetworks("X_NETWORKS") == []
    monkeypatch.setenv("X_NETWORKS", "10.20.1.0/8")
    with pytest.raises(ImproperlyConfigured, match=r"X_NETWORKS: '10.20.1.0/8' .*: write 10.0.0.0/8"):
        envnetworks("X_NETWORKS")
    monkeypatch.setenv("X_NETWORKS", "10.0.0.0/8,intranet")
    with pytest.raises(
        ImproperlyConfigured, match="X_NETWORKS: 'intranet' is not a network in CIDR notation"
    ):
        envnetworks("X_NETWORKS")
