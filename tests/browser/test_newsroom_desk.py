"""The desk in Chromium: journalists and editors post and act on entries as they would,
typing in the rich-text editor, while a reader's page on the other Daphne follows along.

The body is typed into django-prose-editor's ProseMirror element, never filled into the
hidden textarea behind it: bold with Ctrl+B, links through the editor's link button and
its "Edit Link" dialog (a modal <dialog>, not a browser prompt).
"""

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browser.pages import DESKTOP, Desk, Newsroom, Reader, within
from updates.models import Entry, Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
PASSWORD = "correct horse battery"
BYLINE = "Sam Okafor, Political Correspondent"
# A post or a one-click action must be on the reader's screen this soon after the click.
LIVE_SECONDS = 2.0


class DeskPage:
    """An event's desk in a logged-in newsroom tab."""

    def __init__(self, newsroom: Newsroom, event: Event) -> None:
        self.page: Page = newsroom.page
        self.url = f"{newsroom.base_url}/admin/updates/event/{event.pk}/desk/"

    async def open(self) -> None:
        """The desk as a journalist starts on it: the headline touched, which brings the
        rich-text editor (static/desk.js loads it at the form's first touch)."""
        await self.page.goto(self.url)
        await self.headline.focus()
        await expect(self.editor).to_be_visible()

    # The post form -------------------------------------------------------------------

    @property
    def headline(self) -> Locator:
        return self.page.locator("#id_headline")

    @property
    def headline_errors(self) -> Locator:
        return self.page.locator(".desk__field", has=self.headline).locator(".errorlist")

    @property
    def byline(self) -> Locator:
        return self.page.locator("#id_byline")

    @property
    def editor(self) -> Locator:
        return self.page.locator("#post-form .ProseMirror[contenteditable=true]")

    @property
    def preview(self) -> Locator:
        return self.page.locator("#preview")

    async def start_body(self) -> None:
        """Put the caret in the (empty) body editor, which a touch of the form brings
        (the headline's, as a journalist starts) if it has not come yet."""
        await self.headline.focus()
        await self.editor.click()
        await expect(self.editor).to_be_focused()

    async def type(self, text: str) -> None:
        await self.page.keyboard.type(text)

    async def type_bold(self, text: str) -> None:
        await self.page.keyboard.press("Control+b")
        await self.page.keyboard.type(text)
        await self.page.keyboard.press("Control+b")

    async def type_link(self, text: str, url: str) -> None:
        """Type the words, select them, and make them a link with the menu bar's button."""
        await self.page.keyboard.type(text)
        for _ in text:
            await self.page.keyboard.press("Shift+ArrowLeft")
        await self.page.locator(".prose-menubar__button[data-name=link]").click()
        dialog = self.page.locator("dialog.prose-editor-dialog")
        await expect(dialog).to_be_visible()
        await expect(dialog.locator(".prose-editor-dialog-title")).to_have_text("Edit Link")
        await dialog.get_by_label("URL").fill(url)
        await dialog.get_by_role("button", name="Update").click()
        await expect(dialog).to_have_count(0)
        # The caret after the link, where the words go on without it.
        await self.editor.focus()
        await self.page.keyboard.press("ArrowRight")

    async def post(self) -> None:
        """Clicks Post and returns at once; expect_message() waits for the outcome."""
        await self.page.locator("#post-button").click()

    async def expect_message(self, text: str) -> None:
        await expect(self.page.locator(".messagelist .success")).to_have_text(text)

    async def expect_cleared(self) -> None:
        await expect(self.headline).to_have_value("")
        await expect(self.page.locator("#id_body")).to_have_value("")
        await expect(self.byline).to_have_value(BYLINE)

    # The latest entries --------------------------------------------------------------

    def row(self, entry_id: int) -> Locator:
        return self.page.locator(f"#desk-entries #desk-entry-{entry_id}")

    def button(self, entry_id: int, label: str) -> Locator:
        return self.row(entry_id).get_by_role("button", name=label, exact=True)

    async def entry_id(self, headline: str) -> int:
        row = self.page.locator("#desk-entries tr.desk__entry", has_text=headline)
        await expect(row).to_have_count(1)
        return int((await row.get_attribute("id")).removeprefix("desk-entry-"))

    async def act(self, entry_id: int, label: str, message: str) -> None:
        """One click on an entry's action button, then the desk again with its message."""
        await self.button(entry_id, label).click()
        await self.expect_message(message)

    async def post_action_by_hand(self, action: str, entry_id: int) -> int:
        """The status the desk answers when this page posts `action` for the entry
        itself, with a good CSRF token: what a hand-made form could do."""
        event_url = self.url.removesuffix("desk/")
        return await self.page.evaluate(
            """async (url) => {
                const body = new FormData();
                body.append("csrfmiddlewaretoken",
                    document.querySelector("input[name=csrfmiddlewaretoken]").value);
                return (await fetch(url, {method: "POST", body, redirect: "manual"})).status;
            }""",
            f"{event_url}desk/entries/{entry_id}/{action}/",
        )


@pytest.fixture
async def editor_newsroom(browser: Browser, newsroom_server) -> AsyncIterator[Newsroom]:
    """An editor's browser (a context of its own), not yet logged in."""
    context = await browser.new_context(**DESKTOP)
    try:
        yield Newsroom(await context.new_page(), newsroom_server.url)
    finally:
        await context.close()


async def desk_as(newsroom: Newsroom, username: str, event: Event) -> DeskPage:
    await newsroom.log_in(username, PASSWORD)
    desk = DeskPage(newsroom, event)
    await desk.open()
    return desk


async def open_live(reader: Reader) -> None:
    await reader.open(SLUG)
    await reader.wait_until_live()
    await reader.mark()


async def api_entries(page: Page, base_url: str) -> list[dict]:
    response = await page.request.get(f"{base_url}/api/events/{SLUG}/entries/?limit=100")
    assert response.ok, await response.text()
    return (await response.json())["entries"]


async def test_a_journalists_three_desk_posts_and_an_editors_pin_reach_an_open_page_live(
    transactional_db,
    event,
    journalist,
    editor,
    reader: Reader,
    newsroom: Newsroom,
    editor_newsroom: Newsroom,
    screenshots,
):
    await open_live(reader)
    desk = await desk_as(newsroom, "sam", event)
    await expect(desk.byline).to_have_value(BYLINE)
    await expect(desk.page.locator("#id_pinned")).to_have_count(0)

    # Bold, with Ctrl+B, posted with the Post button.
    await desk.headline.fill("Turnout passes 40 per cent")
    await desk.start_body()
    await desk.type("Turnout is ")
    await desk.type_bold("41 per cent")
    await desk.type(", up on the last by-election.")
    posted = time.monotonic()
    await desk.post()
    bold_card = reader.page.locator("#stream article.entry", has_text="Turnout passes 40 per cent")
    await expect(bold_card).to_be_visible(timeout=within(posted, LIVE_SECONDS))
    await desk.expect_message("Published: Turnout passes 40 per cent")
    await desk.expect_cleared()
    bold_id = await desk.entry_id("Turnout passes 40 per cent")

    # A link, through the editor's link button and its dialog.
    await desk.headline.fill("Ward results will be online")
    await desk.start_body()
    await desk.type("Every ward's result goes on the ")
    await desk.type_link("council's results page", "https://example.org/harbourside/results")
    await desk.type(" as it is declared.")
    posted = time.monotonic()
    await desk.post()
    link_card = reader.page.locator("article.entry", has_text="Ward results will be online")
    await expect(link_card).to_be_visible(timeout=within(posted, LIVE_SECONDS))
    await desk.expect_message("Published: Ward results will be online")
    await desk.expect_cleared()
    link_id = await desk.entry_id("Ward results will be online")

    # One click makes the first a key event: journalists may.
    marked = time.monotonic()
    await desk.act(bold_id, "Key event", "Key event: Turnout passes 40 per cent")
    await expect(reader.key_event(bold_id)).to_be_visible(timeout=within(marked, LIVE_SECONDS))
    await expect(desk.button(bold_id, "Not key")).to_be_visible()

    # The third, posted with Ctrl+Enter from the body.
    await desk.headline.fill("Recount called in Eastgate")
    await desk.start_body()
    await desk.type("The margin in Eastgate ward was 12 votes.")
    posted = time.monotonic()
    await desk.page.keyboard.press("Control+Enter")
    third_card = reader.page.locator("#stream article.entry", has_text="Recount called in Eastgate")
    await expect(third_card).to_be_visible(timeout=within(posted, LIVE_SECONDS))
    await desk.expect_message("Published: Recount called in Eastgate")
    await desk.expect_cleared()
    third_id = await desk.entry_id("Recount called in Eastgate")

    # The desk lists them newest first.
    rows = desk.page.locator("#desk-entries tr.desk__entry")
    await expect(rows).to_have_count(3)
    assert await rows.evaluate_all("rows => rows.map(row => row.id)") == [
        f"desk-entry-{third_id}",
        f"desk-entry-{link_id}",
        f"desk-entry-{bold_id}",
    ]
    directory = os.environ.get("LIVEBLOG_SCREENSHOTS")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        await desk.page.screenshot(
            path=Path(directory) / "desk.png", full_page=True, animations="disabled"
        )

    # An editor, in a browser of their own, pins the link with the desk's Pin button.
    editor_desk = await desk_as(editor_newsroom, "ines", event)
    await expect(editor_desk.page.locator("#id_pinned")).to_be_visible()
    pinned = time.monotonic()
    await editor_desk.act(link_id, "Pin", "Pin: Ward results will be online")
    await expect(reader.pinned_entry(link_id)).to_be_visible(timeout=within(pinned, LIVE_SECONDS))
    await expect(reader.stream_entry(link_id)).to_have_count(0)
    await expect(editor_desk.button(link_id, "Unpin")).to_be_visible()
    await expect(editor_desk.row(link_id).locator(".desk__tag")).to_have_text("Pinned")

    # The reader's page, never reloaded, shows all three with what was typed.
    await expect(reader.page.locator("#pinned article.entry")).to_have_count(1)
    assert await reader.ids("#stream article.entry") == [third_id, bold_id]
    await expect(reader.entry(bold_id).locator(".entry__body")).to_have_text(
        "Turnout is 41 per cent, up on the last by-election."
    )
    await expect(reader.entry(bold_id).locator(".entry__body strong")).to_have_text("41 per cent")
    link = reader.entry(link_id).locator(".entry__body a")
    await expect(link).to_have_text("council's results page")
    await expect(link).to_have_attribute("href", "https://example.org/harbourside/results")
    await expect(link).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    await expect(reader.entry(link_id).locator(".entry__body")).to_have_text(
        "Every ward's result goes on the council's results page as it is declared."
    )
    await expect(reader.entry(third_id).locator(".entry__body")).to_have_text(
        "The margin in Eastgate ward was 12 votes."
    )
    for entry_id in (bold_id, link_id, third_id):
        await expect(reader.entry(entry_id).locator(".entry__byline")).to_have_text(BYLINE)
    assert [f["entry"]["id"] for f in reader.frames_of("entry.created")] == [
        bold_id,
        link_id,
        third_id,
    ]
    assert not await reader.was_reloaded()
    assert reader.errors == []

    await screenshots(f"{reader.base_url}/live/{SLUG}/", "live")

    # What was typed, and nothing more: Ctrl+Enter must not also add the editor's line break.
    bodies = {
        entry["id"]: entry["body"] for entry in await api_entries(reader.page, reader.base_url)
    }
    assert bodies[bold_id] == (
        "<p>Turnout is <strong>41 per cent</strong>, up on the last by-election.</p>"
    )
    assert bodies[third_id] == "<p>The margin in Eastgate ward was 12 votes.</p>"


@pytest.fixture
def polls_open(make_entry) -> Entry:
    return make_entry(headline="Polls are open")


async def test_only_an_editor_gets_the_pin_and_delete_buttons_on_the_desk(
    transactional_db,
    event,
    journalist,
    editor,
    polls_open: Entry,
    newsroom: Newsroom,
    editor_newsroom: Newsroom,
):
    entry = polls_open

    desk = await desk_as(newsroom, "sam", event)
    await expect(desk.row(entry.pk)).to_be_visible()
    await expect(desk.button(entry.pk, "Key event")).to_be_visible()
    for label in ("Pin", "Unpin", "Delete", "Restore"):
        await expect(desk.button(entry.pk, label)).to_have_count(0)
    await expect(desk.page.locator("#id_pinned")).to_have_count(0)
    # Nor does a hand-made form get past the desk.
    assert await desk.post_action_by_hand("pin", entry.pk) == 403
    assert await desk.post_action_by_hand("delete", entry.pk) == 403

    editor_desk = await desk_as(editor_newsroom, "ines", event)
    await expect(editor_desk.button(entry.pk, "Key event")).to_be_visible()
    await expect(editor_desk.button(entry.pk, "Pin")).to_be_visible()
    await expect(editor_desk.button(entry.pk, "Delete")).to_be_visible()
    await expect(editor_desk.page.locator("#id_pinned")).to_be_visible()
    await editor_desk.act(entry.pk, "Delete", "Delete: Polls are open")
    await expect(editor_desk.row(entry.pk)).to_contain_text("Deleted")
    await expect(editor_desk.button(entry.pk, "Pin")).to_have_count(0)
    await editor_desk.act(entry.pk, "Restore", "Restore: Polls are open")
    await expect(editor_desk.button(entry.pk, "Delete")).to_be_visible()

    await entry.arefresh_from_db()
    assert not entry.pinned and not entry.is_deleted


async def test_a_post_refused_for_want_of_a_headline_keeps_the_body_typed_in_the_editor(
    transactional_db, event, journalist, newsroom: Newsroom
):
    desk = await desk_as(newsroom, "sam", event)
    await desk.start_body()
    await desk.type("Counting starts at ")
    await desk.type_bold("10pm")
    await desk.type(" in the leisure centre.")
    await desk.byline.fill("Sam Okafor, at the count")
    await desk.post()

    await expect(desk.headline_errors).to_have_text("This field is required.")
    await expect(desk.page.locator(".messagelist .success")).to_have_count(0)
    await expect(desk.editor).to_have_text("Counting starts at 10pm in the leisure centre.")
    await expect(desk.editor.locator("strong")).to_have_text("10pm")
    await expect(desk.byline).to_have_value("Sam Okafor, at the count")
    assert await Entry.objects.acount() == 0

    # With a headline the same words go out.
    await desk.headline.fill("Count starts at 10pm")
    await desk.post()
    await desk.expect_message("Published: Count starts at 10pm")
    entry = await Entry.objects.aget()
    assert entry.body == "<p>Counting starts at <strong>10pm</strong> in the leisure centre.</p>"
    assert entry.byline == "Sam Okafor, at the count"


async def test_words_typed_before_the_editor_has_come_stay_words_and_the_caret_goes_on(
    transactional_db, event, journalist, newsroom: Newsroom
):
    # The desk comes without the rich-text editor, which its form's first touch brings
    # (static/desk.js); here its script is held back until the journalist has typed.
    typed = asyncio.Event()

    async def after_typing(route) -> None:
        await typed.wait()
        await route.continue_()

    await newsroom.page.route("**/django_prose_editor/editor*.js", after_typing)
    await newsroom.log_in("sam", PASSWORD)
    desk = DeskPage(newsroom, event)
    await newsroom.page.goto(desk.url)
    await newsroom.page.locator("#id_body").click()
    await desk.type("Turnout <b>62%</b> & rising")
    await newsroom.page.keyboard.press("Enter")
    await desk.type("Counting starts at")
    typed.set()

    await expect(desk.editor).to_be_focused()
    await desk.type(" 10pm.")
    await expect(desk.editor.locator("p")).to_have_text(
        ["Turnout <b>62%</b> & rising", "Counting starts at 10pm."]
    )


async def test_preview_shows_the_card_in_the_frame_and_publishes_nothing(
    transactional_db, event, journalist, reader: Reader, newsroom: Newsroom, desk: Desk
):
    await open_live(reader)
    desk_page = await desk_as(newsroom, "sam", event)
    # Nothing to look at yet: no empty frame in the way.
    preview_hidden_at_first = await desk_page.preview.is_hidden()

    await desk_page.headline.fill("Recount likely in Eastgate")
    await desk_page.start_body()
    await desk_page.type("The margin is ")
    await desk_page.type_bold("under 20 votes")
    await desk_page.type(".")
    await desk_page.page.get_by_role("button", name="Preview", exact=True).click()

    await expect(desk_page.preview).to_be_visible()
    card = desk_page.page.frame_locator("#preview").locator("article.entry")
    await expect(card.locator(".entry__headline")).to_have_text("Recount likely in Eastgate")
    await expect(card.locator(".entry__body strong")).to_have_text("under 20 votes")
    await expect(card.locator(".entry__byline")).to_have_text(BYLINE)
    # Still on the form, with everything typed.
    await expect(desk_page.headline).to_have_value("Recount likely in Eastgate")
    await expect(desk_page.editor).to_have_text("The margin is under 20 votes.")

    # The preview has been answered: had it saved anything, the API would list it.
    assert await api_entries(reader.page, reader.base_url) == []
    assert await Entry.objects.acount() == 0
    # And had it broadcast anything, it would reach the reader before an entry published
    # after it.
    later = await desk.publish("Polls have closed")
    await expect(reader.entry(later.pk)).to_be_visible(timeout=LIVE_SECONDS * 1000)
    assert [f["entry"]["id"] for f in reader.frames_of("entry.created")] == [later.pk]
    await expect(reader.page.get_by_text("Recount likely in Eastgate")).to_have_count(0)
    assert not await reader.was_reloaded()

    assert preview_hidden_at_first, "an empty preview frame shows before Preview is clicked"
