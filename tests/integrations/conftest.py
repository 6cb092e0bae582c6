"""Fixtures for integration tests: the Palette simulator over HTTPS, CA material, configured Settings."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from palette.sim import Simulator


@pytest.fixture(scope="module")
def palette_sim():
    sim = Simulator(hosts=30, seed=3).start()
    yield sim
    sim.stop()


def make_cert(
    cn: str, *, ca: bool = True, days: int = 365, start_days_ago: int = 1, ip: str = ""
) -> tuple[str, str]:
    """A self-signed certificate (PEM) and its private key (PEM); `ip` goes in subjectAltName, for
    verification."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=start_days_ago))
        .not_valid_after(now + dt.timedelta(days=days))
    )
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    if ip:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem


def palette_values(sim: Simulator, **overrides) -> dict:
    values = {
        "apiKey": sim.api_key,
        "hostUrl": sim.url,
        "tenant": "PaletteAI Demo",
        "defaultProjectID": sim.project_uids[0],
        "skipSSLCertificateVerification": False,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def configure_palette(owner, values: dict, *, ca_pem: str | None = None, name: str = "main-settings"):
    """Settings for `owner` whose Palette Secret holds `values` (and a CA Secret when given)."""
    from integrations import writes

    if ca_pem:
        writes.save_secret(owner, f"{name}-ca", {"ca.crt": ca_pem})
        values = {**values, "tlsSecretRef": f"{name}-ca"}
    writes.save_secret(owner, f"{name}-palette", {"palette": json.dumps(values)})
    return writes.save_settings(owner, name, palette_secret=f"{name}-palette")
