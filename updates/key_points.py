"""The event's "Key points": a few short lines an editor keeps above the live page's pinned
entries, so that a reader arriving late knows what happened.

Editors (updates.change_event) change them on the desk (_desk_key_points.html, a plain
form that works without JavaScript); everyone else on the desk reads them. A save goes
through services.event_update, which numbers it and tells readers (event.updated), so
the live page, the embed, the catch-up and the API carry it like any change.
"""

import hashlib
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_prose_editor.fields import ProseEditorFormField

from updates import desk
from updates.forms import EDITOR_EXTENSIONS
from updates.models import Event
from updates.page_metadata import plain
from updates.roles import signed_in
from updates.sanitize import sanitize_body
from updates.services import event_update

CHANGE_EVENT = "updates.change_event"
# Short enough to read on a phone before the first update: a handful of points.
MAX_CHARACTERS = 1000
# Points, not articles: the body's editor without its headings and quotes.
EXTENSIONS = {
    name: config
    for name, config in EDITOR_EXTENSIONS.items()
    if name not in {"Heading", "Blockquote"}
}


def edits_key_points(user: User | AnonymousUser) -> bool:
    return user.has_perm(CHANGE_EVENT)


def opened_mark(key_points: str) -> str:
    """What the form remembers of the key points it was opened on (a digest, not a copy)."""
    return hashlib.blake2b(key_points.encode(), digest_size=8).hexdigest()


class KeyPointsForm(forms.Form):
    key_points = ProseEditorFormField(
        extensions=EXTENSIONS,
        required=False,
        label=gettext_lazy("Key points"),
        help_text=Event._meta.get_field("key_points").help_text,
    )
    # The key points this editor opened: a save over a colleague's newer ones is refused.
    opened = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, data: QueryDict | None = None, *, event: Event) -> None:
        initial = {"key_points": event.key_points, "opened": opened_mark(event.key_points)}
        super().__init__(data, initial=initial, prefix="key-points")
        self.event = event

    def clean_key_points(self) -> str:
        """As stored: sanitised, and "" when no words are left (an emptied editor posts
        an empty paragraph, which would show readers an empty block)."""
        cleaned = sanitize_body(self.cleaned_data["key_points"])
        text = plain(cleaned)
        if len(text) > MAX_CHARACTERS:
            raise ValidationError(
                _(
                    "Keep the key points under %(limit)s characters (these have %(count)s): "
                    "readers see them before the first update."
                )
                % {"limit": MAX_CHARACTERS, "count": len(text)}
            )
        return cleaned if text else ""

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        stored = self.event.key_points
        posted = data.get("key_points")
        if posted is not None and posted != stored and data["opened"] != opened_mark(stored):
            # From now on the form is opened on theirs: saving again replaces them.
            self.data = {name: self.data.get(name) for name in self.data} | {
                self.add_prefix("opened"): opened_mark(stored)
            }
            raise ValidationError(
                _(
                    "Another editor changed the key points while you were editing them, and "
                    "nothing of yours was saved. Theirs: “%(theirs)s”. Yours are below: "
                    "save again to replace theirs."
                )
                % {"theirs": plain(stored) or _("none")},
                code="conflict",
            )
        return data


@require_POST
def save(request: HttpRequest, event_id: int) -> HttpResponse:
    if not edits_key_points(request.user):
        raise PermissionDenied
    event = get_object_or_404(Event, pk=event_id)
    form = KeyPointsForm(request.POST, event=event)
    if form.is_valid():
        key_points = form.cleaned_data["key_points"]
        if key_points == event.key_points:
            # No change, no revision: readers are told nothing.
            messages.info(request, _("Nothing changed: the key points were already these."))
            return redirect("admin:updates_event_desk", event.pk)
        try:
            event_update(event=event, changes={"key_points": key_points}, by=signed_in(request))
        except ValidationError as refused:
            form.add_error(None, refused)
        else:
            if key_points:
                messages.success(request, _("Key points saved: readers see them now."))
            else:
                messages.success(request, _("Key points removed from the live page."))
            return redirect("admin:updates_event_desk", event.pk)
    return desk_again(request, event, form)


def desk_again(request: HttpRequest, event: Event, form: KeyPointsForm) -> HttpResponse:
    """The desk as it was, with the refused form as posted (400), so nothing typed is lost.
    The desk renders as for a GET: the post is this form's, not the entry's."""
    request.method = "GET"
    request.key_points_form = form  # type: ignore[attr-defined]  # read by the desk's tag
    response = desk.page(request, event.pk, admin.site.each_context(request))
    response.status_code = 400
    return response


def urls(view) -> list[URLPattern]:
    """The desk's URLs for this, under the event's admin URLs; view: admin_site.admin_view."""
    return [path("<int:event_id>/desk/key-points/", view(save), name="updates_event_key_points")]
