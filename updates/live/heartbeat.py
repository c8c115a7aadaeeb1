"""Every so often, tell each reader the event's current revision.

The channel layer delivers at most once: a change published while a process's
connection to Redis is down never reaches it. A reader whose change was lost sees the
heartbeat's revision run ahead of its own and catches up, while still connected. Each
beat also renews this process's subscriptions (on channels-redis's core layer, Redis
forgets group members when it restarts or is flushed; on the pub/sub layer, the default,
renewing is a no-op). One query per process per beat, whatever the number of
readers.
"""

from channels.db import database_sync_to_async
from django.conf import settings

from updates.live import broadcast, delivery
from updates.models import Event

HEARTBEAT_SECONDS = settings.LIVE_HEARTBEAT_SECONDS


@database_sync_to_async
def _revisions(event_ids: list[int]) -> list[tuple[int, int]]:
    return list(Event.objects.filter(pk__in=event_ids).values_list("pk", "revision"))


async def beat() -> None:
    event_ids = delivery.local_event_ids()
    if not event_ids:
        return
    await delivery.rejoin()
    for event_id, revision in await _revisions(event_ids):
        # Readers who join next are told this revision, should a change have been lost.
        delivery.note_revision(event_id, revision)
        await delivery.send_local(event_id, broadcast.heartbeat_frame(revision))
