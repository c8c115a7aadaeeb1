from html.parser import HTMLParser

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from hypothesis import example, given, settings
from hypothesis import strategies as st

from liveblog.asgi import application
from updates.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, ALLOWED_URL_SCHEMES, sanitize_body
from updates.services import entry_publish, entry_update

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    '<a href="javascript:alert(1)">click</a>',
    '<iframe src="https://evil.example"></iframe>',
    '<p style="background:url(javascript:alert(1))" onclick="alert(1)">hi</p>',
    "<svg><script>alert(1)</script></svg>",
    '<a href="JaVaScRiPt:alert(1)">x</a>',
    "<object data='evil.swf'></object><embed src='evil.swf'>",
    '<form action="https://evil.example"><input name="password"></form>',
]
DANGERS = [
    "<script",
    "onerror",
    "onclick",
    "javascript:",
    "<iframe",
    "<object",
    "<embed",
    "<form",
    "style=",
]


def assert_harmless(text: str) -> None:
    lowered = text.lower()
    for danger in DANGERS:
        assert danger not in lowered, f"{danger!r} survived in {text!r}"


@pytest.mark.parametrize("html", HOSTILE)
def test_nothing_that_runs_script_survives_sanitising(html):
    assert_harmless(sanitize_body(html))


def test_a_journalists_formatting_survives():
    html = (
        "<h2>Result</h2><p><strong>Elected</strong>, <em>narrowly</em>: "
        '<a href="https://example.org/results">full results</a></p>'
        "<ul><li>one</li></ul><ol><li>two</li></ol><blockquote><p>Quote</p></blockquote>"
        '<img src="https://example.org/count.jpg" alt="The count">'
    )
    cleaned = sanitize_body(html)
    for kept in ["<h2>", "<strong>", "<em>", "<ul>", "<ol>", "<blockquote>", 'alt="The count"']:
        assert kept in cleaned
    assert 'href="https://example.org/results"' in cleaned
    assert 'rel="noopener noreferrer nofollow"' in cleaned


def test_hostile_html_reaches_neither_page_nor_api(client, make_entry):
    make_entry(body="".join(HOSTILE))
    page = client.get("/live/harbourside/").content.decode()
    entry_html = page[page.index('<article id="entry-') : page.index("</article>")]
    assert_harmless(entry_html)
    assert_harmless(client.get("/api/events/harbourside/entries/").content.decode())
    assert_harmless(client.get("/api/events/harbourside/changes/?since=0").content.decode())


def test_headline_and_byline_are_plain_text_on_the_page(client, make_entry):
    make_entry(headline="<script>alert(1)</script>", byline="<b>Sam</b>")
    page = client.get("/live/harbourside/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;Sam&lt;/b&gt;" in page
    assert "<script>alert(1)" not in page


@pytest.mark.django_db(transaction=True)
async def test_hostile_html_never_reaches_a_websocket_message(event, journalist):
    communicator = WebsocketCommunicator(
        application, "/ws/live/harbourside/", headers=[(b"origin", b"http://localhost")]
    )
    await communicator.connect()
    await communicator.receive_json_from()
    entry = await database_sync_to_async(entry_publish)(
        event=event, author=journalist, headline="x", body=HOSTILE[0] + HOSTILE[1]
    )
    await database_sync_to_async(entry_update)(entry=entry, changes={"body": "".join(HOSTILE)})
    for _ in range(2):
        assert_harmless((await communicator.receive_json_from(timeout=3))["entry"]["body"])
    await communicator.disconnect()


def test_every_tag_the_editor_offers_survives_sanitising():
    from django_prose_editor.config import allowlist_from_extensions, expand_extensions

    from updates.forms import EDITOR_EXTENSIONS

    offered = allowlist_from_extensions(expand_extensions(EDITOR_EXTENSIONS))["tags"]
    for tag in offered - {"br", "li"}:
        assert f"<{tag}>" in sanitize_body(f"<{tag}>x</{tag}>") or f"<{tag} " in sanitize_body(
            f'<{tag} href="https://example.org">x</{tag}>'
        ), tag
    assert sanitize_body('<ol start="3"><li>third</li></ol>') == '<ol start="3"><li>third</li></ol>'


def test_a_paste_from_a_word_processor_comes_out_clean():
    pasted = (
        '<meta charset="utf-8"><style>p.MsoNormal{margin:0}</style>'
        '<p class="MsoNormal" style="margin:0cm;font-family:Calibri"><span lang="EN-GB" '
        'style="font-size:11pt"><b>Turnout</b> was <i>46.2%</i><o:p></o:p></span></p>'
        '<!--[if !supportLists]--><p class="MsoListParagraph">· first</p>'
        '<font face="Arial">plain</font>'
    )
    assert sanitize_body(pasted) == ("<p><b>Turnout</b> was <i>46.2%</i></p><p>· first</p>plain")


HTML_PIECES = st.one_of(
    st.sampled_from(
        [
            "<p>", "</p>", "<script>", "</script>", "<a href='javascript:x()'>",
            '<a href="https://ok.example">', "</a>", "<img src=x onerror=alert(1)>",
            "<img src='data:image/png;base64,AA' alt=x>", "<iframe src=//evil>", "<style>",
            "</style>", "<b onclick=x>", "<svg onload=x>", "<!--", "-->", "<h2>", "</h2>",
            "<blockquote>", "<ol start=3>", "<li>", "<math>", "<form>", "<object data=x>",
            "<a href=' jav&#x09;ascript:x'>", "<p style='x:expression(1)'>", "&lt;", "<",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, attrs))


@settings(max_examples=1000, deadline=None)
@given(st.lists(HTML_PIECES, max_size=25).map("".join))
@example("<p><object data=x><p>")  # once cleaned to <p><p></p></p>, which cleans differently
def test_sanitised_html_holds_only_allowed_tags_attributes_and_schemes(html):
    cleaned = sanitize_body(html)
    parser = Collector()
    parser.feed(cleaned)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED_TAGS, cleaned
        for name, value in attrs:
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}, cleaned
            if name in {"href", "src"} and value and ":" in value.split("/")[0]:
                assert value.split(":")[0].lower() in ALLOWED_URL_SCHEMES, cleaned
    assert sanitize_body(cleaned) == cleaned  # idempotent
