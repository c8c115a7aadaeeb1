"""Shared by the migrations that set the newsroom's groups (see updates/roles.py)."""

from django.contrib.auth.management import create_permissions

from updates.roles import GROUPS, groups_create


def create_groups(apps, schema_editor):
    # Permissions are normally created after all migrations have run; make them now.
    # (The historical app config has no models_module, which create_permissions checks.)
    app_config = apps.get_app_config("updates")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    groups_create(apps.get_model("auth", "Group"), apps.get_model("auth", "Permission"))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()
