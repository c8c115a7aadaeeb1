"""Nothing typed on the desk is lost, in Chromium against a real Daphne: what a journalist
types (and a photo taken with a phone's camera) comes back in a new tab, from the browser,
and on a new laptop, from the server, as an edit typed into an entry's form does; a post
refused for its errors shows them with the text kept; a post that fails because the
connection is cut or the session has expired keeps the text and says what to do, and once
signed in again the text is there and posts, once."""

import re
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.contrib.sessions.models import Session
from PIL import Image
from playwright.async_api import Browser, expect

from tests.browser.pages import DESKTOP, PHONE, Newsroom
from tests.browser.test_newsroom_desk import PASSWORD, DeskPage
from updates.models import Draft, Entry

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADLINE = "Recount called in the east ward"
BODY = "The margin was 14 votes."


@pytest.fixture
def daphne_settings(tmp_path) -> dict[str, str]:
    # The uploaded photo's thumbnail is served by Django itself (nginx does in deploy/).
    return {"MEDIA_ROOT": str(tmp_path / "media"), "DEBUG": "true"}


@pytest.fixture
def photo_file(tmp_path) -> Path:
    path = tmp_path / "IMG_0001.jpg"
    Image.effect_noise((1200, 900), 50).convert("RGB").save(path, "JPEG", quality=85)
    return path


async def signed_in_desk(
    browser: Browser, server_url: str, event, console: list[str] | None = None, **options
) -> DeskPage:
    newsroom = Newsroom(await (await browser.new_context(**options)).new_page(), server_url)
    if console is not None:
        newsroom.page.on("console", lambda message: console.append(message.text))
        newsroom.page.on("pageerror", lambda error: console.append(str(error)))
    await newsroom.log_in("sam", PASSWORD)
    desk = DeskPage(newsroom, event)
    await desk.open()
    return desk


async def type_update(desk: DeskPage) -> None:
    await desk.headline.fill(HEADLINE)
    await desk.start_body()
    await desk.type(BODY)


def notice(desk: DeskPage):
    return desk.page.locator("#post-form .drafts__notice")


def problem(desk: DeskPage):
    return desk.page.locator("#post-form .drafts__problem")


async def expect_typed(desk: DeskPage) -> None:
    await expect(desk.headline).to_have_value(HEADLINE)
    await expect(desk.editor).to_have_text(BODY)


async def expect_restored(desk: DeskPage, said_to_console: list[str]) -> None:
    """The text is back; if not, what the page was served and said, to tell why."""
    try:
        await expect(desk.headline).to_have_value(HEADLINE, timeout=10_000)
    except AssertionError as missing:
        served = await desk.page.locator("#draft-keeper").text_content()
        said = await desk.page.locator(
            "#post-form .drafts__notice, .drafts__status"
        ).all_text_contents()
        kept = await database_sync_to_async(lambda: list(Draft.objects.values()))()
        raise AssertionError(
            f"not restored; served {served}; said {said}; kept {kept}; console {said_to_console}"
        ) from missing
    await expect_typed(desk)


async def test_what_a_journalist_types_comes_back_in_a_new_tab_and_on_a_new_laptop(
    transactional_db,
    event,
    journalist,
    earlier_entry,
    browser: Browser,
    newsroom_server,
    photo_file,
):
    # On a phone: the photo comes from "Take a photo", the camera.
    desk = await signed_in_desk(browser, newsroom_server.url, event, **PHONE)
    await type_update(desk)
    camera = desk.page.get_by_label("Take a photo")
    await expect(camera).to_be_visible()
    await camera.set_input_files(photo_file)
    row = desk.page.locator("#pictures .pictures__row").first
    await expect(row.locator(".pictures__status")).to_have_text(
        "Uploaded: it goes out with the post.", timeout=15_000
    )
    await desk.page.locator("#id_pictures-0-alt").fill("Counters at the east ward's table")
    token = await row.locator("input[name$='-uploaded']").input_value()
    thumbnail = await row.locator(".pictures__chosen").get_attribute("src")
    # Kept on the server a moment after the last keystroke.
    await expect(desk.page.locator(".drafts__status")).to_have_text(
        re.compile(r"^Draft saved at \d\d:\d\d\.$")
    )

    # The tab is closed; a new one on the desk has it all back, from this browser.
    context = desk.page.context
    await desk.page.close()
    again = DeskPage(Newsroom(await context.new_page(), newsroom_server.url), event)
    await again.open()
    await expect_typed(again)
    await expect(notice(again)).to_contain_text(re.compile(r"Your unsaved text from \d\d:\d\d"))
    await expect(again.page.locator("#id_pictures-0-alt")).to_have_value(
        "Counters at the east ward's table"
    )
    await expect(again.page.locator("#id_pictures-0-uploaded")).to_have_value(token)
    await expect(again.page.locator("#pictures .pictures__chosen")).to_have_attribute(
        "src", thumbnail
    )

    # A new laptop: nothing in its browser, and the server's draft puts it all back.
    kept = await database_sync_to_async(lambda: list(Draft.objects.values("fields")))()
    assert [draft["fields"]["fields"]["headline"] for draft in kept] == [HEADLINE]
    console: list[str] = []
    laptop = await signed_in_desk(browser, newsroom_server.url, event, console, **DESKTOP)
    await expect_restored(laptop, console)
    await expect(laptop.page.locator("#id_pictures-0-uploaded")).to_have_value(token)
    await expect(laptop.page.get_by_label("Take a photo")).to_be_hidden()
    # Discarded: the form as it was served, and the draft gone everywhere.
    async with laptop.page.expect_response(
        lambda response: response.request.method == "DELETE" and "/drafts/" in response.url
    ) as discarded:
        await notice(laptop).get_by_role("button", name="Discard").click()
    assert (await discarded.value).ok
    await expect(laptop.headline).to_have_value("")
    await expect(laptop.editor).to_have_text("")
    await expect(laptop.page.locator("#id_pictures-0-uploaded")).to_have_value("")
    await expect(laptop.page.locator("#pictures .pictures__chosen")).to_have_count(0)
    await expect(laptop.page.locator(".drafts__status")).to_have_text("")
    assert not await database_sync_to_async(Draft.objects.exists)()

    # The admin's form of an entry keeps a draft of the edit the same way, until it is saved.
    editing = Newsroom(laptop.page, newsroom_server.url)
    await editing.open_entry(earlier_entry.pk)
    await editing.field("headline").fill("Polls are open until 10pm")
    await expect(editing.page.locator(".drafts__status")).to_have_text(re.compile("^Draft saved"))
    reopened = Newsroom(await laptop.page.context.new_page(), newsroom_server.url)
    await reopened.open_entry(earlier_entry.pk)
    await expect(reopened.field("headline")).to_have_value("Polls are open until 10pm")
    await expect(reopened.page.locator(".drafts__notice")).to_contain_text("Your unsaved text")
    await reopened.save()
    await reopened.expect_message("was changed successfully")
    await reopened.open_entry(earlier_entry.pk)
    await expect(reopened.field("headline")).to_have_value("Polls are open until 10pm")
    await expect(reopened.page.locator(".drafts__notice")).to_be_hidden()
    assert not await database_sync_to_async(Draft.objects.exists)()


async def test_a_post_cut_off_or_signed_out_keeps_the_text_and_posts_once_signed_in_again(
    transactional_db, event, journalist, browser: Browser, newsroom_server
):
    desk = await signed_in_desk(browser, newsroom_server.url, event, **DESKTOP)
    # Refused for what is missing: the desk's own page with its errors, the headline kept.
    await desk.headline.fill(HEADLINE)
    await desk.post()
    await expect(desk.page.locator(".desk__field--body .errorlist")).to_have_text(
        "This field is required."
    )
    await expect(desk.headline).to_have_value(HEADLINE)
    await desk.start_body()
    await desk.type(BODY)

    # The connection is cut: nothing posted, the text kept, and the journalist told.
    await desk.page.context.set_offline(True)
    await desk.post()
    await expect(problem(desk)).to_have_text(
        "Could not reach the server: nothing was posted, your text is kept. Try again."
    )
    await expect_typed(desk)
    await desk.page.context.set_offline(False)

    # The session ends on the server (it expired, or an administrator signed everyone out).
    await database_sync_to_async(lambda: Session.objects.all().delete())()
    await desk.post()
    await expect(problem(desk)).to_contain_text(
        "You have been signed out, so nothing was posted. Your text is kept: "
        "sign in again, then post it."
    )
    await expect_typed(desk)
    assert not await database_sync_to_async(Entry.objects.exists)()

    # The message's link signs in in a new tab, which the admin then sends to the desk:
    # the text is there, and posts.
    async with desk.page.context.expect_page() as opened:
        await problem(desk).get_by_role("link", name="Sign in again (in a new tab)").click()
    login = Newsroom(await opened.value, newsroom_server.url)
    await login.page.locator("#id_username").fill("sam")
    await login.page.locator("#id_password").fill(PASSWORD)
    await login.page.locator("#login-form [type=submit]").click()
    signed_in = DeskPage(login, event)
    await expect(login.page).to_have_url(signed_in.url)
    await expect_typed(signed_in)
    await signed_in.post()
    await signed_in.expect_message(f"Published: {HEADLINE}")
    await signed_in.expect_cleared()
    assert await database_sync_to_async(Entry.objects.filter(headline=HEADLINE).count)() == 1
    assert not await database_sync_to_async(Draft.objects.exists)()

    # The first tab, where the same text waited, shows it posted rather than offering it
    # to be posted twice.
    await expect(desk.headline).to_have_value("")
    await expect(desk.page.locator("#desk-entries")).to_contain_text(HEADLINE)
    await expect(problem(desk)).to_have_count(1)
    await expect(problem(desk)).to_be_hidden()
