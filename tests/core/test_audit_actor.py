"""The audit log records how a user held the role used: the identity provider's subject and the groups that
granted a role in the entry's tenant or project — nothing for local roles, one query at most per entry."""

from __future__ import annotations

import csv
import io

from django.contrib.auth import get_user_model
from django.urls import reverse

from core import audit
from core.models import AuditEntry
from tenancy import access
from tenancy.effective_access import actor_via
from tenancy.models import GroupRole, Membership, OidcIdentity

DN = "cn=ml,ou=groups,dc=example,dc=com"


def sso_user(username: str, groups: list[str]):
    user = get_user_model().objects.create_user(username)
    OidcIdentity.objects.create(user=user, issuer="https://idp", subject=f"{username}-subject", groups=groups)
    return get_user_model().objects.get(pk=user.pk)


def mappings(world):
    GroupRole.objects.create(project=world.project_a, group=DN, role=Membership.EDITOR)
    GroupRole.objects.create(tenant=world.tenant_a, group="acme-readers", role=Membership.VIEWER)
    GroupRole.objects.create(project=world.project_b, group="globex-ml", role=Membership.EDITOR)
    GroupRole.objects.create(project=world.project_a, group="not-theirs", role=Membership.VIEWER)


def test_tenancy_registers_its_answer_with_core():
    assert actor_via in audit._actor_context


def test_an_entry_names_the_subject_and_only_the_groups_granting_a_role_there(world):
    mappings(world)
    alice = sso_user("alice", [DN, "acme-readers", "globex-ml", "unmapped"])
    entry = audit.record(None, AuditEntry.UPDATE, world.project_a, user=alice)
    assert entry.actor_via == {"subject": "alice-subject", "groups": ["acme-readers", DN]}
    entry.refresh_from_db()
    assert entry.actor_via == {"subject": "alice-subject", "groups": ["acme-readers", DN]}
    # A tenant-level object: the tenant's groups, not those of one of its projects.
    assert audit.record(None, AuditEntry.UPDATE, world.tenant_a, user=alice).actor_via == {
        "subject": "alice-subject",
        "groups": ["acme-readers"],
    }
    # An object inside a project (a membership here): its project's and its tenant's groups.
    membership = Membership.objects.get(user=world.editor)
    assert audit.record(None, AuditEntry.UPDATE, membership, user=alice).actor_via["groups"] == [
        "acme-readers",
        DN,
    ]
    assert audit.record(None, AuditEntry.UPDATE, world.project_b, user=alice).actor_via == {
        "subject": "alice-subject",
        "groups": ["globex-ml"],
    }


def test_local_roles_superusers_and_system_entries_record_nothing(world):
    mappings(world)
    assert audit.record(None, AuditEntry.UPDATE, world.project_a, user=world.owner).actor_via == {}
    root = world.superuser
    OidcIdentity.objects.create(user=root, issuer="https://idp", subject="root-subject", groups=[DN])
    assert audit.record(None, AuditEntry.UPDATE, world.project_a, user=root).actor_via == {}
    assert audit.record(None, AuditEntry.UPDATE, world.project_a).actor_via == {}
    nobody = sso_user("nobody", ["unmapped"])
    assert audit.record(None, AuditEntry.UPDATE, world.project_a, user=nobody).actor_via == {}


def test_it_costs_one_query_at_most_per_entry(world, django_assert_num_queries):
    mappings(world)
    for i in range(30):
        GroupRole.objects.create(project=world.project_a, group=f"extra-{i}", role=Membership.VIEWER)
    alice = sso_user("alice", [DN])
    with django_assert_num_queries(2):  # the lookup and the INSERT
        audit.record(None, AuditEntry.UPDATE, world.project_a, user=alice)
    with django_assert_num_queries(2):
        audit.record(None, AuditEntry.UPDATE, world.project_a, user=world.owner)
    # A user whose groups access.py already read as none: no lookup at all.
    access.user_groups(world.owner)
    with django_assert_num_queries(1):
        audit.record(None, AuditEntry.UPDATE, world.project_a, user=world.owner)


def test_a_change_by_a_group_admin_is_logged_with_the_groups_on_the_page_and_in_the_csv(world):
    GroupRole.objects.create(tenant=world.tenant_a, group=DN, role=Membership.TENANT_ADMIN)
    lead = sso_user("lead", [DN, "unmapped"])
    client = world.client_for(lead)
    url = reverse("tenancy:project_groups", args=["acme", "research"])
    assert client.post(url, {"groups-viewer": "interns"}).status_code == 302
    entry = AuditEntry.objects.get()
    assert entry.username == "lead" and entry.actor_via == {"subject": "lead-subject", "groups": [DN]}

    page = client.get(reverse("tenancy:audit_list")).content.decode()
    assert "via group" in page
    assert f"<code>{DN}</code>" in page and "<code>lead-subject</code>" in page
    rows = list(
        csv.DictReader(io.StringIO(client.get(reverse("tenancy:audit_list"), {"format": "csv"}).text))
    )
    assert rows[0]["user"] == "lead" and rows[0]["sso subject"] == "lead-subject"
    assert rows[0]["sso groups"] == DN  # one group per line: a DN's commas stay inside the cell


def test_an_entry_by_a_local_user_shows_no_groups(world):
    audit.record(None, AuditEntry.UPDATE, world.project_a, user=world.owner)
    page = world.client_for(world.owner).get(reverse("tenancy:audit_list")).content.decode()
    assert "actor-via" not in page
    rows = list(
        csv.DictReader(
            io.StringIO(
                world.client_for(world.owner).get(reverse("tenancy:audit_list"), {"format": "csv"}).text
            )
        )
    )
    assert rows[0]["sso subject"] == "" and rows[0]["sso groups"] == ""
