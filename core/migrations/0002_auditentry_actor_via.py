from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="actor_via",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="How the user held the role used, when single sign-on groups granted it: "
                '{"subject": provider subject, "groups": [groups]} (empty for local roles).',
            ),
        ),
    ]
