"""The newsroom's groups: journalists post and correct entries; editors also run events."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUPS = {
    "Journalist": [
        "add_entry", "change_entry", "delete_entry", "view_entry",
        "view_event",
    ],
    "Editor": [
        "add_entry", "change_entry", "delete_entry", "view_entry",
        "add_event", "change_event", "delete_event", "view_event",
        "add_journalistprofile", "change_journalistprofile", "view_journalistprofile",
    ],
}


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations have run; make them now.
    # (The historical app config has no models_module, which create_permissions checks.)
    app_config = apps.get_app_config("updates")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="updates", codename__in=codenames)
        )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("updates", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
