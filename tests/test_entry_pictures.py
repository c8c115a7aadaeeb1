"""Pictures in entries, as journalists post them from the desk and the admin and readers get
them: stored renditions on the wire and in the card, alt text required, a refused upload
leaving nothing stored and nothing typed lost, and an edit of the pictures numbered,
told to readers and kept in the history like any other edit."""

import io
import os
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from PIL import Image

from tests.test_admin import edit_form
from tests.test_pictures import bomb_png
from updates.models import Entry
from updates.services import entry_delete, entry_restore

ENTRIES_URL = "/api/events/harbourside/entries/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def photo(name: str = "count.jpg", size: tuple[int, int] = (1200, 800)) -> SimpleUploadedFile:
    image = Image.effect_noise(size, 60).convert("RGB")
    data = io.BytesIO()
    image.save(data, "JPEG", quality=85)
    return SimpleUploadedFile(name, data.getvalue(), content_type="image/jpeg")


def pictures(*rows: dict, initial: int = 0) -> dict:
    """The pictures' rows of a post, as the form's management data and fields."""
    data = {
        "pictures-TOTAL_FORMS": str(len(rows)),
        "pictures-INITIAL_FORMS": str(initial),
        "pictures-MIN_NUM_FORMS": "0",
        "pictures-MAX_NUM_FORMS": "10",
    }
    for number, row in enumerate(rows):
        data |= {f"pictures-{number}-{name}": value for name, value in row.items()}
    return data


@pytest.fixture
def desk_url(event) -> str:
    return f"/admin/updates/event/{event.pk}/desk/"


def post_to_desk(client, desk_url: str, *rows: dict, **fields):
    entry = {"headline": "Boxes arrive", "body": "<p>The first ballot boxes.</p>"} | fields
    return client.post(desk_url, entry | pictures(*rows))


def test_a_picture_posted_from_the_desk_reaches_readers_in_every_size(
    journalist_client, client, desk_url, media_root, django_capture_on_commit_callbacks
):
    row = {"file": photo(), "alt": "Ballot boxes on a trolley", "credit": "Photo: Sam Okafor"}
    with django_capture_on_commit_callbacks(execute=False) as told:
        response = post_to_desk(journalist_client, desk_url, row)

    assert response.status_code == 302
    assert told, "readers are told of the new entry"
    (item,) = client.get(ENTRIES_URL).json()["entries"][0]["media"]
    assert (item["kind"], item["alt"], item["caption"], item["credit"]) == (
        "image",
        "Ballot boxes on a trolley",
        "",
        "Photo: Sam Okafor",
    )
    assert (item["width"], item["height"]) == (1200, 800)
    assert item["src"].startswith("/media/pictures/") and item["src"].endswith(".jpg")
    assert [each.split()[-1] for each in item["srcset"].split(", ")] == ["480w", "960w", "1200w"]
    (webp,) = item["sources"]
    assert webp["type"] == "image/webp" and webp["srcset"].count("w, ") == 2
    # Every address names a stored file, and the uploader's name is none of them.
    names = {f"/media/{path.relative_to(media_root)}" for path in stored_files(media_root)}
    addresses = {each.split()[0] for each in item["srcset"].split(", ")}
    addresses |= {each.split()[0] for each in webp["srcset"].split(", ")}
    assert addresses == names and not any("count" in name for name in names)

    html = client.get("/live/harbourside/").content.decode()
    assert f'srcset="{item["srcset"]}"' in html
    assert f'<source type="image/webp" srcset="{webp["srcset"]}"' in html
    # The top of the page's picture is fetched first; as a card arriving live, lazily.
    at_the_top = 'width="1200" height="800" alt="Ballot boxes on a trolley" fetchpriority="high"'
    assert at_the_top in html
    card = client.get(ENTRIES_URL).json()["entries"][0]["html"]
    assert 'width="1200" height="800" alt="Ballot boxes on a trolley" loading="lazy"' in card


def truncated_jpeg() -> SimpleUploadedFile:
    whole = photo().read()
    return SimpleUploadedFile("count.jpg", whole[: len(whole) // 2])


def over_25_mb() -> SimpleUploadedFile:
    return SimpleUploadedFile("count.jpg", photo().read() + bytes(26 * 1024 * 1024))


# Files no upload takes, each with the reason the journalist reads.
REFUSED_FILES = [
    pytest.param(
        lambda: SimpleUploadedFile("chart.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>'),
        "This file is not a picture",
        id="svg",
    ),
    pytest.param(
        lambda: SimpleUploadedFile("count.jpg", b"<!doctype html><script>alert(1)</script>"),
        "This file is not a picture",
        id="html named jpg",
    ),
    pytest.param(truncated_jpeg, "This picture is damaged or incomplete", id="truncated jpeg"),
    pytest.param(
        lambda: SimpleUploadedFile("bomb.png", bomb_png(20_000, 20_000)),
        "This picture is too large to process",
        id="decompression bomb",
    ),
    pytest.param(over_25_mb, "This picture is over 25 MB", id="26 mb"),
]


@pytest.mark.parametrize(
    ("upload", "refused"),
    [pytest.param(photo, "Say what the picture shows", id="no alt text"), *REFUSED_FILES],
)
def test_a_refused_picture_stores_nothing_and_keeps_what_was_typed(
    journalist_client, desk_url, media_root, upload, refused
):
    alt = "" if upload is photo else "Turnout figures"
    row = {"file": upload(), "alt": alt}
    response = post_to_desk(journalist_client, desk_url, row, headline="Turnout at 62%")

    assert response.status_code == 400
    assert refused in response.content.decode()
    assert response.context["form"]["headline"].value() == "Turnout at 62%"
    assert not Entry.objects.exists()
    assert stored_files(media_root) == []


def test_one_refused_picture_takes_back_the_others_stored_with_it(
    journalist_client, desk_url, media_root
):
    rows = (
        {"file": photo(), "alt": "Boxes"},
        {"file": SimpleUploadedFile("x.jpg", b"not a picture"), "alt": "Not a picture"},
    )
    response = post_to_desk(journalist_client, desk_url, *rows)

    assert response.status_code == 400
    assert "This file is not a picture" in str(response.context["form"].pictures.forms[1].errors)
    assert stored_files(media_root) == []


def test_editing_the_pictures_is_an_edit_readers_are_told_of_and_the_history_keeps(
    editor_client, desk_url, django_capture_on_commit_callbacks
):
    first, second = (
        {"file": photo("a.jpg"), "alt": "First"},
        {"file": photo("b.jpg"), "alt": "Second"},
    )
    post_to_desk(editor_client, desk_url, first, second)
    entry = Entry.objects.get()
    kept = [item["id"] for item in entry.media]
    change_url = f"/admin/updates/entry/{entry.pk}/change/"
    fields = edit_form(entry)
    # The second first, with new words; the first taken off.
    rows = (
        {"kept": kept[0], "alt": "First", "ORDER": "2", "DELETE": "on"},
        {"kept": kept[1], "alt": "Second, now first", "caption": "At the count", "ORDER": "1"},
    )
    with django_capture_on_commit_callbacks(execute=False) as told:
        response = editor_client.post(change_url, fields | pictures(*rows, initial=2))

    assert response.status_code == 302
    entry.refresh_from_db()
    assert [(item["id"], item["alt"], item["caption"]) for item in entry.media] == [
        (kept[1], "Second, now first", "At the count")
    ]
    assert entry.revision == 2 and entry.edited_at is not None
    assert len(told) == 1
    history = entry.changes.first()
    assert (history.action, history.fields) == ("edited", "media")
    assert [item["alt"] for item in history.media] == ["First", "Second"]


def test_an_entry_keeps_its_pictures_through_delete_restore_and_catch_up(
    editor_client, client, desk_url
):
    post_to_desk(editor_client, desk_url, {"file": photo(), "alt": "Boxes"})
    entry = Entry.objects.get()
    entry_delete(entry=entry)
    entry_restore(entry=entry)

    # A reader catching up from before the post gets the restored entry with its picture.
    (change,) = client.get("/api/events/harbourside/changes/?since=0").json()["changes"]
    assert [item["alt"] for item in change["media"]] == ["Boxes"]


def test_the_desk_and_the_change_form_show_the_pictures_an_entry_has(editor_client, desk_url):
    post_to_desk(editor_client, desk_url, {"file": photo(), "alt": "Boxes"})
    entry = Entry.objects.get()
    smallest_webp = entry.media[0]["picture"]
    smallest_webp = min(
        (each for each in smallest_webp if each["content_type"] == "image/webp"),
        key=lambda each: each["width"],
    )
    address = f"/media/{smallest_webp['name']}"

    desk = editor_client.get(desk_url).content.decode()
    change_form = editor_client.get(f"/admin/updates/entry/{entry.pk}/change/")

    assert f'class="desk__thumbnail" src="{address}"' in desk
    assert f'class="pictures__thumbnail" src="{address}"' in change_form.content.decode()
    assert change_form.context["adminform"].form.pictures.forms[0]["alt"].value() == "Boxes"


def test_a_permalink_shares_its_first_picture(journalist_client, client, desk_url):
    post_to_desk(journalist_client, desk_url, {"file": photo(), "alt": "Boxes"})
    entry = Entry.objects.get()
    (picture,) = client.get(ENTRIES_URL).json()["entries"][0]["media"]

    page = client.get(entry.get_absolute_url()).content.decode()

    assert f'<meta property="og:image" content="http://testserver{picture["src"]}">' in page
    assert '<meta property="og:image:alt" content="Boxes">' in page
    assert '<meta name="twitter:card" content="summary_large_image">' in page


def test_a_preview_stores_no_picture(journalist_client, event, desk_url, media_root):
    entry = {"headline": "Boxes arrive", "body": "<p>The first ballot boxes.</p>"}
    row = {"file": photo(), "alt": "Boxes"}
    response = journalist_client.post(f"{desk_url}preview/", entry | pictures(row))

    assert response.status_code == 200 and "Boxes arrive" in response.content.decode()
    assert stored_files(media_root) == []
    assert not Entry.objects.exists()


UPLOAD_URL = "/admin/updates/entry/pictures/"


def upload_when_chosen(client, upload=None) -> dict:
    """What static/pictures.js does as soon as a picture is chosen: its answer."""
    response = client.post(UPLOAD_URL, {"file": upload or photo()})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_picture_uploaded_as_it_was_chosen_is_posted_by_its_token_and_stored_once(
    journalist_client, client, desk_url, media_root
):
    uploaded = upload_when_chosen(journalist_client)
    files = stored_files(media_root)

    response = post_to_desk(
        journalist_client, desk_url, {"uploaded": uploaded["token"], "alt": "Ballot boxes"}
    )

    assert response.status_code == 302
    assert stored_files(media_root) == files
    (item,) = client.get(ENTRIES_URL).json()["entries"][0]["media"]
    assert (item["alt"], item["width"], item["height"]) == ("Ballot boxes", 1200, 800)
    assert (uploaded["width"], uploaded["height"]) == (1200, 800)
    assert item["sources"][0]["srcset"].startswith(uploaded["thumbnail"] + " 480w")


@pytest.mark.parametrize(("upload", "refused"), REFUSED_FILES)
def test_an_upload_as_it_is_chosen_refuses_what_a_post_refuses_with_its_reason(
    journalist_client, media_root, upload, refused
):
    response = journalist_client.post(UPLOAD_URL, {"file": upload()})

    assert response.status_code == 400
    assert refused in response.json()["error"]
    assert stored_files(media_root) == []


def test_an_upload_as_it_is_chosen_is_for_journalists_only(journalist_client, media_root):
    assert Client().post(UPLOAD_URL, {"file": photo()}).status_code == 302  # to the login
    assert journalist_client.post(UPLOAD_URL, {}).json() == {
        "error": "Send the picture as the form field file."
    }
    assert journalist_client.get(UPLOAD_URL).status_code == 405
    assert stored_files(media_root) == []


@pytest.mark.parametrize("lost", ["tampered", "files gone"])
def test_a_post_naming_an_upload_the_site_does_not_keep_is_refused_and_keeps_what_was_typed(
    journalist_client, desk_url, media_root, lost
):
    token = upload_when_chosen(journalist_client)["token"]
    if lost == "tampered":
        token = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    else:
        for path in stored_files(media_root):
            path.unlink()

    response = post_to_desk(
        journalist_client, desk_url, {"uploaded": token, "alt": "Boxes"}, headline="Turnout"
    )

    assert response.status_code == 400
    assert "no longer kept for posting: choose it again" in response.content.decode()
    assert response.context["form"]["headline"].value() == "Turnout"
    assert not Entry.objects.exists()


def test_a_refused_post_shows_the_picture_uploaded_for_it_and_keeps_its_token(
    journalist_client, desk_url
):
    uploaded = upload_when_chosen(journalist_client)

    response = post_to_desk(journalist_client, desk_url, {"uploaded": uploaded["token"]})

    assert response.status_code == 400  # no alt text
    page = response.content.decode()
    assert f'class="pictures__thumbnail" src="{uploaded["thumbnail"]}"' in page
    assert f'value="{uploaded["token"]}"' in page


def test_a_picture_uploaded_in_the_row_of_one_the_entry_has_replaces_it(
    editor_client, client, desk_url
):
    post_to_desk(editor_client, desk_url, {"file": photo("a.jpg"), "alt": "First"})
    entry = Entry.objects.get()
    uploaded = upload_when_chosen(editor_client, photo("b.jpg", size=(900, 600)))
    row = {"kept": entry.media[0]["id"], "uploaded": uploaded["token"], "alt": "Second"}

    response = editor_client.post(
        f"/admin/updates/entry/{entry.pk}/change/", edit_form(entry) | pictures(row, initial=1)
    )

    assert response.status_code == 302
    (item,) = client.get(ENTRIES_URL).json()["entries"][0]["media"]
    assert (item["alt"], item["width"]) == ("Second", 900)


def test_the_preview_shows_the_pictures_uploaded_as_they_were_chosen(
    journalist_client, desk_url, media_root
):
    uploaded = upload_when_chosen(journalist_client)
    files = stored_files(media_root)
    entry = {"headline": "Boxes arrive", "body": "<p>The first ballot boxes.</p>"}
    row = {"uploaded": uploaded["token"], "alt": "Ballot boxes"}

    card = journalist_client.post(f"{desk_url}preview/", entry | pictures(row)).content.decode()

    assert 'alt="Ballot boxes"' in card and f"{uploaded['thumbnail']} 480w" in card
    assert stored_files(media_root) == files
    assert not Entry.objects.exists()


def prune_pictures() -> str:
    printed = io.StringIO()
    call_command("prune_pictures", stdout=printed)
    return printed.getvalue()


def test_pruning_deletes_only_pictures_never_posted_once_no_post_can_name_them(
    editor_client, desk_url, media_root
):
    post_to_desk(editor_client, desk_url, {"file": photo("first.jpg"), "alt": "First"})
    entry = Entry.objects.get()
    # Replaced on an edit: the entry no longer has it, its history does.
    replacement = upload_when_chosen(editor_client, photo("second.jpg"))["token"]
    row = {"kept": entry.media[0]["id"], "uploaded": replacement, "alt": "Second"}
    editor_client.post(
        f"/admin/updates/entry/{entry.pk}/change/", edit_form(entry) | pictures(row, initial=1)
    )
    posted_files = stored_files(media_root)
    upload_when_chosen(editor_client, photo("never_posted.jpg"))
    assert len(stored_files(media_root)) == len(posted_files) + 6

    # A post can still name the last one: nothing goes.
    assert prune_pictures() == "0 files of pictures never posted deleted.\n"
    assert len(stored_files(media_root)) == len(posted_files) + 6

    three_days_ago = time.time() - 3 * 24 * 3600
    for path in stored_files(media_root):
        os.utime(path, (three_days_ago, three_days_ago))
    assert prune_pictures() == "6 files of pictures never posted deleted.\n"
    assert stored_files(media_root) == posted_files


def test_only_the_picture_at_the_top_of_the_live_page_is_fetched_first(
    journalist_client, client, desk_url
):
    for headline in ("Boxes arrive", "The count begins"):
        post_to_desk(
            journalist_client, desk_url, {"file": photo(), "alt": "Boxes"}, headline=headline
        )

    html = client.get("/live/harbourside/").content.decode()

    assert html.count('fetchpriority="high"') == 1 and html.count('loading="lazy"') == 1
    assert html.index('fetchpriority="high"') < html.index('loading="lazy"')
