"""Answers composed of reads, their encoding and the caches: the API's pages and catch-ups
(also the hello's), and the cache every answer about an event at one revision goes
through. Views call these; selectors read and serialize shapes, neither of them caches,
and the write path (services, broadcast) needs none of this module.

An answer is never stale: each is kept under a key naming the revision or the entry's
version it was made at (updates/cache_keys.py, docs/caching.md).
"""

import logging
from collections.abc import Callable

import orjson
from django.core.cache import cache

from updates import cache_keys
from updates.forms import BadQuery, EntriesAsked, PageAsked
from updates.live import runtime
from updates.models import Entry, Event
from updates.selectors import EntryPage, entry_changes_since, entry_page, event_get
from updates.serialize import change_to_dict, entry_to_dict, event_to_dict

logger = logging.getLogger(__name__)

# A revision's pages never change; this only bounds how long unused ones are kept.
CACHE_SECONDS = 600
# An entry's encoding never changes (its key names its version); this only bounds how
# long entries nobody pages to are kept.
ENTRY_JSON_CACHE_SECONDS = 600
# A page is worth keeping only while its revision is the event's latest, and a busy event
# leaves many pages behind each change (one per cursor asked for): a minute bounds what
# they hold in Redis, and costs a quiet event one build a minute per page.
PAGE_CACHE_SECONDS = 60


def cached_at_revision[T](
    event: Event, name: str, build: Callable[[], T], *, seconds: int = CACHE_SECONDS
) -> T:
    """What `build` gives for the event as of its revision, built once per revision.

    Every change readers can see takes a new revision, so a cached answer is never
    stale: a crowd arriving at once costs one build (the key: cache_keys.at_revision).
    A cache that fails is skipped, not waited for; what `build` raises is the caller's,
    and nothing is kept.
    """
    key = cache_keys.at_revision(event, name)
    try:
        cached: T | None = cache.get(key)
    except Exception:
        logger.warning("Cache unavailable; building %s without it", name, exc_info=True)
        return build()
    if cached is not None:
        return cached
    built = build()
    try:
        cache.add(key, built, seconds)
    except Exception:
        logger.warning("Cache unavailable; %s not kept", name, exc_info=True)
    return built


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
            data["reset"] = True  # last: see is_reset()
        return orjson.dumps(data)

    return cached_at_revision(event, f"api-changes-since-{since}", encoded)


def is_reset(answer: bytes) -> bool:
    """Whether changes_json()'s answer tells the reader to start again. Read from the
    encoded answer, which is what is kept and shared (reset, when there, is its last key)."""
    return answer.endswith(b',"reset":true}')


def entry_page_body(
    slug: str, asked: EntriesAsked, event: Event | None = None
) -> tuple[bytes, bool]:
    """The encoded page `asked` names, and whether the answer is right for anyone who asks
    the same URL (a page after a cursor, for a given min_revision); `event` if the caller
    has read it already. Raises BadQuery for a cursor of another event.

    The nearest copy that is new enough: held in this process for a page that says its
    revision (updates/held_pages.py), then the page cached for the event's revision,
    then built. A repeated page (and the first page every reader's script asks for after
    a reset) is no page query, and a held page not even the event's.
    """
    page, min_revision = asked.page, asked.min_revision
    held_key = (slug, page) if page.cursor else None
    if held_key and min_revision is not None:
        body = runtime.current().held_pages.get(held_key, min_revision=min_revision)
        if body is not None:
            return body, True
    event = event or event_get(slug=slug)
    body = cached_at_revision(
        event,
        f"api-page-{page.digest()}",
        lambda: entry_page_built(event, page),
        seconds=PAGE_CACHE_SECONDS,
    )
    if held_key is None:
        return body, False
    runtime.current().held_pages.hold(held_key, revision=event.revision, body=body)
    # Not for a min_revision the event has not reached (a page from another database).
    return body, min_revision is not None and event.revision >= min_revision


def entry_page_built(event: Event, page: PageAsked) -> bytes:
    try:
        entries = entry_page(
            event=event, cursor=page.cursor, oldest_first=page.oldest_first, limit=page.limit
        )
    except ValueError as reason:
        raise BadQuery(f"cursor: {reason}") from reason
    return entry_page_json(entries, revision=event.revision)
