"""The desk: posting from the event's page in the admin, and its one-click actions."""

from datetime import timedelta

import pytest
from django.utils import timezone

from updates.models import Entry
from updates.services import entry_publish_due


@pytest.fixture
def desk_url(event) -> str:
    return f"/admin/updates/event/{event.pk}/desk/"


def post(client, desk_url: str, **fields):
    data = {"headline": "Recount requested", "body": "<p>A <strong>full</strong> recount.</p>"}
    return client.post(desk_url, data | {"byline": "Sam Okafor"} | fields)


def action_url(event, entry, action: str) -> str:
    return f"/admin/updates/event/{event.pk}/desk/entries/{entry.pk}/{action}/"


def test_the_desk_offers_the_post_form_with_the_byline_and_the_latest_entries(
    journalist_client, desk_url, make_entry
):
    make_entry(headline="Polls close")
    response = journalist_client.get(desk_url)
    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"].initial["byline"] == "Sam Okafor, Political Correspondent"
    assert "Polls close" in html
    assert "django_prose_editor" in html  # the editor's own script, served by us


def test_posting_publishes_and_returns_to_a_cleared_form(journalist_client, desk_url):
    response = post(journalist_client, desk_url)
    assert response.status_code == 302 and response["Location"] == desk_url
    entry = Entry.objects.get()
    assert (entry.live, entry.revision, entry.author.username) == (True, 1, "sam")
    assert entry.body == "<p>A <strong>full</strong> recount.</p>"
    page = journalist_client.get(desk_url)
    assert "Published: Recount requested" in page.content.decode()
    assert not page.context["form"].is_bound


def test_a_refused_post_keeps_what_was_typed(journalist_client, desk_url):
    response = post(journalist_client, desk_url, headline="")
    assert response.status_code == 400
    assert response.context["form"]["body"].value() == "<p>A <strong>full</strong> recount.</p>"
    assert not Entry.objects.exists()


def test_a_draft_takes_no_revision_until_it_is_published(journalist_client, desk_url, event):
    post(journalist_client, desk_url, draft="on")
    entry = Entry.objects.get()
    assert (entry.live, entry.revision, entry.state) == (False, None, "draft")
    assert journalist_client.get("/api/events/harbourside/changes/?since=0").json()["changes"] == []

    journalist_client.post(action_url(event, entry, "publish"))

    entry.refresh_from_db()
    assert (entry.live, entry.revision) == (True, 1)


def test_a_later_time_schedules_the_entry_until_the_scheduler_finds_it_due(
    journalist_client, desk_url, client
):
    later = timezone.localtime() + timedelta(minutes=30)
    post(journalist_client, desk_url, published_at=later.strftime("%Y-%m-%dT%H:%M"))
    entry = Entry.objects.get()
    assert entry.state == "scheduled"
    assert entry_publish_due() == []

    assert entry_publish_due(now=entry.published_at) == [entry]

    entry.refresh_from_db()
    assert (entry.live, entry.revision) == (True, 1)
    assert entry_publish_due(now=entry.published_at) == []


def test_a_journalist_marks_key_events_but_cannot_pin_or_delete(
    journalist_client, event, make_entry
):
    entry = make_entry()
    assert journalist_client.post(action_url(event, entry, "key")).status_code == 302
    assert journalist_client.post(action_url(event, entry, "pin")).status_code == 403
    assert journalist_client.post(action_url(event, entry, "delete")).status_code == 403
    entry.refresh_from_db()
    assert (entry.key_event, entry.pinned, entry.is_deleted) == (True, False, False)


def test_an_editor_pins_deletes_and_restores_in_one_click_each(editor_client, event, make_entry):
    entry = make_entry()
    for action in ["pin", "unpin", "delete", "restore"]:
        assert editor_client.post(action_url(event, entry, action)).status_code == 302
    entry.refresh_from_db()
    assert (entry.pinned, entry.is_deleted, entry.revision) == (False, False, 5)
    actions = list(entry.changes.order_by("id").values_list("action", flat=True))
    assert actions == ["created", "edited", "edited", "deleted", "restored"]


def test_an_unknown_action_is_refused(editor_client, event, make_entry):
    entry = make_entry()
    assert editor_client.post(action_url(event, entry, "explode")).status_code == 403


def test_a_journalist_without_the_pin_permission_gets_no_pin_box(journalist_client, desk_url):
    assert "pinned" not in journalist_client.get(desk_url).context["form"].fields


def test_the_preview_is_the_readers_card_sanitised_and_nothing_is_saved(
    journalist_client, desk_url
):
    response = journalist_client.post(
        f"{desk_url}preview/",
        {"headline": "Recount", "body": '<p onclick="x()">Soon<script>x()</script></p>'},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<article id="entry-0"')
    assert "<p>Soon</p>" in html and "script" not in html and "onclick" not in html
    assert not Entry.objects.exists()


def test_the_reader_count_is_served_as_json(journalist_client, desk_url):
    assert journalist_client.get(f"{desk_url}readers/").json() == {"readers": 0}


def test_readers_cannot_reach_the_desk(client, desk_url):
    response = post(client, desk_url)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Entry.objects.exists()


def test_the_desk_and_the_change_form_say_what_the_body_may_hold(
    journalist_client, desk_url, make_entry
):
    entry = make_entry()
    help_text = "Paragraphs, subheadings, links, emphasis, lists and quotes."
    assert help_text in journalist_client.get(desk_url).content.decode()
    change_form = journalist_client.get(f"/admin/updates/entry/{entry.pk}/change/")
    assert help_text in change_form.content.decode()
