"""The audit log: every newsroom action, taken on the desk or in the admin, leaves exactly
one record of who did what, when; editors read the log in the admin, no one changes it."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.utils import timezone

from tests.test_admin import edit_form, entry_form, event_form
from updates.models import AuditRecord, Entry, Event
from updates.services import entry_publish, entry_publish_due

A = AuditRecord.Action
LOG_URL = "/admin/updates/auditrecord/"
ENTRIES_URL = "/admin/updates/entry/"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def desk(event: Event, path: str = "") -> str:
    return f"/admin/updates/event/{event.pk}/desk/{path}"


def on_the_desk(entry: Entry, action: str) -> str:
    return desk(entry.event, f"entries/{entry.pk}/{action}/")


@pytest.fixture
def one_record(db) -> Callable[[Callable[[], object]], AuditRecord]:
    """Runs the action, checks that it left exactly one audit record, made while it ran,
    and returns it."""

    def run(action: Callable[[], object]) -> AuditRecord:
        before = set(AuditRecord.objects.values_list("pk", flat=True))
        started = timezone.now()
        action()
        made = list(AuditRecord.objects.exclude(pk__in=before))
        assert len(made) == 1, made
        assert started <= made[0].at <= timezone.now()
        return made[0]

    return run


def what(record: AuditRecord) -> tuple:
    """Who did what to what, as the log's list shows it."""
    return (record.actor_name, record.action, record.subject)


def test_each_action_on_the_desk_leaves_one_record(
    one_record, journalist, contributor, editor, event
):
    sam, cal, ines = logged_in(journalist), logged_in(contributor), logged_in(editor)

    posted = one_record(
        lambda: sam.post(desk(event), {"headline": "Polls open", "body": "<p>x</p>"})
    )
    entry = Entry.objects.get(headline="Polls open")
    assert what(posted) == ("sam", A.POSTED, "Polls open")
    assert (posted.actor, posted.event, posted.entry) == (journalist, event, entry)

    submitted = one_record(lambda: cal.post(desk(event), {"headline": "Queue", "body": "<p>y</p>"}))
    waiting = Entry.objects.get(headline="Queue")
    assert what(submitted) == ("cal", A.SUBMITTED, "Queue")

    assert what(one_record(lambda: sam.post(on_the_desk(entry, "key")))) == (
        "sam",
        A.EDITED,
        "Polls open",
    )
    assert what(one_record(lambda: ines.post(on_the_desk(entry, "pin"))))[:2] == ("ines", A.PINNED)
    assert what(one_record(lambda: ines.post(on_the_desk(entry, "unpin"))))[1] == A.UNPINNED
    assert what(one_record(lambda: ines.post(on_the_desk(entry, "delete"))))[1] == A.DELETED
    assert what(one_record(lambda: ines.post(on_the_desk(entry, "restore"))))[1] == A.RESTORED
    returned = one_record(
        lambda: ines.post(desk(event, f"review/{waiting.pk}/return/"), {"note": "Which queue?"})
    )
    assert what(returned) == ("ines", A.RETURNED, "Queue")
    assert returned.details == {"note": "Which queue?"}
    # Changed by the contributor, it waits again: an edit like any other.
    waiting.refresh_from_db()
    resubmitted = one_record(
        lambda: cal.post(
            f"/admin/updates/entry/{waiting.pk}/change/", edit_form(waiting, headline="Queue at 7")
        )
    )
    assert what(resubmitted) == ("cal", A.EDITED, "Queue at 7")
    approved = one_record(lambda: ines.post(on_the_desk(waiting, "approve")))
    assert what(approved) == ("ines", A.APPROVED, "Queue at 7")
    assert (approved.event, approved.entry) == (event, waiting)


def test_each_action_in_the_admin_leaves_one_record(
    one_record, journalist, contributor, editor, event
):
    sam, ines = logged_in(journalist), logged_in(editor)

    posted = one_record(lambda: sam.post(f"{ENTRIES_URL}add/", entry_form(event)))
    entry = Entry.objects.get()
    assert what(posted) == ("sam", A.POSTED, "Count under way")
    edited = one_record(
        lambda: sam.post(f"{ENTRIES_URL}{entry.pk}/change/", edit_form(entry, headline="Counted"))
    )
    assert what(edited) == ("sam", A.EDITED, "Counted")
    assert edited.details["fields"] == ["headline"]

    def from_the_list(action: str, *entries: Entry) -> None:
        ines.post(ENTRIES_URL, {"action": action, "_selected_action": [e.pk for e in entries]})

    assert what(one_record(lambda: from_the_list("pin", entry))) == ("ines", A.PINNED, "Counted")
    deleted = one_record(lambda: ines.post(f"{ENTRIES_URL}{entry.pk}/delete/", {"post": "yes"}))
    assert what(deleted) == ("ines", A.DELETED, "Counted")
    assert what(one_record(lambda: from_the_list("restore", entry)))[1] == A.RESTORED
    waiting = entry_publish(event=event, author=contributor, headline="Queue", body="<p>x</p>")
    assert what(one_record(lambda: from_the_list("approve", waiting))) == (
        "ines",
        A.APPROVED,
        "Queue",
    )

    # A bulk delete: one record an entry.
    before = AuditRecord.objects.count()
    ines.post(
        ENTRIES_URL,
        {"action": "delete_selected", "_selected_action": [entry.pk, waiting.pk], "post": "yes"},
    )
    assert set(
        AuditRecord.objects.order_by("-id")[:2].values_list("action", "entry", "actor_name")
    ) == {(A.DELETED, waiting.pk, "ines"), (A.DELETED, entry.pk, "ines")}
    assert AuditRecord.objects.count() == before + 2

    ended = event_form(event, title="Harbourside: the result", status="ended")
    changed = one_record(lambda: ines.post(f"/admin/updates/event/{event.pk}/change/", ended))
    assert what(changed) == ("ines", A.EVENT_CHANGED, "Harbourside: the result")
    assert changed.event == event
    assert {"status", "title"} <= set(changed.details["fields"])
    created = one_record(
        lambda: ines.post(
            "/admin/updates/event/add/", ended | {"title": "Cup final", "slug": "cup-final"}
        )
    )
    assert what(created) == ("ines", A.EVENT_CREATED, "Cup final")


def test_an_entry_going_live_at_its_time_is_recorded_as_the_systems(one_record, make_entry):
    at = timezone.now() + timedelta(minutes=5)
    entry = make_entry(headline="At ten", published_at=at)

    record = one_record(lambda: entry_publish_due(now=at))

    assert (record.actor, record.actor_name, record.action, record.entry) == (
        None,
        "",
        A.WENT_LIVE,
        entry,
    )


# Role changes -------------------------------------------------------------------------


def user_form(user: User, *, groups: list[str], **flags: bool) -> dict:
    """What Django's user change form posts for the user, with these groups and flags
    (each flag as stored unless given)."""
    form: dict = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "groups": [Group.objects.get(name=name).pk for name in groups],
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if flags.get(flag, getattr(user, flag)):
            form[flag] = "on"
    return form


def test_a_change_of_roles_is_recorded_once_with_what_changed(
    one_record, admin_client, admin_user, journalist
):
    url = f"/admin/auth/user/{journalist.pk}/change/"

    record = one_record(
        lambda: admin_client.post(url, user_form(journalist, groups=["Editor"], is_active=False))
    )

    assert (record.actor, record.action, record.subject) == (
        admin_user,
        A.ROLE_CHANGED,
        "sam",
    )
    assert record.details == {
        "groups_added": ["Editor"],
        "groups_removed": ["Journalist"],
        "is_active": {"from": True, "to": False},
    }
    journalist.refresh_from_db()
    assert [group.name for group in journalist.groups.all()] == ["Editor"]


def test_saving_someone_unchanged_records_nothing(admin_client, journalist):
    response = admin_client.post(
        f"/admin/auth/user/{journalist.pk}/change/",
        user_form(journalist, groups=["Journalist"]) | {"first_name": "Sam"},
    )

    assert response.status_code == 302
    assert not AuditRecord.objects.filter(action=A.ROLE_CHANGED).exists()


def test_making_someone_staff_and_superuser_is_recorded(one_record, admin_client, db):
    reader = User.objects.create_user("rita")

    record = one_record(
        lambda: admin_client.post(
            f"/admin/auth/user/{reader.pk}/change/",
            user_form(reader, groups=[], is_staff=True, is_superuser=True),
        )
    )

    assert record.details == {
        "is_staff": {"from": False, "to": True},
        "is_superuser": {"from": False, "to": True},
    }


# Reading the log ----------------------------------------------------------------------


@pytest.fixture
def logged(journalist, editor, contributor, event, make_entry) -> Event:
    """An evening's log: posts, a pin, a submission, and another event's change."""
    make_entry(headline="Polls open")
    pinned = make_entry(headline="Turnout high")
    logged_in(editor).post(on_the_desk(pinned, "pin"))
    entry_publish(event=event, author=contributor, headline="Queue", body="<p>x</p>")
    other = Event.objects.create(title="Cup final", slug="cup-final")
    logged_in(editor).post(
        f"/admin/updates/event/{other.pk}/change/",
        event_form(other, title="Cup final: extra time"),
    )
    return event


def listed(client: Client, query: str = "") -> list[tuple[str, str, str]]:
    response = client.get(f"{LOG_URL}{query}")
    assert response.status_code == 200
    return [what(record) for record in response.context["cl"].result_list]


def test_an_editor_reads_the_log_newest_first_filtered_and_searched(editor, logged):
    client = logged_in(editor)
    page = client.get(LOG_URL)
    html = page.content.decode()
    for column in ("When", "Who", "Action", "What", "Event"):
        assert f">{column}</a>" in html or f">{column}</span>" in html, column
    assert 'id="date-hierarchy-label"' in html

    assert listed(client) == [
        ("ines", A.EVENT_CHANGED, "Cup final: extra time"),
        ("cal", A.SUBMITTED, "Queue"),
        ("ines", A.PINNED, "Turnout high"),
        ("sam", A.POSTED, "Turnout high"),
        ("sam", A.POSTED, "Polls open"),
        ("", A.EVENT_CREATED, "Harbourside by-election"),  # by the fixture: no one
    ]
    assert listed(client, "?action__exact=pinned") == [("ines", A.PINNED, "Turnout high")]
    assert [entry[2] for entry in listed(client, f"?event__id__exact={logged.pk}")] == [
        "Queue",
        "Turnout high",
        "Turnout high",
        "Polls open",
        "Harbourside by-election",
    ]
    assert listed(client, "?q=cal") == [("cal", A.SUBMITTED, "Queue")]
    assert len(listed(client, "?q=turnout")) == 2


def test_only_those_who_may_view_the_log_read_it(journalist, contributor, logged):
    for user in (journalist, contributor):
        assert logged_in(user).get(LOG_URL).status_code == 403


def test_no_one_adds_changes_or_deletes_a_record_not_even_a_superuser(admin_client, logged):
    record = AuditRecord.objects.get(action=A.PINNED)
    url = f"{LOG_URL}{record.pk}/"

    opened = admin_client.get(f"{url}change/")
    assert opened.status_code == 200
    assert 'name="_save"' not in opened.content.decode()  # read-only
    assert admin_client.post(f"{url}change/", {"subject": "Nothing"}).status_code == 403
    assert admin_client.get(f"{LOG_URL}add/").status_code == 403
    assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    # The list offers no action: "Delete selected" is gone.
    assert admin_client.get(LOG_URL).context["action_form"] is None
    admin_client.post(LOG_URL, {"action": "delete_selected", "_selected_action": [record.pk]})

    record.refresh_from_db()
    assert (record.subject, AuditRecord.objects.count()) == ("Turnout high", 6)
