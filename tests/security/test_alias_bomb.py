"""A YAML alias bomb (a few hundred bytes that expand to billions of values) is refused while parsing.

Before the fix a 540-byte file kept a worker busy for over 30 minutes: the NUL check walked the
expanded tree before the role check ran. Aliases are now refused as the YAML is composed, before
anything is expanded, so the answer comes at once, for the CLI and the web import box alike.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from core.manifests import apply_text, delete_text
from tests.core.test_manifests import V1A1

pytestmark = pytest.mark.django_db


def bomb(levels: int = 9) -> str:
    """A Tenant whose displayName expands to 9**levels strings (540 bytes at 9 levels)."""
    lines = ["a: &a ['x','x','x','x','x','x','x','x','x']"]
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(levels - 1)
    ]
    body = "".join("  " + line + "\n" for line in lines)
    return (
        f"apiVersion: {V1A1}\nkind: Tenant\nmetadata: {{name: acme}}\nextra:\n"
        f"{body}spec:\n  displayName: *{chr(96 + levels)}\n"
    )


@pytest.mark.timeout(20)
@pytest.mark.parametrize("run", [apply_text, delete_text], ids=["apply", "delete"])
def test_it_refuses_an_alias_bomb_in_well_under_a_second(run):
    text = bomb()
    assert len(text.encode()) < 600
    started = time.perf_counter()
    errors = run(text, source="bomb.yaml").errors
    elapsed = time.perf_counter() - started
    assert errors == [
        "bomb.yaml: line 6, column 10: not valid YAML: aliases (*name) are not accepted in manifests; "
        "write the value out."
    ]
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


@pytest.mark.timeout(20)
def test_it_refuses_a_merge_key_alias_too():
    text = (
        f"apiVersion: {V1A1}\nkind: Tenant\nmetadata: {{name: acme}}\n"
        "base: &b {displayName: Acme}\nspec:\n  <<: *b\n"
    )
    assert "aliases (*name) are not accepted" in apply_text(text, source="f.yaml").errors[0]


@pytest.mark.timeout(20)
def test_it_answers_the_import_box_at_once(world):
    client = world.client_for(world.owner)
    started = time.perf_counter()
    response = client.post(
        reverse("integrations:tenant_settings_import", args=["acme"]), {"manifest": bomb()}
    )
    assert time.perf_counter() - started < 1.0
    assert response.status_code == 200
    assert b"aliases (*name) are not accepted in manifests" in response.content
