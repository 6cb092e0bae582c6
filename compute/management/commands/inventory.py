"""manage.py inventory -n NS [--json]: the stored inventory, without contacting Palette."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from compute.inventory import host_count, inventory_json
from compute.management.lookup import project_for


class Command(BaseCommand):
    help = (
        "Print the stored edge host inventory of the project owning namespace NS (same JSON as discover "
        "--json)."
    )

    def add_arguments(self, parser):
        parser.add_argument("-n", "--namespace", required=True)
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, namespace: str, as_json: bool = False, **options):
        hosts = inventory_json(project_for(namespace))
        if as_json:
            self.stdout.write(json.dumps(hosts, indent=2))
            return
        for h in hosts:
            verdict = "eligible" if h["eligible"] else "; ".join(h["reasons"])
            gpus = f"{h['gpuTotal']} GPU" if h["gpuTotal"] else "no GPU"
            self.stdout.write(
                f"{h['uid']:<40} {h['state']:<9} {h['health']:<10} {h['architecture']:<6} {gpus:<7} {verdict}"
            )
        self.stdout.write(f"{host_count(len(hosts))}, {sum(h['eligible'] for h in hosts)} eligible.")
