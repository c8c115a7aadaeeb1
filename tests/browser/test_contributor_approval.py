"""A contributor's post in Chromium: it waits, unseen by a reader whose page is open,
until an editor approves it from the desk's review queue; then it reaches that page live."""

import time

import pytest
from playwright.async_api import Browser, expect

from tests.browser.pages import DESKTOP, Desk, Newsroom, Reader, within
from tests.browser.test_accessibility import AXE, THEMES, WIDTHS
from tests.browser.test_newsroom_desk import LIVE_SECONDS, desk_as, open_live
from tests.servers import DaphneServer
from updates.models import Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADLINE = "Ballot box found in a skip"
# axe on the queue alone (the rest of the desk is test_accessibility.py's), every finding.
AXE_QUEUE = """async () => (await axe.run("#review-queue", {resultTypes: ["violations"]}))
    .violations.map(({id, nodes}) => `${id}: ${nodes.map(node => node.failureSummary)}`)"""


async def test_a_contributors_post_reaches_an_open_page_only_once_an_editor_approves_it(
    transactional_db,
    event,
    contributor,
    editor,
    reader: Reader,
    newsroom: Newsroom,
    browser: Browser,
    newsroom_server: DaphneServer,
    desk: Desk,
):
    await open_live(reader)

    # The contributor posts from the desk, as a journalist would.
    cal = await desk_as(newsroom, "cal", event)
    await cal.headline.fill(HEADLINE)
    await cal.start_body()
    await cal.type("Found behind the leisure centre, seals intact.")
    await cal.post()
    await cal.expect_message(f"Sent to the editors for approval: {HEADLINE}")
    entry = await Entry.objects.aget(headline=HEADLINE)
    own_queue = cal.page.locator(f"#review-queue #review-{entry.pk}")
    await expect(own_queue).to_contain_text("Awaiting approval")
    await expect(cal.page.locator("#review-queue button")).to_have_count(0)  # no Approve

    # Not on the reader's page: a journalist's post after it arrives, and it does not.
    later = await desk.publish("Polls close at 10pm")
    await expect(reader.entry(later.pk)).to_be_visible(timeout=LIVE_SECONDS * 1000)
    await expect(reader.entry(entry.pk)).to_have_count(0)
    await expect(reader.page.get_by_text(HEADLINE)).to_have_count(0)

    # The editor, in a browser of their own, finds it in the queue and approves it.
    context = await browser.new_context(**DESKTOP)
    await context.add_init_script(path=AXE)
    try:
        ines = await desk_as(Newsroom(await context.new_page(), newsroom_server.url), "ines", event)
        queued = ines.page.locator(f"#review-queue #review-{entry.pk}")
        await expect(queued.locator("h3")).to_have_text(HEADLINE)
        await expect(queued).to_contain_text("by cal")
        await expect(queued).to_contain_text("Found behind the leisure centre, seals intact.")
        await expect(queued.get_by_label("Note to the contributor")).to_be_visible()
        findings = {}
        # No transition (desk.css), so colours are measured as they are, not on the way:
        # waiting for the admin's to finish can wait forever when themes switch mid-way.
        await ines.page.emulate_media(reduced_motion="reduce")
        for width in WIDTHS:
            for theme in THEMES:
                await ines.page.set_viewport_size({"width": width, "height": 900})
                await ines.page.emulate_media(color_scheme=theme)
                if found := await ines.page.evaluate(AXE_QUEUE):
                    findings[f"{width} px, {theme}"] = found
        assert not findings, f"axe on the review queue: {findings}"
        await ines.page.set_viewport_size(DESKTOP["viewport"])
        approved = time.monotonic()
        await queued.get_by_role("button", name="Approve", exact=True).click()
        await expect(reader.entry(entry.pk)).to_be_visible(timeout=within(approved, LIVE_SECONDS))
        await ines.expect_message(f"Approve: {HEADLINE}")
        await expect(ines.page.locator(f"#review-{entry.pk}")).to_have_count(0)
    finally:
        await context.close()

    await expect(reader.entry(entry.pk).locator(".entry__body")).to_have_text(
        "Found behind the leisure centre, seals intact."
    )
    assert [frame["entry"]["id"] for frame in reader.frames_of("entry.created")] == [
        later.pk,
        entry.pk,
    ]
    assert not await reader.was_reloaded()
    assert reader.errors == []
