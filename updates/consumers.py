from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from updates import broadcast, delivery
from updates.models import Event
from updates.ratelimit import rate_limited, scope_client_address

READER_SENT_A_MESSAGE = 4003
NO_SUCH_EVENT = 4004
TOO_MANY_CONNECTIONS = 4029
EVENT_ENDED = 4410

# The rate limit's cache round trip runs in the thread pool, off the one thread that
# database_sync_to_async shares among every reader of the process, where a reconnect
# storm's handshakes queue for their two queries (bench/storm.py).
_connect_limited = sync_to_async(rate_limited, thread_sensitive=False)


@database_sync_to_async
def _event_status(slug: str) -> tuple[int, str] | None:
    return Event.objects.filter(slug=slug).values_list("pk", "status").first()


@database_sync_to_async
def _event_revision(event_id: int) -> int:
    return Event.objects.values_list("revision", flat=True).get(pk=event_id)


class LiveConsumer(AsyncWebsocketConsumer):
    """A reader of one event: receives changes, sends nothing that changes anything."""

    subscription: delivery.Subscription | None = None
    # No channel of its own on the layer: changes come through the process's one
    # delivery (updates/delivery.py). A channel per reader would cost a queue, a pending
    # receive and a task per reader for messages that never come (docs/performance.md).
    channel_layer_alias = None

    async def dispatch(self, message: dict) -> None:
        # Channels' dispatch first closes stale database connections, through the shared
        # thread (see above), before every handler: connect, disconnect, each message. In a
        # reconnect storm that doubled each handshake's wait there, Daphne refused those
        # older than its connect timeout, and they came back to queue again. This
        # consumer's queries (database_sync_to_async) close stale connections themselves.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        # Accepted first, so that a browser sees the close code (a refused handshake is 1006).
        await self.accept()
        if await _connect_limited(
            "socket-connects",
            address=scope_client_address(self.scope),
            per_minute=settings.RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE,
        ):
            return await self.close(code=TOO_MANY_CONNECTIONS)
        found = await _event_status(self.scope["url_route"]["kwargs"]["slug"])
        if found is None:
            return await self.close(code=NO_SUCH_EVENT)
        event_id, status = found
        if status == Event.Status.ENDED:
            return await self.close(code=EVENT_ENDED)
        # Subscribe before reading the revision: a change committed in between is held
        # by the subscription and sent after hello, so none is missed.
        self.subscription = await delivery.subscribe(event_id, self.send)
        revision = await _event_revision(event_id)
        await self.send(broadcast.hello_frame(revision))
        await self.subscription.start(after_revision=revision)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        await self.close(code=READER_SENT_A_MESSAGE)

    async def disconnect(self, code: int) -> None:
        if self.subscription is not None:
            await self.subscription.close()
