"""Scheduled entries go live at their time, with no one touching anything.

Every Daphne process looks once a second (one indexed query); services.entry_publish_due
makes sure each entry is published once, whichever process gets there first.
"""

from channels.db import database_sync_to_async

from updates.services import entry_publish_due

SCHEDULER_SECONDS = 1.0


async def publish_due() -> None:
    await database_sync_to_async(entry_publish_due)()
