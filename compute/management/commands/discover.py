"""manage.py discover -n NS [--json]: one discovery run, synchronously."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize

from compute.discovery import run_discovery
from compute.inventory import inventory_json
from compute.management.lookup import project_for
from compute.models import DiscoveryRun
from core.tasks import create_or_active


class Command(BaseCommand):
    help = "Discover the edge hosts of the project owning namespace NS now. Exit 1 when the run fails."

    def add_arguments(self, parser):
        parser.add_argument("-n", "--namespace", required=True)
        parser.add_argument(
            "--json",
            action="store_true",
            dest="as_json",
            help="print the inventory with eligibility and reasons",
        )

    def handle(self, *args, namespace: str, as_json: bool = False, **options):
        project = project_for(namespace)
        # A run still waiting for a worker is claimed and performed here; one a worker is
        # already performing is not started twice.
        run, _ = create_or_active(DiscoveryRun, {"project": project}, trigger="cli")
        run = run_discovery(run)
        if run.is_active:
            raise CommandError(
                f"A discovery run for {project} (started by {run.trigger}) is already running on a worker; "
                "wait for it, then run this again."
            )
        if run.status != DiscoveryRun.SUCCEEDED:
            self.stderr.write(f"Discovery failed: {run.first_error}")
            raise SystemExit(1)
        if as_json:
            self.stdout.write(json.dumps(inventory_json(project), indent=2))
        else:
            self.stdout.write(
                f"{project}: {run.hosts_seen} host{pluralize(run.hosts_seen)} in {run.pages} "
                f"page{pluralize(run.pages)} — {run.added} added, "
                f"{run.updated} updated, {run.removed} gone, {run.unchanged} unchanged."
            )
        if run.problem_count:
            # On stderr, so --json output stays one document; the run still succeeded.
            self.stderr.write(
                f"{run.skipped} host(s) skipped, {run.cleaned} stored after cleaning "
                "(Palette sent values that cannot be stored as they are):"
            )
            for p in run.host_problems:
                self.stderr.write(f"  {p['uid']}: {p['action']}: {p['detail']}")
