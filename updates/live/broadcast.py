"""The websocket messages: built and encoded once per change, whatever the number of readers."""

import orjson

from updates.live import delivery
from updates.models import Entry, Event
from updates.serialize import change_to_dict, event_to_dict

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


def entry_change_frame(kind: str, entry: Entry) -> tuple[int, str]:
    """The frame every reader gets for a change of entry, and its revision."""
    change = change_to_dict(entry)  # raises for an entry readers never saw: no revision
    return change["revision"], encode(
        {"type": kind, "revision": change["revision"], "entry": change}
    )


def send_entry_change(kind: str, entry: Entry) -> None:
    """Call after commit (transaction.on_commit): readers may fetch the entry at once."""
    revision, frame = entry_change_frame(kind, entry)
    delivery.publish(entry.event_id, revision, frame)


def send_event_change(event: Event) -> None:
    """Call after commit (transaction.on_commit)."""
    message = {"type": EVENT_UPDATED, "revision": event.revision, "event": event_to_dict(event)}
    delivery.publish(event.pk, event.revision, encode(message))
