"""Integration background tasks: Kubernetes Secret sync (and, later, connection diagnosis)."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="integrations.sync_secret", acks_late=True, ignore_result=True)
def sync_secret_task(secret_id: int) -> None:
    """Placeholder until integrations/kube.py lands: nothing to sync without a Kubernetes API."""


@shared_task(name="integrations.delete_kube_secret", acks_late=True, ignore_result=True)
def delete_kube_secret_task(namespace: str, name: str) -> None:
    """Placeholder until integrations/kube.py lands."""
