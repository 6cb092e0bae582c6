"""What the compute commands look up by name, with the error a command prints when it is not there."""

from __future__ import annotations

from django.core.management.base import CommandError

from compute.models import ComputePool
from tenancy.models import Project, owner_for_namespace


def project_for(namespace: str) -> Project:
    """The project owning `namespace` (compute works per project, never per tenant)."""
    owner = owner_for_namespace(namespace)
    if not isinstance(owner, Project):
        raise CommandError(f"No project owns namespace {namespace!r}.")
    return owner


def pool_for(name: str, namespace: str) -> ComputePool:
    """The pool `name` of the project owning `namespace`, unless it was deleted."""
    pool = (
        ComputePool.objects.filter(project=project_for(namespace), name=name)
        .exclude(status=ComputePool.DELETED)
        .first()
    )
    if pool is None:
        raise CommandError(f"No compute pool {name} in {namespace}.")
    return pool
