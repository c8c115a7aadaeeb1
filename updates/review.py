"""Contributors' entries waiting for an editor: the desk's review queue and its Return
form. Approving is a one-click entry action (entry_actions.py "approve"); returning
needs a note saying what to change, so it has a form and a view of its own here.
services.entry_approve and entry_return do the work and refuse whoever may not."""

from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from updates.models import Entry, Event
from updates.roles import signed_in
from updates.services import APPROVE, entry_return, publishes_directly

# The queue shows this many; an editor works from the top (the newest).
QUEUE_LENGTH = 30


class ReturnForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note to the contributor"),
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={
            "required": gettext_lazy(
                "Write a note saying what the contributor should change: nothing was returned."
            )
        },
    )


@dataclass(frozen=True)
class ReviewQueue:
    """What the desk's queue shows `user`: to an editor every entry awaiting approval,
    with Approve and Return; to a contributor their own waiting and returned entries,
    with the editors' notes; to a journalist only how many wait."""

    can_approve: bool
    entries: list[Entry] = field(default_factory=list)
    waiting: int = 0  # how many entries of the event await approval

    @property
    def own(self) -> bool:
        """The contributor's own entries, not the editors' queue."""
        return not self.can_approve and bool(self.entries)


def review_queue(*, event: Event, user: User) -> ReviewQueue:
    entries = Entry.objects.filter(event=event).select_related("event", "author").newest_first()
    if user.has_perm(APPROVE):
        waiting = entries.awaiting_approval()
        return ReviewQueue(
            can_approve=True, entries=list(waiting[:QUEUE_LENGTH]), waiting=waiting.count()
        )
    if not publishes_directly(user):
        own = entries.filter(
            author=user,
            review__in=[Entry.Review.WAITING, Entry.Review.RETURNED],
            deleted_at__isnull=True,
        )
        return ReviewQueue(can_approve=False, entries=list(own[:QUEUE_LENGTH]))
    return ReviewQueue(can_approve=False, waiting=entries.awaiting_approval().count())


@require_POST
def return_entry(request: HttpRequest, event_id: int, entry_id: int) -> HttpResponse:
    """An editor's Return: back to the desk, saying what happened; a refusal repeats the
    note as typed, so nothing of it is lost."""
    if not request.user.has_perm(APPROVE):
        raise PermissionDenied
    entry = get_object_or_404(Entry, event_id=event_id, pk=entry_id)
    desk = reverse("admin:updates_event_desk", args=[event_id]) + "#review-queue"
    form = ReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["note"]))
        return redirect(desk)
    note = form.cleaned_data["note"]
    try:
        entry_return(entry=entry, by=signed_in(request), note=note)
    except ValidationError as error:
        messages.error(
            request,
            _("%(reason)s Your note was: “%(note)s”")
            % {"reason": " ".join(error.messages), "note": note},
        )
        return redirect(desk)
    author = entry.author.get_username() if entry.author else _("the contributor")
    messages.success(
        request,
        _("Returned to %(author)s with your note: %(headline)s")
        % {"author": author, "headline": entry.headline},
    )
    return redirect(desk)


def urls(view) -> list[URLPattern]:
    """The desk's URLs for this, under the event's admin URLs; view: admin_site.admin_view."""
    # Not under desk/entries/<id>/<action>/, which is the one-click actions' (desk.py).
    return [
        path(
            "<int:event_id>/desk/review/<int:entry_id>/return/",
            view(return_entry),
            name="updates_event_entry_return",
        )
    ]
