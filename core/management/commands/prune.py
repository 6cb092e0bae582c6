"""manage.py prune [--dry-run]: delete runs and history older than their retention settings, now.

The same pass beat runs daily (core.retention): per kind, one line with how many rows went. Active
runs and the newest run of each target in each state always stay.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core.retention import prune


class Command(BaseCommand):
    help = (
        "Delete finished runs and history older than their RETENTION_*_DAYS settings (what beat does daily); "
        "prints what goes per kind. --dry-run counts without deleting."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="print what would be removed, delete nothing"
        )

    def handle(self, *args, dry_run: bool = False, **options):
        verb = "would remove" if dry_run else "removed"
        for pruned in prune(dry_run=dry_run):
            if pruned.days <= 0:
                self.stdout.write(f"{pruned.name}: kept for ever (retention 0)")
            else:
                self.stdout.write(f"{pruned.name}: {verb} {pruned.count} older than {pruned.days} days")
