from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from core import audit
from core.models import AuditEntry


@pytest.mark.parametrize("model", list(admin.site._registry), ids=lambda m: m._meta.label)
def test_it_renders_every_admin_changelist_and_change_page(world, model):
    audit.record(None, AuditEntry.CREATE, world.project_a, user=world.owner)
    client = world.client_for(world.superuser)
    info = (model._meta.app_label, model._meta.model_name)
    response = client.get(reverse("admin:{}_{}_changelist".format(*info)) + "?q=a")
    assert response.status_code == 200
    obj = model._default_manager.first()
    if obj is not None:
        assert client.get(reverse("admin:{}_{}_change".format(*info), args=[obj.pk])).status_code == 200


def test_it_keeps_the_audit_log_read_only_in_admin(world):
    entry = audit.record(None, AuditEntry.CREATE, world.project_a, user=world.owner)
    client = world.client_for(world.superuser)
    response = client.post(reverse("admin:core_auditentry_delete", args=[entry.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_it_never_shows_secret_values_in_admin(world):
    from integrations import writes

    writes.save_secret(world.tenant_a, "canary", {"palette": '{"apiKey": "CANARY-ADMIN-123456"}'})
    from integrations.models import Secret

    secret = Secret.objects.get(name="canary")
    client = world.client_for(world.superuser)
    for url in (
        reverse("admin:integrations_secret_changelist"),
        reverse("admin:integrations_secret_change", args=[secret.pk]),
    ):
        body = client.get(url).content.decode()
        assert "CANARY" not in body and "palette" in body
