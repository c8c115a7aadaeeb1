from collections.abc import Mapping
from typing import Any, NamedTuple

from asgiref.sync import sync_to_async
from asgiref.typing import ASGIReceiveCallable, ASGISendCallable
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.http import QueryDict

from updates import metrics
from updates.forms import SocketQueryForm, first_error
from updates.live import delivery, joining, process
from updates.live.delivery import Subscription
from updates.models import Event
from updates.ratelimit import rate_limited, scope_client_address

BAD_QUERY = 4400
READER_SENT_A_MESSAGE = 4003
NO_SUCH_EVENT = 4004
TOO_MANY_CONNECTIONS = 4029
EVENT_ENDED = 4410

# The rate limit's cache round trip runs in the thread pool, off the one thread that
# database_sync_to_async shares among every reader of the process, where a reconnect
# storm's handshakes queue for their two queries (bench/storm.py).
_connect_limited = sync_to_async(rate_limited, thread_sensitive=False)


class SocketQuery(NamedTuple):
    since: int | None  # None: the reader shows nothing yet
    encoding: int  # delivery.FULL or delivery.CARD


def socket_query(scope: Mapping[str, Any]) -> SocketQuery:
    """What the reader asked for on the socket's URL (forms.SocketQueryForm). Raises
    ValueError with the reason."""
    form = SocketQueryForm(QueryDict(scope["query_string"]))
    if not form.is_valid():
        raise ValueError(first_error(form))
    card = form.cleaned_data["entry"] == "card"
    return SocketQuery(form.cleaned_data["since"], delivery.CARD if card else delivery.FULL)


class LiveConsumer(AsyncWebsocketConsumer):
    """A reader of one event: receives changes, sends nothing that changes anything."""

    subscription: Subscription | None = None
    # The code this end closed the socket with (1000 when none was given), if it did.
    closed_with: int | None = None

    async def __call__(
        self, scope: Any, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        # No channel of its own on the layer: changes come through the process's one
        # delivery (updates/live/delivery.py). A channel per reader would cost a queue, a
        # pending receive and a task per reader for messages that never come. And
        # Channels' own __call__ awaits receive() in a task of its own beside the channel
        # layer's (await_many_dispatch): a task, an asyncio.wait and their futures per
        # reader to wait for one source of messages (docs/performance.md, "Memory per idle
        # reader").
        self.scope = scope
        self.base_send = send
        try:
            while True:
                # asgiref types the messages as TypedDicts; Channels' handlers take dicts.
                await self.dispatch(await receive())  # type: ignore[arg-type]
        except StopConsumer:
            pass

    async def dispatch(self, message: dict[str, Any]) -> None:
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
        # Under a server that sends no lifespan events (stock Daphne), the process's jobs
        # start with its first reader (updates/live/process.py).
        process.start()
        # Accepted first, so that a browser sees the close code (a refused handshake is 1006).
        await self.accept()
        metrics.SOCKET_CONNECTS.inc()
        if await _connect_limited(
            "socket-connects",
            address=scope_client_address(self.scope),
            per_minute=settings.RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE,
        ):
            return await self.close(code=TOO_MANY_CONNECTIONS)
        try:
            since, encoding = socket_query(self.scope)
        except ValueError as reason:
            return await self.close(code=BAD_QUERY, reason=str(reason))
        slug = self.scope["url_route"]["kwargs"]["slug"]
        event = await joining.event_to_join(slug)
        if event is None:
            return await self.close(code=NO_SUCH_EVENT)
        if event.status == Event.Status.ENDED:
            return await self.close(code=EVENT_ENDED)
        self.subscription = await joining.join(
            event, since=since, send=self.send, encoding=encoding
        )
        self.readers_of_event = metrics.READERS.labels(event=slug)
        self.readers_of_event.inc()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.close(code=READER_SENT_A_MESSAGE)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.closed_with = code or 1000
        await super().close(code=code, reason=reason)

    async def disconnect(self, code: int) -> None:
        by = "reader" if self.closed_with is None else "server"
        metrics.SOCKET_CLOSES.labels(code=str(self.closed_with or code), by=by).inc()
        if self.subscription is not None:
            self.readers_of_event.dec()
            await self.subscription.close()
