from datetime import UTC, datetime

import pytest
from django.test import Client

from updates.entry_actions import ENTRY_ACTIONS
from updates.models import Entry, EntryChange, Event

ADD_URL = "/admin/updates/entry/add/"
LIST_URL = "/admin/updates/entry/"


def entry_form(event: Event, **overrides) -> dict:
    return {
        "event": event.pk,
        "headline": "Count under way",
        "body": "<p>Boxes arriving.</p>",
        "byline": "Sam Okafor, Political Correspondent",
        "published_at_0": "2026-11-25",
        "published_at_1": "22:41:00",
        "correction": "",
    } | overrides


def edit_form(entry: Entry, **overrides) -> dict:
    """What the change form posts back for an entry opened as it is now."""
    at = entry.published_at.astimezone(UTC)
    return {
        "headline": entry.headline,
        "body": entry.body,
        "byline": entry.byline,
        "published_at_0": at.strftime("%Y-%m-%d"),
        "published_at_1": at.strftime("%H:%M:%S"),
        "initial-published_at_0": at.strftime("%Y-%m-%d"),
        "initial-published_at_1": at.strftime("%H:%M:%S"),
        "correction": entry.correction,
        "key_event": "on" if entry.key_event else "",
        "opened_version": entry.version,
        "changes-TOTAL_FORMS": "0",
        "changes-INITIAL_FORMS": "0",
    } | overrides


def event_form(event: Event, **overrides) -> dict:
    """What the event's change form posts back for the event as it is now."""
    return {
        "title": event.title,
        "slug": event.slug,
        "summary": event.summary,
        "status": event.status,
        "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
    } | overrides


def change_url(entry: Entry) -> str:
    return f"/admin/updates/entry/{entry.pk}/change/"


@pytest.fixture
def at_whole_minute(make_entry):
    return lambda **fields: make_entry(
        published_at=datetime(2026, 11, 25, 22, 41, tzinfo=UTC), **fields
    )


def test_the_add_form_prefills_the_byline_and_the_time(journalist_client, event):
    form = journalist_client.get(ADD_URL).context["adminform"].form
    assert form.initial["byline"] == "Sam Okafor, Political Correspondent"
    assert form.fields["published_at"].initial is not None


def test_adding_publishes_with_the_next_revision_and_tells_readers_after_commit(
    journalist_client, event, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = journalist_client.post(
            ADD_URL, entry_form(event, body="<p>Boxes<script>x()</script></p>")
        )

    assert response.status_code == 302
    entry = Entry.objects.get()
    assert (entry.revision, entry.live, entry.body) == (1, True, "<p>Boxes</p>")
    assert entry.author.username == "sam"
    assert len(callbacks) == 1  # one broadcast, queued for after the commit


def test_an_entry_left_at_the_prefilled_time_is_published_as_of_saving(journalist_client, event):
    opened = journalist_client.get(ADD_URL).context["adminform"].form["published_at"].value()
    prefilled = {
        "published_at_0": opened.strftime("%Y-%m-%d"),
        "published_at_1": opened.strftime("%H:%M:%S"),
        "initial-published_at_0": opened.strftime("%Y-%m-%d"),
        "initial-published_at_1": opened.strftime("%H:%M:%S"),
    }
    journalist_client.post(ADD_URL, entry_form(event) | prefilled)
    assert Entry.objects.get().published_at > opened


def test_an_edit_takes_a_revision_keeps_the_author_and_records_the_words_before(
    journalist_client, at_whole_minute
):
    entry = at_whole_minute(headline="Count paused")
    response = journalist_client.post(change_url(entry), edit_form(entry, headline="Count resumed"))

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.headline, entry.revision, entry.author.username) == ("Count resumed", 2, "sam")
    assert entry.edited_at is not None
    change = EntryChange.objects.filter(entry=entry, action="edited").get()
    assert (change.headline, change.fields, change.changed_by.username) == (
        "Count paused",
        "headline",
        "sam",
    )


def test_saving_without_changes_takes_no_revision(journalist_client, at_whole_minute):
    entry = at_whole_minute()
    journalist_client.post(change_url(entry), edit_form(entry))
    entry.refresh_from_db()
    assert (entry.revision, entry.version) == (1, 1)


def test_fixing_only_the_headline_keeps_the_time_to_the_microsecond_and_the_order(
    journalist_client, client, make_entry
):
    # The change form shows the time to the second; the entry keeps what it had.
    posted = datetime(2026, 11, 25, 22, 41, 52, 262912, tzinfo=UTC)
    edited = make_entry(headline="Turnout 42%", published_at=posted)
    later_that_second = make_entry(published_at=posted.replace(microsecond=900000))

    journalist_client.post(change_url(edited), edit_form(edited, headline="Turnout 46.2%"))

    edited.refresh_from_db()
    assert (edited.headline, edited.published_at) == ("Turnout 46.2%", posted)
    entries = client.get("/api/events/harbourside/entries/").json()["entries"]
    assert [each["id"] for each in entries] == [later_that_second.pk, edited.pk]
    assert entries[1]["published_at"] == "2026-11-25T22:41:52.262912Z"


def test_changing_the_time_on_the_change_form_moves_the_entry(journalist_client, make_entry):
    entry = make_entry(published_at=datetime(2026, 11, 25, 22, 41, 52, 262912, tzinfo=UTC))

    journalist_client.post(change_url(entry), edit_form(entry, published_at_1="21:05:00"))

    entry.refresh_from_db()
    assert entry.published_at == datetime(2026, 11, 25, 21, 5, tzinfo=UTC)


def test_a_correction_note_is_shown_to_readers(journalist_client, client, at_whole_minute):
    entry = at_whole_minute()
    journalist_client.post(
        change_url(entry), edit_form(entry, correction="The turnout was 46.2%, not 42%.")
    )
    page = client.get("/live/harbourside/").content.decode()
    assert "<strong>Correction:</strong> The turnout was 46.2%, not 42%." in page


def test_a_second_save_over_someone_elses_is_refused_and_shows_their_version(
    client, journalist, editor, at_whole_minute
):
    entry = at_whole_minute(headline="Turnout 42%")
    opened_by_sam = edit_form(entry)  # both open version 1
    client.force_login(editor)
    client.post(change_url(entry), edit_form(entry, headline="Turnout 46.2%"))

    client.force_login(journalist)
    response = client.post(change_url(entry), opened_by_sam | {"headline": "Turnout: 42 per cent"})

    assert response.status_code == 200
    assert "Someone else saved this entry by ines" in response.content.decode()
    assert "Turnout 46.2%" in response.content.decode()
    entry.refresh_from_db()
    assert entry.headline == "Turnout 46.2%"


def test_a_journalist_cannot_delete_or_pin(journalist_client, at_whole_minute):
    entry = at_whole_minute()
    assert (
        journalist_client.post(
            f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    journalist_client.post(LIST_URL, {"action": "pin", "_selected_action": [entry.pk]})
    journalist_client.post(change_url(entry), edit_form(entry, pinned="on"))
    entry.refresh_from_db()
    assert (entry.is_deleted, entry.pinned) == (False, False)


def test_an_editor_deletes_and_leaves_a_tombstone(editor_client, make_entry):
    entry = make_entry()
    response = editor_client.post(f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.is_deleted, entry.live, entry.revision) == (True, False, 2)


def test_bulk_delete_leaves_tombstones(editor_client, make_entry):
    entries = [make_entry(), make_entry()]
    editor_client.post(
        LIST_URL,
        {"action": "delete_selected", "_selected_action": [e.pk for e in entries], "post": "yes"},
    )
    assert Entry.objects.filter(deleted_at__isnull=False).count() == 2


def test_an_editor_pins_unpins_and_restores_from_the_list(editor_client, make_entry):
    entry = make_entry()
    for action in ["pin", "unpin"]:
        editor_client.post(LIST_URL, {"action": action, "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    assert (entry.pinned, entry.revision) == (False, 3)

    editor_client.post(f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"})
    editor_client.post(LIST_URL, {"action": "restore", "_selected_action": [entry.pk]})
    entry.refresh_from_db()
    assert (entry.is_deleted, entry.live, entry.revision) == (False, True, 5)


def test_a_tombstone_opens_read_only(editor_client, make_entry):
    entry = make_entry()
    editor_client.post(f"/admin/updates/entry/{entry.pk}/delete/", {"post": "yes"})
    response = editor_client.get(change_url(entry))
    assert response.status_code == 200
    assert "headline" not in response.context["adminform"].form.fields


def test_an_editor_sees_the_history_and_a_journalist_does_not(
    client, journalist, editor, make_entry
):
    entry = make_entry()
    client.force_login(editor)
    assert (
        "the words as they were before each change"
        in client.get(change_url(entry)).content.decode()
    )
    client.force_login(journalist)
    assert "the words as they were before" not in client.get(change_url(entry)).content.decode()


def test_an_editor_changing_the_event_takes_a_revision(editor_client, event):
    response = editor_client.post(
        f"/admin/updates/event/{event.pk}/change/",
        event_form(event, title="Harbourside: the result", status="ended"),
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.title, event.status, event.revision) == ("Harbourside: the result", "ended", 1)


def test_an_editor_creates_an_event(editor_client, db):
    response = editor_client.post(
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


def test_a_journalist_cannot_change_events(journalist_client, event):
    response = journalist_client.post(
        f"/admin/updates/event/{event.pk}/change/", {"title": "Hijacked"}
    )
    assert response.status_code == 403


def test_readers_cannot_post(client, event):
    response = client.post(ADD_URL, entry_form(event))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Entry.objects.exists()


def test_a_journalists_post_without_the_csrf_token_is_refused(journalist, event):
    # Another site's page cannot post in a logged-in journalist's name.
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(journalist)
    for url in (ADD_URL, f"/admin/updates/event/{event.pk}/desk/"):
        response = browser.post(url, entry_form(event))
        assert response.status_code == 403, url
    assert not Entry.objects.exists()


@pytest.mark.parametrize(
    ("group", "allowed"),
    [
        ("Contributor", {"add_entry", "change_entry", "view_entry", "view_event"}),
        ("Journalist", {"publish_entry", "add_entry", "change_entry", "view_entry", "view_event"}),
        (
            "Editor",
            {
                "publish_entry", "approve_entry", "view_auditrecord",
                "add_entry", "change_entry", "delete_entry", "view_entry", "pin_entry",
                "view_entrychange", "add_event", "change_event", "view_event",
                "add_journalistprofile", "change_journalistprofile", "view_journalistprofile",
            },
        ),
    ],
)  # fmt: skip
def test_the_migrations_give_each_role_exactly_its_permissions(db, group, allowed):
    from django.contrib.auth.models import Group

    codenames = set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))
    assert codenames == allowed


def list_actions(client: Client) -> set[str]:
    choices = client.get(LIST_URL).context["action_form"].fields["action"].choices
    return {name for name, _ in choices if name}


def test_the_list_offers_the_desks_one_click_actions_each_to_whom_may_take_it(
    journalist_client, editor
):
    desk_only = {"delete"}  # the list has Django's, with its confirmation page
    everyone = set(ENTRY_ACTIONS) - desk_only
    assert list_actions(journalist_client) == {"key", "unkey", "publish"}
    journalist_client.force_login(editor)
    assert list_actions(journalist_client) == everyone | {"delete_selected"}


def test_a_journalist_marks_key_events_and_publishes_drafts_from_the_list(
    journalist_client, make_entry
):
    draft = make_entry(draft=True)
    for action in ["key", "publish"]:
        journalist_client.post(LIST_URL, {"action": action, "_selected_action": [draft.pk]})
    draft.refresh_from_db()
    assert (draft.key_event, draft.live) == (True, True)
