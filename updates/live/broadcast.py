"""The websocket messages: built and encoded once per change, whatever the number of readers.

A change of entry is encoded twice, once per encoding a reader's socket may ask for: the
whole ENTRY (docs/api.md), and the compact one the live page asks for (?entry=card),
without the raw fields its card already shows."""

import logging
import time

import orjson

from updates import metrics
from updates.live import delivery
from updates.models import Entry, Event
from updates.serialize import card_fields, change_to_dict, event_to_dict

ENTRY_CREATED = "entry.created"
ENTRY_UPDATED = "entry.updated"
ENTRY_DELETED = "entry.deleted"
EVENT_UPDATED = "event.updated"

# One line per publish (see _publish_and_log), under a name of its own so that it can be
# routed or silenced apart from the rest.
publish_log = logging.getLogger("liveblog.publish")


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


def send_entry_change(kind: str, entry: Entry, *, who: str) -> None:
    """Call after commit (transaction.on_commit): readers may fetch the entry at once.
    who: whose change it is, for the log (a username, or "scheduler")."""
    committed = time.time()
    change = entry_change_frame(kind, entry)
    what = f"entry {entry.pk}, {kind.removeprefix('entry.')}"
    _publish_and_log(entry.event_id, change, committed, what, kind=kind, entry=entry.pk, who=who)


def send_event_change(event: Event, *, who: str) -> None:
    """Call after commit (transaction.on_commit)."""
    committed = time.time()
    message = {"type": EVENT_UPDATED, "revision": event.revision, "event": event_to_dict(event)}
    change = delivery.Change(event.revision, delivery.Frames.same(encode(message)))
    _publish_and_log(event.pk, change, committed, "event updated", kind=EVENT_UPDATED, who=who)


def _publish_and_log(
    event_id: int,
    change: delivery.Change,
    committed: float,
    what: str,
    *,
    kind: str,
    who: str,
    entry: int | None = None,
) -> None:
    """Publish, then the one log line that ties the save to its delivery: committed is
    when the commit's callbacks reached the change (time.time(): the processes that
    deliver it measure from it too, metrics.COMMIT_TO_SEND)."""
    sent = delivery.publish(event_id, change._replace(committed_at=committed))
    metrics.PUBLISHES.labels(change=kind, result="sent" if sent else "refused").inc()
    ms = (time.time() - committed) * 1000
    # Fields of their own for LOG_FORMAT=json (liveblog/settings.py). "sent": the channel
    # layer took the group message. How many processes it reached is not known here:
    # channels-redis drops the count of subscribers Redis's PUBLISH answers.
    fields = {
        "event": event_id,
        "entry": entry,
        "revision": change.revision,
        "change": kind,
        "user": who,
        "commit_to_publish_ms": round(ms, 1),
        "sent": sent,
    }
    said = (change.revision, event_id, what, who, ms)
    if sent:
        publish_log.info(
            "Published revision %s of event %s (%s) by %s in %.1f ms", *said, extra=fields
        )
    else:
        publish_log.warning(
            "Revision %s of event %s (%s) by %s was not published (%.1f ms): readers catch up",
            *said,
            extra=fields,
        )
