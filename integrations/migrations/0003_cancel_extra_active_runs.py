"""Before one_active_run: older versions could leave two active runs of one target; keep the newest.

A separate migration from the constraint: on PostgreSQL, data changes and schema changes in one
transaction can fail with "pending trigger events".
"""

from django.db import migrations

from core.migration_steps import cancel_extra_active_runs


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0002_onboardingsession'),
    ]

    operations = [
        cancel_extra_active_runs('integrations', 'PaletteCheck', 'tenant'),
        cancel_extra_active_runs('integrations', 'PaletteCheck', 'project'),
    ]
