"""How a change travels from the process that commits it to every reader's socket.

One delivery per process, not per reader: each Daphne process keeps one channel on the
channel layer and joins it to the group of every event it has readers of. A publish
is one group message carrying the already encoded frame, in both encodings (the whole
ENTRY, and the compact one a reader's socket asks for with ?entry=card); the receiving
process hands each of its readers of the event one of those two strings, the one its
socket asked for. (Putting every reader's consumer in the group instead costs a
channel-layer message per reader: a p99 several times higher at 5,000 readers, measured
in issue 2.)

Changes to one event that arrive while its previous fan-out is still under way (a
burst: an editor's quick fixes, a scheduled batch going live) go to each reader as one
frame, {"type": "batch", "messages": [...]}, in order; nothing is held back to wait
for company, so a lone change goes out as soon as it arrives.

This works the same on the in-memory layer (one process) and on Redis (any number).
Nothing outside this module knows about groups or channels.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.core.exceptions import ImproperlyConfigured

from updates import metrics
from updates.live import runtime

logger = logging.getLogger(__name__)

MESSAGE_TYPE = "liveblog.frame"
# A journalist's save must not wait on a slow or frozen channel layer for long.
PUBLISH_TIMEOUT_SECONDS = 2.0

# Daphne (Twisted) only buffers a send until the event loop turns: without a turn now
# and then, no reader gets a byte before the last one's frame is buffered, and the p99
# of a fan-out to thousands of readers is the last one's (bench/fanout.py shows it).
READERS_PER_LOOP_TURN = 100

# The changes in a batch frame are the encoded frames themselves, joined: no decoding.
BATCH_START = '{"type":"batch","messages":['
BATCH_END = "]}"

SendFrame = Callable[[str], Awaitable[None]]

# The encodings of a frame a reader's socket may ask for, as indexes into Frames: a
# fan-out hands each reader frames[its encoding], a choice made once, at its connect.
FULL, CARD = 0, 1


class Frames(NamedTuple):
    """One websocket frame, encoded once in each encoding (indexed by FULL and CARD)."""

    # The whole ENTRY (docs/api.md): every reader that did not ask for less.
    full: str
    # ?entry=card: the ENTRY as the live page reads it (serialize.card_fields).
    card: str

    @classmethod
    def same(cls, frame: str) -> "Frames":
        """A frame without an entry's fields (a tombstone, the event's change, a heartbeat):
        one string for every reader."""
        return cls(frame, frame)


class Change(NamedTuple):
    """A change as it travels: its revision, and its websocket frame in each encoding."""

    revision: int
    frames: Frames
    # When it was committed (time.time(), in the process that committed it), for the
    # metrics of its delivery; None from a process that predates them.
    committed_at: float | None = None


def frame_of(changes: list[Change]) -> Frames:
    """One websocket frame for changes to one event, in order: the change itself if alone."""
    if len(changes) == 1:
        return changes[0].frames
    # Each encoding's batch joins that encoding's frames: a compact reader's is compact.
    return Frames(
        *(_batch([change.frames[encoding] for change in changes]) for encoding in (FULL, CARD))
    )


def _batch(frames: list[str]) -> str:
    return BATCH_START + ",".join(frames) + BATCH_END


def group_name(event_id: int) -> str:
    # The primary key, not the slug: slugs change, group names have a narrow alphabet.
    return f"event-{event_id}"


def publish(event_id: int, change: Change) -> bool:
    """Send a change's frame to every reader of the event, in every process, each in the
    encoding its socket asked for. True once the channel layer has taken the group message.

    Call after commit from synchronous code. Never raises: a failed delivery is logged,
    and readers catch up from the revision.
    """
    try:
        async_to_sync(_publish)(event_id, change)
    except Exception:
        logger.exception("Could not deliver revision %s of event %s", change.revision, event_id)
        return False
    return True


async def _publish(event_id: int, change: Change) -> None:
    frames = change.frames
    message = {
        "type": MESSAGE_TYPE,
        "event": event_id,
        "revision": change.revision,
        "committed_at": change.committed_at,
        "frame": frames.full,
    }
    # Both encodings in the one message: a receiving process never encodes a frame again.
    # Left out when it is the same string (see _change_received).
    if frames.card != frames.full:
        message["card_frame"] = frames.card
    async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
        await _layer().group_send(group_name(event_id), message)


def _change_received(message: dict[str, Any]) -> Change:
    """The change a group message carries (see _publish). Without a card_frame, the frame
    is the same in both encodings: so too from a process that predates them, while a
    rolling deploy has both kinds running."""
    frame = message["frame"]
    frames = Frames(frame, message.get("card_frame", frame))
    return Change(message["revision"], frames, message.get("committed_at"))


async def subscribe(
    event_id: int, send: SendFrame, *, reader: bool = True, encoding: int = FULL
) -> "Subscription":
    """Start receiving the event's frames, in the encoding given (FULL or CARD). Nothing is
    sent until Subscription.start(). reader False: a journalist's desk, which hears what
    readers hear but is not one."""
    return await _hub().subscribe(event_id, send, reader=reader, encoding=encoding)


def local_event_ids() -> list[int]:
    """The events this process (event loop) has readers of."""
    return list(_hub().readers)


def local_reader_counts() -> dict[int, int]:
    """Readers per event in this event loop."""
    return _hub().reader_counts()


def local_reader_counts_everywhere() -> dict[int, int]:
    """Readers per event in every event loop of this process; callable from any thread."""
    counts: dict[int, int] = {}
    for hub in list(runtime.current().hubs.values()):
        for event_id, count in hub.reader_counts().items():
            counts[event_id] = counts.get(event_id, 0) + count
    return counts


async def rejoin() -> None:
    """Renew this process's subscriptions (see Hub.rejoin)."""
    await _hub().rejoin()


def known_revision(event_id: int) -> int | None:
    """The newest revision of the event this process has heard of since it subscribed to
    it, from its changes or note_revision(); None if nothing yet. Every change after it
    reaches a reader subscribed now (or is lost with Redis, see heartbeat.py)."""
    return _hub().revisions.get(event_id)


def note_revision(event_id: int, revision: int) -> None:
    """Tell the process the event's revision, read from the database after subscribing."""
    _hub().note_revision(event_id, revision)


async def send_local(event_id: int, frame: str) -> None:
    """Send a frame that is not a change (a heartbeat) to this process's readers of the event."""
    await _hub().fan_out(event_id, None, Frames.same(frame))


class Subscription:
    """One reader's place in its process's delivery of one event.

    Frames that arrive between subscribing and start() are held, so a reader can be
    told its starting revision first and then get every later change, in order.
    """

    def __init__(
        self,
        hub: "Hub",
        event_id: int,
        send: SendFrame,
        *,
        reader: bool = True,
        encoding: int = FULL,
    ) -> None:
        self.hub = hub
        self.event_id = event_id
        self.reader = reader
        self.encoding = encoding
        self._send = send
        self._held: list[Change] | None = []
        self._after_revision = 0

    async def start(self, *, after_revision: int) -> None:
        """Send the held changes newer than after_revision (as one frame), then every
        frame as it comes."""
        self._after_revision = after_revision
        while self._held:
            held, self._held = self._held, []
            await self._send_new(held, frame_of(held))
        self._held = None

    async def push(self, changes: list[Change] | None, frames: Frames) -> None:
        """frames: the changes, in order, as one websocket frame in each encoding (see
        frame_of), built once for every reader. changes None: a frame about the event's
        state (a heartbeat), not a change; it is sent only once started, whatever the
        reader has seen, and never held."""
        if self._held is not None:
            if changes is not None:
                self._held.extend(changes)
        elif changes is None:
            await self._send(frames[self.encoding])
        else:
            await self._send_new(changes, frames)

    async def _send_new(self, changes: list[Change], frames: Frames) -> None:
        new = [change for change in changes if change.revision > self._after_revision]
        if len(new) == len(changes):
            await self._send(frames[self.encoding])
        elif new:
            await self._send(frame_of(new)[self.encoding])

    async def close(self) -> None:
        await self.hub.unsubscribe(self)


class Hub:
    """The one receiver of a process (strictly: of an event loop and a channel layer)."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.readers: dict[int, set[Subscription]] = {}
        self._channel: str | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._fan_out_lock = asyncio.Lock()
        # Changes received and not yet fanned out, per event, in order of arrival.
        self._arrived: dict[int, list[Change]] = {}
        self._changes_arrived = asyncio.Event()
        # Per event with readers here: the newest revision heard of since subscribing.
        self.revisions: dict[int, int] = {}
        # Per event: the subscriptions in self.readers that are desks, not readers.
        self.desks: dict[int, int] = {}

    def reader_counts(self) -> dict[int, int]:
        """Readers per event, desks left out. (Safe from another thread: copies first.)"""
        desks = dict(self.desks)
        return {
            event_id: len(subscriptions) - desks.get(event_id, 0)
            for event_id, subscriptions in list(self.readers.items())
        }

    def note_revision(self, event_id: int, revision: int) -> None:
        # Only while subscribed: what was heard before may have been followed by changes
        # this process never received. Never lowered: a read can be older than a change.
        if event_id in self.readers:
            self.revisions[event_id] = max(self.revisions.get(event_id, 0), revision)

    async def subscribe(
        self, event_id: int, send: SendFrame, *, reader: bool, encoding: int
    ) -> Subscription:
        subscription = Subscription(self, event_id, send, reader=reader, encoding=encoding)
        async with self._lock:
            if self._channel is None:
                self._channel = await self.layer.new_channel()
                self._tasks = [
                    asyncio.create_task(self._receive_forever(self._channel)),
                    asyncio.create_task(self._fan_out_forever()),
                ]
            if event_id not in self.readers:
                await self.layer.group_add(group_name(event_id), self._channel)
                self.readers[event_id] = set()
            self.readers[event_id].add(subscription)
            if not reader:
                self.desks[event_id] = self.desks.get(event_id, 0) + 1
        return subscription

    async def unsubscribe(self, subscription: Subscription) -> None:
        async with self._lock:
            readers = self.readers.get(subscription.event_id, set())
            if subscription in readers and not subscription.reader:
                self.desks[subscription.event_id] -= 1
            readers.discard(subscription)
            runtime.current().readers_left += 1
            if not readers and subscription.event_id in self.readers:
                del self.readers[subscription.event_id]
                self.revisions.pop(subscription.event_id, None)
                self.desks.pop(subscription.event_id, None)
                try:
                    await self.layer.group_discard(group_name(subscription.event_id), self.channel)
                except Exception:
                    # Harmless: the group forgets this process at its expiry, and frames
                    # for an event with no readers here are dropped on arrival.
                    logger.warning("Could not leave the group of event %s", subscription.event_id)

    async def fan_out(
        self,
        event_id: int,
        changes: list[Change] | None,
        frames: Frames,
        *,
        committed_at: float | None = None,
    ) -> None:
        """committed_at: when the oldest of the changes was committed, to count the readers
        who get them later than promised (metrics.late_readers)."""
        # One fan-out at a time, so that a heartbeat never interleaves with a change.
        async with self._fan_out_lock:
            subscriptions = list(self.readers.get(event_id, ()))
            for start in range(0, len(subscriptions), READERS_PER_LOOP_TURN):
                if start:
                    await asyncio.sleep(0)
                turn = subscriptions[start : start + READERS_PER_LOOP_TURN]
                for subscription in turn:
                    try:
                        await subscription.push(changes, frames)
                    except Exception:
                        # A reader whose socket just closed must not cost the others their
                        # update.
                        metrics.FAILED_DELIVERIES.inc()
                        logger.debug(
                            "Could not send to a reader of event %s", event_id, exc_info=True
                        )
                metrics.late_readers(len(turn), committed_at)

    @property
    def channel(self) -> str:
        """This process's channel on the layer, made with the first subscription."""
        if self._channel is None:
            raise RuntimeError("No reader has subscribed yet")
        return self._channel

    async def _receive_forever(self, channel: str) -> None:
        failing = False
        while True:
            try:
                message = await self.layer.receive(channel)
            except Exception:
                if not failing:
                    logger.exception("Channel layer receive failed; retrying every second")
                failing = True
                await asyncio.sleep(1)
                continue
            failing = False
            change = _change_received(message)
            self.note_revision(message["event"], change.revision)
            self._arrived.setdefault(message["event"], []).append(change)
            self._changes_arrived.set()
            # Let an idle fan-out take it now: only changes that arrive while one is under
            # way wait to be merged. (A layer may hand over several queued messages without
            # yielding in between.)
            await asyncio.sleep(0)

    async def _fan_out_forever(self) -> None:
        # Apart from receiving, so that what arrives during one fan-out waits in
        # self._arrived and goes out merged, in one frame per reader, right after it.
        while True:
            await self._changes_arrived.wait()
            self._changes_arrived.clear()
            arrived, self._arrived = self._arrived, {}
            for event_id, changes in arrived.items():
                started = time.time()
                committed = [change.committed_at for change in changes if change.committed_at]
                for committed_at in committed:
                    metrics.COMMIT_TO_SEND.observe(started - committed_at)
                try:
                    await self.fan_out(
                        event_id,
                        changes,
                        frame_of(changes),
                        committed_at=min(committed, default=None),
                    )
                except Exception:
                    logger.exception("Could not fan out changes to event %s", event_id)
                metrics.FAN_OUT.observe(time.time() - started)

    async def rejoin(self) -> None:
        """Join every group again: membership expires on Redis (group_expiry) and
        vanishes if Redis restarts or is flushed. Called with each heartbeat."""
        for event_id in list(self.readers):
            try:
                await self.layer.group_add(group_name(event_id), self.channel)
            except Exception:
                logger.warning("Could not renew the subscription to event %s", event_id)


def _layer() -> BaseChannelLayer:
    layer = get_channel_layer()
    if layer is None:
        raise ImproperlyConfigured("CHANNEL_LAYERS has no default layer")
    return layer


def _hub() -> Hub:
    hubs = runtime.current().hubs
    loop = asyncio.get_running_loop()
    layer = _layer()
    hub = hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = hubs[loop] = Hub(layer)
    return hub
