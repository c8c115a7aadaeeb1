"""The desk: an event's page in the admin where journalists post as fast as they type.

Plain forms that work without JavaScript (post, then back to the desk with the form
cleared and the new entry on top; a refused post keeps what was typed); static/desk.js
adds Ctrl+Enter, the preview and the live reader count; static/desk-live.js keeps the
list of entries current from the desk's socket (updates/live/desk_socket.py), fetching
its rows from here as this journalist's page renders them. Every write goes through
services.py. Registered under the event's admin URLs by admin.EventAdmin.
"""

import logging
from typing import TYPE_CHECKING

import redis
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from updates import drafts, media
from updates.entry_actions import ENTRY_ACTIONS, entry_actions_offered
from updates.forms import EntryForm
from updates.live import presence
from updates.models import Entry, Event
from updates.pictures import PictureRefused, store_picture
from updates.roles import signed_in
from updates.sanitize import sanitize_body
from updates.serialize import render_entry_card
from updates.services import default_byline, entry_publish

if TYPE_CHECKING:
    from updates.entry_actions import Words

DESK_ENTRIES = 30
# The desk's list, and one row of it: the page and static/desk-live.js's fragments.
ROWS_TEMPLATE = "admin/updates/event/_desk_entry_rows.html"
ROW_TEMPLATE = "admin/updates/event/_desk_entry.html"

# An entry on the desk's list: the entry, the buttons of what this journalist may do to
# it now, and the name of its state.
type DeskRow = tuple[Entry, list[tuple[str, Words]], Words]

# An entry's state, as the desk's list names it.
STATES = {
    "published": gettext_lazy("Published"),
    "scheduled": gettext_lazy("Scheduled"),
    "draft": gettext_lazy("Draft"),
    "deleted": gettext_lazy("Deleted"),
    "waiting": gettext_lazy("Awaiting approval"),
    "returned": gettext_lazy("Returned"),
}
# What the desk says of a post, by the state it left the entry in.
POSTED_AS = {
    "published": gettext_lazy("Published: %(headline)s"),
    "scheduled": gettext_lazy("Scheduled: %(headline)s"),
    "draft": gettext_lazy("Draft: %(headline)s"),
    "waiting": gettext_lazy("Sent to the editors for approval: %(headline)s"),
}

logger = logging.getLogger(__name__)


def _event_for(request: HttpRequest, event_id: int) -> Event:
    if not request.user.has_perm("updates.add_entry"):
        raise PermissionDenied
    return get_object_or_404(Event, pk=event_id)


def page(request: HttpRequest, event_id: int, admin_context: dict) -> HttpResponse:
    event = _event_for(request, event_id)
    can_pin = request.user.has_perm("updates.pin_entry")
    if request.method == "POST":
        form = EntryForm(request.POST, request.FILES, can_pin=can_pin)
        if form.is_valid():
            try:
                entry = entry_publish(event=event, author=signed_in(request), **form.entry_values())
            except Exception:
                form.forget_stored_pictures()
                raise
            drafts.discard(user=signed_in(request), event=event)
            messages.success(request, POSTED_AS[entry.state] % {"headline": entry.headline})
            return redirect("admin:updates_event_desk", event.pk)
    else:
        form = EntryForm(initial={"byline": default_byline(request.user)}, can_pin=can_pin)
    context = (
        admin_context
        | {
            "title": _("Post to: %(event)s") % {"event": event.title},
            "event": event,
            "form": form,
            "media": admin_context.get("media", forms.Media()),
            # The rich-text editor's script and styles, which static/desk.js brings in
            # at the first touch of a form that has one (the body; the key points use
            # the same widget): about 150 KB the desk's first view does without.
            "editor_media": form.media,
            "embed_snippet": embed_snippet(request, event),
        }
        | rows_context(event, signed_in(request))
    )
    status = 400 if request.method == "POST" else 200
    return render(request, "admin/updates/event/desk.html", context, status=status)


def desk_rows(event: Event, user: User, *, entry_id: int | None = None) -> list[DeskRow]:
    """The desk's list: the event's latest entries in every state, newest first, or the
    one entry `entry_id` (none if not the event's)."""
    entries = Entry.objects.filter(event=event).select_related("event", "author")
    chosen = entries.filter(pk=entry_id) if entry_id is not None else entries[:DESK_ENTRIES]
    return [(entry, entry_actions_offered(entry, user), STATES[entry.state]) for entry in chosen]


def rows_context(event: Event, user: User) -> dict[str, object]:
    """What the list's template (ROWS_TEMPLATE) needs, on the page and on its own."""
    return {"event": event, "entries": desk_rows(event, user), "desk_entries": DESK_ENTRIES}


@require_GET
def entry_rows(request: HttpRequest, event_id: int) -> HttpResponse:
    """The desk's list as it is now, for static/desk-live.js: on (re)connecting, and
    after a gap in the revisions it has heard."""
    # The event, and its revision, read before the entries: a change after it is news.
    event = _event_for(request, event_id)
    return render(request, ROWS_TEMPLATE, rows_context(event, signed_in(request)))


@require_GET
def entry_row(request: HttpRequest, event_id: int, entry_id: int) -> HttpResponse:
    """One row of the desk's list as it is now, with this journalist's buttons, for
    static/desk-live.js when a colleague changes the entry."""
    event = _event_for(request, event_id)
    rows = desk_rows(event, signed_in(request), entry_id=entry_id)
    if not rows:
        raise Http404
    entry, actions, state = rows[0]
    context = {"event": event, "entry": entry, "actions": actions, "state": state}
    return render(request, ROW_TEMPLATE, context)


def urls(view) -> list[URLPattern]:
    """The live list's fragments, under the event's admin URLs; view: admin_site.admin_view."""
    return [
        path("<int:event_id>/desk/rows/", view(entry_rows), name="updates_event_desk_rows"),
        path(
            "<int:event_id>/desk/rows/<int:entry_id>/",
            view(entry_row),
            name="updates_event_desk_row",
        ),
    ]


def embed_snippet(request: HttpRequest, event: Event) -> str:
    """The line another site pastes to embed the event live (static/embed.js). The script
    under its plain name, not the hashed one {% static %} gives: a snippet pasted once
    must outlive the release it was copied from."""
    return format_html(
        '<script async src="{}" data-liveblog="{}"></script>',
        request.build_absolute_uri(settings.STATIC_URL + "embed.js"),
        request.build_absolute_uri(reverse("embed", args=[event.slug])),
    )


@require_POST
def entry_action(request: HttpRequest, event_id: int, entry_id: int, action: str) -> HttpResponse:
    event = _event_for(request, event_id)
    if action not in ENTRY_ACTIONS:
        raise PermissionDenied
    entry = get_object_or_404(Entry, event=event, pk=entry_id)
    try:
        ENTRY_ACTIONS[action].run(entry=entry, by=signed_in(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        done = ENTRY_ACTIONS[action].label
        messages.success(
            request, _("%(done)s: %(headline)s") % {"done": done, "headline": entry.headline}
        )
    return redirect("admin:updates_event_desk", event.pk)


@require_POST
def preview(request: HttpRequest, event_id: int) -> HttpResponse:
    """The entry's card as readers will see it, sanitised as it would be, not saved."""
    event = _event_for(request, event_id)
    form = EntryForm(request.POST, can_pin=True)
    valid = form.is_valid()  # the card shows what is valid so far
    entry = form.instance
    entry.event = event
    entry.published_at = entry.published_at or timezone.now()
    # Not saved: the card's permalink needs some id, and 0 is never one.
    entry.pk = 0
    entry.body = sanitize_body(entry.body)
    if valid:  # with its pictures as uploaded when chosen: desk.js sends no file
        entry.media = form.entry_values()["media"]
    return HttpResponse(render_entry_card(entry))


@require_POST
def upload_picture(request: HttpRequest) -> JsonResponse:
    """A picture stored as soon as the journalist chooses it (static/pictures.js), so that
    the post waits for no upload and the preview can show it: the token the post form
    carries instead of the file, and the smallest rendition for the form to show. Without
    JavaScript, the post form sends the file itself."""
    if not (
        request.user.has_perm("updates.add_entry") or request.user.has_perm("updates.change_entry")
    ):
        raise PermissionDenied
    upload = request.FILES.get("file")
    if upload is None:
        return JsonResponse({"error": _("Send the picture as the form field file.")}, status=400)
    try:
        picture = store_picture(upload)
    except PictureRefused as refused:
        return JsonResponse({"error": str(refused)}, status=400)
    return JsonResponse(
        {
            "token": media.upload_token(picture),
            "thumbnail": media.smallest_url(picture),
            "width": picture.width,
            "height": picture.height,
        }
    )


@require_GET
def readers(request: HttpRequest, event_id: int) -> JsonResponse:
    event = _event_for(request, event_id)
    try:
        count = presence.readers_now(event.pk)
    except redis.RedisError:
        # The desk asks every few seconds; it shows "–" until Redis answers again.
        logger.warning("Could not count the readers of event %s", event.pk)
        return JsonResponse({"error": _("The reader count is unavailable right now.")}, status=503)
    return JsonResponse({"readers": count})
