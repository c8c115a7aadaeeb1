"""Atom feeds: one per event (its entries, newest first) and one of the site's events,
with Django's syndication framework. What a feed reader sees of an entry is what the
live page shows: the visible entries (selectors.entry_page), each whole, its pictures
at absolute addresses and its embeds as plain links, since a feed reader must not call
the providers (updates/embeds.py).

An entry's updated time is when its words last changed: its edited time, else its
published time. The sitemaps give the same times (updates/sitemaps.py).
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db.models import Max, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import escape
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_GET

from updates import edge
from updates.models import Entry, Event
from updates.selectors import entry_page, event_get

# Enough that a reader polling every quarter of an hour misses nothing of a busy event.
FEED_ENTRIES = 50
FEED_EVENTS = 50
# Feed readers poll; a proxy or CDN may answer them for a minute, and after that a reader
# whose copy is current gets a 304 (the event feed's ETag) for one query.
FEED_SECONDS = 60


def entry_updated_at(entry: Entry) -> datetime:
    return entry.edited_at or entry.published_at


def words_changed_at(entry_path: str = "") -> Coalesce:
    """entry_updated_at() in the database, for the entries at `entry_path` ("entries__"
    from an event)."""
    return Coalesce(f"{entry_path}edited_at", f"{entry_path}published_at")


def events_with_changes() -> QuerySet[Event]:
    """Every event, with `entries_changed_at`: the newest updated time of its visible
    entries (None without any). Read it through event_changed_at()."""
    return Event.objects.annotate(
        entries_changed_at=Max(words_changed_at("entries__"), filter=Q(entries__live=True))
    )


def event_changed_at(event: Event) -> datetime:
    """When what readers see of the event last changed: the event itself, or the words of
    one of its entries. Needs the annotation of events_with_changes(). A deletion moves
    no time: nothing readers see is newer for it."""
    entries_changed_at: datetime | None = getattr(event, "entries_changed_at", None)
    return max(event.updated_at, entries_changed_at or event.updated_at)


class EntriesAtom(Atom1Feed):
    """Atom with each entry whole in <content> (Django writes the description as a
    <summary>), and an <updated> that is the event's own change when that is newer than
    every entry's, or when it has none (Django's would be the time of the request)."""

    def add_item_elements(self, handler: Any, item: dict[str, Any]) -> None:
        super().add_item_elements(handler, item | {"description": None})
        handler.addQuickElement("content", item["description"], {"type": "html"})

    def latest_post_date(self) -> datetime:
        updated: list[datetime] = [item["updateddate"] for item in self.items]
        return max([self.feed["event_updated_at"], *updated])


class EventFeed(Feed):
    feed_type = EntriesAtom
    # Rendered as each entry's <content> (EntriesAtom), with the request for absolute addresses.
    description_template = "feeds/entry.html"

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Event:
        return event_get(slug=kwargs["slug"])

    def title(self, event: Event) -> str:
        return event.title

    def subtitle(self, event: Event) -> str | None:
        return event.summary or None

    def link(self, event: Event) -> str:
        return event.get_absolute_url()

    def author_name(self) -> str:
        # Atom asks for an author on every entry; an entry without a byline has the site's.
        return settings.SITE_NAME

    def feed_extra_kwargs(self, event: Event) -> dict[str, Any]:
        return {"event_updated_at": event.updated_at}

    def items(self, event: Event) -> list[Entry]:
        return entry_page(event=event, limit=FEED_ENTRIES).entries

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {"entry": kwargs["item"]}

    def item_title(self, entry: Entry) -> str:
        # Atom's <title> is text, escaped once by the XML writer; Django's default escapes
        # it for RSS readers that take it for HTML.
        return entry.headline

    def item_author_name(self, entry: Entry) -> str | None:
        return entry.byline or None

    def item_pubdate(self, entry: Entry) -> datetime:
        return entry.published_at

    def item_updateddate(self, entry: Entry) -> datetime:
        return entry_updated_at(entry)


class EventsFeed(Feed):
    feed_type = Atom1Feed

    def title(self) -> str:
        return f"Live coverage · {settings.SITE_NAME}"

    def link(self) -> str:
        return reverse("home")

    def author_name(self) -> str:
        return settings.SITE_NAME

    def items(self) -> QuerySet[Event]:
        return events_with_changes().order_by("-starts_at", "-id")[:FEED_EVENTS]

    def item_title(self, event: Event) -> str:
        return event.title

    def item_description(self, event: Event) -> str:
        # Written as <summary type="html">, and the summary is plain text.
        return escape(event.summary)

    def item_updateddate(self, event: Event) -> datetime:
        return event_changed_at(event)


_event_feed = EventFeed()
_events_feed = EventsFeed()


def _event_feed_etag(request: HttpRequest, slug: str) -> str:
    # The feed changes when an answer cached about the event would: a new revision (every
    # change readers see, the event's own included) or a new release.
    return edge.etag(event_get(slug=slug), "feed")


@require_GET
@cache_control(public=True, max_age=FEED_SECONDS)
@condition(etag_func=_event_feed_etag)
def event_feed(request: HttpRequest, slug: str) -> HttpResponse:
    return _event_feed(request, slug=slug)


@require_GET
@cache_control(public=True, max_age=FEED_SECONDS)
def events_feed(request: HttpRequest) -> HttpResponse:
    return _events_feed(request)
