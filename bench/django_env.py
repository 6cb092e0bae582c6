"""A throwaway Django environment for benchmarks: its own data folder and SQLite database unless
DATABASE_URL is set."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup(*, keep_redis: bool = False) -> str:
    """Configure and migrate Django in a temporary DATA_DIR; return that folder. Without `keep_redis` the
    process runs as the embedded mode does (no Redis: its own Palette rate budget)."""
    sys.path.insert(0, str(ROOT))
    data = tempfile.mkdtemp(prefix="paletteai-bench-")
    os.environ["DATA_DIR"] = data
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paletteai_admin.settings")
    # The benchmarks' simulator is on loopback, refused as a Palette address unless allowed.
    os.environ.setdefault("PALETTE_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")
    if not keep_redis:
        os.environ.pop("REDIS_URL", None)
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        # A database of its own per benchmark process: runs never see each other's rows.
        base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
        os.environ["DATABASE_URL"] = f"{base}/bench_{os.getpid()}"
        _create_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return data


def connected_project(url: str, key: str, project_uid: str, ca_pem: str):
    """A tenant and project whose Settings point at a simulator."""
    import json

    from integrations import writes
    from tenancy.models import Project, Tenant

    tenant = Tenant.objects.create(name="bench", display_name="Bench")
    project = Project.objects.create(tenant=tenant, name="bench", display_name="Bench", namespace="bench")
    writes.save_secret(tenant, "bench-ca", {"ca.crt": ca_pem})
    writes.save_secret(
        tenant,
        "bench-palette",
        {
            "palette": json.dumps(
                {
                    "apiKey": key,
                    "hostUrl": url,
                    "tenant": "PaletteAI Demo",
                    "defaultProjectID": project_uid,
                    "skipSSLCertificateVerification": False,
                    "tlsSecretRef": "bench-ca",
                }
            )
        },
    )
    writes.save_settings(tenant, "bench-settings", palette_secret="bench-palette")
    return project


def _create_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database when the server has only its default one."""
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg.connect(
        host=parts.hostname,
        port=parts.port,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    )
    with admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
