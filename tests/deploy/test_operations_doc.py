"""docs/operations.md documents every environment variable the application reads, and the procedures it
promises."""

from __future__ import annotations

import re

from .envvars import ROOT, app_variables, settings_variables

DOC = (ROOT / "docs" / "operations.md").read_text()
DOCUMENTED = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", DOC))


def test_it_documents_every_variable_the_settings_read():
    variables = settings_variables()
    assert len(variables) >= 40, (
        "the settings scan found too few variables: is envvars.py still reading settings.py?"
    )
    missing = sorted(variables - DOCUMENTED)
    assert not missing, (
        f"docs/operations.md does not document {missing}: add them to the configuration reference"
    )


def test_it_documents_every_variable_read_anywhere_in_the_application():
    missing = sorted(app_variables() - DOCUMENTED)
    assert not missing, f"docs/operations.md does not document {missing}"


def test_it_documents_no_variable_that_nothing_reads():
    """A documented variable nobody reads misleads operators (typo, or a setting that was removed)."""
    read = app_variables()
    table_rows = re.findall(r"^\| `([A-Z][A-Z0-9_]+)`(?:, `([A-Z][A-Z0-9_]+)`)?", DOC, re.M)
    documented = {name for row in table_rows for name in row if name}
    assert documented, "no configuration table found"
    assert not sorted(documented - read), f"documented but never read: {sorted(documented - read)}"


def test_it_explains_backup_rotation_scaling_beat_probes_and_rbac():
    for needle in (
        "pg_dump",
        "FIELD_ENCRYPTION_KEY",
        "without the key",
        "rotate_keys",
        "rotate_keys --check",
        "prepend",
        "Scaling workers",
        "exactly one",
        "Recreate",
        "/healthz",
        "/readyz",
        "RoleBinding",
        "ClusterRoleBinding",
        "NAME_FILE",
        "Docker could not be run",
    ):
        assert needle.lower() in DOC.lower(), f"docs/operations.md should cover {needle!r}"
    # Every command the doc tells operators to run exists.
    for command in set(re.findall(r"manage\.py (\w+)", DOC)):
        assert any(
            (ROOT / app / "management" / "commands" / f"{command}.py").exists()
            for app in ("core", "tenancy", "integrations", "compute")
        ) or command in ("migrate", "shell", "collectstatic"), (
            f"docs mention manage.py {command}, which does not exist"
        )
