"""What a signed-in user is sent is never cached, htmx variants are told apart, and the CSV export runs no
formula."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_it_tells_caches_to_keep_nothing_a_signed_in_user_is_sent(world, client):
    owner, root = world.client_for(world.owner), world.client_for(world.superuser)
    settings_yaml = reverse("integrations:tenant_settings_yaml", args=["acme"])
    responses = {
        "page": owner.get(reverse("tenancy:tenant_detail", args=["acme"])),
        "fragment": owner.get(reverse("compute:inventory", args=["acme", "research"]), **HX),
        "audit CSV": root.get(reverse("tenancy:audit_list") + "?format=csv"),
        "YAML export": owner.get(settings_yaml),
        "YAML fragment": owner.get(settings_yaml, **HX),
        "403": world.client_for(world.viewer).post(reverse("tenancy:tenant_edit", args=["acme"])),
        "404": owner.get(reverse("tenancy:tenant_detail", args=["globex"])),
    }
    assert {k: r.status_code for k, r in responses.items()} == {
        "page": 200,
        "fragment": 200,
        "audit CSV": 200,
        "YAML export": 200,
        "YAML fragment": 200,
        "403": 403,
        "404": 404,
    }
    assert [k for k, r in responses.items() if not _no_store(r)] == []
    assert responses["audit CSV"]["Content-Type"] == "text/csv"
    # Control: it is about who is signed in — an anonymous probe stays cacheable as it was.
    assert not _no_store(client.get(reverse("healthz")))


def test_it_says_that_answers_vary_with_htmx(world):
    owner = world.client_for(world.owner)
    url = reverse("compute:inventory", args=["acme", "research"])
    page, fragment = owner.get(url), owner.get(url, **HX)
    assert page.content != fragment.content and b"<html" in page.content and b"<html" not in fragment.content
    for response in (page, fragment):
        assert "hx-request" in response.get("Vary", "").lower(), response.get("Vary")
        assert "cookie" in response["Vary"].lower()  # added to what sessions already say, not instead


def test_it_exports_no_formula_in_the_audit_csv(world):
    from core.models import AuditEntry

    hostile = ['=HYPERLINK("https://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\r=1"]
    for text in hostile + ["acme/research", "a=b"]:
        AuditEntry.objects.create(
            action=AuditEntry.UPDATE,
            object_type="project",
            object_repr=text,
            username=text,
            verb=text,
            tenant_name="acme",
        )
    response = world.client_for(world.superuser).get(reverse("tenancy:audit_list") + "?format=csv")
    rows = list(csv.reader(io.StringIO(response.content.decode(), newline="")))[1:]
    cells = {row[5]: row for row in rows}
    for text in hostile:
        row = cells["'" + text]
        assert row[1] == row[3] == "'" + text  # every column, not only the object
    # Control: text that starts harmlessly is exported unchanged.
    assert "acme/research" in cells and "a=b" in cells
