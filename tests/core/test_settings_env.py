from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from paletteai_admin.settings import database_from_url, envbool, envint, envstr

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_typed_values_and_files(monkeypatch, tmp_path):
    monkeypatch.setenv("X_FLAG", "yes")
    monkeypatch.setenv("X_NUM", " 42 ")
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("X_KEY_FILE", str(secret))
    assert envbool("X_FLAG", False) is True
    assert envint("X_NUM", 1) == 42
    assert envstr("X_KEY") == "s3cret"
    assert envstr("X_MISSING", "d") == "d"


@pytest.mark.parametrize(
    "name,value,call,message",
    [
        ("X_FLAG", "maybe", lambda: envbool("X_FLAG", False), "X_FLAG='maybe' is not a boolean"),
        ("X_NUM", "ten", lambda: envint("X_NUM", 1), "X_NUM='ten' is not a whole number"),
        ("X_NUM", "0", lambda: envint("X_NUM", 1, minimum=5), "X_NUM=0 is too small"),
        (
            "X_KEY_FILE",
            "/nonexistent/key",
            lambda: envstr("X_KEY"),
            "X_KEY_FILE=/nonexistent/key: cannot read",
        ),
    ],
)
def test_it_names_the_variable_in_bad_value_errors(monkeypatch, name, value, call, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=message.replace("(", r"\(")):
        call()


def test_it_parses_database_urls():
    db = database_from_url("postgres://app:p%40ss@db.example:5433/admin?sslmode=require")
    assert (db["ENGINE"], db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "django.db.backends.postgresql",
        "admin",
        "app",
        "p@ss",
        "db.example",
        "5433",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    with pytest.raises(ImproperlyConfigured, match="scheme 'mysql'"):
        database_from_url("mysql://x@y/z")
    with pytest.raises(ImproperlyConfigured, match="no database name"):
        database_from_url("postgres://x@y:5432/")


@pytest.mark.parametrize(
    "env,expected",
    [
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL has scheme 'mysql'"),
        (
            {"FIELD_ENCRYPTION_KEY": "not-a-key", "SECRET_KEY": "x" * 50},
            "FIELD_ENCRYPTION_KEY is not a valid Fernet key",
        ),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL='LOUD'"),
    ],
)
def test_it_prints_one_line_for_a_bad_environment(tmp_path, env, expected):
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    full.update({"DATA_DIR": str(tmp_path), **env})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Configuration error: ") and expected in lines[0]
    assert "Traceback" not in result.stderr


def test_it_generates_keys_once_into_a_private_file(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL")
    }
    env["DATA_DIR"] = str(tmp_path)
    code = (
        "from django.conf import settings; "
        "print(settings.SECRET_KEY[:8], settings.FIELD_ENCRYPTION_KEYS[0][:8])"
    )

    def run():
        return subprocess.run(
            [sys.executable, "manage.py", "shell", "-v0", "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout

    first, second = run(), run()
    assert first == second and len(first.split()) == 2
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"
