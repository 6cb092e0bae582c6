"""manage.py delete -f FILE: delete what the manifests name, all or none."""

from __future__ import annotations

from core import manifests

from .apply import ManifestCommand


class Command(ManifestCommand):
    help = (
        "Delete the objects the manifests of FILE name (apiVersion, kind, metadata are read). Refuses, "
        "with the reason, a Tenant that still has projects or a Secret that Settings use. Exit 0 on "
        "success, 1 otherwise."
    )
    dry_run_help = "check and show what would be deleted; delete nothing"

    def run(self, data: bytes, **options) -> manifests.Result:
        return manifests.delete_text(data, **options)
