"""`manage.py rotate_keys`: every encrypted value moves to the first FIELD_ENCRYPTION_KEY, so the old key can
go."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from compute.models import ComputePool
from integrations import writes
from integrations.models import Secret


def _raw(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {column} <> '' ORDER BY id")
        return [row[0] for row in cursor.fetchall()]


def _run(*args) -> str:
    out = io.StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def stored(world, settings):
    """Two Secrets and a pool kubeconfig written with the old key only."""
    from tests.security.sweep import AcmeObjects

    old = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    writes.save_secret(world.tenant_a, "palette-a", {"palette": '{"apiKey": "rotate-me-0123456789"}'})
    writes.save_secret(
        world.project_a, "hf-a", {"huggingface": '{"token": "hf_rotate0123456789012345678901234"}'}
    )
    pool = AcmeObjects(world).pool
    pool.kubeconfig = "apiVersion: v1\nkind: Config\n"
    pool.save(update_fields=["kubeconfig"])
    return old, pool


def test_it_re_encrypts_every_value_with_the_first_key(stored, settings):
    old, pool = stored
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    before = _raw("integrations_secret", "data") + _raw("compute_computepool", "kubeconfig")
    with pytest.raises(CommandError, match="3 value\\(s\\) still need an older key"):
        _run("--check")
    assert "would re-encrypt 3 value(s)" in _run("--dry-run")
    assert _raw("integrations_secret", "data") + _raw("compute_computepool", "kubeconfig") == before, (
        "a dry run wrote"
    )

    assert "re-encrypted 3 value(s) with the first key; 0 already on it" in _run()
    after = _raw("integrations_secret", "data") + _raw("compute_computepool", "kubeconfig")
    assert len(after) == 3 and not set(after) & set(before)
    for token in after:
        Fernet(new).decrypt(token.encode())  # readable with the new key alone
        with pytest.raises(InvalidToken):
            Fernet(old).decrypt(token.encode())
    assert "All 3 encrypted value(s) are on the first key" in _run("--check")
    assert "re-encrypted 0 value(s) with the first key; 3 already on it" in _run()  # idempotent

    # The old key can now be dropped: every value still reads back through the ORM.
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert Secret.objects.get(name="palette-a").get_data() == {
        "palette": '{"apiKey": "rotate-me-0123456789"}'
    }
    assert ComputePool.objects.get(pk=pool.pk).kubeconfig.startswith("apiVersion: v1")


def test_it_changes_nothing_when_a_value_cannot_be_decrypted(world, stored, settings):
    old, _ = stored
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]  # a key nobody wrote with
    writes.save_secret(world.tenant_a, "orphan", {"palette": "{}"})
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    before = _raw("integrations_secret", "data")
    with pytest.raises(CommandError) as failure:
        _run()
    message = str(failure.value)
    assert (
        "1 value(s) cannot be decrypted" in message
        and "integrations.Secret.data pk=" in message
        and "Nothing was changed" in message
    )
    assert _raw("integrations_secret", "data") == before


def test_it_exits_1_from_the_command_line_while_values_need_an_old_key(tmp_path):
    """The CLI contract (exit 1 = not done) for scripts that gate removing the old key on --check."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER")
    }
    env.update({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 50, "LOG_LEVEL": "WARNING"})

    def manage(*args, key):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=root,
            env={**env, "FIELD_ENCRYPTION_KEY": key},
            capture_output=True,
            text=True,
            timeout=180,
        )

    assert manage("migrate", "-v0", key=old).returncode == 0
    seed = (
        "from tenancy.models import Tenant; from integrations import writes; "
        "writes.save_secret(Tenant.objects.create(name='t1', display_name='T1'), 's1', {'palette': '{}'})"
    )
    assert manage("shell", "-c", seed, key=old).returncode == 0
    check = manage("rotate_keys", "--check", key=f"{new},{old}")
    assert check.returncode == 1 and "still need an older key" in check.stderr
    assert manage("rotate_keys", key=f"{new},{old}").returncode == 0
    assert manage("rotate_keys", "--check", key=new).returncode == 0
