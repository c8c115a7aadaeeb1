"""The live page and the desk by keyboard alone, in Chromium: Tab goes through what a reader
or a journalist uses, in the order they see it, each stop with a visible focus ring."""

import pytest
from playwright.async_api import Page

from tests.browser.pages import Newsroom, Reader
from tests.browser.test_newsroom_desk import PASSWORD, DeskPage
from updates.embeds import embed_for
from updates.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"

# What the focused element is, in words a test can compare: its id, or its role and name.
FOCUSED = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    const ring = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const name = (element.getAttribute("aria-label") || element.textContent || element.name || "")
        .trim().replace(/\\s+/g, " ").slice(0, 40);
    const what = element.id ? "#" + element.id
        : element.classList.contains("ProseMirror") ? "the body's editor"
        : element.tagName.toLowerCase() + " " + name;
    return {what: what, ring: ring || style.boxShadow !== "none"};
}"""


async def walk(page: Page, stops: int) -> list[str]:
    """Tab `stops` times from the top of the page: where the focus went each time."""
    await page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen = []
    for _ in range(stops):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        assert focused["ring"], f"no visible focus on {focused['what']}"
        seen.append(focused["what"])
    return seen


@pytest.fixture
def entries(event: Event, make_entry):
    key = make_entry(headline="Turnout at 62%", key_event=True)
    video = make_entry(headline="The speech", media=[embed_for("https://youtu.be/dQw4w9WgXcQ")])
    pinned = make_entry(headline="How to follow the count", pinned=True)
    return key, video, pinned


async def test_a_reader_walks_the_live_page_in_the_order_it_reads(
    transactional_db, entries, reader: Reader
):
    key, video, pinned = entries
    await reader.open(SLUG)
    await reader.wait_until_live()

    stops = await walk(reader.page, 10)

    assert stops[:2] == ["a Skip to the updates", "a Liveblog"]
    # The key events; the pinned entry's permalink; the order switch; then the stream's
    # articles newest first (a feed: each a stop of its own), each with its links and
    # buttons.
    assert stops[2].startswith("a ") and "Turnout at 62%" in stops[2], stops
    assert stops[3].startswith("a "), stops  # the pinned entry's time, its permalink
    assert stops[4:7] == ["#order-switch", f"#entry-{video.pk}", stops[6]], stops
    assert stops[6].startswith("a "), stops
    assert stops[7:10] == [
        "a https://youtu.be/dQw4w9WgXcQ",
        "button Show content from YouTube",
        f"#entry-{key.pk}",
    ], stops


async def test_a_journalist_walks_the_desk_in_the_order_of_the_form(
    transactional_db, event: Event, journalist, newsroom: Newsroom
):
    await newsroom.log_in("sam", PASSWORD)
    desk = DeskPage(newsroom, event)
    await desk.open()
    await desk.headline.focus()

    stops = [await newsroom.page.evaluate(FOCUSED)]
    for _ in range(30):
        await newsroom.page.keyboard.press("Tab")
        stops.append(await newsroom.page.evaluate(FOCUSED))

    # A field of several parts (the time: day, month, year, ...) takes a Tab per part: it
    # is one stop, whose ring is checked as it is entered.
    entered = [
        stop
        for number, stop in enumerate(stops)
        if not number or stops[number - 1]["what"] != stop["what"]
    ]
    assert [stop["what"] for stop in entered if not stop["ring"]] == [], stops
    order = [stop["what"] for stop in entered]
    # The body's toolbar, then its editor, between the headline and the byline.
    expected = ["#id_headline", "the body's editor", "#id_byline", "#id_published_at"]
    assert [stop for stop in order if stop in expected] == expected, order
    assert order.index("#id_published_at") < order.index("#id_embed_url"), order
    assert order.index("#id_embed_title") < order.index("#id_pictures-0-file"), order
    assert order.index("#id_pictures-0-file") < order.index("#id_pictures-0-alt"), order
