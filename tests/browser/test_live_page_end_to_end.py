"""The live page in Chromium, served by real Daphne processes sharing Redis and the database."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.async_api import APIRequestContext, Browser, Page, expect

from tests.browser.pages import DESKTOP, Desk, Newsroom, Reader, within
from updates.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
EVENT_TITLE = "Harbourside by-election"
BYLINE = "Sam Okafor, Political Correspondent"
HOSTILE_BODY = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
# A live change must be on the reader's screen this soon after the journalist saves.
LIVE_SECONDS = 2.0
# What the page's socket brings of an entry (?entry=card, docs/api.md): the card, what places it.
CARD_ENTRY = {"id", "revision", "html", "pinned", "key_event", "headline", "published_at", "url"}


@pytest.fixture
def forty_five_entries(make_entry) -> list[Entry]:
    """Newest first, a minute apart; the 31st is pinned, so it comes on the API's second page."""
    start = timezone.now() - timedelta(minutes=5)
    return [
        make_entry(
            headline=f"Update {number}",
            body=f"<p>Update number {number}.</p>",
            published_at=start - timedelta(minutes=number),
            pinned=number == 30,
        )
        for number in range(45)
    ]


@pytest.fixture
def hostile_entry(make_entry) -> Entry:
    return make_entry(
        headline="Someone pasted a script",
        body=HOSTILE_BODY,
        published_at=timezone.now() - timedelta(minutes=10),
    )


async def api_pages(request: APIRequestContext, base_url: str) -> list[list[int]]:
    """The ids of every page of the JSON API's entry list, following "next" to the end."""
    pages, before = [], ""
    for _ in range(20):
        response = await request.get(
            f"{base_url}/api/events/{SLUG}/entries/", params={"before": before} if before else None
        )
        assert response.ok, await response.text()
        answer = await response.json()
        pages.append([entry["id"] for entry in answer["entries"]])
        before = answer["next"]
        if before is None:
            return pages
    raise AssertionError("the API kept answering with a next page")


async def assert_harmless(page: Page, entry_id: int) -> None:
    """The entry's body holds no script, and nothing in it ran."""
    body = page.locator(f"#entry-{entry_id} .entry__body")
    await expect(body).to_be_visible()
    # An onerror handler would have run by the time every image has loaded or failed.
    await page.wait_for_function(
        "id => [...document.querySelectorAll(`#entry-${id} img`)].every(img => img.complete)",
        arg=entry_id,
        timeout=5_000,
    )
    await expect(body.locator("script")).to_have_count(0)
    await expect(body.locator("[onerror]")).to_have_count(0)
    assert await page.evaluate("typeof window.__pwned") == "undefined"


async def test_a_reader_sees_an_entry_posted_edited_and_deleted_in_the_admin_without_reloading(
    transactional_db,
    event,
    journalist,
    editor,
    earlier_entry,
    browser: Browser,
    reader: Reader,
    newsroom: Newsroom,
):
    await reader.open(SLUG)
    await expect(reader.entry(earlier_entry.pk)).to_be_visible()
    await reader.wait_until_live()
    # Survives until the page is reloaded or left.
    await reader.page.evaluate("window.__marker = 1")

    await newsroom.log_in("sam", "correct horse battery")
    await newsroom.open_new_entry()
    await expect(newsroom.field("byline")).to_have_value(BYLINE)
    await newsroom.fill_entry(
        event=EVENT_TITLE,
        headline="Turnout passes 40 per cent",
        body="<p>The returning officer expects a result by 2am.</p>",
    )

    # Posted: it appears at the top of the stream.
    saved = time.monotonic()
    await newsroom.save()
    card = reader.page.locator("#stream article.entry", has_text="Turnout passes 40 per cent")
    await expect(card).to_be_visible(timeout=within(saved, LIVE_SECONDS))
    entry_id = int(await card.get_attribute("data-id"))
    await newsroom.expect_message("was added successfully")
    await expect(reader.page.locator("#stream article.entry").first).to_have_id(f"entry-{entry_id}")
    await expect(card.locator(".entry__body")).to_have_text(
        "The returning officer expects a result by 2am."
    )
    await expect(card.locator(".entry__byline")).to_have_text(BYLINE)
    await expect(reader.entry(earlier_entry.pk)).to_be_visible()
    assert [f["entry"]["id"] for f in reader.frames_of("entry.created")] == [entry_id]
    # The page asks for each entry as its card: the body and byline above came in it, once.
    assert reader.sockets and all("entry=card" in socket.url for socket in reader.sockets)
    assert set(reader.frames_of("entry.created")[0]["entry"]) == CARD_ENTRY

    # Edited: the reader's card follows, in place.
    await newsroom.open_entry(entry_id)
    await newsroom.fill_entry(
        headline="Turnout passes 45 per cent",
        body="<p>A result is now expected by 1am.</p>",
    )
    saved = time.monotonic()
    await newsroom.save()
    await expect(reader.entry(entry_id).locator(".entry__headline")).to_have_text(
        "Turnout passes 45 per cent", timeout=within(saved, LIVE_SECONDS)
    )
    await expect(reader.entry(entry_id).locator(".entry__body")).to_have_text(
        "A result is now expected by 1am.", timeout=within(saved, LIVE_SECONDS)
    )
    await newsroom.expect_message("was changed successfully")
    await expect(reader.entry(entry_id)).to_have_count(1)
    await expect(
        reader.page.locator("article.entry", has_text="Turnout passes 40 per cent")
    ).to_have_count(0)

    # Deleted (by an editor: journalists cannot delete): the card goes; the earlier entry stays.
    editors_desk = Newsroom(await (await browser.new_context()).new_page(), newsroom.base_url)
    await editors_desk.log_in("ines", "correct horse battery")
    await editors_desk.open_delete(entry_id)
    saved = time.monotonic()
    await editors_desk.confirm_delete()
    await expect(reader.entry(entry_id)).to_have_count(0, timeout=within(saved, LIVE_SECONDS))
    await editors_desk.expect_message("was deleted successfully")
    await expect(reader.entry(earlier_entry.pk)).to_be_visible()

    assert [frame["type"] for frame in reader.frames if frame["type"] != "heartbeat"] == [
        "hello",
        "entry.created",
        "entry.updated",
        "entry.deleted",
    ]
    assert await reader.page.evaluate("window.__marker") == 1, "the reader's page was reloaded"
    assert reader.errors == []


async def test_load_more_brings_every_older_entry_once_in_newest_first_order(
    transactional_db, forty_five_entries, reader: Reader, screenshots
):
    await screenshots(f"{reader.base_url}/live/{SLUG}/", "live-page")
    pages = await api_pages(reader.page.request, reader.base_url)
    api_ids = [entry_id for page in pages for entry_id in page]
    newest_first = sorted(forty_five_entries, key=lambda e: e.published_at, reverse=True)
    assert api_ids == [entry.pk for entry in newest_first]
    assert len(pages) == 3

    await reader.open(SLUG)
    await reader.wait_until_live()
    load_more = reader.page.locator("#load-more")
    clicks = 0
    while await load_more.is_visible():
        assert clicks < len(pages), "Load more is still shown after the last page"
        await load_more.click()
        clicks += 1
        # Set during the click, removed once the page of entries is in.
        await expect(load_more).not_to_have_attribute("aria-busy", "true")
    assert clicks == len(pages) - 1
    await expect(load_more).to_be_hidden()

    pinned_ids = await reader.ids("#pinned article.entry")
    stream_ids = await reader.ids("#stream article.entry")
    assert pinned_ids == [forty_five_entries[30].pk]
    assert stream_ids == [entry_id for entry_id in api_ids if entry_id not in pinned_ids]
    assert sorted(await reader.ids("article.entry")) == sorted(api_ids)
    assert reader.errors == []


async def test_load_more_after_a_correction_brings_it_though_another_reader_loaded_that_page(
    transactional_db,
    forty_five_entries,
    desk: Desk,
    browser: Browser,
    reader_server,
    reader: Reader,
):
    older = forty_five_entries[25]  # on the second page
    await reader.open(SLUG)
    await reader.wait_until_live()
    # This reader's "Load more" says the revision its page shows, and the server keeps
    # the page it answered with (updates/held_pages.py).
    async with reader.page.expect_request(re.compile(r"min_revision=45\b")):
        await reader.page.locator("#load-more").click()
    await expect(reader.entry(older.pk)).to_be_visible()

    await desk.edit(older, headline="Update 25, corrected")
    # A reader arriving after the correction asks for the same page: not the one kept.
    late = Reader(await (await browser.new_context(**DESKTOP)).new_page(), reader_server.url)
    await late.open(SLUG)
    await late.wait_until_live()
    await late.page.locator("#load-more").click()
    await expect(late.entry(older.pk).locator(".entry__headline")).to_have_text(
        "Update 25, corrected"
    )
    # And the first reader's page has it too, through its feed.
    await expect(reader.entry(older.pk).locator(".entry__headline")).to_have_text(
        "Update 25, corrected"
    )
    assert reader.errors == late.errors == []


async def test_without_javascript_the_page_shows_entries_and_load_more_is_a_plain_link(
    transactional_db, forty_five_entries, browser: Browser, reader_server
):
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    pages = await api_pages(page.request, reader_server.url)
    pinned_id = forty_five_entries[30].pk
    stream = page.locator("#stream article.entry")
    load_more = page.locator("#load-more")

    await page.goto(f"{reader_server.url}/live/{SLUG}/")
    await expect(page.locator("#pinned article.entry")).to_have_count(1)
    await expect(page.locator(f"#pinned #entry-{pinned_id}")).to_be_visible()
    await expect(stream).to_have_count(len(pages[0]))
    assert await stream.evaluate_all("cards => cards.map(c => Number(c.dataset.id))") == pages[0]
    # Server-rendered times, which live.js would have put in the reader's time zone.
    await expect(stream.first.locator("time")).to_have_text(re.compile(r"^\d\d:\d\d UTC$"))

    for older in pages[1:]:
        await expect(load_more).to_have_attribute("href", re.compile(r"^\?before="))
        await load_more.click()
        await expect(page).to_have_url(re.compile(r"\?before="))
        await expect(stream).to_have_count(len(older))
        assert await stream.evaluate_all("cards => cards.map(c => Number(c.dataset.id))") == older
        await expect(page.get_by_role("link", name="Back to the latest")).to_be_visible()
    await expect(load_more).to_be_hidden()


async def test_a_script_in_an_entry_body_never_runs_on_first_render_nor_when_it_arrives_live(
    transactional_db, event, journalist, hostile_entry, reader: Reader, newsroom: Newsroom
):
    await reader.open(SLUG)
    await assert_harmless(reader.page, hostile_entry.pk)
    await reader.wait_until_live()

    await newsroom.log_in("sam", "correct horse battery")
    await newsroom.open_new_entry()
    await newsroom.fill_entry(event=EVENT_TITLE, headline="Pasted again, live", body=HOSTILE_BODY)
    saved = time.monotonic()
    await newsroom.save()
    card = reader.page.locator("#stream article.entry", has_text="Pasted again, live")
    await expect(card).to_be_visible(timeout=within(saved, LIVE_SECONDS))
    await assert_harmless(reader.page, int(await card.get_attribute("data-id")))
    assert reader.errors == []
