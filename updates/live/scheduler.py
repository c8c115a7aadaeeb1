"""Scheduled entries go live at their time, with no one touching anything.

Once a second, the process that runs the cluster's jobs (updates/live/lease.py) looks
(one indexed query); services.entry_publish_due makes sure each entry is published once,
even when several processes look at once (while Redis cannot say which one runs them).
"""

from channels.db import database_sync_to_async

from updates.live import lease
from updates.services import entry_publish_due

SCHEDULER_SECONDS = 1.0


async def publish_due() -> None:
    if await lease.held():
        await database_sync_to_async(entry_publish_due)()
