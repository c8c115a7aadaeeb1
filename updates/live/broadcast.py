"""The websocket messages: built and encoded once per change, whatever the number of readers.

A change of entry is encoded twice, once per encoding a reader's socket may ask for: the
whole ENTRY (docs/api.md), and the compact one the live page asks for (?entry=card),
without the raw fields its card already shows."""

import orjson

from updates.live import delivery
from updates.models import Entry, Event
from updates.serialize import card_fields, change_to_dict, event_to_dict

ENTRY_CREATED = "entry.created"
ENTRY_UPDATED = "entry.updated"
ENTRY_DELETED = "entry.deleted"
EVENT_UPDATED = "event.updated"


def encode(message: dict[str, object]) -> str:
    return orjson.dumps(message).decode()


def hello_frame(revision: int, *, catch_up: bytes | None = None) -> str:
    """catch_up: what the reader missed, as changes/ encodes it (answers.changes_json)."""
    message: dict[str, object] = {"type": "hello", "revision": revision}
    if catch_up is not None:
        message["catch_up"] = orjson.Fragment(catch_up)
    return encode(message)


def heartbeat_frame(revision: int) -> str:
    return encode({"type": "heartbeat", "revision": revision})


def entry_change_frame(kind: str, entry: Entry) -> delivery.Change:
    """The frame readers get for a change of entry, in each encoding, and its revision."""
    change = change_to_dict(entry)  # raises for an entry readers never saw: no revision
    revision = change["revision"]
    full = encode({"type": kind, "revision": revision, "entry": change})
    if "deleted" in change:
        # A tombstone has nothing a card shows: one string for every reader.
        return delivery.Change(revision, delivery.Frames.same(full))
    card = card_fields(change)
    return delivery.Change(
        revision,
        delivery.Frames(full, encode({"type": kind, "revision": revision, "entry": card})),
    )


def send_entry_change(kind: str, entry: Entry) -> None:
    """Call after commit (transaction.on_commit): readers may fetch the entry at once."""
    delivery.publish(entry.event_id, entry_change_frame(kind, entry))


def send_event_change(event: Event) -> None:
    """Call after commit (transaction.on_commit)."""
    message = {"type": EVENT_UPDATED, "revision": event.revision, "event": event_to_dict(event)}
    delivery.publish(
        event.pk, delivery.Change(event.revision, delivery.Frames.same(encode(message)))
    )
