from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("compute", "0015_pool_day2"),
    ]

    operations = [
        migrations.AddField(
            model_name="computepool",
            name="palette_events",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Palette's newest events of the cluster and its first warning (provisioning.events).",
            ),
        ),
    ]
