"""The server-rendered pages: readable without JavaScript, and what search engines see."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from updates.forms import EntryPageForm, first_error
from updates.selectors import entry_get, entry_page, entry_pinned, event_get, event_list


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "updates/home.html", {"events": event_list()})


@require_GET
def live(request: HttpRequest, slug: str) -> HttpResponse:
    # The event (and so the revision) is read before the entries: the page may show a
    # change newer than its revision, never miss one, and replaying a change is harmless.
    event = event_get(slug=slug)
    form = EntryPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(f"Bad address: {first_error(form)}")
    before = form.cleaned_data["before"]
    try:
        page = entry_page(event=event, before=before, limit=form.cleaned_data["limit"])
    except ValueError as reason:
        return HttpResponseBadRequest(f"Bad address: {reason}")
    pinned = entry_pinned(event=event) if before is None else []
    pinned_ids = {entry.pk for entry in pinned}
    config = {
        "revision": event.revision,
        "status": event.status,
        "entriesUrl": reverse("api-entries", args=[slug]),
        "changesUrl": reverse("api-changes", args=[slug]),
        "socketPath": f"/ws/live/{slug}/",
    }
    return render(
        request,
        "updates/live.html",
        {
            "event": event,
            "pinned": pinned,
            "entries": [entry for entry in page.entries if entry.pk not in pinned_ids],
            "next_cursor": page.next.encode() if page.next else None,
            "is_first_page": before is None,
            "config": config,
        },
    )


@require_GET
def entry(request: HttpRequest, slug: str, entry_id: int) -> HttpResponse:
    event = event_get(slug=slug)
    return render(
        request,
        "updates/entry.html",
        {"event": event, "entry": entry_get(event=event, entry_id=entry_id)},
    )
