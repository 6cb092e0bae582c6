"""Roles from groups, edited on the tenant and project pages: who may, what bad input says, what the audit
log records, and that the new role works at once for a user in the group."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from core.models import AuditEntry
from tenancy import access, group_roles
from tenancy.models import GroupRole, Membership, OidcIdentity

DN = "cn=ml,ou=groups,dc=example,dc=com"
HX = {"HTTP_HX_REQUEST": "true"}


def tenant_url(world, name="tenancy:tenant_groups"):
    return reverse(name, args=[world.tenant_a.name])


def project_url(world, name="tenancy:project_groups"):
    return reverse(name, args=[world.tenant_a.name, world.project_a.name])


def test_it_saves_a_tenants_groups_one_per_line_and_audits_like_the_manifest(world):
    client = world.client_for(world.owner)
    page = client.get(tenant_url(world, "tenancy:tenant_detail")).content.decode()
    assert (
        'id="group-roles-edit"' in page and 'name="groups-admin"' in page and 'name="groups-viewer"' in page
    )

    body = {"groups-admin": f"platform-team\r\n{DN}\r\n\r\n  platform-team  ", "groups-viewer": "readers"}
    response = client.post(tenant_url(world), body)
    assert response.status_code == 302 and response["Location"].endswith("/tenants/acme/#group-roles")
    assert group_roles.current(world.tenant_a) == {"admin": [DN, "platform-team"], "viewer": ["readers"]}
    entry = AuditEntry.objects.get(object_type="tenant", action=AuditEntry.UPDATE)
    assert entry.username == "owner" and entry.tenant == world.tenant_a
    assert entry.changes == {
        "tenantRoleMapping": {"old": "(none)", "new": f"admin: {DN}, platform-team; viewer: readers"}
    }
    page = client.get(tenant_url(world, "tenancy:tenant_detail")).content.decode()
    assert f"<code>{DN}</code>" in page and "roles from groups saved" in page
    # The form shows what is saved, one group per line, so a DN's commas survive the round trip.
    assert f"{DN}\nplatform-team</textarea>" in page


def test_it_records_nothing_when_nothing_changed_and_removes_a_cleared_role(world):
    GroupRole.objects.create(tenant=world.tenant_a, group="readers", role=Membership.VIEWER)
    client = world.client_for(world.owner)
    client.post(tenant_url(world), {"groups-admin": "", "groups-viewer": "readers"})
    assert not AuditEntry.objects.exists()
    client.post(tenant_url(world), {"groups-admin": "", "groups-viewer": ""})
    assert not GroupRole.objects.exists()
    assert AuditEntry.objects.get().changes["tenantRoleMapping"] == {
        "old": "viewer: readers",
        "new": "(none)",
    }


@pytest.mark.parametrize(
    "typed,message",
    [
        ("good\nbad\tgroup", "Line 2 (&#x27;bad\\tgroup&#x27;): a group name has 1 to 256 characters"),
        ("x" * 257, "a group name has 1 to 256 characters"),
        ("\n".join(f"g{i}" for i in range(101)), "At most 100 groups per role; this lists 101."),
    ],
)
def test_it_explains_bad_input_keeps_what_was_typed_and_saves_nothing(world, typed, message):
    client = world.client_for(world.owner)
    response = client.post(tenant_url(world), {"groups-admin": typed, "groups-viewer": "readers"})
    assert response.status_code == 200
    page = response.content.decode()
    assert message in page, page[page.find("group-roles") :][:3000]
    assert "readers</textarea>" in page and '<details id="group-roles-edit" open>' in page
    assert not GroupRole.objects.exists() and not AuditEntry.objects.exists()


def test_an_htmx_form_gets_its_fragment_back_or_a_location(world):
    client = world.client_for(world.owner)
    response = client.post(project_url(world), {"groups-editor": "bad\x0bname"}, **HX)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.lstrip().startswith('<section id="group-roles">') and "<html" not in page
    assert "control characters" in page
    response = client.post(project_url(world), {"groups-editor": "ml-engineers"}, **HX)
    assert response.status_code == 204
    assert (
        response["HX-Location"]
        == reverse("tenancy:project_detail", args=["acme", "research"]) + "#group-roles"
    )


def test_read_only_members_see_the_mapping_without_a_form_and_cannot_post(world):
    GroupRole.objects.create(project=world.project_a, group="ml-engineers", role=Membership.EDITOR)
    GroupRole.objects.create(tenant=world.tenant_a, group="readers", role=Membership.VIEWER)
    for user, url in ((world.viewer, tenant_url), (world.editor, project_url), (world.viewer, project_url)):
        client = world.client_for(user)
        detail = url(world, "tenancy:" + ("tenant_detail" if url is tenant_url else "project_detail"))
        page = client.get(detail).content.decode()
        assert "Roles from groups" in page and "group-roles-edit" not in page
        assert client.post(url(world), {"groups-viewer": "evil"}).status_code == 403
    # A project editor of acme is no tenant admin either.
    assert world.client_for(world.editor).post(tenant_url(world), {"groups-viewer": "x"}).status_code == 403
    assert GroupRole.objects.count() == 2


def test_another_tenants_admin_gets_404(world):
    client = world.client_for(world.outsider)
    assert client.post(tenant_url(world), {"groups-admin": "x"}).status_code == 404
    assert client.post(project_url(world), {"groups-admin": "x"}).status_code == 404
    assert not GroupRole.objects.exists()


def test_project_admins_and_tenant_admins_edit_a_projects_groups(world):
    lead = get_user_model().objects.create_user("lead")
    Membership.objects.create(user=lead, project=world.project_a, role=Membership.PROJECT_ADMIN)
    client = world.client_for(lead)
    page = client.get(project_url(world, "tenancy:project_detail")).content.decode()
    for name in ("groups-admin", "groups-editor", "groups-viewer"):
        assert f'name="{name}"' in page
    client.post(project_url(world), {"groups-admin": "ml-leads", "groups-editor": DN})
    assert group_roles.current(world.project_a) == {"admin": ["ml-leads"], "editor": [DN], "viewer": []}
    entry = AuditEntry.objects.get()
    assert entry.object_repr == "acme/research" and entry.username == "lead"
    assert entry.changes["roleMapping"]["new"] == f"admin: ml-leads; editor: {DN}"

    world.client_for(world.owner).post(project_url(world), {"groups-viewer": "interns"})
    assert group_roles.current(world.project_a)["viewer"] == ["interns"]
    # A project admin cannot change the tenant's mapping.
    assert client.post(tenant_url(world), {"groups-admin": "ml-leads"}).status_code == 403


def test_the_project_page_shows_members_and_roles_from_groups_apart(world):
    GroupRole.objects.create(project=world.project_a, group="ml-engineers", role=Membership.EDITOR)
    page = world.client_for(world.owner).get(project_url(world, "tenancy:project_detail")).content.decode()
    members = page.split('<section id="members">', 1)[1].split("</section>", 1)[0]
    groups = page.split('<section id="group-roles">', 1)[1].split("</section>", 1)[0]
    assert "<td>editor</td>" in members and "ml-engineers" not in members
    assert "<code>ml-engineers</code>" in groups and "<td>editor</td>" not in groups
    assert reverse("tenancy:project_access", args=["acme", "research"]) in page


def test_a_saved_mapping_gives_the_groups_members_their_role(world):
    alice = get_user_model().objects.create_user("alice")
    OidcIdentity.objects.create(user=alice, issuer="https://idp", subject="a-1", groups=[DN])
    assert access.project_role(alice, world.project_a) is None
    world.client_for(world.owner).post(project_url(world), {"groups-editor": DN})
    alice = get_user_model().objects.get(pk=alice.pk)  # a fresh user: no cached groups
    assert access.project_role(alice, world.project_a) == access.WRITE
    assert world.client_for(alice).get(project_url(world, "tenancy:project_detail")).status_code == 200
