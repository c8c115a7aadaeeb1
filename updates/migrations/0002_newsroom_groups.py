from django.db import migrations

from updates.migrations._groups import create_groups, remove_groups


class Migration(migrations.Migration):
    dependencies = [
        ("updates", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
