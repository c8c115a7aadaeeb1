"""A reader who loses the connection gets back exactly what the server has, without a reload.

The page keeps its copy exact by revision (static/live-feed.js): it reconnects saying the
revision it shows, and the server's hello brings what it missed; a change lost on the way
shows as a gap, and the page asks for the changes it missed.
"""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.async_api import Route, expect

from tests.browser.pages import Desk, Reader, SocketGate, server_state
from updates.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
# Once the connection is possible again, the page is exact within this.
RECONNECTED_SECONDS = 5.0
# The reconnect backoff (live.js) grows while the server is away: 0.5-1 s, then 1-2 s,
# 2-4 s, 4-8 s... A restart takes a couple of seconds, so the page may wait up to ~8 s
# more before its next try; this bound leaves room, and is far from the 30 s cap.
RESTARTED_SECONDS = 15.0


@pytest.fixture
def earlier_entries(make_entry) -> list[Entry]:
    """Three entries from before the reader arrives, newest first; the last is a key event."""
    start = timezone.now() - timedelta(minutes=10)
    return [
        make_entry(
            headline=f"Earlier update {number}",
            body=f"<p>Earlier update number {number}.</p>",
            published_at=start - timedelta(minutes=number),
            key_event=number == 2,
        )
        for number in range(3)
    ]


async def open_live(reader: Reader) -> None:
    await reader.open(SLUG)
    await reader.wait_until_live()
    await expect(reader.connection).to_have_text("Live")
    await reader.mark()


async def publish_edit_and_delete(desk: Desk, earlier: list[Entry]) -> None:
    """Three new entries (one pinned, one a key event), an edit and a deletion."""
    await desk.publish("Counting begins", "<p>The first boxes are open.</p>")
    pinned = await desk.publish(
        "Turnout at 41 per cent", "<p>Higher than last time.</p>", pinned=True
    )
    await desk.publish("Recount requested", "<p>In the east ward.</p>", key_event=True)
    await desk.edit(pinned, headline="Turnout at 43 per cent", body="<p>Final figure.</p>")
    await desk.delete(earlier[1])


async def test_a_reader_cut_off_while_entries_are_published_edited_and_deleted_shows_the_servers_state_within_5_seconds_of_reconnecting(  # noqa: E501
    transactional_db, desk: Desk, earlier_entries, reader: Reader, timings
):
    gate = SocketGate()
    await gate.install(reader.page)
    await open_live(reader)
    before = await reader.state()

    await gate.cut()
    await expect(reader.connection).to_have_text("Reconnecting…")
    await publish_edit_and_delete(desk, earlier_entries)
    expected = await server_state(reader.page.request, reader.base_url, SLUG)
    assert expected != before
    # Nothing reached the page while it was cut off.
    assert await reader.state() == before

    gate.allow()
    allowed = time.monotonic()
    await reader.wait_for_state(expected, timeout=RECONNECTED_SECONDS)
    exact = time.monotonic()
    reconnected = [at for at in gate.connected if at >= allowed]
    assert reconnected, "the page showed the changes without a new socket"
    timings("connection allowed again -> page exact", exact - allowed)
    timings("socket reconnected -> page exact", exact - reconnected[0])
    # What the page missed came with the new socket's hello, not in a request of its own.
    hellos = [json.loads(frame) for frame in gate.from_server if '"type":"hello"' in frame]
    assert hellos[-1]["catch_up"]["revision"] == hellos[-1]["revision"]

    await expect(reader.connection).to_have_text("Live")
    assert not await reader.was_reloaded()
    assert reader.errors == []


async def test_a_reader_recovers_without_reloading_when_daphne_restarts_while_entries_are_published(
    transactional_db,
    desk: Desk,
    earlier_entries,
    restartable_reader_server,
    restartable_reader: Reader,
    timings,
):
    reader = restartable_reader
    await open_live(reader)
    before = await reader.state()

    await asyncio.to_thread(restartable_reader_server.stop)
    await expect(reader.connection).not_to_have_text("Live")
    await publish_edit_and_delete(desk, earlier_entries)

    await asyncio.to_thread(restartable_reader_server.start)
    restarted = time.monotonic()
    expected = await server_state(reader.page.request, reader.base_url, SLUG)
    assert expected != before
    seconds = await reader.wait_for_state(expected, timeout=RESTARTED_SECONDS)
    timings("Daphne serving again -> page exact", time.monotonic() - restarted)
    assert seconds <= RESTARTED_SECONDS

    await expect(reader.connection).to_have_text("Live")
    assert not await reader.was_reloaded()
    assert reader.errors == []


async def test_a_catch_up_request_that_fails_is_tried_again_soon_not_at_the_next_heartbeat(
    transactional_db, desk: Desk, earlier_entries, reader: Reader, timings
):
    gate = SocketGate()
    await gate.install(reader.page)
    await open_live(reader)
    # A change lost on its way: the next one shows the page a gap, and it asks for
    # what it missed. That first request fails (a server restarting behind the proxy,
    # say); the socket is fine, so no polling would ask again.
    failed: list[str] = []

    async def fail_the_first(route: Route) -> None:
        if not failed:
            failed.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await reader.page.route("**/changes/**", fail_the_first)
    gate.lose(1)
    await desk.publish("Counting begins", "<p>The first boxes are open.</p>")
    published = time.monotonic()
    await desk.publish("Turnout at 41 per cent", "<p>Higher than last time.</p>")
    expected = await server_state(reader.page.request, reader.base_url, SLUG)

    await reader.wait_for_state(expected, timeout=RECONNECTED_SECONDS)
    timings("change lost, first catch-up failed -> page exact", time.monotonic() - published)
    assert len(failed) == 1
    await expect(reader.connection).to_have_text("Live")
    assert not await reader.was_reloaded()
    assert reader.errors == []
