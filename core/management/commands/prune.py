"""manage.py prune [--dry-run]: delete runs and history older than their retention settings, now.

The same pass beat runs daily (core.retention): per kind, one line with how many rows went. Active
runs and the newest run of each target in each state always stay.
"""

from __future__ import annotations

from core.management.base import DryRunCommand
from core.retention import prune


class Command(DryRunCommand):
    help = (
        "Delete finished runs and history older than their RETENTION_*_DAYS settings (what beat does daily); "
        "prints what goes per kind. --dry-run counts without deleting."
    )
    dry_run_help = "print what would be removed, delete nothing"

    def handle(self, *args, dry_run: bool = False, **options):
        verb = "would remove" if dry_run else "removed"
        for pruned in prune(dry_run=dry_run):
            if pruned.days <= 0:
                self.stdout.write(f"{pruned.name}: kept for ever (retention 0)")
            else:
                self.stdout.write(f"{pruned.name}: {verb} {pruned.count} older than {pruned.days} days")
