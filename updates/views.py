"""The server-rendered pages: readable without JavaScript, and what search engines see."""

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csp import csp_override
from django.views.decorators.http import require_GET
from django.views.i18n import JavaScriptCatalog

from updates import edge, page_metadata
from updates.answers import cached_at_revision
from updates.forms import EntryPageForm, first_error
from updates.models import Entry, Event
from updates.selectors import (
    Cursor,
    FirstPage,
    entry_get,
    entry_page,
    event_get,
    event_list,
    live_first_page,
)

# The reader's choice of order, kept by the page's script so that it sticks. No hyphen:
# deploy/nginx.conf names it as a variable ($cookie_liveblog_order) to leave such
# requests to the app (updates/edge.py).
ORDER_COOKIE = "liveblog_order"


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "updates/home.html", {"events": event_list()})


@require_GET
def live(request: HttpRequest, slug: str) -> HttpResponse:
    return live_page(request, slug, "updates/live.html", described=True)


# The one page other sites may frame, and only those settings.EMBED_ALLOWED_ORIGINS names.
EMBED_POLICY: dict[str, Any] = settings.SECURE_CSP | {
    "frame-ancestors": settings.EMBED_ALLOWED_ORIGINS
}


@require_GET
@xframe_options_exempt
@csp_override(EMBED_POLICY)
def embed(request: HttpRequest, slug: str) -> HttpResponse:
    """The live page, compact, for another site's iframe (static/embed.js)."""
    return live_page(request, slug, "updates/embed.html", described=False)


def live_page(request: HttpRequest, slug: str, template: str, *, described: bool) -> HttpResponse:
    """The event's live page in template: its first page, or an older one (?before=);
    described, with its JSON-LD and share card (page_metadata.py)."""
    # The event (and so the revision) is read before the entries: the page may show a
    # change newer than its revision, never miss one, and replaying a change is harmless.
    event = event_get(slug=slug)
    with translation.override(event.page_language):
        return event_page(request, event, template, described=described)


def event_page(
    request: HttpRequest, event: Event, template: str, *, described: bool
) -> HttpResponse:
    """live_page in the event's language."""
    slug = event.slug
    query = request.GET.copy()
    # The order from the URL makes an answer any cache may keep; from the cookie, the
    # reader's own (updates/edge.py).
    by_cookie = "order" not in query and ORDER_COOKIE in request.COOKIES
    query.setdefault("order", request.COOKIES.get(ORDER_COOKIE, "newest"))
    form = EntryPageForm(query)
    if not form.is_valid():
        return HttpResponseBadRequest(f"Bad address: {first_error(form)}")
    cursor, oldest_first = form.cleaned_data["cursor"], form.cleaned_data["oldest_first"]
    order = "oldest" if oldest_first else "newest"
    if cursor is None:
        tag = edge.etag(event, f"{template}:{order}")
        mark = edge.private if by_cookie else edge.shared
        if (current := edge.not_modified(request, tag)) is not None:
            return mark(current, tag)
        body, head = first_page(request, event, oldest_first)
    else:
        try:
            page = entry_page(event=event, cursor=cursor, oldest_first=oldest_first)
        except ValueError as reason:
            return HttpResponseBadRequest(f"Bad address: {reason}")
        top = FirstPage(pinned=[], key_events=[], page=page)
        body = render_body(event, top, oldest_first, cursor=cursor)
        # The live page's own description: an older page is the same coverage.
        head = first_page(request, event, oldest_first=False)[1] if described else ""
    config = {
        "revision": event.revision,
        "status": event.status,
        "order": order,
        "entriesUrl": reverse("api-entries", args=[slug]),
        "changesUrl": reverse("api-changes", args=[slug]),
        "socketPath": f"/ws/live/{slug}/",
        "orderCookie": ORDER_COOKIE,
        "pollSeconds": settings.LIVE_POLL_SECONDS,
        # So that the page knows at once how long a silent socket may stay silent.
        "heartbeatSeconds": settings.LIVE_HEARTBEAT_SECONDS,
    }
    context = {
        "event": event,
        "body": body,
        "metadata_html": head,
        "is_first_page": cursor is None,
        "config": config,
    }
    response = render(request, template, context)
    return mark(response, tag) if cursor is None else response


def first_page(request: HttpRequest, event: Event, oldest_first: bool) -> tuple[str, str]:
    """The live page below its header, and its JSON-LD and share card, rendered from one
    read once per revision (and host: the head's addresses are absolute)."""

    def build() -> tuple[str, str]:
        top = live_first_page(event=event, oldest_first=oldest_first)
        newest = newest_entries(event) if oldest_first else top.page.entries
        metadata = page_metadata.live_metadata(
            event, newest[: page_metadata.LIVE_UPDATES], request.build_absolute_uri
        )
        return (
            render_body(event, top, oldest_first),
            render_to_string("updates/_page_metadata.html", {"metadata": metadata}),
        )

    order = "oldest" if oldest_first else "newest"
    return cached_at_revision(event, f"live-{order}:{request.scheme}:{request.get_host()}", build)


def newest_entries(event: Event) -> list[Entry]:
    """What the live page's JSON-LD lists and its share card's picture comes from."""
    return entry_page(event=event, oldest_first=False, limit=page_metadata.LIVE_UPDATES).entries


def render_body(
    event: Event, top: FirstPage, oldest_first: bool, cursor: Cursor | None = None
) -> str:
    """The page below its header: key events, pinned entries, the stream, "Load more"."""
    pinned_ids = {entry.pk for entry in top.pinned}
    entries = [entry for entry in top.page.entries if entry.pk not in pinned_ids]
    next_cursor = top.page.next.encode() if top.page.next else None
    return render_to_string(
        "updates/_live_body.html",
        {
            "event": event,
            "pinned": top.pinned,
            "key_events": top.key_events,
            "entries": entries,
            # Its picture is fetched first, not lazily: the page's largest paint, likely.
            "first_on_screen": next((entry.pk for entry in [*top.pinned, *entries]), None),
            "next_query": (
                urlencode({"after" if oldest_first else "before": next_cursor})
                if next_cursor
                else ""
            ),
            "next_cursor": next_cursor,
            # Where the entries shown end, for the page's script to place moved entries.
            "loaded_up_to": top.page.next,
            "is_first_page": cursor is None,
            "oldest_first": oldest_first,
        },
    )


@require_GET
def entry(request: HttpRequest, slug: str, entry_id: int) -> HttpResponse:
    event = event_get(slug=slug)
    entry = entry_get(event=event, entry_id=entry_id)
    with translation.override(event.page_language):
        metadata = page_metadata.entry_metadata(
            entry, request.build_absolute_uri, newest=lambda: newest_entries(event)
        )
        return render(
            request, "updates/entry.html", {"event": event, "entry": entry, "metadata": metadata}
        )


@require_GET
# Its address changes with every release (templatetags/script_strings.py): what it says at
# one never changes.
@cache_control(public=True, max_age=365 * 24 * 3600, immutable=True)
def script_strings(request: HttpRequest, language: str) -> HttpResponseBase:
    """The words of the pages' scripts in `language` (gettext() and ngettext() for them),
    from the app's djangojs catalog. Its address carries the release (script_strings_url)."""
    if language not in dict(settings.LANGUAGES):
        raise Http404
    with translation.override(language):
        return JavaScriptCatalog.as_view(packages=["updates"])(request)
