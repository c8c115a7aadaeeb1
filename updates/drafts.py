"""What journalists have typed and not yet saved (models.Draft): kept on the server as
they type, so that it survives a crashed tab, a new laptop, an expired session.

static/drafts.js keeps the draft in the browser at once and sends it here a moment later:
POST saves it (one per journalist and desk for a new entry, one per journalist and entry
for an edit), GET returns it, DELETE discards it; a successful post or save discards it
too (desk.page, admin.EntryAdmin.save_model). The page with the form carries the draft it
was served with (templatetags/drafts.py), so a new laptop has it without asking.

A draft holds what was typed, as the form names it: {"fields": {name: text or checked},
"pictures": [one row's words and token, and the address of its thumbnail], "version":
the version of the entry the editor opened, or null}. It is checked for shape and size
only: nothing in it is published before the form is posted and validated again.
"""

import json
import re
from datetime import datetime
from typing import Any, TypedDict

from django.contrib.auth.models import User
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from updates import media
from updates.api import error
from updates.models import Draft, Entry, Event
from updates.roles import signed_in
from updates.services import may_change

# Far more than an update's words and its pictures' tokens; a bound on what one
# journalist can make the database keep.
MAX_DRAFT_BYTES = 1_000_000
MAX_FIELDS = 40
FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
# A picture row's fields (updates/forms.py PictureForm, with the formset's ORDER and
# DELETE), and the thumbnail the row showed.
PICTURE_KEYS = frozenset(
    {"alt", "caption", "credit", "uploaded", "kept", "ORDER", "DELETE", "thumbnail"}
)
# Shown in an <img> again, to the journalist who typed it only (a draft is its author's):
# a path or an http(s) address, as storages give them; never javascript: or data:.
THUMBNAIL = re.compile(r"(/|https?://)\S*")


class DraftDict(TypedDict):
    fields: dict[str, str | bool]
    pictures: list[dict[str, str | bool]]
    version: int | None
    saved_at: datetime


class DraftRefused(ValueError):
    """A draft this site does not keep; the message is the reason the journalist reads."""


def draft_to_dict(draft: Draft) -> DraftDict:
    typed = draft.fields
    return {
        "fields": typed.get("fields", {}),
        "pictures": typed.get("pictures", []),
        "version": typed.get("version"),
        "saved_at": draft.saved_at,
    }


def draft_of(*, user: User, event: Event, entry: Entry | None = None) -> Draft | None:
    return Draft.objects.filter(user=user, event=event, entry=entry).first()


def draft_save(*, user: User, event: Event, entry: Entry | None, typed: dict[str, Any]) -> Draft:
    """Keeps `typed` (as typed_from_json() returns it) as the user's draft, over the last."""
    # update_or_create locks the row; two tabs creating it at once meet the unique
    # constraint, and get_or_create inside takes the one that won.
    draft, _created = Draft.objects.update_or_create(
        user=user,
        event=event,
        entry=entry,
        defaults={"fields": typed, "saved_at": timezone.now()},
    )
    return draft


def discard(*, user: User, event: Event, entry: Entry | None = None) -> None:
    """Once what was typed is saved: the draft has done its work."""
    Draft.objects.filter(user=user, event=event, entry=entry).delete()


def typed_from_json(raw: bytes) -> dict[str, Any]:
    """The draft in a request's body, checked for shape and size. Raises DraftRefused."""
    if len(raw) > MAX_DRAFT_BYTES:
        raise DraftRefused(too_big())
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as bad:
        raise DraftRefused(_("Send the draft as JSON.")) from bad
    if not isinstance(data, dict):
        raise DraftRefused(_("Send the draft as a JSON object."))
    fields = data.get("fields", {})
    if not isinstance(fields, dict) or len(fields) > MAX_FIELDS:
        raise DraftRefused(_("fields: give an object of at most %d fields.") % MAX_FIELDS)
    for name, value in fields.items():
        if not FIELD_NAME.fullmatch(name) or not isinstance(value, str | bool):
            raise DraftRefused(_("fields: %s is not a field of the form.") % name[:64])
    pictures = data.get("pictures", [])
    if not isinstance(pictures, list) or len(pictures) > media.MAX_PICTURES:
        raise DraftRefused(_("pictures: give a list of at most %d rows.") % media.MAX_PICTURES)
    for row in pictures:
        if not (
            isinstance(row, dict)
            and row.keys() <= PICTURE_KEYS
            and all(isinstance(value, str | bool) for value in row.values())
        ):
            raise DraftRefused(_("pictures: a row holds only the words of a picture row."))
        thumbnail = row.get("thumbnail", "")
        if thumbnail and not (isinstance(thumbnail, str) and THUMBNAIL.fullmatch(thumbnail)):
            raise DraftRefused(_("pictures: a thumbnail is the address of a picture."))
    version = data.get("version")
    if version is not None and (type(version) is not int or not 0 <= version < 2**31):
        raise DraftRefused(_("version: give the entry's version as a number, or null."))
    return {"fields": fields, "pictures": pictures, "version": version}


def too_big() -> str:
    return _("A draft is kept up to %d MB: this one is larger.") % (MAX_DRAFT_BYTES // 10**6)


class NotYours(Exception):
    """A draft this user may not keep: the event or entry is gone, or not theirs to write."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.status = status


def may_keep(user: User, entry: Entry | None) -> bool:
    """Whether `user` may keep a draft of a new entry (entry None) or of an edit of entry:
    whoever may write it."""
    if entry is None:
        return user.has_perm("updates.add_entry")
    return user.has_perm("updates.change_entry") and may_change(user, entry)


def _where(user: User, event_id: int, entry_id: int | None) -> tuple[Event, Entry | None]:
    """The desk or the entry a draft is for, if `user` may keep it."""
    event = Event.objects.filter(pk=event_id).first()
    if event is None:
        raise NotYours(_("There is no such event."), 404)
    entry = None
    if entry_id is not None:
        entry = Entry.objects.filter(pk=entry_id, event=event).first()
        if entry is None:
            raise NotYours(_("There is no such entry on this desk."), 404)
    if not may_keep(user, entry):
        raise NotYours(_("You may not write this entry."), 403)
    return event, entry


@require_http_methods(["GET", "POST", "DELETE"])
def draft(request: HttpRequest, event_id: int, entry_id: int | None = None) -> HttpResponse:
    """The signed-in journalist's draft for a new entry on the desk, or for an edit of
    entry_id: {"draft": DraftDict or null}; POST answers {"saved_at": ...}."""
    user = signed_in(request)
    try:
        event, entry = _where(user, event_id, entry_id)
    except NotYours as refused:
        return error(str(refused), refused.status)
    if request.method == "GET":
        kept = draft_of(user=user, event=event, entry=entry)
        return JsonResponse({"draft": draft_to_dict(kept) if kept else None})
    if request.method == "DELETE":
        discard(user=user, event=event, entry=entry)
        return JsonResponse({"draft": None})
    try:
        # Refused before it is read, by the length it announces.
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_DRAFT_BYTES:
            return error(too_big(), 400)
        typed = typed_from_json(request.body)
    except DraftRefused as refused:
        return error(str(refused), 400)
    except RequestDataTooBig:
        return error(too_big(), 400)
    except ValueError:  # a Content-Length that is no number
        return error(_("Send the draft with its length."), 400)
    saved = draft_save(user=user, event=event, entry=entry, typed=typed)
    return JsonResponse({"saved_at": saved.saved_at})


def urls(view) -> list[URLPattern]:
    """The desk's URLs for drafts, under the event's admin URLs; view: admin_site.admin_view."""
    return [
        path("<int:event_id>/desk/drafts/", view(draft), name="updates_event_draft"),
        path(
            "<int:event_id>/desk/drafts/<int:entry_id>/",
            view(draft),
            name="updates_event_entry_draft",
        ),
    ]
