"""The one shape of events and entries on the wire: the API, the websocket and the page."""

from datetime import UTC, datetime
from typing import Any, Literal, TypedDict

from django.core.files.storage import default_storage
from django.template.loader import render_to_string

from updates.models import Entry, Event
from updates.pictures import StoredPicture


class SourceDict(TypedDict):
    type: str
    srcset: str


class EmbedDict(TypedDict):
    """A video or social post (updates/embeds.py): readers fetch nothing of it until they ask."""

    kind: Literal["embed"]
    provider: str
    url: str
    title: str


class PictureDict(TypedDict):
    """A picture as readers get it (docs/api.md): its largest rendition in the uploaded
    format as src, every width of that format as srcset, the WebP ones as a source."""

    kind: Literal["image"]
    src: str
    srcset: str
    sources: list[SourceDict]
    width: int
    height: int
    alt: str
    caption: str
    credit: str


type MediaDict = PictureDict | EmbedDict


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
    media: list[MediaDict]
    revision: int
    url: str
    html: str


class CardEntryDict(TypedDict):
    """An entry as the live page reads it (a reader's socket with ?entry=card): its card,
    and what the page cannot read off the card's markup (where it goes, the key events
    list, the announcement of a new update, and the revision rules)."""

    id: int
    revision: int
    html: str
    pinned: bool
    key_event: bool
    headline: str
    published_at: str
    url: str


class TombstoneDict(TypedDict):
    id: int
    deleted: bool
    revision: int


class EventDict(TypedDict):
    title: str
    slug: str
    summary: str
    # The editors' "Key points" (sanitised HTML, "" for none), shown above the pinned entries.
    key_points: str
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


def _seen_revision(entry: Entry) -> int:
    """The revision of the entry's last change readers could see: every entry they are
    sent has one (services.py numbers each change before telling them)."""
    if entry.revision is None:
        raise ValueError("An entry readers never saw has no revision to send")
    return entry.revision


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
        "media": media_to_dicts(entry),
        "revision": _seen_revision(entry),
        "url": entry.get_absolute_url(),
        "html": render_entry_card(entry),
    }


def card_fields(entry: EntryDict) -> CardEntryDict:
    """The ENTRY without the raw fields its card (html) already shows readers."""
    return {
        "id": entry["id"],
        "revision": entry["revision"],
        "html": entry["html"],
        "pinned": entry["pinned"],
        "key_event": entry["key_event"],
        "headline": entry["headline"],
        "published_at": entry["published_at"],
        "url": entry["url"],
    }


def media_to_dicts(entry: Entry) -> list[MediaDict]:
    return [
        _picture_to_dict(item)
        if item["kind"] == "image"
        else EmbedDict(
            kind="embed", provider=item["provider"], url=item["url"], title=item["title"]
        )
        for item in entry.media
    ]


def _picture_to_dict(item: dict[str, Any]) -> PictureDict:
    picture = StoredPicture.from_json(item["picture"])
    original = picture.original_content_type
    largest = picture.largest(original)
    return {
        "kind": "image",
        "src": default_storage.url(largest.name),
        "srcset": picture.srcset(original),
        "sources": [{"type": "image/webp", "srcset": picture.srcset("image/webp")}],
        "width": picture.width,
        "height": picture.height,
        "alt": item["alt"],
        "caption": item["caption"],
        "credit": item["credit"],
    }


def tombstone_to_dict(entry: Entry) -> TombstoneDict:
    return {"id": entry.pk, "deleted": True, "revision": _seen_revision(entry)}


def change_to_dict(entry: Entry) -> EntryDict | TombstoneDict:
    """An entry readers can no longer see (deleted, back to draft, moved to later) is
    gone as far as they know."""
    return entry_to_dict(entry) if entry.live else tombstone_to_dict(entry)


def event_to_dict(event: Event) -> EventDict:
    return {
        "title": event.title,
        "slug": event.slug,
        "summary": event.summary,
        "key_points": event.key_points,
        "status": event.status,
        "revision": event.revision,
        "starts_at": isoformat(event.starts_at),
        "updated_at": isoformat(event.updated_at),
        "url": event.get_absolute_url(),
    }
