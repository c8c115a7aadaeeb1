import threading
import time

import pytest
from django.db import connection

from updates.models import Entry, Event
from updates.services import entry_delete, entry_publish, entry_restore, entry_update, event_update


def revision_of(event: Event) -> int:
    event.refresh_from_db()
    return event.revision


def test_each_change_takes_the_next_revision_of_its_event(event, make_entry):
    first = make_entry()
    second = make_entry(headline="Turnout is up")
    assert (first.revision, second.revision) == (1, 2)

    entry_update(entry=first, changes={"headline": "Polls opened at 7am"})
    assert first.revision == 3
    entry_update(entry=first, changes={"pinned": True})
    assert first.revision == 4
    entry_delete(entry=second)
    assert second.revision == 5
    entry_restore(entry=second)
    assert second.revision == 6
    event_update(event=event, changes={"summary": "The count, live."})
    assert revision_of(event) == 7


def test_an_update_without_changes_takes_no_revision(event, make_entry):
    entry = make_entry()
    entry_update(entry=entry, changes={})
    assert entry.revision == 1 == revision_of(event)


def test_revisions_are_counted_per_event(event, make_entry, journalist):
    other = Event.objects.create(title="Cup final", slug="cup-final")
    make_entry()
    entry = entry_publish(event=other, author=journalist, headline="Kick-off", body="<p>Go</p>")
    assert entry.revision == 1
    assert revision_of(event) == 1


def test_deleting_keeps_a_tombstone_that_readers_no_longer_see(event, make_entry):
    entry = make_entry()
    entry_delete(entry=entry)
    entry.refresh_from_db()
    assert entry.deleted_at is not None
    assert Entry.objects.filter(pk=entry.pk).exists()
    assert not Entry.objects.visible().filter(pk=entry.pk).exists()


def test_deleting_twice_takes_one_revision(event, make_entry):
    entry = make_entry()
    entry_delete(entry=entry)
    entry_delete(entry=entry)
    assert revision_of(event) == 2


def test_restoring_brings_the_entry_back_with_a_new_revision(event, make_entry):
    entry = make_entry()
    entry_delete(entry=entry)
    entry_restore(entry=entry)
    assert Entry.objects.visible().get(pk=entry.pk).revision == 3


def test_a_deleted_entry_cannot_be_edited(event, make_entry):
    from django.core.exceptions import ValidationError

    entry = make_entry()
    entry_delete(entry=entry)
    with pytest.raises(ValidationError):
        entry_update(entry=entry, changes={"headline": "Back from the dead"})


def test_the_byline_defaults_to_the_journalists_profile(make_entry):
    assert make_entry().byline == "Sam Okafor, Political Correspondent"
    assert make_entry(byline="Guest, Reader").byline == "Guest, Reader"


def test_the_body_is_sanitised_on_save(make_entry):
    entry = make_entry(body='<p onclick="steal()">Hi<script>steal()</script></p>')
    assert entry.body == "<p>Hi</p>"


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_publishes_get_twenty_distinct_revisions(event, journalist):
    start = threading.Barrier(20)
    errors = []

    def publish(number: int) -> None:
        try:
            start.wait(timeout=10)
            entry_publish(
                event=event, author=journalist, headline=f"Update {number}", body="<p>x</p>"
            )
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    revisions = sorted(Entry.objects.filter(event=event).values_list("revision", flat=True))
    assert revisions == list(range(1, 21))
    assert revision_of(event) == 20


def test_a_draft_takes_no_revision_and_readers_never_see_it(event, make_entry):
    draft = make_entry(draft=True)
    entry_update(entry=draft, changes={"headline": "Still drafting"})
    assert (draft.live, draft.revision, revision_of(event)) == (False, None, 0)
    assert not Entry.objects.visible().exists()


def test_turning_a_published_entry_back_into_a_draft_is_a_deletion_to_readers(
    event, make_entry, django_capture_on_commit_callbacks
):
    from updates.serialize import change_to_dict

    entry = make_entry()
    entry_update(entry=entry, changes={"draft": True})
    assert (entry.live, entry.revision) == (False, 2)
    assert change_to_dict(entry) == {"id": entry.pk, "deleted": True, "revision": 2}


def test_an_entry_scheduled_for_later_goes_live_once_at_its_time(event, make_entry):
    from datetime import timedelta

    from django.utils import timezone

    from updates.services import entry_publish_due

    at = timezone.now() + timedelta(hours=1)
    entry = make_entry(published_at=at)
    assert (entry.live, entry.revision) == (False, None)
    assert entry_publish_due(now=at - timedelta(seconds=1)) == []
    assert entry_publish_due(now=at) == [entry]
    assert entry_publish_due(now=at) == []
    entry.refresh_from_db()
    assert (entry.live, entry.revision) == (True, 1)


def test_every_save_counts_a_version_seen_by_readers_or_not(event, make_entry):
    entry = make_entry(draft=True)
    entry_update(entry=entry, changes={"headline": "Draft two"})
    entry_update(entry=entry, changes={"draft": False})
    assert entry.version == 3


def test_a_save_from_an_older_version_is_refused(event, make_entry):
    from updates.services import EditConflict

    entry = make_entry()
    entry_update(entry=entry, changes={"headline": "First"}, expected_version=1)
    with pytest.raises(EditConflict) as conflict:
        entry_update(entry=entry, changes={"headline": "Second"}, expected_version=1)
    assert conflict.value.current.headline == "First"


@pytest.mark.django_db(transaction=True)
def test_a_change_that_took_its_revision_first_commits_first(event, journalist):
    # A reader's "changes since R" must never skip a slower transaction: the one that
    # took R+1 cannot commit before the one that took R (it waits for the event lock).
    from django.db import transaction

    order: list[str] = []
    first_has_its_revision = threading.Event()

    def slow_first() -> None:
        try:
            with transaction.atomic():
                entry_publish(event=event, author=journalist, headline="Slow", body="<p>1</p>")
                first_has_its_revision.set()
                time.sleep(0.5)  # still uncommitted, holding revision 1
                order.append("slow committed")
        finally:
            connection.close()

    def quick_second() -> None:
        try:
            first_has_its_revision.wait(timeout=10)
            entry_publish(event=event, author=journalist, headline="Quick", body="<p>2</p>")
            order.append("quick committed")
        finally:
            connection.close()

    threads = [threading.Thread(target=slow_first), threading.Thread(target=quick_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert order == ["slow committed", "quick committed"]
    revisions = dict(Entry.objects.values_list("headline", "revision"))
    assert revisions == {"Slow": 1, "Quick": 2}


def test_an_update_saves_only_the_fields_it_names(make_entry):
    # As the admin's form does: every cleaned value written on the object, the time cut
    # to the second, before the service is told what changed.
    entry = make_entry()
    posted = entry.published_at
    entry.published_at = posted.replace(microsecond=0)
    entry.byline = "Someone else"

    entry_update(entry=entry, changes={"headline": "Count resumed"})

    entry.refresh_from_db()
    assert (entry.headline, entry.published_at, entry.byline) == (
        "Count resumed",
        posted,
        "Sam Okafor, Political Correspondent",
    )
