"""Redis killed, frozen, paused or restarted under connected readers and a journalist.

Each test has its own redis-server (tests/faults/conftest.py) shared by two Daphne
processes: the readers' pages talk to one, the journalist's admin to the other, so a
change reaches the pages only through Redis, or through the heartbeat's revision and
the catch-up request when Redis has lost it.
"""

import asyncio
import time

import pytest
from channels.db import database_sync_to_async
from playwright.async_api import expect

from tests.browser.pages import Desk, Newsroom, all_exact
from tests.faults.conftest import RedisServer
from tests.servers import DaphneServer
from updates.models import Entry

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

HEARTBEAT_SECONDS = 1
READERS = 3
# Publishing gives up after 2 s (updates/live/delivery.py); the rest is the save itself.
SAVE_SECONDS = 2.5
# A heartbeat to reveal the gap, a catch-up request, on a busy machine.
CONVERGED_SECONDS = 3 * HEARTBEAT_SECONDS + 5.0
PUSHED_SECONDS = 2.0
PASSWORD = "correct horse battery"
PAUSE_SECONDS = 10


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {"LIVE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}


async def committed(headline: str) -> bool:
    return await database_sync_to_async(Entry.objects.filter(headline=headline).exists)()


async def pushed_to_all(readers, entry_id: int, timeout: float) -> None:
    """Until every page's socket has received the entry as a change (not by catching up)."""
    for reader in readers:
        await expect(reader.entry(entry_id)).to_be_visible(timeout=timeout * 1000)
        assert any(
            message.get("type") == "entry.created" and message["entry"]["id"] == entry_id
            for frame in reader.frames
            for message in (frame["messages"] if frame.get("type") == "batch" else [frame])
        ), "the entry reached the page by catching up, not pushed"


async def test_a_save_while_redis_is_dead_is_prompt_and_committed_and_readers_converge(
    transactional_db,
    journalist,
    earlier_entry,
    reader_server: DaphneServer,
    newsroom_server: DaphneServer,
    newsroom: Newsroom,
    open_live_pages,
    redis_server: RedisServer,
    timings,
):
    readers = await open_live_pages(reader_server.url, READERS)
    await newsroom.log_in("sam", PASSWORD)

    redis_server.kill()
    seconds = await newsroom.post("Posted while Redis was dead")
    saved = time.monotonic()
    timings("Redis dead: admin save", seconds)
    assert seconds <= SAVE_SECONDS
    assert await committed("Posted while Redis was dead")
    assert "Could not deliver revision" in newsroom_server.log()

    # The pages learn of it from the heartbeat's revision, read from the database.
    await all_exact(readers, timeout=CONVERGED_SECONDS)
    timings("Redis dead: saved -> every page exact", time.monotonic() - saved)

    redis_server.start()
    await asyncio.sleep(2 * HEARTBEAT_SECONDS)  # a heartbeat joins the groups again
    entry = await database_sync_to_async(Entry.objects.get)(headline="Posted while Redis was dead")
    seconds = await newsroom.post("Posted once Redis was back")
    back = time.monotonic()
    assert seconds <= SAVE_SECONDS
    latest = await database_sync_to_async(Entry.objects.get)(headline="Posted once Redis was back")
    await pushed_to_all(readers, latest.pk, timeout=PUSHED_SECONDS)
    timings("Redis back: saved -> pushed to every page", time.monotonic() - back)
    await all_exact(readers, timeout=CONVERGED_SECONDS)
    for reader in readers:
        await expect(reader.entry(entry.pk)).to_be_visible()
        assert not await reader.was_reloaded()
        assert reader.errors == []


@pytest.mark.parametrize("how", ["CLIENT PAUSE ALL", "SIGSTOP"])
async def test_a_save_while_redis_hangs_returns_by_the_publish_deadline_and_readers_converge(
    transactional_db,
    journalist,
    earlier_entry,
    reader_server: DaphneServer,
    newsroom_server: DaphneServer,
    newsroom: Newsroom,
    open_live_pages,
    redis_server: RedisServer,
    how: str,
    timings,
):
    readers = await open_live_pages(reader_server.url, READERS)
    await newsroom.log_in("sam", PASSWORD)
    usual = await newsroom.post("Posted before Redis froze")
    timings(f"Redis frozen ({how}): admin save before, for comparison", usual)

    if how == "SIGSTOP":
        redis_server.freeze()
    else:
        redis_server.pause_clients(PAUSE_SECONDS * 1000)
    frozen = time.monotonic()
    try:
        seconds = await newsroom.post(f"Posted while Redis was frozen ({how})")
        timings(f"Redis frozen ({how}): admin save", seconds)
        # On a busy machine a save takes a while anyway: the fault may add the deadline.
        assert seconds - usual <= SAVE_SECONDS
        assert await committed(f"Posted while Redis was frozen ({how})")
    finally:
        if how == "SIGSTOP":
            redis_server.thaw()
        else:
            redis_server.wait_until_answering(timeout=PAUSE_SECONDS + 5)
    thawed = time.monotonic()
    await all_exact(readers, timeout=CONVERGED_SECONDS + 5)
    timings(f"Redis frozen ({how}): thawed -> every page exact", time.monotonic() - thawed)
    timings(f"Redis frozen ({how}): frozen -> every page exact", time.monotonic() - frozen)
    for reader in readers:
        assert not await reader.was_reloaded()
        assert reader.errors == []


async def test_after_redis_restarts_empty_readers_converge_and_are_pushed_to_again_without_a_reload(
    transactional_db,
    desk: Desk,
    earlier_entry,
    reader_server: DaphneServer,
    open_live_pages,
    redis_server: RedisServer,
    timings,
):
    readers = await open_live_pages(reader_server.url, READERS)

    redis_server.restart()  # SIGKILL, then a new, empty one on the same port
    restarted = time.monotonic()
    lost = await desk.publish("Published as Redis came back", "<p>Nobody was subscribed.</p>")
    await all_exact(readers, timeout=CONVERGED_SECONDS)
    timings("Redis restarted -> every page exact", time.monotonic() - restarted)

    await asyncio.sleep(2 * HEARTBEAT_SECONDS)
    pushed = await desk.publish("Pushed again", "<p>Every process joined its groups again.</p>")
    published = time.monotonic()
    await pushed_to_all(readers, pushed.pk, timeout=PUSHED_SECONDS)
    timings("Redis restarted: published -> pushed to every page", time.monotonic() - published)
    for reader in readers:
        await expect(reader.entry(lost.pk)).to_be_visible()
        assert not await reader.was_reloaded()
        assert reader.errors == []


def test_the_desks_reader_count_answers_with_a_reason_while_redis_is_dead(
    journalist_client, event, settings, redis_server: RedisServer
):
    # The desk asks every 5 s; with Redis gone it must get a clear answer, not a 500.
    settings.REDIS_URL = redis_server.url
    redis_server.kill()
    response = journalist_client.get(f"/admin/updates/event/{event.pk}/desk/readers/")
    assert response.status_code == 503
    assert "error" in response.json()
