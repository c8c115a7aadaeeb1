"""Every read for pages, the API and the websocket, with the fixed queries each takes."""

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection
from django.http import Http404
from django.shortcuts import get_object_or_404

from updates.models import Entry, Event

CHANGES_LIMIT = 500
PAGE_SIZE = 20
_CURSOR_SALT = "updates.entry_page"


@dataclass(frozen=True)
class Cursor:
    """A position in an event's stream: just after the entry (published_at, id)."""

    event_id: int
    published_at: datetime
    entry_id: int

    def encode(self) -> str:
        return signing.dumps(
            [self.event_id, self.published_at.isoformat(), self.entry_id],
            salt=_CURSOR_SALT,
            compress=True,
        )

    @classmethod
    def decode(cls, value: str) -> "Cursor":
        """Raises ValueError for anything this app did not make."""
        return _verified_cursor(value, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


# Every reader of a first page cached by revision holds the same cursor text, and checking
# its signature (a key derived, an HMAC, zlib, JSON) was half of what answering its
# "Load more" from a held page cost. The keys are in the arguments so that a cursor is
# checked again under new ones; what fails is not kept, and is checked every time.
@functools.lru_cache(maxsize=1024)
def _verified_cursor(value: str, key: str, fallback_keys: tuple[str, ...]) -> Cursor:
    try:
        event_id, published_at, entry_id = signing.loads(
            value, key=key, fallback_keys=list(fallback_keys), salt=_CURSOR_SALT
        )
        return Cursor(int(event_id), datetime.fromisoformat(published_at), int(entry_id))
    except (signing.BadSignature, TypeError, ValueError) as error:
        raise ValueError("not a cursor of this site") from error


@dataclass(frozen=True)
class EntryPage:
    entries: list[Entry]
    next: Cursor | None


@dataclass(frozen=True)
class FirstPage:
    """The top of the live page: pinned entries, key events, the first page of entries."""

    pinned: list[Entry]
    key_events: list[Entry]
    page: EntryPage


@dataclass(frozen=True)
class Changes:
    revision: int
    entries: list[Entry]
    reset: bool


def event_list() -> list[Event]:
    live_first: dict[str, int] = {
        Event.Status.LIVE: 0,
        Event.Status.SCHEDULED: 1,
        Event.Status.ENDED: 2,
    }
    return sorted(Event.objects.all(), key=lambda event: live_first[event.status])


def event_get(*, slug: str) -> Event:
    """One query; raises Http404. Written out down to the cursor, like the page query:
    every page and API request starts here, and the ORM compiled this query anew each
    time for several times the CPU of running it (docs/performance.md)."""
    with connection.cursor() as cursor:
        cursor.execute(f"{_select(Event)} WHERE slug = %s", [slug])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such event")
    return _from_rows(Event, [row])[0]


def _from_rows[M: (Event, Entry)](model: type[M], rows: list[tuple[Any, ...]]) -> list[M]:
    """What model.objects.raw() makes of rows of _select(model), each value converted as
    the ORM converts it (SQLite gives naive datetimes and integers for booleans), without
    raw()'s matching of columns to fields on every call, which cost more CPU than the
    query itself (bench/reads.py measures the pages this serves)."""
    fields = model._meta.concrete_fields
    names = [field.attname for field in fields]
    converters = [
        (index, field.cached_col, convert)
        for index, field in enumerate(fields)
        for convert in connection.ops.get_db_converters(field.cached_col)
        + field.cached_col.get_db_converters(connection)
    ]
    made = []
    for row in rows:
        values = list(row)
        for index, column, convert in converters:
            values[index] = convert(values[index], column, connection)
        made.append(model.from_db(connection.alias, names, values))
    return made


def entry_get(*, event: Event, entry_id: int) -> Entry:
    return get_object_or_404(
        Entry.objects.visible().select_related("event"), event=event, pk=entry_id
    )


def entry_pinned(*, event: Event) -> list[Entry]:
    return list(
        Entry.objects.visible()
        .filter(event=event, pinned=True)
        .select_related("event")
        .newest_first()
    )


def entry_page(
    *,
    event: Event,
    cursor: Cursor | None = None,
    oldest_first: bool = False,
    limit: int = PAGE_SIZE,
) -> EntryPage:
    """The visible entries after the cursor, newest first unless oldest_first. One query,
    an index scan from the cursor on entry_live_newest whatever the page's number."""
    # live = %s with True, as the ORM writes it: SQLite uses the partial index
    # entry_live_newest ("live" = 1) for that, not for a bare "live".
    params: list[int | str | None] = [event.pk, True]
    if cursor is not None:
        if cursor.event_id != event.pk:
            raise ValueError("cursor belongs to another event")
        params += [connection.ops.adapt_datetimefield_value(cursor.published_at), cursor.entry_id]
    sql = _page_sql(oldest_first=oldest_first, after_cursor=cursor is not None)
    with connection.cursor() as db:
        db.execute(sql, [*params, limit + 1])
        rows = _from_rows(Entry, db.fetchall())
    for row in rows:
        row.event = event  # for permalinks, without joining the event on every row
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    return EntryPage(
        entries=page,
        next=Cursor(event.pk, last.published_at, last.pk) if more and last else None,
    )


@functools.cache
def _page_sql(*, oldest_first: bool, after_cursor: bool) -> str:
    """The page query, written out: building the same query with the ORM (a Q for the
    cursor) cost more CPU than the rest of a "Load more" request together (cProfile,
    docs/performance.md). The row comparison is an index condition on entry_live_newest
    in PostgreSQL and SQLite alike, so the scan starts at the cursor."""
    direction, beyond = ("ASC", ">") if oldest_first else ("DESC", "<")
    cursor_condition = f"AND (published_at, id) {beyond} (%s, %s)" if after_cursor else ""
    return (
        f"{_select(Entry)} WHERE event_id = %s AND live = %s {cursor_condition} "
        f"ORDER BY published_at {direction}, id {direction} LIMIT %s"
    )


@functools.cache
def _select(model: type[Event] | type[Entry]) -> str:
    """SELECT every column of the model's table, in field order (see _from_rows)."""
    quote = connection.ops.quote_name
    # Concrete fields are the ones with a column (Field.concrete): the test drops none.
    fields = model._meta.concrete_fields
    columns = ", ".join(quote(field.column) for field in fields if field.column is not None)
    return f"SELECT {columns} FROM {quote(model._meta.db_table)}"


def entry_key_events(*, event: Event, limit: int = 30) -> list[Entry]:
    return list(
        Entry.objects.visible()
        .filter(event=event, key_event=True)
        .select_related("event")
        .newest_first()[:limit]
    )


def live_first_page(*, event: Event, oldest_first: bool) -> FirstPage:
    """Three queries; the live page caches what it renders from them (views.live)."""
    return FirstPage(
        pinned=entry_pinned(event=event),
        key_events=entry_key_events(event=event),
        page=entry_page(event=event, oldest_first=oldest_first, limit=PAGE_SIZE),
    )


def entry_changes_since(*, event: Event, since: int) -> Changes:
    """Every entry changed after revision `since`, oldest change first, tombstones included.

    All or nothing: a `since` from the future (another database) or a gap too long to
    be worth replaying gives reset=True, and the reader reloads its entries instead.
    """
    if since > event.revision:
        return Changes(revision=event.revision, entries=[], reset=True)
    rows = list(
        # Up to the revision read above: the answer is the event exactly as of that number.
        Entry.objects.filter(event=event, revision__gt=since, revision__lte=event.revision)
        .select_related("event")
        .order_by("revision")[: CHANGES_LIMIT + 1]
    )
    if len(rows) > CHANGES_LIMIT:
        return Changes(revision=event.revision, entries=[], reset=True)
    return Changes(revision=event.revision, entries=rows, reset=False)
