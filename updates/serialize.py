"""The one shape of events and entries on the wire: the API, the websocket and the page."""

import logging
from datetime import UTC, datetime
from typing import TypedDict

import orjson
from django.core.cache import cache
from django.template.loader import render_to_string

from updates import cache_keys
from updates.models import Entry, Event
from updates.selectors import EntryPage, cached_at_revision, entry_changes_since

logger = logging.getLogger(__name__)

# An entry's encoding never changes (its key names its version); this only bounds how
# long entries nobody pages to are kept.
ENTRY_JSON_CACHE_SECONDS = 600


class EntryDict(TypedDict):
    id: int
    headline: str
    body: str
    byline: str
    published_at: str
    updated_at: str
    edited_at: str | None
    correction: str
    pinned: bool
    key_event: bool
    revision: int
    url: str
    html: str


class TombstoneDict(TypedDict):
    id: int
    deleted: bool
    revision: int


class EventDict(TypedDict):
    title: str
    slug: str
    summary: str
    status: str
    revision: int
    starts_at: str
    updated_at: str
    url: str


def isoformat(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, as docs/api.md promises."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def render_entry_card(entry: Entry) -> str:
    return render_to_string("updates/_entry.html", {"entry": entry})


def entry_to_dict(entry: Entry) -> EntryDict:
    """Needs entry.event loaded (select_related) for the permalink."""
    return {
        "id": entry.pk,
        "headline": entry.headline,
        "body": entry.body,
        "byline": entry.byline,
        "published_at": isoformat(entry.published_at),
        "updated_at": isoformat(entry.updated_at),
        "edited_at": isoformat(entry.edited_at) if entry.edited_at else None,
        "correction": entry.correction,
        "pinned": entry.pinned,
        "key_event": entry.key_event,
        "revision": entry.revision,
        "url": entry.get_absolute_url(),
        "html": render_entry_card(entry),
    }


def entries_json(entries: list[Entry]) -> list[orjson.Fragment]:
    """Each entry as orjson encodes entry_to_dict(), rendered once per version of the entry
    whichever page it is on: one get_many for the lot, and one set_many for those the
    cache lacked. Rendering a card is most of what a page costs; a cache that fails is
    skipped, not waited for."""
    keyed = {cache_keys.entry_json(entry): entry for entry in entries}
    try:
        cached = cache.get_many(keyed)
    except Exception:
        logger.warning("Cache unavailable; rendering entries without it", exc_info=True)
        cached = {}
    rendered = {
        key: orjson.dumps(entry_to_dict(entry)) for key, entry in keyed.items() if key not in cached
    }
    if rendered:
        try:
            cache.set_many(rendered, ENTRY_JSON_CACHE_SECONDS)
        except Exception:
            logger.warning("Cache unavailable; entries not kept", exc_info=True)
    return [orjson.Fragment(cached[key] if key in cached else rendered[key]) for key in keyed]


def entry_page_json(page: EntryPage, *, revision: int) -> bytes:
    """The API's page of entries, encoded (see docs/api.md)."""
    return orjson.dumps(
        {
            "entries": entries_json(page.entries),
            "next": page.next.encode() if page.next else None,
            "revision": revision,
        }
    )


def tombstone_to_dict(entry: Entry) -> TombstoneDict:
    return {"id": entry.pk, "deleted": True, "revision": entry.revision}


def change_to_dict(entry: Entry) -> EntryDict | TombstoneDict:
    """An entry readers can no longer see (deleted, back to draft, moved to later) is
    gone as far as they know."""
    return entry_to_dict(entry) if entry.live else tombstone_to_dict(entry)


def event_to_dict(event: Event) -> EventDict:
    return {
        "title": event.title,
        "slug": event.slug,
        "summary": event.summary,
        "status": event.status,
        "revision": event.revision,
        "starts_at": isoformat(event.starts_at),
        "updated_at": isoformat(event.updated_at),
        "url": event.get_absolute_url(),
    }


def changes_json(event: Event, *, since: int) -> bytes:
    """What a reader at revision `since` missed, encoded (docs/api.md): the answer of
    changes/?since= and the catch-up a websocket's hello carries. After a restart or a
    dropped connection most readers ask with the same `since`: one answer per revision
    serves them all (bench/storm.py)."""

    def encoded() -> bytes:
        changes = entry_changes_since(event=event, since=since)
        data = {
            "revision": changes.revision,
            "changes": [change_to_dict(entry) for entry in changes.entries],
            # Changes to the event itself are not entries: a reader catching up gets its state.
            "event": event_to_dict(event),
        }
        if changes.reset:
            data["reset"] = True
        return orjson.dumps(data)

    return cached_at_revision(event, f"api-changes-since-{since}", encoded)
