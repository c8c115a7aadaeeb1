"""What can be done to an entry in one click, and by whom: the desk's buttons and the
admin's list actions both come from this table, so an action is added in one place.
Each runs a service, which numbers the change and tells readers (services.py)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied

from updates.models import Entry
from updates.services import entry_delete, entry_restore, entry_update


@dataclass(frozen=True)
class EntryAction:
    label: str  # on the desk's button
    description: str  # in the admin's list of actions
    permission: str
    offered: Callable[[Entry], bool]
    changes: dict[str, Any] | None = None  # for entry_update; else service
    service: Callable[..., Entry] | None = None

    def run(self, *, entry: Entry, by: AbstractBaseUser) -> Entry:
        """Raises PermissionDenied, or the service's ValidationError."""
        if not by.has_perm(self.permission):
            raise PermissionDenied
        if self.service is not None:
            return self.service(entry=entry, by=by)
        return entry_update(entry=entry, changes=self.changes, by=by)


def _kept(entry: Entry) -> bool:
    return not entry.is_deleted


ENTRY_ACTIONS = {
    "pin": EntryAction(
        "Pin",
        "Pin the selected entries",
        "updates.pin_entry",
        offered=lambda entry: _kept(entry) and not entry.pinned,
        changes={"pinned": True},
    ),
    "unpin": EntryAction(
        "Unpin",
        "Unpin the selected entries",
        "updates.pin_entry",
        offered=lambda entry: _kept(entry) and entry.pinned,
        changes={"pinned": False},
    ),
    "key": EntryAction(
        "Key event",
        "Mark the selected entries as key events",
        "updates.change_entry",
        offered=lambda entry: _kept(entry) and not entry.key_event,
        changes={"key_event": True},
    ),
    "unkey": EntryAction(
        "Not key",
        "Unmark the selected key events",
        "updates.change_entry",
        offered=lambda entry: _kept(entry) and entry.key_event,
        changes={"key_event": False},
    ),
    "publish": EntryAction(
        "Publish",
        "Publish the selected drafts",
        "updates.change_entry",
        offered=lambda entry: _kept(entry) and entry.draft,
        changes={"draft": False},
    ),
    "delete": EntryAction(
        "Delete",
        "Delete the selected entries (kept, for restoring)",
        "updates.delete_entry",
        offered=_kept,
        service=entry_delete,
    ),
    "restore": EntryAction(
        "Restore",
        "Restore the selected deleted entries",
        "updates.delete_entry",
        offered=lambda entry: entry.is_deleted,
        service=entry_restore,
    ),
}


def entry_actions_offered(entry: Entry, user: AbstractBaseUser) -> list[tuple[str, str]]:
    """(name, label) of what `user` may do to `entry` now, in the table's order."""
    return [
        (name, action.label)
        for name, action in ENTRY_ACTIONS.items()
        if action.offered(entry) and user.has_perm(action.permission)
    ]
