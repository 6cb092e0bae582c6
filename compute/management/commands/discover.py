"""manage.py discover -n NS [--json]: one discovery run, synchronously."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from compute.discovery import run_discovery
from compute.inventory import inventory_json
from compute.models import DiscoveryRun
from compute.management.lookup import project_for


class Command(BaseCommand):
    help = "Discover the edge hosts of the project owning namespace NS now. Exit 1 when the run fails."

    def add_arguments(self, parser):
        parser.add_argument("-n", "--namespace", required=True)
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the inventory with eligibility and reasons")

    def handle(self, *args, namespace: str, as_json: bool = False, **options):
        project = project_for(namespace)
        active = DiscoveryRun.objects.filter(project=project, status__in=DiscoveryRun.ACTIVE).first()
        if active is not None:
            raise CommandError(f"A discovery run for {project} is already {active.status} (started by {active.trigger}); wait for it.")
        run = run_discovery(DiscoveryRun.objects.create(project=project, trigger="cli"))
        if run.status != DiscoveryRun.SUCCEEDED:
            self.stderr.write(f"Discovery failed: {run.first_error}")
            raise SystemExit(1)
        if as_json:
            self.stdout.write(json.dumps(inventory_json(project), indent=2))
        else:
            self.stdout.write(f"{project}: {run.hosts_seen} hosts in {run.pages} pages — {run.added} added, "
                              f"{run.updated} updated, {run.removed} gone, {run.unchanged} unchanged.")
