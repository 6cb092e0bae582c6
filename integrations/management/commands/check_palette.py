"""manage.py check_palette -n NS [--json]: the staged connection diagnosis, synchronously."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from core import palette_budget
from core.tasks import create_or_active
from integrations import diagnosis
from integrations.effective import resolve
from integrations.models import PaletteCheck
from tenancy.models import owner_filter, owner_for_namespace


class Command(BaseCommand):
    help = (
        "Check the Palette connection of the tenant or project owning namespace NS. "
        "Exit 0 when connected, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument("-n", "--namespace", required=True, help="tenant-<name> or a project's namespace")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the result as JSON")

    def handle(self, *args, namespace: str, as_json: bool = False, **options):
        owner = owner_for_namespace(namespace)
        if owner is None:
            raise CommandError(f"No tenant or project owns namespace {namespace!r}.")
        target = owner_filter(owner)
        # A check still waiting for a worker is claimed and performed here (see discover).
        check, _ = create_or_active(PaletteCheck, target, trigger="cli")

        def show(stages):
            if not as_json:
                stage = stages[-1]
                mark = (
                    "WARN"
                    if stage.get("warning")
                    else {True: "PASS", False: "FAIL", None: "SKIP"}[stage["passed"]]
                )
                self.stdout.write(f"{mark}  {stage['name']}: {stage['detail']}")

        check = diagnosis.perform_check(check, on_stage=show)
        if check.is_active:
            raise CommandError(
                f"A connection check of {namespace} (started by {check.trigger}) is already running on a "
                "worker; wait for it, then run this again, or see its result on the Settings page."
            )
        if as_json:
            self.stdout.write(
                json.dumps(
                    {
                        "namespace": namespace,
                        "outcome": check.outcome,
                        "stages": check.stages,
                        "checkedAt": check.finished.isoformat() if check.finished else None,
                        "rateLimit": _rate_limit(owner),
                        "apiKeyExpiry": next(
                            (s.get("key_expiry") for s in check.stages if s.get("key") == "apikey"), None
                        ),
                    },
                    indent=2,
                )
            )
        else:
            if check.stages and len(check.stages) == 1 and check.outcome == PaletteCheck.FAILED_OUTCOME:
                self.stdout.write(f"FAIL  {check.stages[0]['detail']}")
            self.stdout.write(f"Outcome: {check.outcome}")
        if check.outcome != PaletteCheck.CONNECTED:
            raise SystemExit(1)


def _rate_limit(owner) -> dict | None:
    """The installation's Palette rate budget as this owner's Palette host sees it (README, "Palette's rate
    limits"): shared or per process, the limits in force, the 429s of the last hour, slowed families."""
    palette = resolve(owner).palette
    if palette is None or not palette.value("hostUrl"):
        return None
    return palette_budget.summary(str(palette.value("hostUrl")), palette.rate_limits)
