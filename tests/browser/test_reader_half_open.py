"""A reader whose connection goes silent without closing notices, reconnects and catches up.

A frozen server (SIGSTOP: a hung host, a VM paused) or a network path that vanished
without a reset leaves the browser's socket "open" for as long as TCP allows, and no
close event ever comes. The page counts heartbeats instead: no frame for 2.5 of them
and it drops the socket, says so, and reconnects with backoff.
"""

import time

import pytest
from playwright.async_api import expect

from tests.browser.pages import Desk, Reader, server_state, within

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
HEARTBEAT_SECONDS = 1
# 2.5 heartbeats of silence, and a little for the timer and the indicator.
NOTICED_SECONDS = 2.5 * HEARTBEAT_SECONDS + 1.5
# Each reconnect attempt against the frozen server hangs and is dropped after 2.5 s;
# the backoff between them grows (0.5-1 s, 1-2 s, 2-4 s, ...): the next attempt after
# the thaw comes within a few seconds, then hello and the catch-up.
CONVERGED_SECONDS = 12.0
FROZEN_SECONDS = 6.0


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {"LIVE_HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)}


async def test_a_reader_whose_server_freezes_shows_it_is_reconnecting_and_catches_up_after_the_thaw(
    transactional_db, desk: Desk, earlier_entry, reader: Reader, reader_server, timings
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    await expect(reader.connection).to_have_text("Live")
    await reader.mark()
    # Two heartbeats on the socket: the page has learnt how often they come.
    await reader.wait_for_frames("heartbeat", 2, timeout=4 * HEARTBEAT_SECONDS)

    reader_server.freeze()
    frozen = time.monotonic()
    try:
        await expect(reader.connection).to_have_text(
            "Reconnecting…", timeout=within(frozen, NOTICED_SECONDS)
        )
        timings("server frozen -> page shows Reconnecting", time.monotonic() - frozen)
        sent = await desk.publish("Published while frozen", "<p>The page must still get it.</p>")
        await desk.edit(earlier_entry, headline="Polls open, long queues")
        left = FROZEN_SECONDS - (time.monotonic() - frozen)
        if left > 0:
            await reader.page.wait_for_timeout(left * 1000)
    finally:
        reader_server.thaw()
    thawed = time.monotonic()

    expected = await server_state(reader.page.request, reader.base_url, SLUG)
    assert sent.pk in {entry.id for entry in expected.stream}
    await reader.wait_for_state(expected, timeout=CONVERGED_SECONDS)
    timings("server thawed -> page exact", time.monotonic() - thawed)
    await expect(reader.connection).to_have_text("Live")
    assert not await reader.was_reloaded()
    assert reader.errors == []
