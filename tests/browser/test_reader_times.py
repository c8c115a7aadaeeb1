"""Times on the live page: the site's own zone, labelled, for readers without JavaScript
and search engines; the reader's own zone once the page's script runs."""

import re
from datetime import UTC, datetime

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import DESKTOP, SLUG
from updates.models import Entry

pytestmark = pytest.mark.browser

# Summer in London (BST, UTC+1); in Tokyo, where the reader is, 06:05 the next morning.
POSTED = datetime(2026, 7, 2, 21, 5, tzinfo=UTC)


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {"TIME_ZONE": "Europe/London"}


@pytest.fixture
def entry(make_entry) -> Entry:
    return make_entry(headline="Turnout 46.2%", key_event=True, published_at=POSTED)


async def test_a_reader_sees_the_sites_zone_without_javascript_and_their_own_with_it(
    browser: Browser, reader_server, entry: Entry
):
    url = f"{reader_server.url}/live/{SLUG}/"
    without_script = await browser.new_context(
        **DESKTOP, timezone_id="Asia/Tokyo", java_script_enabled=False
    )
    page = await without_script.new_page()
    await page.goto(url)
    await expect(page.locator(f"#entry-{entry.pk} .entry__time time")).to_have_text("22:05 BST")
    await expect(page.locator(f'#key-events-list li[data-id="{entry.pk}"] time')).to_have_text(
        "22:05 BST"
    )

    in_tokyo = await browser.new_context(**DESKTOP, timezone_id="Asia/Tokyo")
    page = await in_tokyo.new_page()
    await page.goto(url)
    key_event_time = page.locator(f'#key-events-list li[data-id="{entry.pk}"] time')
    await expect(key_event_time).to_have_text(re.compile(r"^3 Jul, 06:05 (GMT\+9|JST)$"))
    card_time = page.locator(f"#entry-{entry.pk} .entry__time time")
    await expect(card_time).to_have_attribute("title", re.compile(r"06:05:00 (GMT\+9|JST)"))


# The key event's time, with its zone, for a reader in each zone, in each page language.
KEY_EVENT_TIMES = {
    ("en-gb", "Asia/Tokyo"): r"3 Jul, 06:05 (GMT\+9|JST)",
    ("en-gb", "America/New_York"): r"2 Jul, 17:05 (EDT|GMT-4)",
    ("en-gb", "Asia/Kolkata"): r"3 Jul, 02:35 (GMT\+5:30|IST)",
    ("de", "Asia/Tokyo"): r"3\. Juli, 06:05 (GMT\+9|JST)",
    ("de", "America/New_York"): r"2\. Juli, 17:05 (GMT-4|EDT)",
    ("de", "Asia/Kolkata"): r"3\. Juli, 02:35 (GMT\+5:30|IST)",
}


@pytest.fixture
def foreign_event(db, make_entry):
    """An event covered in German, with the same key event as the site's English one."""
    from updates.services import entry_publish, event_create

    event = event_create(title="Landtagswahl", slug="landtagswahl", language="de")
    return entry_publish(
        event=event,
        author=None,
        headline="Wahlbeteiligung 46,2 %",
        body="<p>Hoch.</p>",
        key_event=True,
        published_at=POSTED,
    )


async def test_times_are_the_readers_zone_named_in_the_pages_language(
    browser: Browser, reader_server, entry: Entry, foreign_event: Entry
):
    for (language, zone), shown in KEY_EVENT_TIMES.items():
        entry_of_page = entry if language == "en-gb" else foreign_event
        slug = entry_of_page.event.slug
        # The browser's own language is neither: the page's decides.
        context = await browser.new_context(**(DESKTOP | {"locale": "fr-FR"}), timezone_id=zone)
        page = await context.new_page()
        await page.goto(f"{reader_server.url}/live/{slug}/")
        assert await page.get_attribute("html", "lang") == language
        key_event_time = page.locator(f'#key-events-list li[data-id="{entry_of_page.pk}"] time')
        await expect(key_event_time).to_have_text(re.compile(f"^{shown}$"))
        # The zone is named on hover too.
        title = await key_event_time.get_attribute("title")
        assert re.search(shown.rsplit(" ", 1)[-1], title), (language, zone, title)
        await context.close()
