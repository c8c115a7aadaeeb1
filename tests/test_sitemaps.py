"""What search engines read: robots.txt, the sitemap index and its sitemaps, and the Google
News sitemap, each parsed as XML, as a crawler would."""

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from updates.models import Entry, Event
from updates.services import entry_delete, entry_update, event_create

SITE = "http://testserver"
NS = {
    "sm": "http://www.sitemaps.org/schemas/sitemap/0.9",
    "news": "http://www.google.com/schemas/sitemap-news/0.9",
}


def read_xml(client, url: str) -> ET.Element:
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    assert response["Cache-Control"] == "public, max-age=300"
    return ET.fromstring(response.content)


def lastmods(client, url: str) -> dict[str, datetime]:
    """Each <url>'s address with its <lastmod>, which must say its offset from UTC."""
    found = {}
    for url_element in read_xml(client, url).iterfind("sm:url", NS):
        lastmod = datetime.fromisoformat(url_element.findtext("sm:lastmod", namespaces=NS))
        assert lastmod.utcoffset() is not None
        found[url_element.findtext("sm:loc", namespaces=NS)] = lastmod
    return found


def permalink(entry: Entry) -> str:
    return f"{SITE}/live/{entry.event.slug}/entries/{entry.pk}/"


def event_changed(event: Event, *, days_ago: int) -> datetime:
    """Moves the event's own last change back (updated_at is auto_now)."""
    when = timezone.now() - timedelta(days=days_ago)
    Event.objects.filter(pk=event.pk).update(updated_at=when)
    return when


def test_the_index_names_the_sitemap_of_events_and_the_one_of_entries(client, make_entry):
    entry = make_entry()

    index = read_xml(client, "/sitemap.xml")

    assert index.tag == ET.QName(NS["sm"], "sitemapindex").text
    assert [each.findtext("sm:loc", namespaces=NS) for each in index] == [
        f"{SITE}/sitemap-events.xml",
        f"{SITE}/sitemap-entries.xml",
    ]
    entries_lastmod = index[1].findtext("sm:lastmod", namespaces=NS)
    assert datetime.fromisoformat(entries_lastmod) == entry.published_at


def test_the_entries_sitemap_lists_what_readers_can_see_with_when_its_words_changed(
    client, make_entry
):
    edited = make_entry(published_at=timezone.now() - timedelta(hours=1))
    entry_update(entry=edited, changes={"headline": "Turnout high"})
    plain = make_entry()
    make_entry(draft=True)
    make_entry(published_at=timezone.now() + timedelta(hours=1))
    entry_delete(entry=make_entry())

    assert lastmods(client, "/sitemap-entries.xml") == {
        permalink(edited): edited.edited_at,
        permalink(plain): plain.published_at,
    }


def test_a_deleted_entry_leaves_the_sitemap(client, make_entry):
    entry = make_entry()
    assert permalink(entry) in lastmods(client, "/sitemap-entries.xml")

    entry_delete(entry=entry)

    assert lastmods(client, "/sitemap-entries.xml") == {}


def test_the_events_sitemap_gives_each_live_page_its_last_change(client, event, make_entry):
    quiet = event_create(title="Budget day", slug="budget")
    quiet_changed = event_changed(quiet, days_ago=3)
    event_changed(event, days_ago=3)
    entry = make_entry()

    assert lastmods(client, "/sitemap-events.xml") == {
        f"{SITE}/live/harbourside/": entry.published_at,
        f"{SITE}/live/budget/": quiet_changed,
    }


def test_the_news_sitemap_lists_the_events_that_changed_in_the_last_two_days(
    client, event, make_entry
):
    event_changed(event, days_ago=5)
    make_entry()  # this morning's entry makes the event news
    stale = event_create(title="Budget day", slug="budget")
    event_changed(stale, days_ago=3)
    event_create(title="Count tomorrow", slug="count", status=Event.Status.SCHEDULED)

    urlset = read_xml(client, "/news-sitemap.xml")

    [url] = urlset.iterfind("sm:url", NS)
    assert url.findtext("sm:loc", namespaces=NS) == f"{SITE}/live/harbourside/"
    news = url.find("news:news", NS)
    assert news.findtext("news:publication/news:name", namespaces=NS) == "Liveblog"
    assert news.findtext("news:publication/news:language", namespaces=NS) == "en"
    assert news.findtext("news:title", namespaces=NS) == "Harbourside by-election"
    published = datetime.fromisoformat(news.findtext("news:publication_date", namespaces=NS))
    assert published == event.starts_at


def test_robots_txt_names_both_sitemaps_and_keeps_crawlers_out_of_the_admin(client, db):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    assert "Disallow: /admin/" in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines
    assert f"Sitemap: {SITE}/news-sitemap.xml" in lines


@pytest.mark.parametrize(
    "url",
    [
        "/sitemap-nothing.xml",
        "/sitemap-entries.xml?p=2",
        "/sitemap-entries.xml?p=0",
        "/sitemap-entries.xml?p=two",
        "/news-sitemap.xml?p=" + "9" * 5000,
    ],
)
def test_a_section_or_page_that_does_not_exist_is_a_404(client, make_entry, url):
    make_entry()
    assert client.get(url).status_code == 404
