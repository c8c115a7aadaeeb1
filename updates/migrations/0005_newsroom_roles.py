from django.db import migrations

from updates.migrations._groups import create_groups


class Migration(migrations.Migration):
    """Journalists no longer delete; editors pin, restore and read the corrections trail."""

    dependencies = [("updates", "0004_drafts_schedule_history")]

    operations = [migrations.RunPython(create_groups, migrations.RunPython.noop)]
