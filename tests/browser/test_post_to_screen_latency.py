"""From a journalist's click on Post to the entry on a reader's screen: within a second.

The journalist posts from the event's desk on one Daphne process; the reader's page is
on another, so every entry travels desk -> database -> Redis -> the reader's Daphne ->
its websocket -> live.js -> the screen. Twenty entries, one at a time, each waited for.

Both pages run in the one Chromium on this machine, so both read the same wall clock:
Date.now() in the desk's page at the click, Date.now() in the reader's page once the
card is painted (tests/browser/pages.py: record_post_clicks, record_arrivals). Timing in
the pages rather than in Python leaves out Playwright's own work: before a click it
waits for the button to be visible and stable over two animation frames (Python's time
just before click() came 35 to 260 ms ahead of the click the page saw, on a busy
two-core machine), and a card it sees was already on screen for up to one polling
interval.
"""

import math

import pytest
from playwright.async_api import expect

from tests.browser.pages import SLUG, Newsroom, Reader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POSTS = 20
# The promise: what a journalist posts is on readers' screens within a second.
WITHIN_MS = 1000


def nearest_rank(ordered: list[float], percent: int) -> float:
    """The nearest-rank percentile of samples sorted ascending: the smallest sample with
    at least `percent` per cent of them at or below it. For 20 samples, p95 is the 19th:
    one post in twenty may be slower than the promise, two may not."""
    return ordered[math.ceil(percent / 100 * len(ordered)) - 1]


def breakdown(clicked: float, arrival: dict) -> str:
    """Where one post's time went, to see which part of the path is slow."""
    total = f"{arrival['painted'] - clicked:5.0f} ms"
    on_page = f"{arrival['painted'] - arrival['inDom']:3.0f} to paint"
    if arrival["frame"] is None:
        # Not by its frame: the page caught up through the API (a gap, a reconnect, polling).
        return f"{total} = {arrival['inDom'] - clicked:4.0f} to the page, caught up + {on_page}"
    return (
        f"{total} = {arrival['frame'] - clicked:4.0f} to the socket"
        f" + {arrival['inDom'] - arrival['frame']:3.0f} to the page + {on_page}"
    )


async def test_an_entry_posted_on_the_desk_is_on_a_readers_screen_within_a_second_at_p95(
    transactional_db, event, journalist, reader: Reader, newsroom: Newsroom, timings
):
    await reader.record_arrivals()
    await reader.open(SLUG)
    await reader.wait_until_live()
    await newsroom.record_post_clicks()
    await newsroom.log_in("sam", "correct horse battery")
    desk = newsroom.page
    await desk.goto(f"{newsroom.base_url}/admin/updates/event/{event.pk}/desk/")
    editor = desk.locator("#post-form .ProseMirror[contenteditable=true]")

    samples = []  # (click, what the reader's page noted of the entry)
    for number in range(1, POSTS + 1):
        headline = f"Ward {number:02} declares"
        # The headline first: its touch brings the editor (static/desk.js).
        await desk.locator("#id_headline").fill(headline)
        await editor.click()
        # Typed in one go: what is measured starts at the click, and key by key would
        # add seconds to the test.
        await desk.keyboard.insert_text(f"Ward {number:02} has counted its votes.")
        await desk.locator("#post-button").click()

        arrival = await reader.arrival(headline)
        await expect(reader.stream_entry(arrival["id"])).to_be_visible()
        # The desk again, a fresh form, before the next post (the click's time outlived
        # the submission in the tab's sessionStorage).
        await expect(desk.locator(".messagelist .success")).to_have_text(f"Published: {headline}")
        samples.append((await newsroom.post_clicked_at(headline), arrival))

    # The reader never left the top of the page: every entry went in at once.
    assert await reader.page.evaluate("window.scrollY") == 0
    await expect(reader.new_updates).to_be_hidden()
    await expect(reader.page.locator("#stream article.entry")).to_have_count(POSTS)
    assert reader.errors == []

    ordered = sorted(arrival["painted"] - clicked for clicked, arrival in samples)
    p50, p95, most = nearest_rank(ordered, 50), nearest_rank(ordered, 95), ordered[-1]
    for label, ms in (("p50", p50), ("p95", p95), ("max", most)):
        timings(f"desk click to reader's screen, {label} of {POSTS} ({ms:.0f} ms)", ms / 1000)
    report = "\n".join(
        f"  {number:2}: {breakdown(clicked, arrival)}"
        for number, (clicked, arrival) in enumerate(samples, start=1)
    )
    print(f"\nclick to painted, per post:\n{report}")
    assert p95 < WITHIN_MS, (
        f"p95 {p95:.0f} ms from the click on Post to the reader's screen, over {WITHIN_MS} ms"
        f" (p50 {p50:.0f} ms, max {most:.0f} ms); per post:\n{report}"
    )
