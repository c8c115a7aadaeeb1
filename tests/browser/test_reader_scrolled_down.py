"""A reader partway down the page keeps their place: new entries wait behind a button."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.async_api import expect

from tests.browser.pages import Desk, Reader, within
from updates.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
EVENT_TITLE = "Harbourside by-election"
LIVE_SECONDS = 2.0
FIRST_PAGE = 20


@pytest.fixture
def thirty_entries(make_entry) -> list[Entry]:
    """Newest first, a minute apart, long enough that the first page of 20 scrolls."""
    start = timezone.now() - timedelta(minutes=5)
    return [
        make_entry(
            headline=f"Update {number}",
            body=f"<p>Update number {number}. " + "The count goes on. " * 12 + "</p>",
            published_at=start - timedelta(minutes=number),
        )
        for number in range(30)
    ]


async def scroll_to_the_middle(reader: Reader) -> dict:
    """Scrolls halfway down; returns the reading position once it has settled."""
    await reader.page.evaluate(
        "window.scrollTo(0, (document.documentElement.scrollHeight - innerHeight) / 2)"
    )
    await reader.page.wait_for_function("() => window.scrollY > 1000", timeout=2_000)
    # Two animation frames: the scroll event has been handled.
    await reader.page.evaluate(
        "new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
    )
    return await reader.reading_position()


async def test_new_entries_wait_behind_a_button_without_moving_a_reader_scrolled_down(
    transactional_db, desk: Desk, thirty_entries, reader: Reader
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    await expect(reader.page).to_have_title(f"{EVENT_TITLE} – live")
    position = await scroll_to_the_middle(reader)
    assert position["id"] is not None

    published = time.monotonic()
    first = await desk.publish("Result expected by 2am")
    second = await desk.publish("Recount in the east ward")
    await expect(reader.new_updates).to_have_text(
        "2 new updates", timeout=within(published, LIVE_SECONDS)
    )
    await expect(reader.new_updates).to_be_visible()
    await expect(reader.page).to_have_title(f"(2) {EVENT_TITLE} – live")
    # Held, not inserted above the reader: what they read has not moved.
    await expect(reader.entry(first.pk)).to_have_count(0)
    await expect(reader.entry(second.pk)).to_have_count(0)
    now = await reader.reading_position()
    assert now["scrollY"] == position["scrollY"]
    assert now["id"] == position["id"]
    assert abs(now["top"] - position["top"]) <= 2

    await reader.new_updates.click()
    await expect(reader.new_updates).to_be_hidden()
    stream = reader.page.locator("#stream article.entry")
    await expect(stream.nth(0)).to_have_id(f"entry-{second.pk}")
    await expect(stream.nth(1)).to_have_id(f"entry-{first.pk}")
    await expect(stream.nth(2)).to_have_id(f"entry-{thirty_entries[0].pk}")
    await reader.page.wait_for_function("() => window.scrollY === 0", timeout=3_000)
    await expect(reader.entry(second.pk)).to_be_in_viewport()
    await expect(reader.page).to_have_title(f"{EVENT_TITLE} – live")
    assert reader.errors == []


async def test_an_older_entry_edited_while_the_reader_is_scrolled_down_is_not_a_new_update(
    transactional_db, desk: Desk, thirty_entries, reader: Reader
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    position = await scroll_to_the_middle(reader)
    # On the second page: not on the reader's page yet.
    older = thirty_entries[FIRST_PAGE + 3]
    await expect(reader.entry(older.pk)).to_have_count(0)

    await desk.edit(older, headline="Update 23, corrected")
    await reader.wait_for_frames("entry.updated", 1)
    # The page has handled the frame (it does so at once) well within this.
    await reader.page.wait_for_timeout(300)
    await expect(reader.new_updates).to_be_hidden()
    await expect(reader.page).to_have_title(f"{EVENT_TITLE} – live")
    assert (await reader.reading_position())["scrollY"] == position["scrollY"]

    # Load more brings it, as edited, in its place.
    await reader.page.locator("#load-more").click()
    await expect(reader.entry(older.pk).locator(".entry__headline")).to_have_text(
        "Update 23, corrected"
    )
    ids = await reader.ids("#stream article.entry")
    assert ids == [entry.pk for entry in thirty_entries]
    assert reader.errors == []


async def test_a_reader_at_the_top_sees_new_entries_at_once(
    transactional_db, desk: Desk, thirty_entries, reader: Reader
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    published = time.monotonic()
    entry = await desk.publish("Result expected by 2am")
    await expect(reader.page.locator("#stream article.entry").first).to_have_id(
        f"entry-{entry.pk}", timeout=within(published, LIVE_SECONDS)
    )
    await expect(reader.new_updates).to_be_hidden()
    await expect(reader.page).to_have_title(re.compile(rf"^{EVENT_TITLE}"))
