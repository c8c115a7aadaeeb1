"""A picture posted from the desk in Chromium reaches open pages on two Daphne processes,
in every size and with its words: chosen with the form's file input, uploaded at once with
a progress bar while its alt text is typed, shown in the preview, posted, and loaded by
each reader's browser from the stored renditions."""

import re
import time
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, expect

from tests.browser.pages import DESKTOP, Newsroom, Reader, within
from tests.browser.test_newsroom_desk import LIVE_SECONDS, PASSWORD, SLUG, DeskPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Three widths of a 1800 px wide upload, under random names (never the uploader's).
SRCSET = re.compile(
    r"^/media/pictures/\w+/\w+-480\.jpg 480w, /media/pictures/\w+/\w+-960\.jpg 960w, "
    r"/media/pictures/\w+/\w+-1600\.jpg 1600w$"
)


@pytest.fixture
def media_root(tmp_path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def daphne_settings(media_root) -> dict[str, str]:
    # Both processes store into and serve from one MEDIA_ROOT, as they would from one
    # bucket; with DEBUG, Django serves it (nginx does in deploy/).
    return {"MEDIA_ROOT": str(media_root), "DEBUG": "true"}


@pytest.fixture
def photo_file(tmp_path) -> Path:
    path = tmp_path / "IMG_2041.jpg"
    Image.effect_noise((1800, 1200), 50).convert("RGB").save(path, "JPEG", quality=85)
    return path


async def writing_with_readers(newsroom: Newsroom, event, readers: tuple[Reader, ...]) -> DeskPage:
    """The journalist's desk, open once every reader's page is live."""
    for each in readers:
        await each.open(SLUG)
        await each.wait_until_live()
    await newsroom.log_in("sam", PASSWORD)
    desk = DeskPage(newsroom, event)
    await desk.open()
    return desk


async def test_a_picture_posted_from_the_desk_shows_on_readers_of_both_processes(
    transactional_db,
    event,
    journalist,
    browser: Browser,
    reader: Reader,
    newsroom: Newsroom,
    newsroom_server,
    photo_file,
    media_root,
):
    # A second reader, on the newsroom's Daphne: the picture reaches it through Redis.
    other = Reader(await (await browser.new_context(**DESKTOP)).new_page(), newsroom_server.url)
    desk = await writing_with_readers(newsroom, event, (reader, other))
    await desk.headline.fill("Boxes reach the Guildhall")
    await desk.start_body()
    await desk.type("The first ballot boxes are in.")
    await desk.page.locator("#id_pictures-0-file").set_input_files(photo_file)
    await desk.page.locator("#id_pictures-0-alt").fill("Ballot boxes stacked on a trolley")
    await desk.page.locator("#id_pictures-0-credit").fill("Photo: Sam Okafor")
    # Uploaded as soon as chosen: the bar full, the row showing the server's own smallest
    # rendition and carrying its token instead of the file.
    row = desk.page.locator("#pictures .pictures__row").first
    await expect(row.locator(".pictures__status")).to_have_text(
        "Uploaded: it goes out with the post.", timeout=15_000
    )
    assert await row.locator("progress").evaluate("bar => bar.value") == 100
    await expect(row.locator(".pictures__chosen")).to_have_attribute(
        "src", re.compile(r"^/media/pictures/\w+/\w+-480\.webp$")
    )
    await expect(row.locator("input[name$='-uploaded']")).to_have_value(re.compile(r".{40,}"))
    assert await row.locator("input[type=file]").evaluate("input => input.files.length") == 0
    # The preview shows the card with the picture, as readers will see it.
    await desk.page.locator("#preview-button").click()
    previewed = desk.page.frame_locator("#preview").locator("article.entry figure img")
    await expect(previewed).to_have_attribute("alt", "Ballot boxes stacked on a trolley")
    await expect(previewed).to_have_attribute("srcset", SRCSET)
    posted = time.monotonic()
    await desk.post()

    for each in (reader, other):
        picture = each.page.locator("article.entry", has_text="Boxes reach the Guildhall").locator(
            "figure img"
        )
        await expect(picture).to_be_visible(timeout=within(posted, LIVE_SECONDS))
        await expect(picture).to_have_attribute("alt", "Ballot boxes stacked on a trolley")
        await expect(picture).to_have_attribute("width", "1600")
        await expect(picture).to_have_attribute("height", "1067")
        await expect(picture).to_have_attribute("srcset", SRCSET)
        await expect(picture.locator("xpath=preceding-sibling::source")).to_have_attribute(
            "type", "image/webp"
        )
        # The browser chose a size from the srcset and loaded it from the stored files.
        await picture.scroll_into_view_if_needed()
        loaded = await picture.evaluate("img => img.decode().then(() => img.currentSrc)")
        assert re.search(r"/media/pictures/\w+/\w+-(480|960|1600)\.webp$", loaded), loaded
        await expect(
            each.page.locator("article.entry figure figcaption .entry__credit")
        ).to_have_text("Photo: Sam Okafor")
        assert each.errors == []
    await desk.expect_message("Published: Boxes reach the Guildhall")
    stored = [path.name for path in media_root.rglob("*") if path.is_file()]
    assert len(stored) == 6 and not any("IMG_2041" in name for name in stored)


async def test_a_picture_pasted_into_the_body_gets_a_row_of_its_own_and_is_posted(
    transactional_db, event, journalist, reader: Reader, newsroom: Newsroom, media_root
):
    desk = await writing_with_readers(newsroom, event, (reader,))
    await desk.headline.fill("The count begins")
    await desk.start_body()
    await desk.type("Counting is under way.")
    # As a browser pastes a screenshot: a PNG file in the clipboard, into the editor.
    await desk.editor.evaluate(
        """async (editor) => {
            const canvas = document.createElement("canvas");
            Object.assign(canvas, {width: 900, height: 600});
            canvas.getContext("2d").fillRect(0, 0, 450, 300);
            const blob = await new Promise((done) => canvas.toBlob(done, "image/png"));
            const clipboard = new DataTransfer();
            clipboard.items.add(new File([blob], "image.png", {type: "image/png"}));
            const paste = {clipboardData: clipboard, bubbles: true, cancelable: true};
            editor.dispatchEvent(new ClipboardEvent("paste", paste));
        }"""
    )
    # The picture is in the first row, shown from the browser's memory, and the alt text
    # box waits for its words; the body kept only what was typed.
    await expect(desk.page.locator("#pictures .pictures__chosen")).to_have_count(1)
    await expect(desk.page.locator("#id_pictures-0-alt")).to_be_focused()
    await expect(desk.editor).to_have_text("Counting is under way.")
    await desk.page.keyboard.type("Counting tables in the Guildhall")
    posted = time.monotonic()
    await desk.post()

    picture = reader.page.locator("article.entry", has_text="The count begins").locator("img")
    await expect(picture).to_be_visible(timeout=within(posted, LIVE_SECONDS))
    await expect(picture).to_have_attribute("alt", "Counting tables in the Guildhall")
    await expect(picture).to_have_attribute("src", re.compile(r"-900\.png$"))
    await desk.expect_message("Published: The count begins")
    # Another picture may follow: the desk's form offers a row again.
    await desk.page.locator("#add-picture").click()
    await expect(desk.page.locator("#pictures .pictures__row")).to_have_count(2)
