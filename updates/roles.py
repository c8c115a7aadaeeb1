"""The newsroom's groups: contributors write entries that wait for an editor's approval;
journalists publish and correct entries; editors also approve, delete, restore and pin
them, run events, keep profiles and read the audit log."""

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

GROUPS = {
    "Contributor": [
        "add_entry",
        # Their own entries, until approved (services.entry_update holds them to it).
        "change_entry",
        "view_entry",
        "view_event",
    ],
    "Journalist": [
        "publish_entry",
        "add_entry",
        "change_entry",
        "view_entry",
        "view_event",
    ],
    "Editor": [
        "publish_entry",
        "approve_entry",
        "view_auditrecord",
        "add_entry",
        "change_entry",
        "delete_entry",
        "view_entry",
        "pin_entry",
        "view_entrychange",
        "add_event",
        "change_event",
        "view_event",
        "add_journalistprofile",
        "change_journalistprofile",
        "view_journalistprofile",
    ],
}


def groups_create(group_model, permission_model) -> None:
    """Takes the models as arguments so that migrations can pass their historical ones."""
    for name, codenames in GROUPS.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.set(
            permission_model.objects.filter(
                content_type__app_label="updates", codename__in=codenames
            )
        )


def signed_in(request: HttpRequest) -> User:
    """The newsroom user behind a request to the admin or the desk: both let no one in
    without a staff login, so this refuses only what cannot reach them."""
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user
