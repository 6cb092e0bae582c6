"""Effective access: a user's roles with where each comes from, a project's people and why, both in a fixed
number of queries whatever the number of users."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenancy import effective_access
from tenancy.models import GroupRole, Membership, OidcIdentity, Project

DN = "cn=ml,ou=groups,dc=example,dc=com"


def sso_user(username: str, groups: list, subject: str | None = None, **extra):
    user = get_user_model().objects.create_user(username, **extra)
    OidcIdentity.objects.create(
        user=user, issuer="https://idp", subject=subject or f"sub-{username}", groups=groups
    )
    return user


def mappings(world):
    GroupRole.objects.create(project=world.project_a, group=DN, role=Membership.EDITOR)
    GroupRole.objects.create(project=world.project_a, group="ml-leads", role=Membership.PROJECT_ADMIN)
    GroupRole.objects.create(tenant=world.tenant_a, group="acme-readers", role=Membership.VIEWER)
    GroupRole.objects.create(tenant=world.tenant_b, group="globex-admins", role=Membership.TENANT_ADMIN)


def access_url(world):
    return reverse("tenancy:project_access", args=[world.tenant_a.name, world.project_a.name])


def test_a_users_access_names_the_membership_and_the_groups_of_each_role(world, django_assert_num_queries):
    mappings(world)
    alice = sso_user("alice", [DN, "acme-readers", "unmapped"])
    Membership.objects.create(user=alice, project=world.project_a, role=Membership.EDITOR)
    with django_assert_num_queries(3):
        found = effective_access.user_access(alice)
    rows = [
        (s.tenant.name, s.project.name if s.project else "", h.role, h.membership, h.groups)
        for s in found.scopes
        for h in s.roles
    ]
    assert rows == [
        ("acme", "", "viewer", False, ["acme-readers"]),
        ("acme", "research", "editor", True, [DN]),
    ]
    assert found.identity["subject"] == "sub-alice"
    # A local account: memberships only, two queries (no group roles to look up).
    with django_assert_num_queries(2):
        local = effective_access.user_access(world.owner)
    assert [(s.tenant.name, [h.role for h in s.roles]) for s in local.scopes] == [("acme", ["tenant_admin"])]


def test_my_access_is_linked_from_the_menu_and_shows_where_roles_come_from(world):
    mappings(world)
    alice = sso_user("alice", ["acme-readers"])
    page = world.client_for(alice).get(reverse("tenancy:home")).content.decode()
    assert f'href="{reverse("tenancy:my_access")}"' in page
    page = world.client_for(alice).get(reverse("tenancy:my_access")).content.decode()
    assert "My access" in page and "<code>acme-readers</code>" in page and "sub-alice" in page
    assert "all projects of the tenant" in page and "Viewer" in page
    page = world.client_for(world.editor).get(reverse("tenancy:my_access")).content.decode()
    assert "local membership" in page and "research" in page and "A local account" in page


def test_superusers_see_anyone_tenant_admins_only_their_tenants_users(world):
    mappings(world)
    sso_user("bob", ["ml-leads", "globex-admins"])
    url = reverse("tenancy:my_access")
    page = world.client_for(world.superuser).get(url, {"user": "bob"}).content.decode()
    assert "Access of bob" in page and "ml-leads" in page and "globex" in page
    # acme's admin sees bob's acme roles only, and not his groups list (it names other tenants' groups).
    response = world.client_for(world.owner).get(url, {"user": "bob"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "ml-leads" in page and "globex" not in page and 'id="identity"' not in page
    assert world.client_for(world.owner).get(url, {"user": "editor"}).status_code == 200
    # Not in a tenant they administer, unknown, or asked by someone who administers nothing: 404.
    assert world.client_for(world.owner).get(url, {"user": "outsider"}).status_code == 404
    assert world.client_for(world.owner).get(url, {"user": "nobody"}).status_code == 404
    assert world.client_for(world.viewer).get(url, {"user": "owner"}).status_code == 404
    assert world.client_for(world.editor).get(url, {"user": "owner"}).status_code == 404
    assert world.client_for(world.viewer).get(url, {"user": "viewer"}).status_code == 200


def test_a_projects_access_lists_members_group_users_and_tenant_roles_with_why(world):
    mappings(world)
    sso_user("alice", [DN, "unmapped"], subject="alice-sub")
    sso_user("carol", ["acme-readers"])
    sso_user("dave", ["globex-admins", "unmapped"])  # a role elsewhere only
    sso_user("erin", [DN], is_active=False)
    found = effective_access.project_access(world.project_a)
    people = {p.username: p for p in found.people}
    assert set(people) == {"alice", "carol", "editor", "owner", "viewer"}
    assert people["alice"].level == "write" and people["alice"].subject == "alice-sub"
    assert [(h.role, h.groups, h.membership) for h in people["alice"].project.roles] == [
        ("editor", [DN], False)
    ]
    assert people["carol"].level == "read" and people["carol"].project is None
    assert [(h.role, h.groups) for h in people["carol"].tenant.roles] == [("viewer", ["acme-readers"])]
    assert people["owner"].level == "admin" and people["owner"].tenant.roles[0].membership
    assert people["editor"].project.roles[0].membership
    assert [g.group for g in found.project_mappings] == [DN, "ml-leads"]
    assert [g.group for g in found.tenant_mappings] == ["acme-readers"]
    assert found.superusers == ["root"]


def test_the_project_access_page_says_why_and_is_for_the_projects_readers_only(world):
    mappings(world)
    sso_user("alice", [DN])
    response = world.client_for(world.viewer).get(access_url(world))
    assert response.status_code == 200
    page = response.content.decode()
    people = page.split('id="people-table"', 1)[1].split("</table>", 1)[0]
    assert "alice" in people and "Editor of the project:" in people and f"<code>{DN}</code>" in people
    assert "Tenant admin of tenant acme" in people and "local membership" in people
    assert '?user=alice"' not in page  # a viewer cannot open other users' access pages
    owner_page = world.client_for(world.owner).get(access_url(world)).content.decode()
    assert f'{reverse("tenancy:my_access")}?user=alice"' in owner_page
    assert world.client_for(world.outsider).get(access_url(world)).status_code == 404
    assert world.client_for(world.viewer).post(access_url(world)).status_code == 405


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_access_pages_make_the_same_queries_for_3_or_60_users(world, django_assert_num_queries):
    mappings(world)
    other = Project.objects.create(tenant=world.tenant_a, name="other", display_name="Other", namespace="o")

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            user = sso_user(f"u{i}", [DN if i % 2 else "acme-readers", "unmapped"])
            Membership.objects.create(user=user, project=other, role=Membership.VIEWER)
            Membership.objects.create(user=user, project=world.project_a, role=Membership.VIEWER)

    add(3, 0)
    client = world.client_for(world.owner)
    few_project = _queries(client, access_url(world))
    with django_assert_num_queries(4):
        effective_access.project_access(world.project_a)
    add(57, 3)
    assert _queries(client, access_url(world)) == few_project
    found = effective_access.project_access(world.project_a)
    assert len(found.people) == 60 + 3  # owner, viewer, editor
    # One user's page: the same queries for 2 roles or 22.
    root = world.client_for(world.superuser)
    me = reverse("tenancy:my_access")
    few_user = _queries(root, me + "?user=u1")
    u1 = get_user_model().objects.get(username="u1")
    for i in range(20):
        project = Project.objects.create(
            tenant=world.tenant_b, name=f"p{i}", display_name="P", namespace=f"p{i}"
        )
        Membership.objects.create(user=u1, project=project, role=Membership.EDITOR)
        GroupRole.objects.create(project=project, group=DN, role=Membership.VIEWER)
    assert _queries(root, me + "?user=u1") == few_user
