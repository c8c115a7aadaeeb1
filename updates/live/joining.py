"""A reader joining an event: subscribed, told where it stands, then sent every change.

The consumer asks join() and nothing else; join() asks the process's delivery
(updates/live/delivery.py), which owns what this process has heard of each event, and
never the other way round.

After a restart of a Daphne process its readers all come back within seconds, and every
database query a handshake makes runs on the one thread all the process's readers share
(database_sync_to_async): that thread, not the handshakes, sets how long a reconnect
storm takes to catch up (bench/storm.py). So a join asks the database only for the
event (a lookup shared by the readers who arrive while it is under way):

- its revision comes from the process's delivery, which has heard of every change since
  it subscribed; only the first reader, or one that has seen a newer revision than the
  process heard of, waits for a read;
- a reader that says what it has (?since=R on the socket's URL) gets what it missed in
  its hello, the answer changes/?since=R would give: built once per revision and `since`
  and shared by the crowd, instead of one HTTP request per reader.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from channels.db import database_sync_to_async

from updates import metrics
from updates.answers import changes_json, is_reset
from updates.live import broadcast, delivery, runtime
from updates.models import Event

# Answers kept for readers still to come: one per `since` a crowd comes back with.
CATCH_UPS_KEPT = 64


@dataclass(frozen=True)
class EventToJoin:
    id: int
    status: str
    # Tells a database started afresh (whose ids and revisions begin again) from the one
    # a kept answer came from.
    created_at: datetime


async def event_to_join(slug: str) -> EventToJoin | None:
    # Readers who arrive while the event is being looked up share that lookup.
    return await _once(("event", slug), lambda: _find_event(slug))


@database_sync_to_async
def _find_event(slug: str) -> EventToJoin | None:
    found = Event.objects.filter(slug=slug).values_list("pk", "status", "created_at").first()
    return EventToJoin(*found) if found else None


async def join(
    event: EventToJoin,
    *,
    since: int | None,
    send: delivery.SendFrame,
    reader: bool = True,
    encoding: int = delivery.FULL,
) -> delivery.Subscription:
    """Subscribe a reader to the event, send it its hello, then every later change in the
    encoding given (delivery.FULL or CARD). reader False: a journalist's desk, which is
    not counted among the readers."""
    # Subscribed before the revision is learnt: a change committed in between is held by
    # the subscription and sent after the hello, so none is missed.
    subscription = await delivery.subscribe(event.id, send, reader=reader, encoding=encoding)
    try:
        frame, revision = await hello(event, since=since)
        await send(frame)
        await subscription.start(after_revision=revision)
    except BaseException:
        await subscription.close()
        raise
    return subscription


async def hello(event: EventToJoin, *, since: int | None) -> tuple[str, int]:
    """The hello frame for a reader subscribed to the event, and the revision it brings the
    reader to: later changes are the subscription's to send.

    since: the revision the reader shows, if it said. Unless it is the event's, the
    hello carries the answer changes/?since= would give (docs/api.md): what the reader
    missed, or, if it is ahead (another database), a reset that makes it start again.
    """
    revision = await _revision(event.id, at_least=since or 0)
    if since is None or since == revision:
        return broadcast.hello_frame(revision), revision
    answer_revision, answer = await _catch_up(event, since, revision)
    metrics.caught_up(via="socket", reset=is_reset(answer))
    return broadcast.hello_frame(answer_revision, catch_up=answer), answer_revision


@database_sync_to_async
def _read_revision(event_id: int) -> int:
    return Event.objects.values_list("revision", flat=True).get(pk=event_id)


async def _revision(event_id: int, *, at_least: int) -> int:
    known = delivery.known_revision(event_id)
    # A reader may have seen a revision the process has not heard of yet (its page was
    # served after a commit whose change is still on its way) and must not be told the
    # server forgot.
    if known is not None and known >= at_least:
        return known
    known = await _heard_after_reading(event_id)
    if known < at_least:
        # The read this one shared was under way already, and may predate that page.
        known = await _heard_after_reading(event_id)
    return known


async def _heard_after_reading(event_id: int) -> int:
    read = await _once(("revision", event_id), lambda: _read_revision(event_id))
    delivery.note_revision(event_id, read)
    return max(read, delivery.known_revision(event_id) or 0)


async def _catch_up(event: EventToJoin, since: int, revision: int) -> tuple[int, bytes]:
    kept = runtime.current().catch_ups
    key = (event.id, event.created_at, since, revision)
    if key not in kept:
        kept[key] = await _once(key, lambda: _build_catch_up(event.id, since))
        while len(kept) > CATCH_UPS_KEPT:
            kept.popitem(last=False)
    return kept[key]


@database_sync_to_async
def _build_catch_up(event_id: int, since: int) -> tuple[int, bytes]:
    # As of the event's revision now, at least the one asked for: a change in between
    # is both in the answer and on its way to the subscription, which drops it as seen.
    event = Event.objects.get(pk=event_id)
    return event.revision, changes_json(event, since=since)


async def _once[T](key: tuple[object, ...], call: Callable[[], Awaitable[T]]) -> T:
    """call()'s result; readers that ask while a call with the same key is under way in
    this event loop wait for that one instead of queueing their own."""
    running = runtime.current().calls_under_way.setdefault(asyncio.get_running_loop(), {})
    call_under_way: asyncio.Future[T] | None = running.get(key)
    # A finished call may still be here: its callback waits for the loop to turn.
    if call_under_way is None or call_under_way.done():
        call_under_way = running[key] = asyncio.ensure_future(call())

        def forget(finished: asyncio.Future[T]) -> None:
            if running.get(key) is finished:
                del running[key]

        call_under_way.add_done_callback(forget)
    # Shielded: a reader that leaves while waiting must not cancel the others' answer.
    return await asyncio.shield(call_under_way)
