"""What a screen-reader user hears and where a keyboard user's focus goes on the live page,
in Chromium: new updates announced once per batch through the polite live region, not
their edits, and not while the reader is in an entry; the stream a feed of numbered,
focusable articles; after "Load more" and the new-updates button, the focus on the first
new entry."""

import asyncio

import pytest
from playwright.async_api import expect

from tests.browser import test_reader_scrolled_down
from tests.browser.pages import Desk, Reader
from tests.browser.test_reader_scrolled_down import SLUG, scroll_to_the_middle

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Enough to scroll, and more than a page: "Load more" shows.
thirty_entries = test_reader_scrolled_down.thirty_entries

# Longer than the page's wait for the rest of a batch (ANNOUNCE_AFTER_MS in live.js).
BATCH_SETTLES = 2.5

# Every text the live region takes, as a screen reader would hear each change.
LISTEN = """() => {
    window.announced = [];
    new MutationObserver(() => {
        const text = document.getElementById("announcer").textContent;
        if (text) window.announced.push(text);
    }).observe(
        document.getElementById("announcer"),
        {childList: true, characterData: true, subtree: true},
    );
}"""


async def announced(reader: Reader) -> list[str]:
    await asyncio.sleep(BATCH_SETTLES)
    return await reader.page.evaluate("() => window.announced")


async def test_a_batch_of_new_updates_is_announced_once_and_their_edits_never(
    transactional_db, desk: Desk, thirty_entries, reader: Reader
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    await reader.page.evaluate(LISTEN)

    posted = [await desk.publish(f"Ward {ward} declares") for ward in ("north", "east", "west")]

    assert await announced(reader) == ["3 new updates: Ward west declares"]
    await desk.edit(posted[0], headline="Ward north declares, recount refused")
    await desk.delete(posted[1])
    assert await announced(reader) == ["3 new updates: Ward west declares"]

    # In an entry (its article focused), the reader is not interrupted: once they leave it.
    await reader.page.locator("#stream article.entry").first.focus()
    await desk.publish("Turnout at 62%")
    assert await announced(reader) == ["3 new updates: Ward west declares"]
    await reader.page.evaluate("() => document.activeElement.blur()")
    assert (await announced(reader))[1:] == ["1 new update: Turnout at 62%"]


async def test_the_stream_is_a_feed_and_the_focus_goes_to_what_each_button_brought(
    transactional_db, desk: Desk, thirty_entries, reader: Reader
):
    await reader.open(SLUG)
    await reader.wait_until_live()
    stream = reader.page.locator("#stream")
    await expect(stream).to_have_attribute("role", "feed")
    first = stream.locator("article.entry").first
    await expect(first).to_have_attribute("aria-posinset", "1")
    await expect(first).to_have_attribute("aria-setsize", "-1")  # more to load
    await expect(first).to_have_attribute("tabindex", "0")
    headline = await first.locator(".entry__headline").get_attribute("id")
    await expect(first).to_have_attribute("aria-labelledby", headline)

    # "Load more", by keyboard: the focus on the first entry it brought.
    await reader.page.locator("#load-more").focus()
    await reader.page.keyboard.press("Enter")
    await expect(reader.page.locator("article.entry:focus")).to_have_attribute(
        "aria-posinset", "21"
    )
    await expect(stream).not_to_have_attribute("aria-busy", "true")

    # The new-updates button: announced (once the reader has left the entry they were
    # in), then by keyboard the focus on the newest.
    await reader.page.evaluate("() => document.activeElement.blur()")
    await reader.page.evaluate(LISTEN)
    await scroll_to_the_middle(reader)
    newest = await desk.publish("Result expected by 2am")
    await expect(reader.new_updates).to_have_text("1 new update")
    assert await announced(reader) == [
        "1 new update: Result expected by 2am. Show them with the new updates button at the top."
    ]
    await reader.new_updates.focus()
    await reader.page.keyboard.press("Enter")
    await expect(reader.page.locator("article.entry:focus")).to_have_id(f"entry-{newest.pk}")
