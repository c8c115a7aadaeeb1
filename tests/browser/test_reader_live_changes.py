"""Edits, pins, key events and the end of the event reach an open page as they happen."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.async_api import expect

from tests.browser.pages import Desk, Reader, SocketGate, server_state, within
from updates.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
LIVE_SECONDS = 2.0
# Long enough for the reconnect the page must not make (its first try comes within 1 s).
QUIET_SECONDS = 2.5


@pytest.fixture
def three_entries(make_entry) -> list[Entry]:
    """Newest first, ten minutes apart."""
    start = timezone.now() - timedelta(minutes=5)
    return [
        make_entry(
            headline=f"Update {number}",
            body=f"<p>Update number {number}.</p>",
            published_at=start - timedelta(minutes=10 * number),
        )
        for number in range(3)
    ]


async def open_live(reader: Reader) -> None:
    await reader.open(SLUG)
    await reader.wait_until_live()
    await reader.mark()


async def test_an_entry_edited_after_publishing_shows_updated_on_the_readers_page(
    transactional_db, desk: Desk, three_entries, reader: Reader
):
    entry = three_entries[1]
    await open_live(reader)
    await expect(reader.entry(entry.pk).locator(".entry__edited")).to_have_count(0)

    edited = time.monotonic()
    await desk.edit(entry, headline="Update 1, corrected", body="<p>Now with the figures.</p>")
    card = reader.entry(entry.pk)
    await expect(card.locator(".entry__headline")).to_have_text(
        "Update 1, corrected", timeout=within(edited, LIVE_SECONDS)
    )
    await expect(card.locator(".entry__body")).to_have_text("Now with the figures.")
    await expect(card.locator(".entry__edited")).to_contain_text("Updated")
    # In the reader's time zone, like every time on the page: "Updated 09:41".
    await expect(card.locator(".entry__edited time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
    assert await reader.ids("#stream article.entry") == [e.pk for e in three_entries]
    assert not await reader.was_reloaded()
    assert reader.errors == []


async def test_pinned_entries_and_key_events_follow_pins_and_unpins_live(
    transactional_db, desk: Desk, three_entries, reader: Reader
):
    newest, middle, oldest = three_entries
    await open_live(reader)
    await expect(reader.page.locator("#pinned")).to_be_hidden()
    await expect(reader.page.locator("#key-events")).to_be_hidden()

    changed = time.monotonic()
    await desk.edit(middle, pinned=True)
    await expect(reader.pinned_entry(middle.pk)).to_be_visible(
        timeout=within(changed, LIVE_SECONDS)
    )
    await expect(reader.stream_entry(middle.pk)).to_have_count(0)
    await expect(reader.pinned_entry(middle.pk).locator(".entry__label")).to_have_text("Pinned")
    # Pinning is not an edit of the words.
    await expect(reader.entry(middle.pk).locator(".entry__edited")).to_have_count(0)
    assert await reader.ids("#stream article.entry") == [newest.pk, oldest.pk]

    changed = time.monotonic()
    await desk.edit(oldest, key_event=True)
    await expect(reader.key_event(oldest.pk)).to_contain_text(
        "Update 2", timeout=within(changed, LIVE_SECONDS)
    )
    await expect(reader.page.locator("#key-events")).to_be_visible()
    await expect(reader.key_event(oldest.pk).locator("a")).to_have_attribute(
        "href", f"#entry-{oldest.pk}"
    )

    changed = time.monotonic()
    await desk.edit(newest, key_event=True, pinned=True)
    await expect(reader.pinned_entry(newest.pk)).to_be_visible(
        timeout=within(changed, LIVE_SECONDS)
    )
    # Newest first, in the pinned cards as in the key events.
    assert await reader.ids("#pinned article.entry") == [newest.pk, middle.pk]
    await expect(reader.page.locator("#key-events-list li")).to_have_count(2)
    assert await reader.page.locator("#key-events-list li").evaluate_all(
        "items => items.map(item => Number(item.dataset.id))"
    ) == [newest.pk, oldest.pk]
    assert await reader.state() == await server_state(reader.page.request, reader.base_url, SLUG)

    # Unpinned: back in the stream, in its place in time.
    changed = time.monotonic()
    await desk.edit(middle, pinned=False)
    await expect(reader.stream_entry(middle.pk)).to_be_visible(
        timeout=within(changed, LIVE_SECONDS)
    )
    await expect(reader.pinned_entry(middle.pk)).to_have_count(0)
    assert await reader.ids("#stream article.entry") == [middle.pk, oldest.pk]

    changed = time.monotonic()
    await desk.edit(newest, pinned=False, key_event=False)
    await desk.edit(oldest, key_event=False)
    await expect(reader.key_event(oldest.pk)).to_have_count(
        0, timeout=within(changed, LIVE_SECONDS)
    )
    await expect(reader.key_event(newest.pk)).to_have_count(0)
    await expect(reader.page.locator("#key-events")).to_be_hidden()
    await expect(reader.page.locator("#pinned")).to_be_hidden()
    assert await reader.ids("#stream article.entry") == [e.pk for e in three_entries]
    await expect(reader.entry(oldest.pk).locator(".entry__label--key")).to_have_count(0)
    assert await reader.state() == await server_state(reader.page.request, reader.base_url, SLUG)
    assert not await reader.was_reloaded()
    assert reader.errors == []


async def test_an_ended_event_shows_the_notice_and_the_page_closes_its_socket_for_good(
    transactional_db, desk: Desk, three_entries, reader: Reader
):
    await open_live(reader)
    await expect(reader.page.locator("#notice-ended")).to_be_hidden()
    assert len(reader.sockets) == 1

    ended = time.monotonic()
    await desk.end_event()
    await expect(reader.page.locator("#notice-ended")).to_be_visible(
        timeout=within(ended, LIVE_SECONDS)
    )
    await expect(reader.page.locator("#event-badge")).to_have_text("Ended")
    await expect(reader.connection).to_be_hidden()
    await reader.page.wait_for_timeout(QUIET_SECONDS * 1000)
    assert reader.sockets[0].is_closed()
    assert len(reader.sockets) == 1, "the page opened another socket after the event ended"
    frames = len(reader.frames)
    await desk.publish("A late correction")
    await reader.page.wait_for_timeout(500)
    assert len(reader.frames) == frames
    assert not await reader.was_reloaded()
    assert reader.errors == []


async def test_an_event_that_ended_while_the_reader_was_cut_off_shows_ended_once_back(
    transactional_db, desk: Desk, three_entries, reader: Reader
):
    gate = SocketGate()
    await gate.install(reader.page)
    await open_live(reader)
    await gate.cut()
    await expect(reader.connection).to_have_text("Reconnecting…")
    await desk.end_event()

    allowed = time.monotonic()
    gate.allow()
    # The server refuses the next socket with 4410; the page asks for the event's state.
    await expect(reader.page.locator("#notice-ended")).to_be_visible(timeout=within(allowed, 5.0))
    await expect(reader.connection).to_be_hidden()
    sockets = len(gate.connected)
    await reader.page.wait_for_timeout(QUIET_SECONDS * 1000)
    assert len(gate.connected) == sockets, "the page tried again after the event ended"
    assert not await reader.was_reloaded()
    assert reader.errors == []
