"""manage.py delete -f FILE: delete what the manifests name, all or none."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core import manifests

from .apply import read_source, report


class Command(BaseCommand):
    help = (
        "Delete the objects the manifests of FILE name (apiVersion, kind, metadata are read). Refuses, "
        "with the reason, a Tenant that still has projects or a Secret that Settings use. Exit 0 on "
        "success, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "-f", "--filename", required=True, help="the manifest file, or - to read standard input"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and show what would be deleted; delete nothing"
        )

    def handle(self, *args, **options):
        label, data, problem = read_source(options["filename"])
        result = (
            manifests.Result(errors=[problem])
            if problem
            else manifests.delete_text(data, source=label, dry_run=options["dry_run"], audit_source="cli")
        )
        report(self, result)
