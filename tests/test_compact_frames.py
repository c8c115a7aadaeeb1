"""The live page's socket asks for each entry as its card (?entry=card), without the raw
fields the card already shows; every other client keeps the whole ENTRY. One publish
carries both encodings, and each reader is handed the one its socket asked for."""

import asyncio

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from liveblog.asgi import application
from liveblog.backends import channel_layers
from updates.live import delivery
from updates.live.broadcast import ENTRY_CREATED, entry_change_frame
from updates.live.delivery import CARD, FULL, Subscription
from updates.services import entry_delete, entry_publish, entry_update, event_update

pytestmark = pytest.mark.django_db(transaction=True)

publish = database_sync_to_async(entry_publish)
update = database_sync_to_async(entry_update)
delete = database_sync_to_async(entry_delete)
update_event = database_sync_to_async(event_update)

# What static/live.js reads of an entry beside its card.
CARD_ENTRY = {"id", "revision", "html", "pinned", "key_event", "headline", "published_at", "url"}


async def connected(query: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/live/harbourside/{query}", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    assert (await communicator.receive_json_from())["type"] == "hello"
    return communicator


@database_sync_to_async
def entries_from_the_api() -> list[dict]:
    return Client().get("/api/events/harbourside/entries/").json()["entries"]


async def test_the_live_page_gets_each_new_entry_as_its_card_and_what_places_it(
    channel_layer, event, journalist
):
    page = await connected("?since=0&entry=card")  # as static/live.js asks
    await publish(
        event=event,
        author=journalist,
        headline="Recount called",
        body="<p>A 14-vote margin.</p>",
        byline="Sam Okafor",
        key_event=True,
    )

    message = await page.receive_json_from(timeout=3)

    assert message["type"] == "entry.created"
    entry = message["entry"]
    assert set(entry) == CARD_ENTRY
    assert "A 14-vote margin." in entry["html"] and "Sam Okafor" in entry["html"]
    [whole] = await entries_from_the_api()
    assert entry == {name: whole[name] for name in CARD_ENTRY}
    await page.disconnect()


async def test_a_client_that_asks_nothing_still_gets_the_whole_entry(
    channel_layer, event, journalist
):
    plain = await connected("?since=0")
    spelled_out = await connected("?entry=full")
    await publish(event=event, author=journalist, headline="Recount called", body="<p>x</p>")

    [whole] = await entries_from_the_api()
    for communicator in (plain, spelled_out):
        message = await communicator.receive_json_from(timeout=3)
        assert message == {"type": "entry.created", "revision": 1, "entry": whole}
        assert {"body", "byline", "media", "updated_at", "edited_at"} <= set(message["entry"])
        await communicator.disconnect()


async def test_edits_come_as_cards_and_deletions_and_the_events_changes_alike_for_both(
    channel_layer, event, journalist
):
    page, plain = await connected("?entry=card"), await connected("")
    entry = await publish(event=event, author=journalist, headline="Polls open", body="<p>x</p>")
    await update(entry=entry, changes={"headline": "Polls opened at 7", "pinned": True})
    await delete(entry=entry)
    await update_event(event=event, changes={"title": "Harbourside: the result"})

    page_got = [await page.receive_json_from(timeout=3) for _ in range(4)]
    plain_got = [await plain.receive_json_from(timeout=3) for _ in range(4)]

    assert [m["type"] for m in page_got] == [m["type"] for m in plain_got]
    created, updated, deleted, event_updated = page_got
    assert set(updated["entry"]) == CARD_ENTRY
    assert (updated["entry"]["headline"], updated["entry"]["pinned"]) == ("Polls opened at 7", True)
    assert deleted == plain_got[2]
    assert deleted["entry"] == {"id": entry.pk, "deleted": True, "revision": 3}
    assert event_updated == plain_got[3]
    for communicator in (page, plain):
        await communicator.disconnect()


@pytest.mark.parametrize("asked", ["compact", "", "CARD", "card,full"])
async def test_an_entry_option_that_is_not_card_or_full_closes_the_socket_with_4400(
    channel_layer, event, asked
):
    communicator = WebsocketCommunicator(
        application,
        f"/ws/live/harbourside/?since=0&entry={asked}",
        headers=[(b"origin", b"http://localhost")],
    )
    await communicator.connect()
    closed = await communicator.receive_output()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4400)
    assert closed["reason"].startswith("entry: ")


@pytest.mark.parametrize("redis_layer", ["core", "pubsub"])
async def test_one_publish_is_one_group_message_on_redis_carrying_both_encodings(
    redis_url, settings, event, journalist, redis_layer
):
    settings.CHANNEL_LAYERS = channel_layers(redis_url, redis_layer=redis_layer)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(delivery.group_name(event.pk), channel)

    await publish(event=event, author=journalist, headline="Recount", body="<p>x</p>")

    message = await asyncio.wait_for(layer.receive(channel), timeout=3)
    whole = orjson.loads(message["frame"])["entry"]
    card = orjson.loads(message["card_frame"])["entry"]
    assert "body" in whole and set(card) == CARD_ENTRY
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), timeout=0.5)
    await layer.group_discard(delivery.group_name(event.pk), channel)


class Recorder:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def __call__(self, frame: str) -> None:
        self.frames.append(frame)


async def test_a_burst_reaches_the_live_page_as_a_batch_of_cards(event, journalist):
    entries = [
        await publish(event=event, author=journalist, headline=f"Ward {n}", body="<p>x</p>")
        for n in (1, 2, 3)
    ]
    changes = [entry_change_frame(ENTRY_CREATED, entry) for entry in entries]
    page, plain = Recorder(), Recorder()
    for send, encoding in ((page, CARD), (plain, FULL)):
        subscription = Subscription(hub=None, event_id=event.pk, send=send, encoding=encoding)
        await subscription.start(after_revision=0)
        await subscription.push(changes, delivery.frame_of(changes))

    [page_batch], [plain_batch] = page.frames, plain.frames
    assert [set(m["entry"]) for m in orjson.loads(page_batch)["messages"]] == [CARD_ENTRY] * 3
    assert all("body" in m["entry"] for m in orjson.loads(plain_batch)["messages"])
    assert orjson.loads(page_batch)["type"] == orjson.loads(plain_batch)["type"] == "batch"
