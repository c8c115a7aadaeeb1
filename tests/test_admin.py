from datetime import UTC, datetime

import pytest

from updates.models import Entry, Event

ADD_URL = "/admin/updates/entry/add/"


@pytest.fixture
def newsroom(client, journalist):
    client.force_login(journalist)
    return client


def entry_form(event: Event, **overrides) -> dict:
    return {
        "event": event.pk,
        "headline": "Count under way",
        "body": "<p>Boxes arriving.</p>",
        "byline": "Sam Okafor, Political Correspondent",
        "published_at_0": "2026-11-26",
        "published_at_1": "22:41:00",
    } | overrides


def change_url(entry: Entry) -> str:
    return f"/admin/updates/entry/{entry.pk}/change/"


def test_the_add_form_prefills_the_byline_and_the_time(newsroom, event):
    form = newsroom.get(ADD_URL).context["adminform"].form
    assert form.initial["byline"] == "Sam Okafor, Political Correspondent"
    assert form.fields["published_at"].initial is not None


def test_posting_publishes_with_the_next_revision_and_tells_readers_after_commit(
    newsroom, event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = newsroom.post(
            ADD_URL, entry_form(event, body="<p>Boxes<script>x()</script></p>")
        )

    assert response.status_code == 302
    entry = Entry.objects.get()
    assert entry.revision == 1
    assert entry.body == "<p>Boxes</p>"
    assert entry.author.username == "sam"
    assert len(callbacks) == 1  # one broadcast, queued for after the commit


def test_an_edit_takes_a_revision_and_keeps_the_author(newsroom, event, make_entry):
    entry = make_entry()
    response = newsroom.post(change_url(entry), entry_form(event, headline="Count paused"))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.headline, entry.revision, entry.author.username) == ("Count paused", 2, "sam")


def test_saving_without_changes_takes_no_revision(newsroom, event, make_entry):
    entry = make_entry(published_at=datetime(2026, 11, 26, 22, 41, tzinfo=UTC))
    unchanged = entry_form(event, headline=entry.headline, body=entry.body, byline=entry.byline)
    # The admin form carries the time it was opened with, as the browser would post it back.
    unchanged |= {"initial-published_at_0": "2026-11-26", "initial-published_at_1": "22:41:00"}
    newsroom.post(change_url(entry), unchanged)
    entry.refresh_from_db()
    assert entry.revision == 1


def test_deleting_in_the_admin_leaves_a_tombstone(newsroom, make_entry):
    entry = make_entry()
    response = newsroom.post(f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.is_deleted and entry.revision == 2


def test_bulk_delete_leaves_tombstones(newsroom, make_entry):
    entries = [make_entry(), make_entry()]
    newsroom.post(
        "/admin/updates/entry/",
        {"action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"},
    )
    assert Entry.objects.filter(deleted_at__isnull=False).count() == 2


def test_pin_unpin_and_restore_are_actions_on_the_list(newsroom, make_entry):
    entry = make_entry()
    for action in ["pin", "unpin"]:
        newsroom.post("/admin/updates/entry/", {"action": action, "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    assert (entry.pinned, entry.revision) == (False, 3)

    newsroom.post(f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"})
    newsroom.post("/admin/updates/entry/", {"action": "restore", "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    assert not entry.is_deleted and entry.revision == 5


def test_a_tombstone_opens_read_only(newsroom, make_entry):
    entry = make_entry()
    newsroom.post(f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"})
    response = newsroom.get(change_url(entry))
    assert response.status_code == 200
    assert "headline" not in response.context["adminform"].form.fields


def test_an_editor_changing_the_event_takes_a_revision(client, admin_user, event):
    client.force_login(admin_user)
    response = client.post(
        f"/admin/updates/event/{event.pk}/change/",
        {
            "title": "Harbourside: the result",
            "slug": "harbourside",
            "summary": event.summary,
            "status": "ended",
            "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
            "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.title, event.status, event.revision) == ("Harbourside: the result", "ended", 1)


def test_an_editor_creates_an_event_in_the_admin(client, admin_user, db):
    client.force_login(admin_user)
    response = client.post(
        "/admin/updates/event/add/",
        {
            "title": "Cup final",
            "slug": "cup-final",
            "summary": "",
            "status": "live",
            "starts_at_0": "2026-11-28",
            "starts_at_1": "15:00:00",
        },
    )
    assert response.status_code == 302
    assert Event.objects.get(slug="cup-final").revision == 0


def test_a_journalist_cannot_change_events(newsroom, event):
    response = newsroom.post(f"/admin/updates/event/{event.pk}/change/", {"title": "Hijacked"})
    assert response.status_code == 403


def test_readers_cannot_post(client, event):
    response = client.post(ADD_URL, entry_form(event))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Entry.objects.exists()


def test_an_entry_left_at_the_prefilled_time_is_published_as_of_saving(newsroom, event):
    opened = newsroom.get(ADD_URL).context["adminform"].form["published_at"].value()
    prefilled = {
        "published_at_0": opened.strftime("%Y-%m-%d"),
        "published_at_1": opened.strftime("%H:%M:%S"),
        "initial-published_at_0": opened.strftime("%Y-%m-%d"),
        "initial-published_at_1": opened.strftime("%H:%M:%S"),
    }
    newsroom.post(ADD_URL, entry_form(event) | prefilled)
    assert Entry.objects.get().published_at > opened
