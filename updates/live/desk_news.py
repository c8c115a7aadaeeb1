"""The desks' own news: every change to an event's entries that readers are not told of
(a draft, a scheduled entry, one awaiting approval or returned), for the journalists'
desks open on the event (the staff socket, updates/live/desk_socket.py).

The changes readers are told of reach the desks through the readers' own delivery
(delivery.py), numbered by revision, which the desk's socket joins as a reader's does.
A desk refetches the row either names, so nothing here needs to be ordered: a row is
always fetched as it is now.
"""

import asyncio
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from updates.models import Entry

logger = logging.getLogger(__name__)

# A journalist's save must not wait on a slow channel layer for long.
SEND_TIMEOUT_SECONDS = 2.0


def group_name(event_id: int) -> str:
    return f"desk-{event_id}"


def entry_changed(entry: Entry) -> None:
    """Call after commit. Never raises: a desk that misses this refetches on reconnect."""
    message = {"type": "desk.entry", "entry": entry.pk, "version": entry.version}
    try:
        async_to_sync(_send)(entry.event_id, message)
    except Exception:
        logger.warning("Could not tell the desks of event %s of entry %s", entry.event_id, entry.pk)


async def _send(event_id: int, message: dict[str, object]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    async with asyncio.timeout(SEND_TIMEOUT_SECONDS):
        await layer.group_send(group_name(event_id), message)
