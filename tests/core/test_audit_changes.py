"""Audit changes read as "field: old → new", the same on the audit page and in its CSV; secrets stay
masked."""

from __future__ import annotations

import csv
import io

from django.urls import reverse

from core import audit
from core.models import AuditEntry


def test_change_lines_spell_out_old_and_new_values_lists_and_mappings():
    changes = {
        "display_name": audit.change("Research", "R&D"),
        "gpu_limit": audit.change("", "4"),
        "add": {"palette.ai": "true", "zone": "a"},
        "allowed_project_ids": ["p1", "p2"],
        "hosts": 3,
        "api_key": "(changed)",
    }
    assert audit.change_lines(changes) == [
        "add: palette.ai=true, zone=a",
        "allowed_project_ids: p1, p2",
        "api_key: (changed)",
        "display_name: Research → R&D",
        "gpu_limit: (empty) → 4",
        "hosts: 3",
    ]
    assert audit.change_lines(None) == []


def test_the_audit_page_and_csv_show_field_old_to_new_and_mask_secrets(world):
    client = world.client_for(world.owner)
    edit = reverse("tenancy:project_edit", kwargs={"tenant": "acme", "project": "research"})
    assert client.post(edit, {"display_name": "R&D", "gpu_limit": 2, "description": ""}).status_code == 302
    audit.record(
        None,
        AuditEntry.UPDATE,
        world.project_a,
        changes={"api_key": audit.change("CANARY-OLD", "CANARY-NEW"), "add": {"palette.ai": "true"}},
        secret_fields=("api_key",),
        user=world.owner,
    )
    page = client.get(reverse("tenancy:audit_list")).content.decode()
    assert "display_name: Research → R&amp;D" in page and "gpu_limit: 0 → 2" in page
    assert "api_key: (changed)" in page and "add: palette.ai=true" in page
    assert "{" not in page.split('class="changes"', 1)[1].split("</table>")[0]  # no raw dict anywhere
    assert "CANARY" not in page
    response = client.get(reverse("tenancy:audit_list"), {"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    changes = [row["changes"] for row in rows]
    assert "display_name: Research → R&D; gpu_limit: 0 → 2" in changes
    assert "add: palette.ai=true; api_key: (changed)" in changes
    assert "CANARY" not in response.content.decode() and "{" not in response.content.decode()
