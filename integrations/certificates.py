"""CA certificates for a self-hosted Palette: parse PEM (one certificate or a bundle), refuse what is not a
CA."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes

PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)
EXPIRY_WARNING = timedelta(days=30)


class CertificateError(ValueError):
    """The PEM text cannot be used as a CA bundle; the message says why and what to do."""


@dataclass
class CertificateInfo:
    subject: str
    issuer: str
    fingerprint_sha256: str
    not_before: datetime
    not_after: datetime

    @property
    def expired(self) -> bool:
        return self.not_after < datetime.now(UTC)

    @property
    def expiring_soon(self) -> bool:
        return not self.expired and self.not_after - datetime.now(UTC) < EXPIRY_WARNING

    @property
    def warning(self) -> str:
        if self.expired:
            return (
                f"{self.subject} expired on {self.not_after:%Y-%m-%d}; "
                "TLS verification will fail until it is replaced."
            )
        if self.expiring_soon:
            return f"{self.subject} expires on {self.not_after:%Y-%m-%d}; replace it before then."
        return ""


def parse_ca_bundle(text: str | bytes) -> list[CertificateInfo]:
    """Parse PEM text holding one or more CA certificates; raise CertificateError saying what is wrong.

    Refused: empty or non-PEM input, private keys anywhere in the text (never store them), and
    certificates that are not CAs (no basicConstraints CA:TRUE) — a server certificate is the usual mix-up.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError:
            raise CertificateError(
                "The file is not PEM text (it looks binary, perhaps DER). "
                "Convert it with: openssl x509 -inform der -in ca.der -out ca.crt"
            ) from None
    blocks = PEM_BLOCK.findall(text or "")
    if any("PRIVATE KEY" in kind for kind, _ in blocks) or "PRIVATE KEY-----" in (text or ""):
        raise CertificateError(
            "This text contains a private key. "
            "Paste only the CA certificate (BEGIN CERTIFICATE); never share the key."
        )
    certs = [b for b in blocks if b[0] == "CERTIFICATE"]
    if not certs:
        raise CertificateError(
            "No PEM certificate found: paste text that starts with -----BEGIN CERTIFICATE-----."
        )
    infos = []
    for index, (_, body) in enumerate(certs, start=1):
        pem = f"-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----\n".encode()
        damaged = (
            f"Certificate {index} of {len(certs)} is not a valid X.509 certificate "
            "(damaged or truncated PEM)."
        )
        try:
            cert = x509.load_pem_x509_certificate(pem)
            # cryptography parses names lazily: a damaged subject or issuer only fails when read.
            subject = cert.subject.rfc4514_string() or "(empty subject)"
            issuer = cert.issuer.rfc4514_string()
        except (ValueError, x509.InvalidVersion):
            raise CertificateError(damaged) from None
        try:
            is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            is_ca = False
        except ValueError:
            raise CertificateError(f"Certificate {index} ({subject}) has malformed extensions.") from None
        if not is_ca:
            raise CertificateError(
                f"Certificate {index} ({subject}) is not a CA certificate (no basicConstraints CA:TRUE); "
                "it looks like a server certificate. Use the CA that issued Palette's certificate."
            )
        try:
            infos.append(
                CertificateInfo(
                    subject=subject,
                    issuer=issuer,
                    fingerprint_sha256=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
                    not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc,
                )
            )
        except ValueError:
            raise CertificateError(damaged) from None
    return infos


def normalize_pem(text: str) -> str:
    """The certificates only, one after another, as they will be stored in `ca.crt`."""
    return "".join(
        f"-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----\n"
        for kind, body in PEM_BLOCK.findall(text)
        if kind == "CERTIFICATE"
    )
