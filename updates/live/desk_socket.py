"""The journalists' socket on an event's desk: /ws/desk/<event_id>/ (docs/api.md).

Signed-in staff with the updates.add_entry permission only, by the admin's session
(routing.py wraps this route alone in Channels' AuthMiddlewareStack: a reader's
handshake never looks a session up). A desk hears:

- the readers' revision-ordered delivery of the event (joining.join, as LiveConsumer):
  hello, every change readers see, heartbeats, so a desk notices a gap as a reader does;
- desk_news: {"type": "desk.entry", ...} after every change, seen by readers or not;
- who else is on the desk, and which entry each is editing ("desk.here", "desk.gone").

Presence travels on the desk's group, so it spans every Daphne process sharing the
channel layer, and nothing is stored: each connection announces itself on joining
(the others answer it directly), again every ANNOUNCE_SECONDS, and says goodbye on
leaving; a client forgets a colleague not heard from for FORGET_AFTER_SECONDS (a
process killed never says goodbye). A desk of tens of staff costs one small message
per person every few seconds.
"""

import asyncio
import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import User
from django.http import QueryDict

from updates.live import desk_news, joining, process
from updates.live.delivery import Subscription
from updates.models import Entry, Event, JournalistProfile

BAD_MESSAGE = 4400
SIGNED_OUT = 4401
FORBIDDEN = 4403
NO_SUCH_EVENT = 4004

ANNOUNCE_SECONDS = 12
FORGET_AFTER_SECONDS = 3 * ANNOUNCE_SECONDS
# Far more than {"type": "editing", "entry": 123456}: anything longer is not ours.
LONGEST_MESSAGE = 200

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seat:
    """Someone at an event's desk."""

    event: joining.EventToJoin
    user_id: int
    name: str


def seat_for(user: object, event_id: int) -> Seat | int:
    """The seat at the event's desk for the session's user (AnonymousUser if none; a
    lazy user passes for its User), or the close code that refuses them. Permission
    before the event: nobody else learns which events exist."""
    if not (isinstance(user, User) and user.is_active and user.is_staff):
        return SIGNED_OUT
    if not user.has_perm("updates.add_entry"):
        return FORBIDDEN
    found = Event.objects.filter(pk=event_id).values_list("pk", "status", "created_at").first()
    if found is None:
        return NO_SUCH_EVENT
    profile_name = (
        JournalistProfile.objects.filter(user_id=user.pk)
        .values_list("display_name", flat=True)
        .first()
    )
    return Seat(joining.EventToJoin(*found), user.pk, profile_name or user.get_username())


def entry_id_from(value: object) -> int | None:
    """An entry's id as a client gives it (a number, or digits in a query string);
    None for none. Raises ValueError."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.isascii() and value.isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**63:
        raise ValueError("an entry is a positive whole number")
    return value


def editing_asked(query_string: bytes) -> int | None:
    """The entry the page is open on, from ?editing=<id>; None if not given."""
    return entry_id_from(QueryDict(query_string).get("editing"))


def editing_said(text: str | None) -> int | None:
    """The one message a desk sends, {"type": "editing", "entry": <id> | null}: the
    entry the page is open on now. Raises ValueError for anything else."""
    if text is None or len(text) > LONGEST_MESSAGE:
        raise ValueError("not a desk message")
    message = json.loads(text)
    if not isinstance(message, dict) or set(message) != {"type", "entry"}:
        raise ValueError("not a desk message")
    if message["type"] != "editing":
        raise ValueError(f"unknown message type {message['type']!r}")
    return entry_id_from(message["entry"])


def entry_of_event(entry_id: int, event_id: int) -> bool:
    return Entry.objects.filter(pk=entry_id, event_id=event_id).exists()


def announcement(
    seat: Seat, *, presence_id: str, channel: str, editing: int | None, newcomer: bool
) -> dict[str, Any]:
    """The group message saying who is here. A newcomer's asks the others to answer it,
    on `channel`, so that it learns who was there before it."""
    return {
        "type": "desk.here",
        "id": presence_id,
        "user": seat.user_id,
        "name": seat.name,
        "editing": editing,
        "channel": channel,
        "newcomer": newcomer,
    }


def presence_frame(message: dict[str, Any]) -> dict[str, Any]:
    """What a desk's page is told of an announcement: no channel, no user id."""
    return {
        "type": "desk.here",
        "id": message["id"],
        "name": message["name"],
        "editing": message["editing"],
        "forget_after": FORGET_AFTER_SECONDS,
    }


class DeskConsumer(AsyncWebsocketConsumer):
    """One journalist's desk page (or entry change page, ?editing=<id>) on one event."""

    seat: Seat | None = None
    editing: int | None = None
    subscription: Subscription | None = None
    announcing: "asyncio.Task[None] | None" = None

    async def connect(self) -> None:
        process.start()  # the heartbeats, under a server that sends no lifespan events
        # Accepted first, so that a browser sees the close code (a refused handshake is 1006).
        await self.accept()
        event_id = self.scope["url_route"]["kwargs"]["event_id"]
        seat = await _seat(self.scope.get("user"), event_id)
        if isinstance(seat, int):
            return await self.close(code=seat)
        try:
            editing = editing_asked(self.scope["query_string"])
        except ValueError as reason:
            return await self.close(code=BAD_MESSAGE, reason=str(reason))
        if editing is not None and not await _entry_of_event(editing, event_id):
            return await self.close(code=BAD_MESSAGE, reason="no such entry in this event")
        self.seat, self.editing = seat, editing
        self.presence_id = secrets.token_urlsafe(9)
        # In the desk's group before the hello: the page refetches its list on hello, and
        # hears of every change after it.
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.subscription = await joining.join(seat.event, since=None, send=self.send, reader=False)
        await self.announce(newcomer=True)
        self.announcing = asyncio.create_task(self.announce_every())

    @property
    def group(self) -> str:
        assert self.seat is not None
        return desk_news.group_name(self.seat.event.id)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.seat is None:
            return  # refused, and closing
        try:
            editing = editing_said(text_data)
        except ValueError as reason:
            return await self.close(code=BAD_MESSAGE, reason=str(reason)[:100])
        if editing is not None and not await _entry_of_event(editing, self.seat.event.id):
            return await self.close(code=BAD_MESSAGE, reason="no such entry in this event")
        self.editing = editing
        await self.announce(newcomer=False)

    async def disconnect(self, code: int) -> None:
        if self.announcing is not None:
            self.announcing.cancel()
        if self.seat is None:
            return
        try:
            goodbye = {"type": "desk.gone", "id": self.presence_id, "user": self.seat.user_id}
            await self.channel_layer.group_send(self.group, goodbye)
            await self.channel_layer.group_discard(self.group, self.channel_name)
        except Exception:
            # The others forget this desk after FORGET_AFTER_SECONDS anyway.
            logger.warning("Could not say goodbye on the desk of event %s", self.seat.event.id)
        if self.subscription is not None:
            await self.subscription.close()

    # From the desk's group ------------------------------------------------------------

    async def desk_entry(self, message: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(message))

    async def desk_here(self, message: dict[str, Any]) -> None:
        assert self.seat is not None
        if message["user"] == self.seat.user_id:
            return  # this one, or the same journalist in another tab: nobody else
        if message["newcomer"]:
            answer = self.announcement(newcomer=False)
            await self.channel_layer.send(message["channel"], answer)
        await self.send(text_data=json.dumps(presence_frame(message)))

    async def desk_gone(self, message: dict[str, Any]) -> None:
        assert self.seat is not None
        if message["user"] != self.seat.user_id:
            await self.send(text_data=json.dumps({"type": "desk.gone", "id": message["id"]}))

    # Presence -------------------------------------------------------------------------

    def announcement(self, *, newcomer: bool) -> dict[str, Any]:
        assert self.seat is not None
        return announcement(
            self.seat,
            presence_id=self.presence_id,
            channel=self.channel_name,
            editing=self.editing,
            newcomer=newcomer,
        )

    async def announce(self, *, newcomer: bool) -> None:
        await self.channel_layer.group_send(self.group, self.announcement(newcomer=newcomer))

    async def announce_every(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(ANNOUNCE_SECONDS)
            try:
                # Joined again too: group membership vanishes if Redis restarts or is flushed.
                await self.channel_layer.group_add(self.group, self.channel_name)
                await self.announce(newcomer=False)
            except Exception:
                if not failing:
                    logger.warning("Could not announce a desk on %s", self.group)
                failing = True
            else:
                failing = False


@database_sync_to_async
def _seat(user: object, event_id: int) -> Seat | int:
    return seat_for(user, event_id)


@database_sync_to_async
def _entry_of_event(entry_id: int, event_id: int) -> bool:
    return entry_of_event(entry_id, event_id)
