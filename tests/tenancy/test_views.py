from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEntry
from tenancy.models import Membership, Project, Tenant

# (url name, kwargs builder, method, who may write) for every tenancy view.
READ_VIEWS = [
    ("tenancy:tenant_detail", lambda w: {"tenant": w.tenant_a.name}),
    ("tenancy:project_detail", lambda w: {"tenant": w.tenant_a.name, "project": w.project_a.name}),
]
WRITE_VIEWS = [
    ("tenancy:tenant_edit", lambda w: {"tenant": w.tenant_a.name}),
    ("tenancy:project_create", lambda w: {"tenant": w.tenant_a.name}),
    ("tenancy:project_edit", lambda w: {"tenant": w.tenant_a.name, "project": w.project_a.name}),
    ("tenancy:project_delete", lambda w: {"tenant": w.tenant_a.name, "project": w.project_a.name}),
    ("tenancy:member_add", lambda w: {"tenant": w.tenant_a.name, "project": w.project_a.name}),
]


@pytest.mark.parametrize("name,kwargs", READ_VIEWS)
def test_it_hides_another_tenants_pages_with_404(world, name, kwargs):
    assert world.client_for(world.outsider).get(reverse(name, kwargs=kwargs(world))).status_code == 404


@pytest.mark.parametrize("name,kwargs", WRITE_VIEWS)
def test_it_refuses_writes_to_another_tenant_with_404(world, name, kwargs):
    assert world.client_for(world.outsider).post(reverse(name, kwargs=kwargs(world)), {}).status_code == 404


@pytest.mark.parametrize("name,kwargs", WRITE_VIEWS)
def test_it_refuses_writes_from_a_read_only_member_with_403(world, name, kwargs):
    response = world.client_for(world.viewer).post(reverse(name, kwargs=kwargs(world)), {"display_name": "x"})
    assert response.status_code == 403
    assert Project.objects.filter(pk=world.project_a.pk, display_name="Research").exists()


@pytest.mark.parametrize("name,kwargs", READ_VIEWS)
def test_it_lets_a_read_only_member_read(world, name, kwargs):
    response = world.client_for(world.viewer).get(reverse(name, kwargs=kwargs(world)))
    assert response.status_code == 200
    assert b"Research" in response.content


def test_it_redirects_anonymous_users_to_login(client, world):
    response = client.get(reverse("tenancy:tenant_detail", kwargs={"tenant": "acme"}))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_lists_only_visible_tenants_and_projects(world):
    client = world.client_for(world.owner)
    body = client.get(reverse("tenancy:tenant_list")).content.decode()
    assert "acme" in body and "globex" not in body
    body = client.get(reverse("tenancy:project_list")).content.decode()
    assert "acme-research" in body and "globex-ops" not in body


def test_it_shows_the_tenant_to_a_project_member(world):
    client = world.client_for(world.editor)
    assert client.get(reverse("tenancy:tenant_detail", kwargs={"tenant": "acme"})).status_code == 200
    assert client.get(reverse("tenancy:tenant_detail", kwargs={"tenant": "globex"})).status_code == 404
    # An editor changes objects in the project, not the project itself.
    url = reverse("tenancy:project_edit", kwargs={"tenant": "acme", "project": "research"})
    assert client.post(url, {"display_name": "Hacked", "gpu_limit": 0}).status_code == 403


def test_it_lets_only_superusers_create_tenants(world):
    url = reverse("tenancy:tenant_create")
    assert (
        world.client_for(world.owner)
        .post(url, {"name": "initech", "display_name": "Initech", "gpu_limit": 0})
        .status_code
        == 403
    )
    response = world.client_for(world.superuser).post(
        url, {"name": "initech", "display_name": "Initech", "gpu_limit": 8}
    )
    assert response.status_code == 302
    tenant = Tenant.objects.get(name="initech")
    assert tenant.namespace == "tenant-initech"
    entry = AuditEntry.objects.get(object_type="tenant", action="create")
    assert entry.username == "root" and entry.tenant == tenant and entry.source_ip == "127.0.0.1"


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"name": "Bad_Name", "display_name": "x", "gpu_limit": 0}, "name", "DNS-1123"),
        ({"name": "-abc", "display_name": "x", "gpu_limit": 0}, "name", "DNS-1123"),
        ({"name": "acme", "display_name": "x", "gpu_limit": 0}, "name", "already exists"),
        ({"name": "ok", "display_name": "", "gpu_limit": 0}, "display_name", "required"),
        ({"name": "ok", "display_name": "x", "gpu_limit": -1}, "gpu_limit", "greater than or equal to 0"),
        ({"name": "ok", "display_name": "x", "gpu_limit": "lots"}, "gpu_limit", "whole number"),
        ({"name": "x" * 57, "display_name": "x", "gpu_limit": 0}, "name", "at most 56"),
    ],
)
def test_it_explains_bad_tenant_input(world, data, field, message):
    response = world.client_for(world.superuser).post(
        reverse("tenancy:tenant_create"), data, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200  # invalid htmx form re-renders the fragment
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    assert message.split()[0] in response.content.decode()
    assert "<html" not in response.content.decode()  # only the fragment


def test_it_creates_a_project_with_htmx_and_answers_hx_location(world):
    url = reverse("tenancy:project_create", kwargs={"tenant": "acme"})
    response = world.client_for(world.owner).post(
        url,
        {"name": "vision", "display_name": "Vision", "namespace": "", "gpu_limit": 4},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 204
    assert response["HX-Location"] == reverse(
        "tenancy:project_detail", kwargs={"tenant": "acme", "project": "vision"}
    )
    project = Project.objects.get(name="vision")
    assert project.namespace == "vision" and project.tenant == world.tenant_a


@pytest.mark.parametrize(
    "data,field,message",
    [
        (
            {"name": "research", "display_name": "x", "namespace": "other", "gpu_limit": 0},
            "name",
            "already has a project called research",
        ),
        (
            {"name": "new", "display_name": "x", "namespace": "globex-ops", "gpu_limit": 0},
            "namespace",
            "already exists",
        ),
        (
            {"name": "new", "display_name": "x", "namespace": "kube-system", "gpu_limit": 0},
            "namespace",
            "reserved",
        ),
        (
            {"name": "new", "display_name": "x", "namespace": "mural-system", "gpu_limit": 0},
            "namespace",
            "reserved",
        ),
        (
            {"name": "new", "display_name": "x", "namespace": "tenant-acme", "gpu_limit": 0},
            "namespace",
            "tenant's own namespace",
        ),
        ({"name": "new", "display_name": "x", "namespace": "Bad", "gpu_limit": 0}, "namespace", "DNS-1123"),
    ],
)
def test_it_explains_bad_project_input(world, data, field, message):
    url = reverse("tenancy:project_create", kwargs={"tenant": "acme"})
    response = world.client_for(world.owner).post(url, data)
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert Project.objects.count() == 2


def test_it_keeps_project_gpu_limit_within_the_tenants(world):
    world.tenant_a.gpu_limit = 8
    world.tenant_a.save()
    url = reverse("tenancy:project_create", kwargs={"tenant": "acme"})
    response = world.client_for(world.owner).post(
        url, {"name": "big", "display_name": "Big", "gpu_limit": 16}
    )
    assert "at most 8 GPUs" in response.content.decode()


def test_it_does_not_rename_a_project(world):
    url = reverse("tenancy:project_edit", kwargs={"tenant": "acme", "project": "research"})
    response = world.client_for(world.owner).post(
        url, {"name": "renamed", "namespace": "renamed", "display_name": "R&D", "gpu_limit": 2}
    )
    assert response.status_code == 302
    world.project_a.refresh_from_db()
    assert (world.project_a.name, world.project_a.namespace, world.project_a.display_name) == (
        "research",
        "acme-research",
        "R&D",
    )
    entry = AuditEntry.objects.get(action="update")
    assert entry.changes == {
        "display_name": {"old": "Research", "new": "R&D"},
        "gpu_limit": {"old": "0", "new": "2"},
    }


def test_it_manages_members(world):
    client = world.client_for(world.owner)
    url = reverse("tenancy:member_add", kwargs={"tenant": "acme", "project": "research"})
    response = client.post(url, {"username": "nobody", "role": "viewer"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "No active user called" in response.content.decode()
    assert client.post(url, {"username": "viewer", "role": "editor"}).status_code == 302
    membership = Membership.objects.get(user=world.viewer, project=world.project_a)
    assert membership.role == "editor"
    remove = reverse(
        "tenancy:member_remove",
        kwargs={"tenant": "acme", "project": "research", "membership": membership.uuid},
    )
    assert world.client_for(world.outsider).post(remove).status_code == 404
    assert client.post(remove).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_it_deletes_a_project_then_a_tenant_with_its_other_projects(world):
    Project.objects.create(tenant=world.tenant_a, name="lab", display_name="Lab", namespace="acme-lab")
    client = world.client_for(world.superuser)
    assert (
        client.post(
            reverse("tenancy:project_delete", kwargs={"tenant": "acme", "project": "research"})
        ).status_code
        == 302
    )
    assert AuditEntry.objects.filter(action="delete").count() == 2  # the project and its editor's membership
    response = client.post(reverse("tenancy:tenant_delete", kwargs={"tenant": "acme"}), follow=True)
    assert "Tenant acme deleted, with its projects" in response.content.decode()
    assert (
        not Tenant.objects.filter(name="acme").exists()
        and not Project.objects.filter(tenant__name="acme").exists()
    )
    deleted = AuditEntry.objects.filter(action="delete")
    assert sorted(deleted.values_list("object_repr", flat=True)) == [
        "acme",
        "acme/lab",
        "acme/research",
        "editor Editor of acme/research",
        "owner Tenant admin of acme",
        "viewer Viewer of acme",
    ]
    assert set(deleted.values_list("tenant_name", flat=True)) == {"acme"}


def test_it_renders_the_overview_in_a_fixed_number_of_queries(world, django_assert_max_num_queries):
    for i in range(20):
        Project.objects.create(
            tenant=world.tenant_a, name=f"p{i}", display_name=f"P{i}", namespace=f"ns-p{i}"
        )
    client = world.client_for(world.owner)
    # 15: the overview, local memberships, roles from groups, the user's groups (README "Single sign-on").
    with django_assert_max_num_queries(15):
        response = client.get(reverse("tenancy:tenant_detail", kwargs={"tenant": "acme"}))
    assert response.content.decode().count("ns-p") == 20


def test_it_lists_projects_with_their_readiness_in_fixed_queries(world, django_assert_max_num_queries):
    for i in range(15):
        Project.objects.create(
            tenant=world.tenant_a, name=f"q{i}", display_name=f"Q{i}", namespace=f"ns-q{i}"
        )
    client = world.client_for(world.owner)
    with django_assert_max_num_queries(16):
        body = client.get(reverse("tenancy:project_list")).content.decode()
    assert "Connect Palette" in body and "Register and tag edge hosts" in body and body.count("ns-q") == 15
