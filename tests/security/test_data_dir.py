"""DATA_DIR is private: its folders 0700, the SQLite database (sessions, password hashes) and keys 0600.

Before the fix DATA_DIR, the broker folders and db.sqlite3 were created with the umask's modes
(0755/0644 here): any local user could read the sessions and password hashes. The settings run in
a fresh process on SQLite with the filesystem broker, as `make run` does.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("", "broker", "broker/queue", "broker/processed", "broker/control")
FILES = ("db.sqlite3", "secrets.json")


def _start(data_dir: Path) -> None:
    """Import the settings and open the database in a new process, as every command does (umask 022)."""
    unset = ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEY")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["DATA_DIR"] = str(data_dir)
    code = "from django.db import connection; connection.ensure_connection()"
    command = f'umask 022 && exec "{sys.executable}" manage.py shell -v0 -c "{code}"'
    subprocess.run(
        ["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )


def _modes(data_dir: Path) -> dict[str, str]:
    return {name or ".": oct(stat.S_IMODE((data_dir / name).stat().st_mode)) for name in FOLDERS + FILES}


def test_a_new_data_dir_is_created_private(tmp_path):
    data_dir = tmp_path / "data"
    _start(data_dir)
    assert _modes(data_dir) == {
        **{name or ".": "0o700" for name in FOLDERS},
        **{name: "0o600" for name in FILES},
    }


def test_an_existing_world_readable_data_dir_is_tightened(tmp_path):
    data_dir = tmp_path / "data"
    _start(data_dir)
    for name in FOLDERS:
        (data_dir / name).chmod(0o755)
    for name in FILES:
        (data_dir / name).chmod(0o644)
    _start(data_dir)
    assert _modes(data_dir) == {
        **{name or ".": "0o700" for name in FOLDERS},
        **{name: "0o600" for name in FILES},
    }


def test_the_image_gives_data_dir_to_the_user_it_runs_as():
    # A 0700 DATA_DIR created by root at build time would lock the runtime user out of the static files.
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.findall(r"^USER (\d+):(\d+)", dockerfile, re.M)[-1]
    assert f'chown {user[0]}:{user[1]} "$DATA_DIR"' in dockerfile
    assert "DATABASE_URL=postgres://build-only.invalid" in dockerfile  # no SQLite file baked into the image
