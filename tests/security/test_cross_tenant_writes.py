"""Writes that name another tenant's objects in their body, not in the URL: imported manifests and namespace
choices.

The URL sweep proves every view resolves its URL's objects through tenancy.access. These are the
ways in where the target is data: a tenant admin of acme importing YAML that touches globex, and a
project namespace that is another tenant's namespace (its Secrets would land beside theirs).
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from core.manifests import apply_text
from integrations import writes
from integrations.models import Secret, Settings
from tenancy.models import Project, Tenant

PALETTE = json.dumps(
    {
        "apiKey": "cross-tenant-key-0123",
        "hostUrl": "https://palette.example.com",
        "tenant": "t",
        "defaultProjectID": "65f0a1b2c3d4e5f60718293a",
    }
)


def _secret(namespace: str, name: str = "stolen") -> str:
    return f"""apiVersion: v1
kind: Secret
metadata: {{name: {name}, namespace: {namespace}}}
type: Opaque
stringData:
  palette: '{PALETTE}'
"""


ATTEMPTS = {
    "secret in globex's project": _secret("globex-ops"),
    "secret in globex's tenant namespace": _secret("tenant-globex"),
    "overwrite globex's palette secret": _secret("tenant-globex", "globex-settings-palette"),
    "settings in globex's tenant namespace": """apiVersion: spectrocloud.com/v1alpha1
kind: Settings
metadata: {name: globex-settings, namespace: tenant-globex}
spec: {palette: {secretRef: {name: globex-settings-palette}}}
""",
    "change tenant globex": """apiVersion: spectrocloud.com/v1alpha1
kind: Tenant
metadata: {name: globex}
spec: {displayName: Pwned, gpuLimit: 1}
""",
    "create a tenant": """apiVersion: spectrocloud.com/v1alpha1
kind: Tenant
metadata: {name: evil}
spec: {displayName: Evil}
""",
    "project in tenant globex": """apiVersion: spectrocloud.com/v1alpha1
kind: Project
metadata: {name: implant, namespace: implant}
spec: {tenantRef: {name: globex}, displayName: Implant}
""",
    "move globex's project to acme": """apiVersion: spectrocloud.com/v1alpha1
kind: Project
metadata: {name: ops, namespace: globex-ops}
spec: {tenantRef: {name: acme}, displayName: Ops}
""",
    "acme project in globex's tenant namespace": """apiVersion: spectrocloud.com/v1alpha1
kind: Project
metadata: {name: squat, namespace: tenant-globex}
spec: {tenantRef: {name: acme}, displayName: Squat}
""",
    "acme project in a future tenant's namespace": """apiVersion: spectrocloud.com/v1alpha1
kind: Project
metadata: {name: squat, namespace: tenant-future}
spec: {tenantRef: {name: acme}, displayName: Squat}
""",
    "bundle in globex's project": """apiVersion: spectrocloud.com/v1beta1
kind: ProfileBundle
metadata: {name: edge-infra, namespace: globex-ops}
spec:
  type: Infrastructure
  version: "1"
  clusterProfiles: [{uid: 0a1b2c3d4e5f60718293a4b5, name: edge-k3s-infra, version: 1.3.0}]
""",
}


@pytest.fixture
def globex_settings(world):
    writes.save_secret(
        world.tenant_b, "globex-settings-palette", {"palette": PALETTE.replace("cross-tenant", "globex-own")}
    )
    return writes.save_settings(world.tenant_b, "globex-settings", palette_secret="globex-settings-palette")


def _snapshot():
    return (
        sorted(Tenant.objects.values_list("name", "display_name", "gpu_limit")),
        sorted(Project.objects.values_list("tenant__name", "name", "namespace")),
        sorted((s.namespace, s.name, s.data) for s in Secret.objects.all()),
        sorted(Settings.objects.values_list("namespace", "name", "palette_secret")),
    )


@pytest.mark.parametrize("attempt", list(ATTEMPTS))
def test_it_refuses_an_import_that_writes_into_another_tenant(world, globex_settings, attempt):
    before = _snapshot()
    # The Settings page's import box of acme, as acme's tenant admin.
    response = world.client_for(world.owner).post(
        reverse("integrations:tenant_settings_import", args=["acme"]), {"manifest": ATTEMPTS[attempt]}
    )
    assert response.status_code == 200, "a refused import re-renders the box with the reasons"
    assert _snapshot() == before, f"{attempt}: the import changed something"
    body = response.content.decode()
    assert "your role does not allow" in body or "tenant-" in body, body[:2000]
    # The same through the dispatcher, for every non-superuser role of acme.
    for user in (world.owner, world.editor, world.viewer):
        result = apply_text(ATTEMPTS[attempt], user=user)
        assert result.errors and not result.changes, f"{attempt} as {user}: {result.changes}"
    assert _snapshot() == before


def test_it_lets_a_superuser_apply_the_same_kind_of_file(world, globex_settings):
    """Control: the refusals above are about roles, not about the files being invalid."""
    result = apply_text(ATTEMPTS["secret in globex's project"], user=world.superuser)
    assert result.ok, result.errors
    assert Secret.objects.filter(namespace="globex-ops", name="stolen").exists()


@pytest.mark.parametrize("namespace", ["tenant-globex", "tenant-future", "tenant-acme"])
def test_it_refuses_a_project_namespace_that_belongs_to_a_tenant(world, namespace):
    """A project in `tenant-<name>` would mirror its Secrets beside that tenant's (found by this sweep; fixed
    in tenancy.models.validate_namespace)."""
    client = world.client_for(world.owner)
    response = client.post(
        reverse("tenancy:project_create", args=["acme"]),
        {"name": "squat", "display_name": "Squat", "namespace": namespace, "gpu_limit": 0},
    )
    assert response.status_code == 200 and "reserved for tenants" in response.content.decode()
    assert not Project.objects.filter(namespace=namespace).exists()
    # Control: the same form with an ordinary namespace creates the project.
    response = client.post(
        reverse("tenancy:project_create", args=["acme"]),
        {"name": "fine", "display_name": "Fine", "namespace": "acme-fine", "gpu_limit": 0},
    )
    assert response.status_code == 302 and Project.objects.filter(namespace="acme-fine").exists()
