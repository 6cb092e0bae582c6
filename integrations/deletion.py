"""What integrations adds to deleting a tenant or project (tenancy.deletion): its Settings, then its Secrets,
go.

Registered in IntegrationsConfig.ready(). Both go through integrations.writes, so each deletion
is audited and every Secret's Kubernetes copy is deleted once the transaction commits: an API key
never stays in the cluster after its tenant or project is gone.
"""

from __future__ import annotations

from typing import Any

from tenancy.deletion import Owner
from tenancy.models import owner_filter

from . import writes
from .models import Secret, Settings


def remove_settings_and_secrets(
    owner: Owner, *, request: Any = None, user: Any = None, source: str = "web"
) -> None:
    """Delete `owner`'s own Settings (they name the Secrets), then each of its Secrets with its Kubernetes
    copy."""
    for settings in Settings.objects.filter(**owner_filter(owner)):
        writes.delete_settings(settings, request=request, user=user, source=source)
    for secret in Secret.objects.filter(**owner_filter(owner)):
        writes.delete_secret(secret, request=request, user=user, source=source)
