"""Data steps that more than one app's migrations need."""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone

SUPERSEDED = (
    "Cancelled on upgrade: a newer run of the same target was active too (only one may be active now)."
)


def cancel_extra_active_runs(app_label: str, model_name: str, field: str) -> migrations.RunPython:
    """Before a core.models.one_active_run_per constraint: keep the newest active run per target, cancel
    the others.

    Older versions enforced "one active run" by a check only, so a race could have left two.
    """

    def forwards(apps, schema_editor):
        model = apps.get_model(app_label, model_name)
        newest_seen = set()
        rows = model.objects.filter(status__in=("pending", "running"), **{f"{field}__isnull": False})
        for row in rows.order_by("-created", "-pk"):
            target = getattr(row, f"{field}_id")
            if target in newest_seen:
                model.objects.filter(pk=row.pk).update(
                    status="cancelled",
                    finished=timezone.now(),
                    last_error=SUPERSEDED,
                    first_error=row.first_error or SUPERSEDED,
                )
            newest_seen.add(target)

    return migrations.RunPython(forwards, migrations.RunPython.noop)
