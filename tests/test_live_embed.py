"""The event's live embed for other sites' iframes (/live/<slug>/embed/): the live page's
entries and live config, compact, kept out of search results, and the one-line snippet
the desk gives journalists to paste. What a browser makes of it (framed from another
origin, live, sized to fit, refused elsewhere) is tests/browser/test_live_embed.py."""

from html.parser import HTMLParser

import pytest

from updates.services import entry_delete


class Head(HTMLParser):
    """The page's <meta name=...> and <link rel=...> tags, and its scripts' addresses."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: dict[str, str] = {}
        self.scripts: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "meta" and "name" in attributes:
            self.meta[attributes["name"] or ""] = attributes.get("content") or ""
        elif tag == "link" and "rel" in attributes:
            self.links[attributes["rel"] or ""] = attributes.get("href") or ""
        elif tag == "script" and attributes.get("src"):
            self.scripts.append(attributes["src"] or "")


@pytest.fixture
def entries(make_entry):
    kept = make_entry(headline="Turnout at 62%")
    gone = make_entry(headline="A post taken down")
    entry_delete(entry=gone)
    return kept, gone


def test_the_embed_shows_what_the_live_page_shows_and_stays_out_of_search_results(
    client, event, entries
):
    embed = client.get("/live/harbourside/embed/")

    assert embed.status_code == 200
    page = embed.content.decode()
    assert "Turnout at 62%" in page and "A post taken down" not in page
    head = Head(page)
    assert head.meta["robots"] == "noindex"
    assert head.links["canonical"] == "http://testserver/live/harbourside/"
    # Live as the page is, and sized by its frame's host (static/embed-frame.js).
    assert embed.context["config"] == client.get("/live/harbourside/").context["config"]
    assert any(src.endswith(".js") and "embed-frame" in src for src in head.scripts)
    assert 'class="masthead"' not in page


def test_an_embed_of_no_such_event_is_not_found(client, db):
    assert client.get("/live/no-such-event/embed/").status_code == 404


def test_the_desk_gives_the_line_to_paste_with_the_scripts_lasting_address(
    journalist_client, event
):
    desk = journalist_client.get(f"/admin/updates/event/{event.pk}/desk/")

    assert desk.context["embed_snippet"] == (
        '<script async src="http://testserver/static/embed.js" '
        'data-liveblog="http://testserver/live/harbourside/embed/"></script>'
    )
    assert "&lt;script async src=&quot;http://testserver/static/embed.js&quot;" in (
        desk.content.decode()
    )
