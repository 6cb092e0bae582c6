"""No admin raises their own GPU ceiling: superusers set a tenant's limit, the tenant's admins a project's.

Before the fix a tenant admin could raise the tenant's limit and a project admin the project's,
on the edit page and by importing a manifest. Each role of the small world is tried both ways;
those who may not change the limit see it read-only with who sets it, and a manifest that changes
it names the current value (re-applying it unchanged is fine).
"""

from __future__ import annotations

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.urls import reverse

from core.manifests import apply_text
from tenancy.models import Membership, Tenant
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
V1A1 = "spectrocloud.com/v1alpha1"


@pytest.fixture
def limits(world):
    """Tenant acme limited to 8 GPUs, project research to 4, and a project admin of research."""
    world.tenant_a.gpu_limit, world.project_a.gpu_limit = 8, 4
    world.tenant_a.save()
    world.project_a.save()
    world.project_admin = get_user_model().objects.create_user("padmin", password=PASSWORD)
    Membership.objects.create(
        user=world.project_admin, project=world.project_a, role=Membership.PROJECT_ADMIN
    )
    return world


def _tenant_doc(gpu_limit: int | None, display: str = "Acme") -> str:
    spec = {"displayName": display} | ({"gpuLimit": gpu_limit} if gpu_limit is not None else {})
    return yaml.safe_dump({"apiVersion": V1A1, "kind": "Tenant", "metadata": {"name": "acme"}, "spec": spec})


def _project_doc(gpu_limit: int, display: str = "Research") -> str:
    return yaml.safe_dump(
        {
            "apiVersion": V1A1,
            "kind": "Project",
            "metadata": {"name": "research", "namespace": "acme-research"},
            "spec": {"tenantRef": {"name": "acme"}, "displayName": display, "gpuLimit": gpu_limit},
        }
    )


def _limits(world) -> tuple[int, int]:
    world.tenant_a.refresh_from_db()
    world.project_a.refresh_from_db()
    return world.tenant_a.gpu_limit, world.project_a.gpu_limit


@pytest.mark.parametrize("role,tenant_ok", [("superuser", True), ("owner", False)])
def test_the_tenant_edit_page_changes_the_limit_only_for_a_superuser(limits, role, tenant_ok):
    client = limits.client_for(getattr(limits, role))
    url = reverse("tenancy:tenant_edit", args=["acme"])
    page = client.get(url).content.decode()
    field = page.split('name="gpu_limit"')[1].split(">")[0]
    assert ("disabled" in field) is not tenant_ok
    assert ("Only a platform administrator (superuser) changes this limit" in page) is not tenant_ok
    response = client.post(url, {"display_name": "Acme Corp", "description": "", "gpu_limit": 64})
    assert response.status_code == 302
    assert Tenant.objects.get(name="acme").display_name == "Acme Corp"  # the rest of the form still saves
    assert _limits(limits)[0] == (64 if tenant_ok else 8)


@pytest.mark.parametrize("role,project_ok", [("superuser", True), ("owner", True), ("project_admin", False)])
def test_the_project_edit_page_changes_the_limit_only_for_the_tenants_admins(limits, role, project_ok):
    client = limits.client_for(getattr(limits, role))
    url = reverse("tenancy:project_edit", args=["acme", "research"])
    page = client.get(url).content.decode()
    assert ("Only an admin of tenant acme changes this limit" in page) is not project_ok
    response = client.post(url, {"display_name": "R&D", "description": "", "gpu_limit": 8})
    assert response.status_code == 302
    assert _limits(limits) == (8, 8 if project_ok else 4)


def test_a_project_admin_still_saves_when_the_tenant_lowered_its_limit_below_the_projects(limits):
    # The limit is not theirs to change, so it is not theirs to fix: the rest of the form saves.
    Tenant.objects.filter(pk=limits.tenant_a.pk).update(gpu_limit=2)
    response = limits.client_for(limits.project_admin).post(
        reverse("tenancy:project_edit", args=["acme", "research"]),
        {"display_name": "R&D", "description": "", "gpu_limit": 4},
    )
    assert response.status_code == 302 and _limits(limits) == (2, 4)


@pytest.mark.parametrize("role", ["viewer", "editor", "outsider"])
def test_members_without_admin_rights_cannot_reach_either_page(limits, role):
    client = limits.client_for(getattr(limits, role))
    for url in (
        reverse("tenancy:tenant_edit", args=["acme"]),
        reverse("tenancy:project_edit", args=["acme", "research"]),
    ):
        assert client.post(url, {"display_name": "x", "gpu_limit": 99}).status_code in (403, 404)
    assert _limits(limits) == (8, 4)


@pytest.mark.parametrize(
    "role,tenant_ok,project_ok",
    [
        ("superuser", True, True),
        ("owner", False, True),
        ("project_admin", False, False),
        ("viewer", False, False),
        ("editor", False, False),
        ("outsider", False, False),
    ],
)
def test_manifests_change_a_limit_only_with_the_right(limits, role, tenant_ok, project_ok):
    user = getattr(limits, role)
    tenant = apply_text(_tenant_doc(64), user=user, source="f.yaml")
    assert tenant.ok is tenant_ok, tenant.errors
    project = apply_text(_project_doc(8), user=user, source="f.yaml")
    assert project.ok is project_ok, project.errors
    assert _limits(limits) == (64 if tenant_ok else 8, 8 if project_ok else 4)
    if role == "owner":
        assert tenant.errors == [
            "f.yaml: document 1 (Tenant acme): spec.gpuLimit: "
            "only a platform administrator (superuser) changes this "
            "Tenant's GPU limit; write gpuLimit: 8 (the current limit) or ask one to change it."
        ]
    if role == "project_admin":
        assert project.errors == [
            "f.yaml: document 1 (Project acme-research/research): spec.gpuLimit: "
            "only an admin of tenant acme changes "
            "this Project's GPU limit; write gpuLimit: 4 (the current limit) or ask one to change it."
        ]


def test_re_applying_the_current_limit_is_fine_and_omitting_it_is_a_change(limits):
    # An exported file re-applied by the admins it belongs to: their other edits go through.
    assert apply_text(_tenant_doc(8, display="Acme Corp"), user=limits.owner).ok
    assert apply_text(_project_doc(4, display="R&D"), user=limits.project_admin).ok
    assert (limits.tenant_a.display_name, limits.project_a.display_name) == ("Acme", "Research")
    limits.tenant_a.refresh_from_db()
    assert limits.tenant_a.display_name == "Acme Corp"
    # Without gpuLimit the file asks for 0 (no limit at all), the biggest raise there is.
    assert "write gpuLimit: 8" in apply_text(_tenant_doc(None), user=limits.owner).errors[0]
    assert _limits(limits) == (8, 4)


def test_the_web_import_box_refuses_it_too(limits):
    client = limits.client_for(limits.owner)
    response = client.post(
        reverse("integrations:tenant_settings_import", args=["acme"]), {"manifest": _tenant_doc(64)}
    )
    assert response.status_code == 200
    assert "only a platform administrator (superuser) changes this Tenant" in response.content.decode()
    assert _limits(limits) == (8, 4)
