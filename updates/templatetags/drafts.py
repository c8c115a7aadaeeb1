"""What static/drafts.js needs on a page with a post or edit form (the desk's, the admin's
entry form), for their includes: desk.py and admin.py need to know nothing of drafts."""

from typing import Any

from django import forms, template
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from updates.drafts import draft_of, draft_to_dict, may_keep
from updates.models import Entry, Event
from updates.roles import signed_in

register = template.Library()


@register.simple_tag(takes_context=True)
def draft_keeper(
    context: dict[str, Any],
    *,
    form: forms.Form,
    form_id: str,
    event: Event,
    entry: Entry | None = None,
) -> dict[str, Any] | None:
    """Where the form's draft is kept and the one the server has, for json_script; None
    where the journalist may not write (nothing to keep)."""
    user = signed_in(context["request"])
    if not may_keep(user, entry) or (entry is not None and entry.is_deleted):
        return None
    kept = draft_of(user=user, event=event, entry=entry)
    if entry is None:
        url = reverse("admin:updates_event_draft", args=[event.pk])
    else:
        url = reverse("admin:updates_event_entry_draft", args=[event.pk, entry.pk])
    return {
        "form": form_id,
        "url": url,
        # One draft per journalist and form in this browser, as on the server.
        "key": f"liveblog-draft:{user.pk}:{event.pk}:{entry.pk if entry else 'new'}",
        # Sent back with its errors: what it shows is what was typed, not to be replaced.
        "bound": form.is_bound,
        "version": entry.version if entry else None,
        "server": draft_to_dict(kept) if kept else None,
        # When `server` was read: a draft the browser saved later is not one discarded.
        "read_at": timezone.now(),
        "login": reverse("admin:login"),
        # The desk's form posts without leaving the page, and comes back to the desk.
        "desk": reverse("admin:updates_event_desk", args=[event.pk]) if entry is None else None,
        # Where a fresh CSRF token is after signing in again in another tab.
        "csrf_cookie": None
        if settings.CSRF_USE_SESSIONS or settings.CSRF_COOKIE_HTTPONLY
        else settings.CSRF_COOKIE_NAME,
    }
