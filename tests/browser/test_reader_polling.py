"""Where websockets cannot get through (a proxy, a firewall), the page asks for changes."""

import re
import time

import pytest
from playwright.async_api import expect

from tests.browser.pages import Desk, Reader, SocketGate, server_state, within

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
POLL_SECONDS = 1
# A change shows by the next poll: a second, and the time to ask.
POLLED_SECONDS = POLL_SECONDS + 2.0


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {"LIVE_POLL_SECONDS": str(POLL_SECONDS)}


async def test_with_the_websocket_blocked_the_page_shows_changes_by_polling_and_never_says_live(
    transactional_db, desk: Desk, earlier_entry, reader: Reader, timings
):
    gate = SocketGate()
    await gate.cut()  # before the page opens: every socket is refused
    await gate.install(reader.page)
    await reader.record_connection_texts()
    await reader.open(SLUG)
    await expect(reader.entry(earlier_entry.pk)).to_be_visible()
    await expect(reader.connection).to_have_text(re.compile("Reconnecting"))
    await reader.mark()

    published = time.monotonic()
    entry = await desk.publish("Turnout passes 40 per cent", "<p>A result by 2am.</p>")
    await expect(reader.stream_entry(entry.pk)).to_be_visible(
        timeout=within(published, POLLED_SECONDS)
    )
    timings("published -> shown by polling", time.monotonic() - published)
    await expect(reader.page.locator("#stream article.entry").first).to_have_id(f"entry-{entry.pk}")

    edited = time.monotonic()
    await desk.edit(entry, headline="Turnout passes 45 per cent")
    await expect(reader.entry(entry.pk).locator(".entry__headline")).to_have_text(
        "Turnout passes 45 per cent", timeout=within(edited, POLLED_SECONDS)
    )

    deleted = time.monotonic()
    await desk.delete(earlier_entry)
    await expect(reader.entry(earlier_entry.pk)).to_have_count(
        0, timeout=within(deleted, POLLED_SECONDS)
    )

    expected = await server_state(reader.page.request, reader.base_url, SLUG)
    await reader.wait_for_state(expected, timeout=POLLED_SECONDS)
    # The socket was tried (and refused) in the background, never got through, and the
    # indicator never claimed the page was live.
    assert gate.refused >= 1
    assert reader.sockets == []
    await expect(reader.connection).to_have_text(re.compile("Reconnecting"))
    assert "Live" not in await reader.connection_texts()
    assert not await reader.was_reloaded()
    assert reader.errors == []


async def test_sockets_that_open_and_drop_at_once_are_tried_ever_less_often_while_the_page_polls(
    transactional_db, desk: Desk, earlier_entry, reader: Reader
):
    gate = SocketGate()
    gate.drop_once_open = True
    await gate.install(reader.page)
    await reader.record_connection_texts()
    await reader.open(SLUG)
    await expect(reader.entry(earlier_entry.pk)).to_be_visible()

    published = time.monotonic()
    entry = await desk.publish("Turnout passes 40 per cent")
    await expect(reader.stream_entry(entry.pk)).to_be_visible(
        timeout=within(published, POLLED_SECONDS)
    )

    # Backoff: tries at 0 s, then after 0.5-1 s, 1-2 s, 2-4 s, 4-8 s: at most four
    # sockets in the first five seconds. Were an opened socket taken for success, the
    # page would try every 0.5-1 s.
    first = gate.dropped[0]
    await reader.page.wait_for_timeout(max(0.0, first + 5.0 - time.monotonic()) * 1000)
    assert len([at for at in gate.dropped if at - first < 5.0]) <= 4, gate.dropped
    # An open socket that never said hello was never live.
    assert "Live" not in await reader.connection_texts()
    await expect(reader.connection).to_have_text(re.compile("Reconnecting"))
    assert reader.errors == []
