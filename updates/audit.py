"""The newsroom's audit log: who did what, when (models.AuditRecord).

services.py records every action on events and entries inside the action's own
transaction, so a record exists exactly when the action does; the admin records role
changes (admin.NewsroomUserAdmin). Nothing updates or deletes a record.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User

from updates.models import AuditRecord, Entry, Event


def record(
    action: str,
    *,
    by: User | AnonymousUser | None,
    event: Event | None = None,
    entry: Entry | None = None,
    subject: str = "",
    details: dict[str, Any] | None = None,
) -> AuditRecord:
    """by None: the system (a scheduled entry going live)."""
    actor = by if isinstance(by, User) else None
    if entry is not None:
        event = event or entry.event
        subject = subject or entry.headline
    elif event is not None:
        subject = subject or event.title
    return AuditRecord.objects.create(
        action=action,
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        event=event,
        entry=entry,
        subject=subject[:200],
        details=details or {},
    )
