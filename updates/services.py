"""Every write to events and entries.

Readers are told of every change they can see, numbered by the event's revision, once
the transaction has committed (see broadcast.py). A change readers cannot see (a
draft, an entry scheduled for later) takes no revision: a revision readers were never
sent would look to them like a lost message.

Revisions: the event row is locked (select_for_update) from the moment a change takes
its revision until it commits. Without the lock two concurrent publishes could read
the same revision and both write R+1; with it they queue, so each change gets its own
number, and a change numbered R+1 can only commit after the one numbered R, so a
reader's "changes since R" never skips a slower transaction.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from updates import audit
from updates.live import broadcast, desk_news
from updates.models import AuditRecord, Entry, EntryChange, Event, JournalistProfile

ENTRY_EDITABLE_FIELDS = frozenset(
    {
        "headline",
        "body",
        "byline",
        "media",
        "published_at",
        "pinned",
        "key_event",
        "draft",
        "correction",
    }
)
# A change to these is an edit readers are told of ("Updated HH:MM"); pinning is not.
ENTRY_WORDS = frozenset({"headline", "body", "byline", "media", "correction"})
EVENT_EDITABLE_FIELDS = frozenset(
    {"title", "slug", "summary", "key_points", "status", "starts_at", "language"}
)
PUBLISH, APPROVE = "updates.publish_entry", "updates.approve_entry"


class EditConflict(Exception):
    """Someone else saved the entry since this editor opened it."""

    def __init__(self, current: Entry) -> None:
        super().__init__(
            f"Entry {current.pk} was changed by someone else (version {current.version})"
        )
        self.current = current


def _event_take_revision(event_id: int) -> int:
    """Take the event's next revision. Call under _event_lock(), inside transaction.atomic()."""
    event = Event.objects.only("revision").get(pk=event_id)
    Event.objects.filter(pk=event_id).update(revision=event.revision + 1)
    return event.revision + 1


def _event_lock(event_id: int) -> None:
    """Serialise every write to the event's entries until the transaction ends."""
    Event.objects.select_for_update().only("pk").get(pk=event_id)


def _apply(obj: Entry | Event, changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(obj, name, value)


def _record(entry: Entry, *, action: str, by: User | None, fields: Iterable[str] = ()) -> None:
    EntryChange.objects.create(
        entry=entry,
        changed_by=by,
        action=action,
        fields=", ".join(sorted(fields)),
        headline=entry.headline,
        body=entry.body,
        byline=entry.byline,
        media=entry.media,
    )


def _save_and_tell_readers(
    entry: Entry, *, was_live: bool, who: str, now: datetime | None = None
) -> None:
    """Save the entry and, if readers could or can now see it, number the change and
    tell them after commit: new to them, changed, or gone. Call under _event_lock().
    who: whose change it is, as the publish's log line names it (_who)."""
    entry.live = entry.should_be_live(now)
    if was_live or entry.live:
        entry.revision = _event_take_revision(entry.event_id)
    entry.version += 1 if entry.pk else 0
    entry.save()
    if entry.live and not was_live:
        kind = broadcast.ENTRY_CREATED
    elif entry.live:
        kind = broadcast.ENTRY_UPDATED
    elif was_live:
        kind = broadcast.ENTRY_DELETED
    else:
        # Readers are not told; the desks, which hear every change readers are told of
        # through the same delivery, are (updates/live/desk_news.py).
        transaction.on_commit(lambda: desk_news.entry_changed(entry))
        return
    transaction.on_commit(lambda: broadcast.send_entry_change(kind, entry, who=who))


def _who(user: User | None) -> str:
    """Whose change it is, for the log: the username, or "system" (a command, the demo)."""
    return user.get_username() if user else "system"


def publishes_directly(user: User | None) -> bool:
    """Whether what `user` writes reaches readers without an editor's approval; None: the
    system (management commands, the demo)."""
    return user is None or user.has_perm(PUBLISH)


def may_change(user: User | None, entry: Entry) -> bool:
    """A contributor changes only their own entries, and only until they are approved."""
    if publishes_directly(user):
        return True
    assert user is not None
    return entry.author_id == user.pk and entry.review != Entry.Review.NONE


def default_byline(user: User | AnonymousUser | None) -> str:
    profile: JournalistProfile | None = getattr(user, "journalist_profile", None)
    return profile.byline if profile else ""


@transaction.atomic
def event_create(
    *,
    title: str,
    slug: str,
    summary: str = "",
    status: str = Event.Status.LIVE,
    starts_at: datetime | None = None,
    language: str = "",
    key_points: str = "",
    by: User | None = None,
) -> Event:
    event = Event(
        title=title,
        slug=slug,
        summary=summary,
        key_points=key_points,
        status=status,
        language=language,
    )
    if starts_at is not None:
        event.starts_at = starts_at
    _note_end(event)
    event.full_clean()
    event.save()
    audit.record(AuditRecord.Action.EVENT_CREATED, by=by, event=event)
    return event


def _note_end(event: Event) -> None:
    """When the coverage ended: kept while it stays ended, gone if it goes live again."""
    if event.status != Event.Status.ENDED:
        event.ended_at = None
    elif event.ended_at is None:
        event.ended_at = timezone.now()


@transaction.atomic
def event_update(*, event: Event, changes: dict[str, Any], by: User | None = None) -> Event:
    """Apply the changes and tell readers; no change, no new revision."""
    _apply(event, changes, EVENT_EDITABLE_FIELDS)
    if not changes:
        return event
    audit.record(
        AuditRecord.Action.EVENT_CHANGED, by=by, event=event, details={"fields": sorted(changes)}
    )
    _note_end(event)
    _event_lock(event.pk)
    event.revision = _event_take_revision(event.pk)
    event.full_clean()
    event.save()
    transaction.on_commit(lambda: broadcast.send_event_change(event, who=_who(by)))
    return event


@transaction.atomic
def entry_publish(
    *,
    event: Event,
    author: User | None,
    headline: str,
    body: str,
    byline: str = "",
    published_at: datetime | None = None,
    pinned: bool = False,
    key_event: bool = False,
    draft: bool = False,
    media: list[dict[str, Any]] | None = None,
) -> Entry:
    """Readers see the entry now, or at published_at if that is later, or, for a
    draft, once it is published; a contributor's, once an editor approves it (see
    entry_approve). media: as Entry.media stores it (updates/pictures.py)."""
    direct = publishes_directly(author)
    entry = Entry(
        event=event,
        author=author,
        headline=headline,
        body=body,
        byline=byline or default_byline(author),
        media=media or [],
        published_at=published_at or timezone.now(),
        pinned=pinned,
        key_event=key_event,
        draft=draft,
        review=Entry.Review.NONE if direct else Entry.Review.WAITING,
    )
    entry.full_clean(exclude=["revision"])
    _event_lock(event.pk)
    _save_and_tell_readers(entry, was_live=False, who=_who(author))
    _record(entry, action="created", by=author)
    action = AuditRecord.Action.POSTED if direct else AuditRecord.Action.SUBMITTED
    audit.record(action, by=author, entry=entry, details=_entry_details(entry))
    return entry


def _entry_details(entry: Entry) -> dict[str, Any]:
    return {"state": entry.state, "revision": entry.revision, "version": entry.version}


@transaction.atomic
def entry_update(
    *,
    entry: Entry,
    changes: dict[str, Any],
    by: User | None = None,
    expected_version: int | None = None,
) -> Entry:
    """Apply the changes to the entry as stored and tell readers; no change, no new
    revision. Nothing else of `entry` is saved: the admin's form has written every
    value it cleaned on it, the time cut to the second the form shows, and an edit of
    the headline must not move the entry in time. `entry` ends as saved.

    With expected_version (the version the editor opened), a save over someone else's
    newer one raises EditConflict instead of overwriting it.
    """
    if not changes:
        return entry
    _event_lock(entry.event_id)
    stored = Entry.objects.get(pk=entry.pk)
    if expected_version is not None and stored.version != expected_version:
        raise EditConflict(stored)
    if not may_change(by, stored):
        raise PermissionDenied("Contributors change only their own entries, until approved.")
    if stored.is_deleted:
        raise ValidationError("This entry is deleted: restore it before editing it.")
    if stored.review == Entry.Review.RETURNED:
        # Changed after an editor returned it: back in the queue.
        stored.review = Entry.Review.WAITING
    was_live = stored.live
    _record(stored, action="edited", by=by, fields=changes)
    words_before = {name: getattr(stored, name) for name in ENTRY_WORDS}
    _apply(stored, changes, ENTRY_EDITABLE_FIELDS)
    if was_live and any(getattr(stored, name) != words_before[name] for name in ENTRY_WORDS):
        stored.edited_at = timezone.now()
    stored.full_clean(exclude=["revision"])
    _save_and_tell_readers(stored, was_live=was_live, who=_who(by))
    audit.record(
        _update_action(changes),
        by=by,
        entry=stored,
        details=_entry_details(stored) | {"fields": sorted(changes)},
    )
    for field in Entry._meta.concrete_fields:
        setattr(entry, field.attname, getattr(stored, field.attname))
    return entry


def _update_action(changes: dict[str, Any]) -> str:
    if set(changes) == {"pinned"}:
        return AuditRecord.Action.PINNED if changes["pinned"] else AuditRecord.Action.UNPINNED
    return AuditRecord.Action.EDITED


@transaction.atomic
def entry_delete(*, entry: Entry, by: User | None = None) -> Entry:
    """Keep the row as a tombstone, so readers can be told and an editor can restore it."""
    _event_lock(entry.event_id)
    entry.refresh_from_db()
    if entry.is_deleted:
        return entry
    was_live = entry.live
    entry.deleted_at = timezone.now()
    _record(entry, action="deleted", by=by)
    _save_and_tell_readers(entry, was_live=was_live, who=_who(by))
    audit.record(AuditRecord.Action.DELETED, by=by, entry=entry, details=_entry_details(entry))
    return entry


@transaction.atomic
def entry_restore(*, entry: Entry, by: User | None = None) -> Entry:
    _event_lock(entry.event_id)
    entry.refresh_from_db()
    if not entry.is_deleted:
        return entry
    entry.deleted_at = None
    _record(entry, action="restored", by=by)
    _save_and_tell_readers(entry, was_live=False, who=_who(by))
    audit.record(AuditRecord.Action.RESTORED, by=by, entry=entry, details=_entry_details(entry))
    return entry


@transaction.atomic
def entry_approve(*, entry: Entry, by: User) -> Entry:
    """An editor lets a contributor's entry reach readers: now, or at its time."""
    if not by.has_perm(APPROVE):
        raise PermissionDenied
    _event_lock(entry.event_id)
    entry.refresh_from_db()
    if entry.review != Entry.Review.WAITING or entry.is_deleted:
        raise ValidationError("This entry is not awaiting approval.")
    entry.review, entry.review_note = Entry.Review.NONE, ""
    _record(entry, action="approved", by=by)
    _save_and_tell_readers(entry, was_live=False, who=_who(by))
    audit.record(AuditRecord.Action.APPROVED, by=by, entry=entry, details=_entry_details(entry))
    return entry


@transaction.atomic
def entry_return(*, entry: Entry, by: User, note: str) -> Entry:
    """An editor sends a contributor's entry back with a note; readers never see it."""
    if not by.has_perm(APPROVE):
        raise PermissionDenied
    note = note.strip()
    if not note:
        raise ValidationError("Say what the contributor should change.")
    _event_lock(entry.event_id)
    entry.refresh_from_db()
    if entry.review != Entry.Review.WAITING or entry.is_deleted:
        raise ValidationError("This entry is not awaiting approval.")
    entry.review, entry.review_note = Entry.Review.RETURNED, note
    _record(entry, action="returned", by=by)
    _save_and_tell_readers(entry, was_live=False, who=_who(by))
    audit.record(AuditRecord.Action.RETURNED, by=by, entry=entry, details={"note": note})
    return entry


def entry_publish_due(*, now: datetime | None = None) -> list[Entry]:
    """Publish the scheduled entries whose time has come (see scheduler.py).

    Safe to run in every process at once: each entry is published by whichever
    process locks its event first; the others find it live already.
    """
    now = now or timezone.now()
    published = []
    for entry_id in Entry.objects.due(now).values_list("pk", flat=True)[:100]:
        with transaction.atomic():
            entry = Entry.objects.select_related("event").get(pk=entry_id)
            _event_lock(entry.event_id)
            entry.refresh_from_db()
            if entry.live or not entry.should_be_live(now):
                continue
            _save_and_tell_readers(entry, was_live=False, who="scheduler", now=now)
            _record(entry, action="went live", by=None)
            audit.record(
                AuditRecord.Action.WENT_LIVE, by=None, entry=entry, details=_entry_details(entry)
            )
            published.append(entry)
    return published
