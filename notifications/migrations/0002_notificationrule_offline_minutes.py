from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="notificationrule",
            name="offline_minutes",
            field=models.PositiveIntegerField(default=10),
        ),
    ]
