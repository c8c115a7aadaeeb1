"""Every write to events and entries. Each one takes the next revision of its event
and, once the transaction has committed, tells readers (see broadcast.py).

Revisions: the event row is locked (select_for_update) from the moment a change takes
its revision until it commits. Without the lock two concurrent publishes could read
the same revision and both write R+1; with it they queue, so each change gets its own
number, and a change numbered R+1 can only commit after the one numbered R, so a
reader's "changes since R" never skips a slower transaction.
"""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from updates import broadcast
from updates.models import Entry, Event

ENTRY_EDITABLE_FIELDS = frozenset(
    {"headline", "body", "byline", "published_at", "pinned", "key_event"}
)
# A change to these is an edit readers are told of ("Updated HH:MM"); pinning is not.
ENTRY_WORDS = frozenset({"headline", "body", "byline"})
EVENT_EDITABLE_FIELDS = frozenset({"title", "slug", "summary", "status", "starts_at"})


def _event_take_revision(event_id: int) -> Event:
    """Lock the event and take its next revision. Call inside transaction.atomic()."""
    event = Event.objects.select_for_update().get(pk=event_id)
    event.revision += 1
    Event.objects.filter(pk=event_id).update(revision=event.revision)
    return event


def _apply(obj: Entry | Event, changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(obj, name, value)


def default_byline(user: AbstractBaseUser | None) -> str:
    profile = getattr(user, "journalist_profile", None)
    return profile.byline if profile else ""


@transaction.atomic
def event_create(
    *,
    title: str,
    slug: str,
    summary: str = "",
    status: str = Event.Status.LIVE,
    starts_at: datetime | None = None,
) -> Event:
    event = Event(title=title, slug=slug, summary=summary, status=status)
    if starts_at is not None:
        event.starts_at = starts_at
    event.full_clean()
    event.save()
    return event


@transaction.atomic
def event_update(*, event: Event, changes: dict[str, Any]) -> Event:
    """Apply the changes and tell readers; no change, no new revision."""
    _apply(event, changes, EVENT_EDITABLE_FIELDS)
    if not changes:
        return event
    event.revision = _event_take_revision(event.pk).revision
    event.full_clean()
    event.save()
    transaction.on_commit(lambda: broadcast.send_event_change(event))
    return event


@transaction.atomic
def entry_publish(
    *,
    event: Event,
    author: AbstractBaseUser | None,
    headline: str,
    body: str,
    byline: str = "",
    published_at: datetime | None = None,
    pinned: bool = False,
    key_event: bool = False,
) -> Entry:
    entry = Entry(
        event=event,
        author=author,
        headline=headline,
        body=body,
        byline=byline or default_byline(author),
        published_at=published_at or timezone.now(),
        pinned=pinned,
        key_event=key_event,
    )
    entry.full_clean(exclude=["revision"])
    entry.revision = _event_take_revision(event.pk).revision
    entry.save()
    transaction.on_commit(lambda: broadcast.send_entry_change(broadcast.ENTRY_CREATED, entry))
    return entry


@transaction.atomic
def entry_update(*, entry: Entry, changes: dict[str, Any]) -> Entry:
    """Apply the changes and tell readers; no change, no new revision."""
    if not changes:
        return entry
    if entry.is_deleted:
        raise ValidationError("This entry is deleted: restore it before editing it.")
    _apply(entry, changes, ENTRY_EDITABLE_FIELDS)
    if ENTRY_WORDS & set(changes):
        entry.edited_at = timezone.now()
    entry.full_clean(exclude=["revision"])
    entry.revision = _event_take_revision(entry.event_id).revision
    entry.save()
    transaction.on_commit(lambda: broadcast.send_entry_change(broadcast.ENTRY_UPDATED, entry))
    return entry


@transaction.atomic
def entry_delete(*, entry: Entry) -> Entry:
    """Keep the row as a tombstone, so readers can be told and an editor can restore it."""
    if entry.is_deleted:
        return entry
    entry.deleted_at = timezone.now()
    entry.revision = _event_take_revision(entry.event_id).revision
    entry.save(update_fields=["deleted_at", "revision", "updated_at"])
    transaction.on_commit(lambda: broadcast.send_entry_change(broadcast.ENTRY_DELETED, entry))
    return entry


@transaction.atomic
def entry_restore(*, entry: Entry) -> Entry:
    if not entry.is_deleted:
        return entry
    entry.deleted_at = None
    entry.revision = _event_take_revision(entry.event_id).revision
    entry.save(update_fields=["deleted_at", "revision", "updated_at"])
    # Readers insert an update for an entry they do not show, in its place in time.
    transaction.on_commit(lambda: broadcast.send_entry_change(broadcast.ENTRY_UPDATED, entry))
    return entry
