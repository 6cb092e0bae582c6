from __future__ import annotations

from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command

from tenancy.models import Project, Tenant


def _run(**kwargs) -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out, stderr=out, **kwargs)
    return out.getvalue()


def test_it_creates_defaults_and_an_admin_once(db, settings):
    settings.ADMIN_PASSWORD = ""
    first = _run()
    assert "Created tenant default" in first and "with password:" in first
    password = first.split("with password: ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    second = _run()
    assert "Created" not in second and "exists" in second
    assert Tenant.objects.count() == 1 and Project.objects.get().namespace == "default-project"


def test_it_uses_admin_password_and_skips_defaults_when_disabled(db, settings):
    settings.SYSTEM_DEFAULT_RESOURCES = False
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "ops", "a-long-chosen-password"
    out = _run()
    assert "a-long-chosen-password" not in out
    assert get_user_model().objects.get(username="ops").check_password("a-long-chosen-password")
    assert not Tenant.objects.exists()
