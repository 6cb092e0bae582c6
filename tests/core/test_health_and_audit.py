from __future__ import annotations

import csv
import io

from django.urls import reverse

from core import audit
from core.fields import decrypt, encrypt, mask
from core.models import AuditEntry


def test_it_answers_liveness_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_it_checks_database_and_broker_for_readiness(client, db):
    response = client.get("/readyz")
    body = response.json()
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] == "ok", body
    assert response.status_code == 200


def test_it_reports_unready_when_the_broker_is_down(client, db, settings):
    from paletteai_admin.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        app.pool.force_close_all()
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = original
        app.pool.force_close_all()
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("error")


def test_it_never_stores_secret_values_in_the_audit_log(world):
    entry = audit.record(
        None,
        AuditEntry.UPDATE,
        world.project_a,
        changes={"api_key": "CANARY-SECRET", "tenant": "acme"},
        secret_fields=("api_key",),
        user=world.owner,
        source="cli",
    )
    entry.refresh_from_db()
    assert entry.changes == {"api_key": "(changed)", "tenant": "acme"}
    assert entry.tenant == world.tenant_a and entry.source == "cli"


def test_it_shows_the_audit_log_to_tenant_admins_only_for_their_tenant(world):
    audit.record(None, AuditEntry.UPDATE, world.project_a, user=world.owner)
    audit.record(None, AuditEntry.UPDATE, world.project_b, user=world.outsider)
    body = world.client_for(world.owner).get(reverse("tenancy:audit_list")).content.decode()
    assert "acme/research" in body and "globex/ops" not in body
    body = world.client_for(world.viewer).get(reverse("tenancy:audit_list")).content.decode()
    assert "acme/research" not in body and "Nothing recorded yet" in body
    body = world.client_for(world.superuser).get(reverse("tenancy:audit_list")).content.decode()
    assert "acme/research" in body and "globex/ops" in body


def test_it_exports_the_audit_log_as_csv(world):
    audit.record(None, AuditEntry.CREATE, world.project_a, user=world.owner, changes={"gpu_limit": "4"})
    response = world.client_for(world.owner).get(reverse("tenancy:audit_list") + "?format=csv")
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["time", "user", "action"]
    assert rows[1][1:3] == ["owner", "create"] and rows[1][6] == "acme"


def test_it_encrypts_secrets_and_masks_them():
    token = encrypt("pk_live_1234567890abcd")
    assert "1234567890" not in token and decrypt(token) == "pk_live_1234567890abcd"
    assert mask("pk_live_1234567890abcd") == "••••abcd"
    assert mask("short") == "••••"


def test_it_rotates_encryption_keys(settings):
    from cryptography.fernet import Fernet

    old = settings.FIELD_ENCRYPTION_KEYS[0]
    token = encrypt("value")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old]
    assert decrypt(token) == "value"
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    try:
        decrypt(token)
    except ValueError as exc:
        assert "FIELD_ENCRYPTION_KEY" in str(exc) and token not in str(exc)
    else:
        raise AssertionError("decrypting with the wrong key must fail")


def test_it_sets_security_headers(client, db):
    response = client.get(reverse("login"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "http" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_it_serves_vendor_assets_locally(client, db):
    body = client.get(reverse("login")).content.decode()
    assert "/static/vendor/pico/pico.min.css" in body and "/static/django_htmx/htmx" in body
    assert "https://" not in body


def test_it_reads_the_client_address_behind_trusted_proxies(rf, settings):
    from core.audit import client_ip

    request = rf.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.5", REMOTE_ADDR="10.0.0.6")
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.6"  # no proxy trusted: the header is ignored (it can be forged)
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request) == "10.0.0.5"
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request) == "203.0.113.9"
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.6"  # fewer hops than proxies: not trustworthy
    assert client_ip(rf.get("/", HTTP_X_FORWARDED_FOR="not-an-ip", REMOTE_ADDR="10.0.0.6")) == "10.0.0.6"


def test_it_throttles_logins_per_client_behind_an_ingress(client, db, settings):
    from django.contrib.auth import get_user_model

    settings.AXES_ENABLED = True
    settings.TRUSTED_PROXY_COUNT = 1
    get_user_model().objects.create_user("victim", password="right-password-123")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            "/login/",
            {"username": "victim", "password": "wrong"},
            HTTP_X_FORWARDED_FOR="198.51.100.7",
            REMOTE_ADDR="10.0.0.1",
        )
    locked = client.post(
        "/login/",
        {"username": "victim", "password": "right-password-123"},
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        REMOTE_ADDR="10.0.0.1",
    )
    assert locked.status_code in (403, 429) or "Too many failed" in locked.content.decode()
    # Another user behind the same ingress is not locked out by the attacker's failures.
    other = client.post(
        "/login/",
        {"username": "victim", "password": "right-password-123"},
        HTTP_X_FORWARDED_FOR="198.51.100.8",
        REMOTE_ADDR="10.0.0.1",
    )
    assert other.status_code == 302
