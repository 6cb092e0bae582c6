"""manage.py export [-n NS] [--show-secrets]: the stored objects as manifests that apply accepts."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from core import manifests


class Command(BaseCommand):
    help = (
        "Write Tenants, Projects, Secrets and Settings as YAML manifests (in an order apply accepts). "
        "Secret values are REDACTED unless --show-secrets."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "-n", "--namespace", help="only the objects of this namespace (tenant-<name> or a project's)"
        )
        parser.add_argument(
            "--show-secrets",
            action="store_true",
            help="write secret values in plain text (so `export --show-secrets | apply -f -` round-trips)",
        )

    def handle(self, *args, **options):
        self.stdout.write(
            manifests.export_text(options["namespace"], show_secrets=options["show_secrets"]), ending=""
        )
