"""The Atom feeds as a feed reader gets them: parsed by feedparser, as readers' apps do,
not matched against our own markup."""

from datetime import datetime, timedelta

import feedparser
import lxml.html
import pytest
from django.utils import timezone

from tests.test_entry_pictures import photo
from updates.embeds import embed_for
from updates.media import picture_item
from updates.models import Entry, Event
from updates.pictures import store_picture
from updates.services import entry_delete, entry_update, event_create, event_update

FEED = "/live/harbourside/feed/"
SITE = "http://testserver"


def read_feed(client, url: str = FEED) -> feedparser.FeedParserDict:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def permalink(entry: Entry) -> str:
    return f"{SITE}/live/harbourside/entries/{entry.pk}/"


def moment(text: str) -> datetime:
    """A time as the feed writes it, which must say its offset from UTC."""
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() is not None, f"{text} has no offset"
    return parsed


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_the_feed_holds_what_readers_can_see_newest_first(client, make_entry):
    start = timezone.now() - timedelta(hours=1)
    older = make_entry(headline="Polls open", published_at=start)
    newer = make_entry(headline="Turnout high", published_at=start + timedelta(minutes=5))
    make_entry(headline="Draft", draft=True)
    make_entry(headline="Later", published_at=timezone.now() + timedelta(hours=1))
    entry_delete(entry=make_entry(headline="Posted by mistake"))

    feed = read_feed(client)

    assert [item.id for item in feed.entries] == [permalink(newer), permalink(older)]


def test_each_entry_is_complete(client, make_entry):
    entry = make_entry(headline="Greens & Labour tie", body="<p>A recount at <b>2am</b>.</p>")

    [item] = read_feed(client).entries

    assert item.title == "Greens & Labour tie"
    assert item.id == item.link == permalink(entry)
    assert moment(item.published) == moment(item.updated) == entry.published_at
    assert item.author == "Sam Okafor, Political Correspondent"
    assert item.content[0].type == "text/html"
    assert item.content[0].value == "<p>A recount at <b>2am</b>.</p>"


def test_the_feed_says_what_it_is_about(client, event, make_entry):
    entry = make_entry()

    feed = read_feed(client).feed

    assert feed.title == "Harbourside by-election"
    assert feed.subtitle == "The count."
    assert feed.link == f"{SITE}/live/harbourside/"
    assert moment(feed.updated) == entry.published_at


def test_an_event_without_entries_is_updated_when_the_event_last_changed(client, event):
    feed = read_feed(client)

    assert feed.entries == []
    assert moment(feed.feed.updated) == event.updated_at


def test_pictures_come_with_alt_text_at_absolute_addresses_and_embeds_as_plain_links(
    client, make_entry, media_root
):
    picture = picture_item(
        store_picture(photo()), alt="Ballot boxes arrive", caption="The count", credit="Ann Lee"
    )
    video = embed_for("https://www.youtube.com/watch?v=dQw4w9WgXcQ", title="The declaration")
    make_entry(media=[picture, video])

    [item] = read_feed(client).entries
    content = lxml.html.fragment_fromstring(item.content[0].value, create_parent="div")

    [img] = content.iter("img")
    assert img.get("alt") == "Ballot boxes arrive"
    assert img.get("src").startswith(f"{SITE}/media/")
    assert "The count Ann Lee" in content.text_content()
    # Nothing a feed reader would load from the provider: no frame, no script, a link.
    assert [element.tag for element in content.iter("iframe", "script")] == []
    assert [a.get("href") for a in content.iter("a")] == [video["url"]]


def test_a_correction_shows_in_the_entry(client, make_entry):
    entry = make_entry()
    entry_update(entry=entry, changes={"correction": "The turnout was 46%, not 64%."})

    [item] = read_feed(client).entries
    content = lxml.html.fragment_fromstring(item.content[0].value, create_parent="div")

    assert "Correction: The turnout was 46%, not 64%." in content.text_content()


def test_the_feed_follows_an_edit_and_a_deletion(client, make_entry):
    kept = make_entry(headline="Turnot high", published_at=timezone.now() - timedelta(hours=1))
    gone = make_entry(headline="Wrong result")
    before = read_feed(client)

    entry_update(entry=kept, changes={"headline": "Turnout high"})
    edited = read_feed(client)

    [item] = [item for item in edited.entries if item.id == permalink(kept)]
    assert item.title == "Turnout high"
    assert moment(item.updated) == kept.edited_at > moment(item.published)
    assert moment(edited.feed.updated) == kept.edited_at > moment(before.feed.updated)

    entry_delete(entry=gone)

    assert [item.id for item in read_feed(client).entries] == [permalink(kept)]


def test_the_feed_follows_a_change_to_the_event_itself(client, event, make_entry):
    make_entry()
    event = event_update(event=event, changes={"title": "Harbourside: the result"})

    feed = read_feed(client).feed

    assert feed.title == "Harbourside: the result"
    assert moment(feed.updated) == event.updated_at


def test_a_reader_whose_copy_is_current_gets_a_304_for_one_query(
    client, make_entry, django_assert_num_queries
):
    make_entry()
    first = client.get(FEED)
    assert first["Cache-Control"] == "public, max-age=60"

    with django_assert_num_queries(1):  # the event, for its revision
        again = client.get(FEED, headers={"If-None-Match": first["ETag"]})

    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    make_entry(headline="Result declared")
    changed = client.get(FEED, headers={"If-None-Match": first["ETag"]})
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]


def test_a_feed_reader_given_the_live_page_finds_its_feed(client, make_entry):
    make_entry()
    page = lxml.html.fromstring(client.get("/live/harbourside/").content)

    [href] = page.xpath('//head/link[@rel="alternate"][@type="application/atom+xml"]/@href')

    assert read_feed(client, href).feed.title == "Harbourside by-election"


def test_an_unknown_event_has_no_feed(client, db):
    assert client.get("/live/no-such-event/feed/").status_code == 404


def test_the_site_feed_lists_the_events_newest_first_updated_with_their_entries(
    client, event, make_entry
):
    earlier = event_create(
        title="Budget day", slug="budget", starts_at=event.starts_at - timedelta(days=3)
    )
    three_days_ago = timezone.now() - timedelta(days=3)
    Event.objects.filter(pk=earlier.pk).update(updated_at=three_days_ago)
    entry = make_entry()

    feed = read_feed(client, "/feed/")

    harbourside, budget = feed.entries
    assert [harbourside.title, budget.title] == ["Harbourside by-election", "Budget day"]
    assert harbourside.id == harbourside.link == f"{SITE}/live/harbourside/"
    assert harbourside.summary == "The count."
    # An event changes with its entries; the feed, with its newest event.
    assert moment(harbourside.updated) == entry.published_at == moment(feed.feed.updated)
    assert moment(budget.updated) == three_days_ago
