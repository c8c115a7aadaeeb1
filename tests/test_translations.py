"""The second language, German, shipped whole: every string marked for translation has its
German in the catalogs, and the reader's pages of an event covered in German (the live
page with every kind of entry, a permalink, the embed, the events page) and the desk read
in German, with no English left outside what the journalists wrote."""

import re
from pathlib import Path

import lxml.html
import polib
import pytest
from django.conf import settings
from django.utils import translation

from tests.test_entry_pictures import photo
from updates.embeds import embed_for
from updates.media import picture_item
from updates.pictures import store_picture
from updates.services import entry_publish, entry_update, event_create

CATALOGS = sorted((Path(settings.BASE_DIR) / "updates" / "locale" / "de").rglob("*.po"))

# Words of English that German pages have no business showing, outside the journalists'
# own text: the giveaway of a string nobody marked for translation.
ENGLISH = {
    "the", "and", "of", "to", "with", "from", "update", "updates", "more", "new", "show",
    "load", "ended", "starts", "coverage", "pinned", "key", "events", "updated",
    "correction", "skip", "content", "follow", "full", "back", "latest", "oldest",
    "newest", "first", "picture", "post", "preview", "readers", "embed", "copy",
}  # fmt: skip


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_every_marked_string_has_its_german():
    assert CATALOGS, "no German catalogs"
    for path in CATALOGS:
        catalog = polib.pofile(str(path))
        untranslated = [entry.msgid for entry in catalog.untranslated_entries()]
        fuzzy = [entry.msgid for entry in catalog.fuzzy_entries()]
        assert (untranslated, fuzzy) == ([], []), path
        # Compiled, as the site reads them, from these very sources.
        compiled = polib.mofile(str(path.with_suffix(".mo")))
        assert {entry.msgid for entry in compiled} >= {entry.msgid for entry in catalog}, path


@pytest.fixture
def german_event(db, journalist):
    """An event covered in German with every kind of entry readers see."""
    event = event_create(
        title="Landtagswahl in Hafenstadt", slug="landtagswahl", summary="Die Auszählung.",
        language="de",
    )  # fmt: skip

    def post(headline: str, **fields):
        body = f"<p>{headline}: Die Stimmen werden gezählt.</p>"
        return entry_publish(
            event=event, author=journalist, headline=headline, body=body,
            byline="Sam Okafor, Korrespondent", **fields,
        )  # fmt: skip

    for number in range(22):  # more than a page: "Load more" shows
        post(f"Wahlbezirk {number} meldet")
    post("Oben angeheftet", pinned=True)
    post("Wichtig", key_event=True)
    pictured = post(
        "Wahlurnen",
        media=[picture_item(store_picture(photo()), alt="Urnen", caption="", credit="")],
    )
    post("Ein Video", media=[embed_for("https://youtu.be/dQw4w9WgXcQ", title="Rede")])
    corrected = post("Korrigiert")
    entry_update(entry=corrected, changes={"correction": "Die Zahl war falsch."})
    return event, pictured


def english_left(html: str) -> set[str]:
    """English words in the page's own text and labels: the journalists' words (the
    event's and entries' titles and bodies, bylines, alt texts) and code to paste (the
    embed snippet) taken out first."""
    tree = lxml.html.fromstring(html)
    for journalists in tree.xpath(
        "//script | //style | //textarea | //*[contains(@class, 'entry__headline')]"
        " | //*[contains(@class, 'entry__body')] | //*[contains(@class, 'entry__byline')]"
        " | //*[contains(@class, 'entry__embed-link')]"
        " | //*[contains(@class, 'entry__embed-title')]"
        " | //*[@id='key-events-list'] | //title | //*[contains(@class, 'live__title')]"
    ):  # fmt: skip
        journalists.drop_tree()
    words = " ".join(
        [tree.text_content()]
        + [value for name in ("aria-label", "title", "alt") for value in tree.xpath(f"//@{name}")]
    )
    return {word for word in re.findall(r"[A-Za-z]+", words.lower())} & ENGLISH


def test_the_pages_of_an_event_covered_in_german_are_in_german(client, german_event):
    event, pictured = german_event
    pages = {
        "live": f"/live/{event.slug}/",
        "permalink": pictured.get_absolute_url(),
        "embed": f"/live/{event.slug}/embed/",
    }
    for name, url in pages.items():
        page = client.get(url).content.decode()
        assert '<html lang="de">' in page, name
        assert english_left(page) == set(), name
    live = client.get(pages["live"]).content.decode()
    assert "Weitere Meldungen laden" in live and "Wichtige Ereignisse" in live
    strings = client.get("/jsi18n/de/").content.decode()
    assert "neue Meldungen" in strings


def test_the_site_and_its_desk_in_german(client, journalist, german_event, settings):
    settings.LANGUAGE_CODE = "de"
    event, _ = german_event
    with translation.override("de"):
        home = client.get("/").content.decode()
        client.force_login(journalist)
        desk = client.get(f"/admin/updates/event/{event.pk}/desk/").content.decode()
    assert '<html lang="de">' in home and english_left(home) == set()
    assert english_left(desk) == set()
    assert "Weiteres Bild" in desk or "Alternativtext" in desk
