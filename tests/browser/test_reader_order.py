"""An open page keeps the server's order through any changes: entries moved in time,
pinned and unpinned, deleted and restored, new, below "Load more" or beyond it, in both
reading orders. What a reader sees must be what a reload would show."""

import os
import random
import time
from datetime import datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from playwright.async_api import Browser, Page, expect

from tests.browser.pages import DESKTOP, SLUG, Desk
from updates.models import Entry
from updates.services import entry_restore

pytestmark = pytest.mark.browser

ENTRIES = 44  # two pages and a bit: after one "Load more", 4 are still beyond it
CHANGES = 40
CONVERGE_SECONDS = 10.0

READ_PAGE = """() => {
    const ids = selector =>
        [...document.querySelectorAll(selector)].map(card => Number(card.dataset.id));
    const more = document.getElementById("load-more");
    return {pinned: ids("#pinned article.entry"), stream: ids("#stream article.entry"),
            more: !more.hidden};
}"""


def order_key(entry: dict) -> tuple[datetime, int]:
    return datetime.fromisoformat(entry["published_at"]), entry["id"]


async def api_entries(page: Page, base_url: str, order: str) -> list[dict]:
    response = await page.request.get(
        f"{base_url}/api/events/{SLUG}/entries/?limit=100&order={order}"
    )
    answer = await response.json()
    assert answer["next"] is None, "these tests stay within one page of 100"
    return answer["entries"]


async def expected(page: Page, base_url: str, order: str, loaded_up_to: dict | None) -> dict:
    """What a reload would show, and "Load more" bring, up to the last entry loaded: pinned
    entries newest first, the rest in the reader's order."""
    entries = await api_entries(page, base_url, order)
    newest_first = sorted(entries, key=order_key, reverse=True)
    stream = [entry for entry in entries if not entry["pinned"]]
    if loaded_up_to is not None:
        last = order_key(loaded_up_to)
        beyond = (lambda key: key < last) if order == "newest" else (lambda key: key > last)
        stream = [entry for entry in stream if not beyond(order_key(entry))]
    return {
        "pinned": [entry["id"] for entry in newest_first if entry["pinned"]],
        "stream": [entry["id"] for entry in stream],
    }


async def until_exact(page: Page, base_url: str, order: str, loaded_up_to: dict | None) -> None:
    deadline = time.monotonic() + CONVERGE_SECONDS
    while True:
        want = await expected(page, base_url, order, loaded_up_to)
        read = await page.evaluate(READ_PAGE)
        shown = {"pinned": read["pinned"], "stream": read["stream"]}
        if shown == want:
            return
        if time.monotonic() > deadline:
            assert shown == want, (
                f"the {order}-first page is not in the server's order: {shown} != {want}"
            )
        await page.wait_for_timeout(50)


async def load_more(page: Page) -> None:
    button = page.locator("#load-more")
    cursor = await button.get_attribute("data-cursor")
    await button.click()
    # Each page ends with a new cursor, or none; it may bring no card the page lacks.
    await expect(button).not_to_have_attribute("data-cursor", cursor)
    # Back at the top, where new updates go in at once instead of waiting for the reader.
    await page.evaluate("window.scrollTo(0, 0)")


@pytest.fixture
def entries(make_entry) -> list[Entry]:
    """An entry a minute, with two pairs posted within one second, one pair at exactly
    the same time (then the id decides) and two pinned."""
    start = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    times = [start + timedelta(minutes=n) for n in range(ENTRIES)]
    times[10] = times[9] + timedelta(microseconds=262912)
    times[30] = times[29] + timedelta(microseconds=900)  # within one millisecond
    times[20] = times[19]
    return [
        make_entry(headline=f"Update {n}", published_at=at, pinned=n in (5, 41))
        for n, at in enumerate(times)
    ]


async def test_open_pages_keep_the_servers_order_through_any_changes(
    browser: Browser, reader_server, desk: Desk, entries: list[Entry]
):
    seed = int(os.environ.get("LIVEBLOG_TEST_SEED") or random.randrange(2**32))
    print(f"random seed: {seed}")
    rng = random.Random(seed)
    pages = {}
    for order in ("newest", "oldest"):
        context = await browser.new_context(**DESKTOP)
        page = await context.new_page()
        await page.goto(f"{reader_server.url}/live/{SLUG}/?order={order}")
        await load_more(page)
        # Fixed from here on: the last entry of the second page, as loaded.
        loaded = (await api_entries(page, reader_server.url, order))[39]
        pages[order] = page, loaded
    for page, _ in pages.values():
        await expect(page.locator("#connection")).to_have_text("Live")

    await apply_random_changes(desk, entries, rng)

    for order, (page, loaded) in pages.items():
        await until_exact(page, reader_server.url, order, loaded)
        while (await page.evaluate(READ_PAGE))["more"]:
            await load_more(page)
        await until_exact(page, reader_server.url, order, None)


async def apply_random_changes(desk: Desk, entries: list[Entry], rng: random.Random) -> None:
    """Moves to any time of the event's first three hours (among the entries loaded, beyond
    "Load more", onto another entry's exact time), pins, deletes, restores, new entries."""
    times = [entry.published_at for entry in entries]
    earliest, latest = times[0], timezone.now() - timedelta(seconds=1)
    restore = database_sync_to_async(entry_restore)
    deleted: list[Entry] = []
    for n in range(CHANGES):
        entry = rng.choice([entry for entry in entries if entry not in deleted])
        choice = rng.random()
        if choice < 0.4:
            at = (
                rng.choice(times)
                if rng.random() < 0.3
                else earliest + (latest - earliest) * rng.random()
            )
            await desk.edit(entry, published_at=at)
        elif choice < 0.55:
            await desk.edit(entry, pinned=not entry.pinned)
        elif choice < 0.7:
            deleted.append(await desk.delete(entry))
        elif choice < 0.8 and deleted:
            await restore(entry=deleted.pop(rng.randrange(len(deleted))))
        elif choice < 0.9:
            await desk.edit(entry, headline=f"{entry.headline}, corrected")
        else:
            at = earliest + (latest - earliest) * rng.random()
            entries.append(await desk.publish(f"Late news {n}", published_at=at))
