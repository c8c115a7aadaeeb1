"""The event's key points: an editor writes them on the desk, and readers find them above the
pinned entries on the live page and the embed, in the API, in the catch-up and in the JSON-LD,
sanitised; nobody else can change them, and a refused save loses nothing typed."""

import extruct
import lxml.html
import pytest

from updates.key_points import MAX_CHARACTERS, opened_mark
from updates.models import Event
from updates.page_metadata import plain, plain_lines
from updates.services import event_update

LIVE = "/live/harbourside/"
POINTS = (
    "<ul><li>Turnout is <strong>64%</strong></li>"
    "<li>A recount in the east ward<script>alert('x')</script></li></ul>"
)
STORED = "<ul><li>Turnout is <strong>64%</strong></li><li>A recount in the east ward</li></ul>"


def desk_url(event: Event) -> str:
    return f"/admin/updates/event/{event.pk}/desk/"


def save(client, event: Event, key_points: str, opened: str | None = None):
    """The desk's key points form, posted as opened on the key points stored now."""
    return client.post(
        f"{desk_url(event)}key-points/",
        {
            "key-points-key_points": key_points,
            "key-points-opened": opened_mark(event.key_points) if opened is None else opened,
        },
    )


def page(client, url: str) -> lxml.html.HtmlElement:
    response = client.get(url)
    assert response.status_code == 200
    return lxml.html.fromstring(response.content)


def test_an_editor_saves_key_points_on_the_desk_and_readers_get_them_on_every_path(
    editor_client, event, make_entry, django_capture_on_commit_callbacks
):
    pinned = make_entry(headline="Turnout so far", pinned=True)
    before = Event.objects.get(pk=event.pk).revision
    desk = page(editor_client, desk_url(event))
    assert desk.get_element_by_id("key-points-form") is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = save(editor_client, event, POINTS)
    assert response.status_code == 302 and response["Location"] == desk_url(event)
    event.refresh_from_db()
    assert (event.revision, event.key_points) == (before + 1, STORED)
    follow = editor_client.get(response["Location"]).content.decode()
    assert "Key points saved" in follow

    for url in (LIVE, f"{LIVE}embed/"):
        tree = page(editor_client, url)
        block = tree.get_element_by_id("key-points")
        assert block.tag == "section" and block.get("hidden") is None
        heading = tree.get_element_by_id(block.get("aria-labelledby"))
        assert heading.tag == "h2" and heading.text_content() == "Key points"
        # Not read out on every change: no live region.
        assert block.get("aria-live") is None and block.get("role") is None
        text = tree.get_element_by_id("key-points-text")
        assert [li.text_content() for li in text.iter("li")] == [
            "Turnout is 64%",
            "A recount in the east ward",
        ]
        assert not text.xpath(".//script")
        # Above the pinned entry.
        order = [element.get("id") for element in tree.iter() if element.get("id")]
        assert order.index("key-points") < order.index(f"entry-{pinned.pk}")

    assert editor_client.get("/api/events/harbourside/").json()["key_points"] == STORED
    caught_up = editor_client.get(f"/api/events/harbourside/changes/?since={before}").json()
    assert (caught_up["revision"], caught_up["event"]["key_points"]) == (before + 1, STORED)

    html = editor_client.get(LIVE).content.decode()
    (posting,) = extruct.extract(html, base_url=LIVE, syntaxes=["json-ld"], uniform=True)["json-ld"]
    assert posting["abstract"] == "Turnout is 64%\nA recount in the east ward"


def test_without_key_points_there_is_no_block_nor_abstract_and_older_pages_have_none(
    editor_client, event, make_entry
):
    for number in range(25):
        make_entry(headline=f"Update {number}")
    event_update(event=event, changes={"key_points": "<p>Polls close at ten.</p>"})
    tree = page(editor_client, LIVE)
    cursor = tree.get_element_by_id("load-more").get("data-cursor")
    older = page(editor_client, f"{LIVE}?before={cursor}")
    assert older.xpath('//*[@id="key-points"]') == []

    # An emptied editor posts an empty paragraph: that is no key points.
    assert save(editor_client, event, "<p></p>").status_code == 302
    event.refresh_from_db()
    assert event.key_points == ""
    assert page(editor_client, LIVE).get_element_by_id("key-points").get("hidden") is not None
    assert editor_client.get("/api/events/harbourside/").json()["key_points"] == ""
    html = editor_client.get(LIVE).content.decode()
    (posting,) = extruct.extract(html, base_url=LIVE, syntaxes=["json-ld"], uniform=True)["json-ld"]
    assert "abstract" not in posting


def test_saving_the_key_points_unchanged_takes_no_revision(editor_client, event):
    event_update(event=event, changes={"key_points": STORED})
    before = Event.objects.get(pk=event.pk).revision
    event.refresh_from_db()
    assert save(editor_client, event, STORED).status_code == 302
    assert Event.objects.get(pk=event.pk).revision == before


def test_a_journalist_reads_the_key_points_on_the_desk_but_cannot_change_them(
    journalist_client, event
):
    event_update(event=event, changes={"key_points": STORED})
    event.refresh_from_db()
    desk = page(journalist_client, desk_url(event))
    assert "A recount in the east ward" in desk.get_element_by_id("desk-key-points").text_content()
    assert desk.xpath('//*[@id="key-points-form"]') == []

    assert save(journalist_client, event, "<p>Hijacked</p>").status_code == 403
    assert Event.objects.get(pk=event.pk).key_points == STORED


@pytest.mark.parametrize("method", ["get", "put"])
def test_the_key_points_address_only_takes_a_post(editor_client, event, method):
    response = getattr(editor_client, method)(f"{desk_url(event)}key-points/")
    assert response.status_code == 405


def test_key_points_too_long_are_refused_with_the_text_kept(editor_client, event):
    long = "<ul>" + "".join(f"<li>Point {n}: {'word ' * 20}</li>" for n in range(12)) + "</ul>"
    assert len(long) > MAX_CHARACTERS

    response = save(editor_client, event, long)
    assert response.status_code == 400
    tree = lxml.html.fromstring(response.content)
    textarea = tree.get_element_by_id("id_key-points-key_points")
    # (Django's textarea starts with a newline, which browsers drop.)
    assert textarea.text_content().strip() == long
    assert tree.get_element_by_id("desk-key-points").xpath(".//details[@open]")
    assert f"Keep the key points under {MAX_CHARACTERS} characters" in response.content.decode()
    # Still the whole desk: the post form is there as it was.
    assert tree.get_element_by_id("post-form") is not None
    assert Event.objects.get(pk=event.pk).revision == 0


def test_a_save_over_a_colleagues_newer_key_points_is_refused_until_made_again(
    editor_client, event
):
    opened = opened_mark(event.key_points)
    event_update(event=event, changes={"key_points": "<p>Theirs: the count is late.</p>"})
    event.refresh_from_db()
    revision = event.revision

    response = save(editor_client, event, "<p>Mine: turnout is up.</p>", opened=opened)
    assert response.status_code == 400
    text = response.content.decode()
    assert "Another editor changed the key points" in text
    assert "Theirs: the count is late." in text
    tree = lxml.html.fromstring(response.content)
    textarea = tree.get_element_by_id("id_key-points-key_points")
    assert textarea.text_content().strip() == "<p>Mine: turnout is up.</p>"
    assert Event.objects.get(pk=event.pk).revision == revision

    # Saved again from the refused form: it now stands on theirs.
    opened_now = tree.xpath('//input[@name="key-points-opened"]')[0].get("value")
    assert (
        save(editor_client, event, "<p>Mine: turnout is up.</p>", opened=opened_now).status_code
        == 302
    )
    assert Event.objects.get(pk=event.pk).key_points == "<p>Mine: turnout is up.</p>"


def test_the_live_page_still_takes_four_queries_with_key_points(
    client, event, make_entry, django_assert_num_queries
):
    make_entry(pinned=True)
    event_update(event=event, changes={"key_points": STORED})
    # The event (key points included); the newest page; the pinned entries; the key events.
    with django_assert_num_queries(4):
        assert "Turnout is" in client.get(LIVE).content.decode()


def test_rich_text_as_text_keeps_paragraphs_and_points_apart():
    points = "<ul><li>Turnout <em>64%</em></li><li>Recount &amp; delay</li></ul><p>Due<br>3am</p>"
    assert plain_lines(points) == "Turnout 64%\nRecount & delay\nDue\n3am"
    # An entry's articleBody: one line, its words never run together across blocks.
    assert plain("<p>Polls close.</p><p>Count starts.</p>") == "Polls close. Count starts."
