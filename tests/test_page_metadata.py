"""What search engines and social sites read of the live page and of a permalink, read by
the tools they use, not matched as text: the JSON-LD as extruct extracts it (a schema.org
LiveBlogPosting with its newest updates as BlogPostings; a BlogPosting on a permalink),
the Open Graph tags as extruct reads them, the Twitter tags as lxml parses the page. Each
follows an edit, a correction and a deletion once the page is rendered again."""

from datetime import datetime, timedelta
from pathlib import Path

import extruct
import lxml.html
import pytest
from django.utils import timezone

from tests.test_entry_pictures import photo
from updates.media import picture_item
from updates.models import Event
from updates.pictures import store_picture
from updates.services import entry_delete, entry_update, event_update

SITE = "http://testserver"
LIVE = f"{SITE}/live/harbourside/"
OPEN_GRAPH = ("og:site_name", "og:type", "og:title", "og:description", "og:url", "og:image")
TWITTER = ("twitter:card", "twitter:title", "twitter:description", "twitter:image")


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def with_picture(alt: str) -> list[dict]:
    return [picture_item(store_picture(photo()), alt=alt, caption="", credit="")]


def read(client, url: str) -> dict:
    """The page as crawlers read it: its JSON-LD, Open Graph and Twitter tags."""
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    json_ld = extruct.extract(page, base_url=url, syntaxes=["json-ld"], uniform=True)["json-ld"]
    (open_graph,) = extruct.extract(page, base_url=url, syntaxes=["opengraph"])["opengraph"]
    tree = lxml.html.fromstring(page)
    return {
        "json_ld": json_ld,
        "open_graph": dict(open_graph["properties"]),
        "twitter": {
            meta.get("name"): meta.get("content")
            for meta in tree.iter("meta")
            if (meta.get("name") or "").startswith("twitter:")
        },
        "canonical": [
            link.get("href") for link in tree.iter("link") if link.get("rel") == "canonical"
        ],
    }


def live_blog(client) -> dict:
    (posting,) = read(client, LIVE)["json_ld"]
    return posting


def is_iso_with_offset(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset() is not None


def test_the_live_page_is_a_live_blog_posting_with_its_newest_updates(client, event, make_entry):
    make_entry(
        headline="Polls open",
        body="<p>Queues at <strong>St Brendan's</strong> &amp; the library.</p>",
    )
    make_entry(
        headline="Turnout at 62%",
        byline="Sam Okafor, Political Correspondent",
        media=with_picture("Boxes"),
    )

    posting = live_blog(client)

    assert posting["@type"] == "LiveBlogPosting"
    assert posting["@context"] == "https://schema.org"
    assert (posting["headline"], posting["description"], posting["url"]) == (
        "Harbourside by-election",
        "The count.",
        LIVE,
    )
    assert posting["publisher"] == {"@type": "Organization", "name": "Liveblog"}
    assert is_iso_with_offset(posting["coverageStartTime"])
    assert "coverageEndTime" not in posting
    newest, oldest = posting["liveBlogUpdate"]
    assert [newest["headline"], oldest["headline"]] == ["Turnout at 62%", "Polls open"]
    for update in (newest, oldest):
        assert update["@type"] == "BlogPosting"
        assert update["url"].startswith(f"{LIVE}entries/")
        assert is_iso_with_offset(update["datePublished"])
        assert is_iso_with_offset(update["dateModified"])
    assert oldest["articleBody"] == "Queues at St Brendan's & the library."
    assert newest["author"] == {
        "@type": "Person",
        "name": "Sam Okafor",
        "jobTitle": "Political Correspondent",
    }
    assert newest["image"].startswith(f"{SITE}/media/pictures/")
    assert posting["image"] == newest["image"]
    assert "image" not in oldest


def test_the_live_blog_posting_follows_edits_corrections_deletions_and_the_end(
    client, event, make_entry
):
    edited = make_entry(headline="Turnout at 60%", published_at=timezone.now() - timedelta(hours=1))
    gone = make_entry(headline="A post taken down")
    before = live_blog(client)["liveBlogUpdate"][1]
    assert before["dateModified"] == before["datePublished"]

    entry_update(
        entry=edited,
        changes={"headline": "Turnout at 62%", "correction": "Turnout was <em>62%</em>, not 60%."},
    )
    entry_delete(entry=gone)
    event_update(event=event, changes={"status": Event.Status.ENDED})
    posting = live_blog(client)

    (update,) = posting["liveBlogUpdate"]
    assert update["headline"] == "Turnout at 62%"
    assert update["correction"] == {
        "@type": "CorrectionComment",
        "text": "Turnout was 62%, not 60%.",
    }
    assert update["datePublished"] == before["datePublished"]
    assert datetime.fromisoformat(update["dateModified"]) > datetime.fromisoformat(
        update["datePublished"]
    )
    assert is_iso_with_offset(posting["coverageEndTime"])

    event_update(event=event, changes={"status": Event.Status.LIVE})
    assert "coverageEndTime" not in live_blog(client)


def test_no_text_in_the_json_ld_can_close_its_script(client, event, make_entry):
    make_entry(headline="</script><script>alert(1)</script>")

    (update,) = live_blog(client)["liveBlogUpdate"]

    assert update["headline"] == "</script><script>alert(1)</script>"
    assert "<script>alert(1)" not in client.get(LIVE).content.decode()


def test_a_permalink_is_a_blog_posting(client, event, make_entry):
    entry = make_entry(headline="Recount ordered", body="<p>A <em>full</em> recount.</p>")

    (posting,) = read(client, f"{SITE}{entry.get_absolute_url()}")["json_ld"]

    assert posting["@type"] == "BlogPosting"
    assert posting["@context"] == "https://schema.org"
    assert posting["headline"] == "Recount ordered"
    assert posting["articleBody"] == "A full recount."
    assert posting["url"] == f"{SITE}{entry.get_absolute_url()}"


def share_card(client, url: str) -> tuple[dict, dict]:
    page = read(client, url)
    assert page["canonical"] == [page["open_graph"]["og:url"]]
    for name in OPEN_GRAPH:
        assert page["open_graph"].get(name), name
    for name in TWITTER:
        assert page["twitter"].get(name), name
    assert page["twitter"]["twitter:image"] == page["open_graph"]["og:image"]
    return page["open_graph"], page["twitter"]


def test_share_cards_carry_the_entrys_picture_else_the_events_else_the_sites(
    client, event, make_entry
):
    plain = make_entry(headline="Polls open")
    live_card, _ = share_card(client, LIVE)
    assert live_card["og:image"].startswith(f"{SITE}/static/share")
    assert live_card["og:site_name"] == "Liveblog"
    assert (live_card["og:type"], live_card["og:url"]) == ("website", LIVE)

    pictured = make_entry(headline="Boxes arrive", media=with_picture("Ballot boxes"))
    entry_card, twitter = share_card(client, f"{SITE}{pictured.get_absolute_url()}")
    assert entry_card["og:image"].startswith(f"{SITE}/media/pictures/")
    assert entry_card["og:image:alt"] == "Ballot boxes"
    assert (entry_card["og:type"], entry_card["og:title"]) == ("article", "Boxes arrive")
    assert twitter["twitter:card"] == "summary_large_image"
    # The live page and an entry without a picture of its own: the event's newest.
    assert share_card(client, LIVE)[0]["og:image"] == entry_card["og:image"]
    plain_card, _ = share_card(client, f"{SITE}{plain.get_absolute_url()}")
    assert plain_card["og:image"] == entry_card["og:image"]
