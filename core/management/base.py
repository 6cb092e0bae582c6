"""What this app's management commands share."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class DryRunCommand(BaseCommand):
    """A command with a ``--dry-run`` switch; ``dry_run_help`` says what it does then.

    A subclass adding arguments of its own calls ``super().add_arguments(parser)`` after them.
    """

    dry_run_help = ""

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help=self.dry_run_help)
