"""The key points reach an open live page as editors change them, and a reader who was cut off
while they changed has the current ones once back, from the reconnecting socket's catch-up."""

import json
import time
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from playwright.async_api import expect

from tests.browser.pages import Desk, Newsroom, Reader, SocketGate, within
from tests.browser.test_newsroom_desk import PASSWORD
from updates.models import Entry
from updates.services import event_update

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
LIVE_SECONDS = 2.0
RECONNECTED_SECONDS = 5.0


@pytest.fixture
def pinned(make_entry) -> Entry:
    return make_entry(
        headline="Turnout so far", pinned=True, published_at=timezone.now() - timedelta(minutes=5)
    )


async def test_key_points_appear_change_and_catch_up_on_the_readers_page_without_a_reload(
    transactional_db, desk: Desk, pinned: Entry, editor, newsroom: Newsroom, reader: Reader, timings
):
    gate = SocketGate()
    await gate.install(reader.page)
    await reader.open(SLUG)
    await reader.wait_until_live()
    await reader.mark()
    block = reader.page.locator("#key-points")
    text = reader.page.locator("#key-points-text")
    await expect(block).to_be_hidden()

    # An editor writes them on the desk (another Daphne process: they reach the reader
    # through Redis).
    await newsroom.log_in("ines", PASSWORD)
    await newsroom.page.goto(f"{newsroom.base_url}/admin/updates/event/{desk.event.pk}/desk/")
    await newsroom.page.get_by_text("Write key points").click()
    editor_box = newsroom.page.locator("#key-points-form .ProseMirror[contenteditable=true]")
    await editor_box.click()
    await newsroom.page.keyboard.type("Turnout is 64%")
    saved = time.monotonic()
    await newsroom.page.locator("#key-points-save").click()
    await expect(newsroom.page.locator(".messagelist .success")).to_contain_text("Key points saved")
    await expect(text).to_have_text("Turnout is 64%", timeout=within(saved, LIVE_SECONDS))
    timings("key points saved on the desk -> on the reader's page", time.monotonic() - saved)
    await expect(block.get_by_role("heading", name="Key points")).to_be_visible()
    await expect(reader.page.get_by_role("region", name="Key points")).to_be_visible()
    # Above the pinned entry, and not read out.
    above = await block.evaluate(
        "(block, id) => Boolean(block.compareDocumentPosition(document.getElementById(id))"
        " & Node.DOCUMENT_POSITION_FOLLOWING)",
        f"entry-{pinned.pk}",
    )
    assert above
    await expect(reader.page.locator("#announcer")).to_have_text("")

    # Changed through the service, as any other writer would.
    changed = time.monotonic()
    await database_sync_to_async(event_update)(
        event=desk.event, changes={"key_points": "<ul><li>Turnout 64%</li><li>Recount</li></ul>"}
    )
    await expect(text.locator("li")).to_have_text(
        ["Turnout 64%", "Recount"], timeout=within(changed, LIVE_SECONDS)
    )
    (frame,) = [
        f for f in reader.frames_of("event.updated") if "Recount" in f["event"]["key_points"]
    ]
    assert frame["event"]["key_points"] == "<ul><li>Turnout 64%</li><li>Recount</li></ul>"

    # Cut off: the change is missed on the way; back, the hello's catch-up brings it.
    await gate.cut()
    await expect(reader.connection).to_have_text("Reconnecting…")
    await database_sync_to_async(event_update)(
        event=desk.event, changes={"key_points": "<p>The result is due at 3am.</p>"}
    )
    gate.allow()
    allowed = time.monotonic()
    await expect(text).to_have_text(
        "The result is due at 3am.", timeout=within(allowed, RECONNECTED_SECONDS)
    )
    timings("connection allowed again -> current key points", time.monotonic() - allowed)
    hello = [json.loads(frame) for frame in gate.from_server if '"type":"hello"' in frame][-1]
    assert hello["catch_up"]["event"]["key_points"] == "<p>The result is due at 3am.</p>"

    # Taken away: no block.
    await database_sync_to_async(event_update)(event=desk.event, changes={"key_points": ""})
    await expect(block).to_be_hidden(timeout=LIVE_SECONDS * 1000)
    await expect(reader.connection).to_have_text("Live")
    assert not await reader.was_reloaded()
    assert reader.errors == []
