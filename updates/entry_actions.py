"""What can be done to an entry in one click, and by whom: the desk's buttons and the
admin's list actions both come from this table, so an action is added in one place.
Each runs a service, which numbers the change and tells readers (services.py), and
refuses what the user may not do whatever the buttons offered."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from updates.models import Entry
from updates.services import (
    APPROVE,
    entry_approve,
    entry_delete,
    entry_restore,
    entry_update,
    may_change,
)

if TYPE_CHECKING:  # django-stubs' name for a lazy string, which Django has no name for
    from django.utils.functional import _StrPromise

    type Words = str | _StrPromise


@dataclass(frozen=True)
class EntryAction:
    # Lazy: in the language of the page that shows them.
    label: "Words"  # on the desk's button
    description: "Words"  # in the admin's list of actions
    permission: str
    changes: dict[str, Any] = field(default_factory=dict)  # made by entry_update; or:
    service: Callable[..., Entry] | None = None
    offered_when: Callable[[Entry], bool] | None = None  # for a service

    def offered(self, entry: Entry) -> bool:
        """A change is offered while it would change something of an entry not deleted."""
        if self.offered_when is not None:
            return self.offered_when(entry)
        differs = any(getattr(entry, name) != value for name, value in self.changes.items())
        return differs and not entry.is_deleted

    def allowed(self, entry: Entry, user: User) -> bool:
        """Whether `user` may take this action on `entry`: a change made by entry_update
        also needs the entry to be theirs to change (a contributor's own, until approved)."""
        if not user.has_perm(self.permission):
            return False
        return self.service is not None or may_change(user, entry)

    def run(self, *, entry: Entry, by: User) -> Entry:
        """Raises PermissionDenied, or the service's ValidationError."""
        if not by.has_perm(self.permission):
            raise PermissionDenied
        if self.service is not None:
            return self.service(entry=entry, by=by)
        return entry_update(entry=entry, changes=self.changes, by=by)


PIN, CHANGE, DELETE = "updates.pin_entry", "updates.change_entry", "updates.delete_entry"

ENTRY_ACTIONS = {
    "pin": EntryAction(_("Pin"), _("Pin the selected entries"), PIN, changes={"pinned": True}),
    "unpin": EntryAction(
        _("Unpin"), _("Unpin the selected entries"), PIN, changes={"pinned": False}
    ),
    "key": EntryAction(
        _("Key event"),
        _("Mark the selected entries as key events"),
        CHANGE,
        changes={"key_event": True},
    ),
    "unkey": EntryAction(
        _("Not key"), _("Unmark the selected key events"), CHANGE, changes={"key_event": False}
    ),
    "publish": EntryAction(
        _("Publish"), _("Publish the selected drafts"), CHANGE, changes={"draft": False}
    ),
    "delete": EntryAction(
        _("Delete"),
        _("Delete the selected entries (kept, for restoring)"),
        DELETE,
        service=entry_delete,
        offered_when=lambda entry: not entry.is_deleted,
    ),
    "restore": EntryAction(
        _("Restore"),
        _("Restore the selected deleted entries"),
        DELETE,
        service=entry_restore,
        offered_when=lambda entry: entry.is_deleted,
    ),
    # Returning one needs a note: the desk's review queue has its form (updates/review.py).
    "approve": EntryAction(
        _("Approve"),
        _("Approve the selected entries (readers see them)"),
        APPROVE,
        service=entry_approve,
        offered_when=lambda entry: entry.review == Entry.Review.WAITING and not entry.is_deleted,
    ),
}


def entry_actions_offered(entry: Entry, user: User) -> list[tuple[str, "Words"]]:
    """(name, label) of what `user` may do to `entry` now, in the table's order."""
    return [
        (name, action.label)
        for name, action in ENTRY_ACTIONS.items()
        if action.offered(entry) and action.allowed(entry, user)
    ]
