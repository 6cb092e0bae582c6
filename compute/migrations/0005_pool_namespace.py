from django.db import migrations, models


def fill_namespaces(apps, schema_editor):
    for model in ("ProfileBundle", "ComputePool"):
        Model = apps.get_model("compute", model)
        for row in Model.objects.select_related("project").only("pk", "project__namespace"):
            Model.objects.filter(pk=row.pk).update(namespace=row.project.namespace)


class Migration(migrations.Migration):

    dependencies = [
        ("compute", "0004_computepools"),
    ]

    operations = [
        migrations.AddField(
            model_name="computepool",
            name="namespace",
            field=models.CharField(default="", editable=False, help_text="The project's namespace (manifests address pools by it).", max_length=63),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="profilebundle",
            name="namespace",
            field=models.CharField(default="", editable=False, help_text="The project's namespace (manifests address bundles by it).", max_length=63),
            preserve_default=False,
        ),
        migrations.RunPython(fill_namespaces, migrations.RunPython.noop),
    ]
