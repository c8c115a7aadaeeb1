import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db.models import F

from liveblog.asgi import application
from updates import cache_keys
from updates.live import joining
from updates.models import Event
from updates.services import entry_delete, entry_publish, entry_update, event_update

pytestmark = pytest.mark.django_db(transaction=True)

publish = database_sync_to_async(entry_publish)
update = database_sync_to_async(entry_update)
delete = database_sync_to_async(entry_delete)
update_event = database_sync_to_async(event_update)


def reader(
    slug: str = "harbourside", origin: bytes = b"http://localhost", query: str = ""
) -> WebsocketCommunicator:
    return WebsocketCommunicator(
        application, f"/ws/live/{slug}/{query}", headers=[(b"origin", origin)]
    )


async def connected_reader(expected_revision: int = 0) -> WebsocketCommunicator:
    communicator = reader()
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {
        "type": "hello",
        "revision": expected_revision,
    }
    return communicator


async def test_a_reader_gets_hello_then_each_change_in_revision_order(
    channel_layer, event, journalist
):
    communicator = await connected_reader()

    entry = await publish(event=event, author=journalist, headline="Polls open", body="<p>7am</p>")
    await update(entry=entry, changes={"headline": "Polls opened at 7am"})
    await delete(entry=entry)

    created = await communicator.receive_json_from(timeout=3)
    updated = await communicator.receive_json_from(timeout=3)
    deleted = await communicator.receive_json_from(timeout=3)
    assert [created["type"], updated["type"], deleted["type"]] == [
        "entry.created",
        "entry.updated",
        "entry.deleted",
    ]
    assert [created["revision"], updated["revision"], deleted["revision"]] == [1, 2, 3]
    assert created["entry"]["headline"] == "Polls open"
    assert created["entry"]["html"].startswith(f'<article id="entry-{entry.pk}"')
    assert updated["entry"]["headline"] == "Polls opened at 7am"
    assert deleted["entry"] == {"id": entry.pk, "deleted": True, "revision": 3}
    await communicator.disconnect()


async def test_every_reader_of_the_event_gets_the_change(channel_layer, event, journalist):
    readers = [await connected_reader() for _ in range(3)]
    await publish(event=event, author=journalist, headline="Turnout 46%", body="<p>Up.</p>")
    for communicator in readers:
        message = await communicator.receive_json_from(timeout=3)
        assert message["entry"]["headline"] == "Turnout 46%"
        await communicator.disconnect()


async def test_readers_of_another_event_hear_nothing(channel_layer, event, journalist):
    await database_sync_to_async(Event.objects.create)(title="Cup final", slug="cup-final")
    other = reader("cup-final")
    await other.connect()
    assert (await other.receive_json_from())["type"] == "hello"
    await publish(event=event, author=journalist, headline="Not for you", body="<p>x</p>")
    assert await other.receive_nothing(timeout=0.5)
    await other.disconnect()


async def test_a_change_of_the_event_is_sent_to_readers(channel_layer, event):
    communicator = await connected_reader()
    await update_event(event=event, changes={"title": "Harbourside: the result"})
    message = await communicator.receive_json_from(timeout=3)
    assert message["type"] == "event.updated"
    assert message["event"]["title"] == "Harbourside: the result"
    await communicator.disconnect()


async def test_hello_tells_a_late_reader_the_current_revision(channel_layer, event, journalist):
    await publish(event=event, author=journalist, headline="Early", body="<p>x</p>")
    communicator = await connected_reader(expected_revision=1)
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@database_sync_to_async
def changes_answer(since: int) -> dict:
    from django.test import Client

    return Client().get(f"/api/events/harbourside/changes/?since={since}").json()


async def hello_for(since: int) -> dict:
    communicator = reader(query=f"?since={since}")
    connected, _ = await communicator.connect()
    assert connected
    message = await communicator.receive_json_from()
    await communicator.disconnect()
    return message


async def test_a_reader_back_from_revision_r_gets_what_it_missed_in_its_hello(
    channel_layer, event, journalist
):
    entry = await publish(event=event, author=journalist, headline="Polls open", body="<p>x</p>")
    await publish(event=event, author=journalist, headline="Turnout", body="<p>41%</p>")
    await update(entry=entry, changes={"headline": "Polls opened at 7"})

    hello = await hello_for(since=1)

    assert hello["type"] == "hello"
    assert hello["revision"] == 3
    # Exactly what changes/?since=1 answers: the entries changed after 1, oldest change first.
    assert hello["catch_up"] == await changes_answer(since=1)
    assert [change["headline"] for change in hello["catch_up"]["changes"]] == [
        "Turnout",
        "Polls opened at 7",
    ]


async def test_a_reader_that_missed_nothing_gets_a_plain_hello(channel_layer, event, journalist):
    await publish(event=event, author=journalist, headline="Polls open", body="<p>x</p>")
    assert await hello_for(since=1) == {"type": "hello", "revision": 1}


async def test_a_reader_ahead_of_the_server_is_told_to_start_again(channel_layer, event):
    # Another database: what the page shows is no longer the server's to patch up.
    hello = await hello_for(since=7)
    assert (hello["revision"], hello["catch_up"]["reset"]) == (0, True)


async def test_a_reader_whose_page_is_newer_than_the_process_has_heard_is_not_sent_back(
    channel_layer, event, journalist
):
    first = await connected_reader()
    # A change committed whose message has not reached this process yet; the reader's
    # page was served after it.
    await database_sync_to_async(Event.objects.filter(pk=event.pk).update)(
        revision=F("revision") + 1
    )

    assert await hello_for(since=1) == {"type": "hello", "revision": 1}
    await first.disconnect()


async def test_readers_joining_once_the_process_has_heard_of_a_change_wait_for_no_query(
    channel_layer, event, journalist, monkeypatch
):
    first = await connected_reader()
    await publish(event=event, author=journalist, headline="One", body="<p>x</p>")
    assert (await first.receive_json_from(timeout=3))["revision"] == 1

    reads = count_calls(monkeypatch, joining, "_read_revision")
    readers = [await connected_reader(expected_revision=1) for _ in range(5)]

    assert reads == []
    for communicator in [first, *readers]:
        await communicator.disconnect()


async def test_after_a_lost_change_the_heartbeat_tells_joining_readers_its_revision(
    channel_layer, event, monkeypatch
):
    from updates.live import heartbeat

    first = await connected_reader()
    # A change whose message never reached this process (Redis was away).
    await database_sync_to_async(Event.objects.filter(pk=event.pk).update)(
        revision=F("revision") + 1
    )
    await heartbeat.beat()
    assert await first.receive_json_from(timeout=3) == {"type": "heartbeat", "revision": 1}

    reads = count_calls(monkeypatch, joining, "_read_revision")
    late = await connected_reader(expected_revision=1)

    assert reads == []
    for communicator in (first, late):
        await communicator.disconnect()


async def test_a_crowd_back_from_the_same_revision_shares_one_catch_up(
    channel_layer, event, journalist, monkeypatch
):
    for headline in ("One", "Two"):
        await publish(event=event, author=journalist, headline=headline, body="<p>x</p>")
    builds = count_calls(monkeypatch, joining, "_build_catch_up")

    crowd = [reader(query="?since=0") for _ in range(20)]
    await asyncio.gather(*(communicator.connect() for communicator in crowd))
    hellos = [await communicator.receive_json_from() for communicator in crowd]

    assert len(builds) == 1
    assert all(len(hello["catch_up"]["changes"]) == 2 for hello in hellos)
    for communicator in crowd:
        await communicator.disconnect()


async def test_readers_arriving_together_share_one_lookup_of_the_event(event, monkeypatch):
    lookups = count_calls(monkeypatch, joining, "_find_event")

    found = await asyncio.gather(*(joining.event_to_join("harbourside") for _ in range(10)))

    assert len(lookups) == 1
    assert {each.id for each in found} == {event.pk}


async def test_a_change_while_a_reader_catches_up_reaches_it_once(channel_layer, event, journalist):
    await publish(event=event, author=journalist, headline="One", body="<p>x</p>")
    communicator = reader(query="?since=0")
    connected, _ = await communicator.connect()
    assert connected
    await publish(event=event, author=journalist, headline="Two", body="<p>x</p>")

    hello = await communicator.receive_json_from(timeout=3)
    seen = [change["revision"] for change in hello["catch_up"]["changes"]]
    if hello["revision"] < 2:
        seen.append((await communicator.receive_json_from(timeout=3))["revision"])

    assert seen == [1, 2]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


@pytest.mark.parametrize("since", ["-1", "yesterday", str(2**70), ""])
async def test_a_since_that_is_not_a_revision_closes_the_socket_with_4400(
    channel_layer, event, since
):
    communicator = reader(query=f"?since={since}")
    await communicator.connect()
    closed = await communicator.receive_output()
    assert (closed["type"], closed["code"]) == ("websocket.close", 4400)
    assert closed["reason"].startswith("since: ")


def count_calls(monkeypatch, module, name: str) -> list:
    """Counts the calls of module.name, which still does its work."""
    calls = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return calls


async def test_an_unknown_event_closes_the_socket_with_4004(channel_layer, db):
    communicator = reader("nope")
    await communicator.connect()
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4004}


async def test_an_ended_event_closes_the_socket_with_4410(channel_layer, event):
    await update_event(event=event, changes={"status": Event.Status.ENDED})
    communicator = reader()
    await communicator.connect()
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4410}


async def test_each_reader_waits_for_its_messages_in_its_own_task(channel_layer, event):
    # Channels' consumers await receive() in a second task (await_many_dispatch): a task
    # and its futures per reader, for the one source of messages a reader has.
    first = await connected_reader()
    tasks_with_one_reader = len(asyncio.all_tasks())

    second = await connected_reader()

    assert len(asyncio.all_tasks()) == tasks_with_one_reader + 1
    await first.disconnect()
    await second.disconnect()
    assert len(asyncio.all_tasks()) == tasks_with_one_reader - 1


@pytest.mark.parametrize(
    "frame", [{"text_data": '{"type": "entry.created"}'}, {"bytes_data": b"\x00" * 70_000}]
)
async def test_a_reader_that_sends_anything_is_closed_with_4003(channel_layer, event, frame):
    communicator = await connected_reader()
    await communicator.send_to(**frame)
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4003}


@pytest.mark.parametrize(
    "origin", [b"https://evil.example", b"null", b"http://localhost.evil.example"]
)
async def test_a_foreign_origin_is_refused(channel_layer, event, origin):
    communicator = reader(origin=origin)
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_missing_origin_is_refused(channel_layer, event):
    communicator = WebsocketCommunicator(application, "/ws/live/harbourside/")
    connected, _ = await communicator.connect()
    assert not connected


async def test_an_idle_reader_on_redis_still_gets_changes_after_fifteen_seconds(
    redis_url, settings, event, journalist
):
    # redis-py 8's default 5 s socket timeout used to kill idle receives (channels_redis 422).
    from liveblog.backends import channel_layers

    settings.CHANNEL_LAYERS = channel_layers(redis_url)
    communicator = await connected_reader()
    await asyncio.sleep(15)
    await publish(event=event, author=journalist, headline="Still here?", body="<p>Yes.</p>")
    message = await communicator.receive_json_from(timeout=3)
    assert message["entry"]["headline"] == "Still here?"
    await communicator.disconnect()


async def test_a_heartbeat_tells_readers_the_current_revision(channel_layer, event, journalist):
    from updates.live import heartbeat

    communicator = await connected_reader()
    await publish(event=event, author=journalist, headline="One", body="<p>x</p>")
    assert (await communicator.receive_json_from(timeout=3))["revision"] == 1

    await heartbeat.beat()

    assert await communicator.receive_json_from(timeout=3) == {"type": "heartbeat", "revision": 1}
    await communicator.disconnect()


async def test_a_scheduled_entry_reaches_a_connected_reader_at_its_time_unasked(
    channel_layer, event, journalist
):
    from datetime import timedelta

    from django.utils import timezone

    communicator = await connected_reader()
    at = timezone.now() + timedelta(seconds=1.5)
    entry = await publish(
        event=event, author=journalist, headline="At 10", body="<p>x</p>", published_at=at
    )
    assert await communicator.receive_nothing(timeout=1)

    message = await communicator.receive_json_from(timeout=4)

    assert (message["type"], message["revision"], message["entry"]["id"]) == (
        "entry.created",
        1,
        entry.pk,
    )
    await communicator.disconnect()


async def test_two_journalists_posting_at_once_both_reach_readers_with_distinct_revisions(
    channel_layer, event, journalist, editor
):
    import asyncio as aio

    from asgiref.sync import sync_to_async
    from django.db import connection

    def post_and_hang_up(**fields) -> None:
        try:
            entry_publish(event=event, body="<p>x</p>", **fields)
        finally:
            connection.close()

    # Each in its own thread with its own database connection: truly at once.
    at_once = sync_to_async(post_and_hang_up, thread_sensitive=False)
    communicator = await connected_reader()
    await aio.gather(
        at_once(author=journalist, headline="From Sam"),
        at_once(author=editor, headline="From Ines"),
    )
    messages = [await communicator.receive_json_from(timeout=3) for _ in range(2)]
    assert sorted(m["revision"] for m in messages) == [1, 2]
    assert {m["entry"]["headline"] for m in messages} == {"From Sam", "From Ines"}
    await communicator.disconnect()


async def test_the_desk_counts_the_readers_connected_now(channel_layer, settings, event):
    from updates.live import presence

    if channel_layer == "redis":
        import redis

        settings.REDIS_URL = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
        # Other test runs' processes may have counted readers of an event with this id.
        with redis.Redis.from_url(settings.REDIS_URL) as client:
            client.delete(cache_keys.readers(event.pk))
    else:
        settings.REDIS_URL = ""
    readers = [await connected_reader() for _ in range(3)]
    await readers.pop().disconnect()

    await presence.report()
    assert await database_sync_to_async(presence.readers_now)(event.pk) == 2

    for communicator in readers:
        await communicator.disconnect()
