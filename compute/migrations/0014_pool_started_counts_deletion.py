from django.db import migrations, models


class Migration(migrations.Migration):
    """ComputePool.started now also marks when a deletion began (the pool page's "Deleting for …")."""

    dependencies = [("compute", "0013_structured_reasons")]

    operations = [
        migrations.AlterField(
            model_name="computepool",
            name="started",
            field=models.DateTimeField(
                blank=True,
                help_text="When the current attempt began: provisioning, or deletion (the pool page counts from it).",
                null=True,
            ),
        ),
    ]
