"""Encrypted model fields for secrets (API keys, tokens, kubeconfigs).

Values are encrypted with MultiFernet: the first key of FIELD_ENCRYPTION_KEY encrypts, every key
decrypts, so keys rotate by prepending a new one and re-saving (`manage.py rotate_keys`).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        # Never include the token: say what to fix.
        raise ValueError(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEY: the key changed without rotation."
        ) from None


def mask(value: str) -> str:
    """How a secret is shown: •••• and its last 4 characters (nothing for short values)."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


class EncryptedTextField(models.TextField):
    """A TextField stored encrypted at rest; Python code sees plain text."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)
