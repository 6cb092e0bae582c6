"""`bootstrap` refuses an ADMIN_PASSWORD that Django's password validators refuse, and changes nothing.

Before the fix ADMIN_PASSWORD=admin made a superuser `admin` with the password `admin`. Now the
validators of AUTH_PASSWORD_VALIDATORS run first; the command says why and exits 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tenancy.models import Tenant
from tests.conftest import ROOT, worker_database_url

pytestmark = pytest.mark.django_db


def test_the_password_validators_are_configured():
    names = {v["NAME"].rsplit(".", 1)[1] for v in django_settings.AUTH_PASSWORD_VALIDATORS}
    assert names >= {
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    }


@pytest.mark.parametrize(
    "password,reason",
    [
        (
            "admin",
            "This password is too short. It must contain at least 10 characters. "
            "This password is too common.",
        ),
        ("1234567890", "This password is too common. This password is entirely numeric."),
        ("operator-ops", "The password is too similar to the username."),
    ],
)
def test_it_refuses_a_weak_admin_password_and_creates_nothing(settings, password, reason):
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "operator-ops", password
    with pytest.raises(CommandError) as info:
        call_command("bootstrap", stdout=StringIO(), stderr=StringIO())
    assert str(info.value) == (
        f"ADMIN_PASSWORD is refused: {reason} Set a stronger one (or unset it to have a password "
        "generated and printed once) and run bootstrap again."
    )
    assert not get_user_model().objects.exists() and not Tenant.objects.exists()


def test_it_does_not_reset_an_existing_admin_to_a_weak_password(settings):
    settings.ADMIN_PASSWORD = "a-long-chosen-password"
    call_command("bootstrap", stdout=StringIO())
    settings.ADMIN_PASSWORD = "password"
    with pytest.raises(CommandError, match="too common"):
        call_command("bootstrap", stdout=StringIO())
    assert get_user_model().objects.get(username="admin").check_password("a-long-chosen-password")


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_1_without_printing_the_password():
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "ADMIN_PASSWORD": "admin"}
    result = subprocess.run(
        [sys.executable, "manage.py", "bootstrap"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    # In the output, not at its start: system check warnings (a missing vendor folder) may come first.
    assert "CommandError: ADMIN_PASSWORD is refused: " in result.stderr and "too short" in result.stderr
    assert "Traceback" not in result.stderr
    assert "admin" not in result.stderr.replace("ADMIN_PASSWORD", "").replace("bootstrap", "")
    assert not get_user_model().objects.exists()
