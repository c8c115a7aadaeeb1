"""The newsroom. Every save and delete goes through services.py, which numbers the
change and tells readers once it has committed. Posting happens on each event's desk
(desk.py); the entry form here is for edits, corrections and the history."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from updates import audit, desk, drafts, key_points, review
from updates.entry_actions import ENTRY_ACTIONS
from updates.forms import EntryForm
from updates.models import AuditRecord, Entry, EntryChange, Event, JournalistProfile
from updates.roles import signed_in
from updates.services import (
    APPROVE,
    ENTRY_EDITABLE_FIELDS,
    EditConflict,
    default_byline,
    entry_delete,
    entry_publish,
    entry_update,
    event_create,
    event_update,
    may_change,
)


def changed_values(form: forms.Form, fields=None) -> dict:
    names = [name for name in form.changed_data if fields is None or name in fields]
    return {name: form.cleaned_data[name] for name in names}


class EntryAdminForm(EntryForm):
    """The entry form of the desk, with what only the admin has: the event to post to (a
    desk is an event's own), the correction note, and the check that no colleague saved
    since this editor opened the entry."""

    # The version this editor opened: a save over someone else's newer one is refused.
    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta(EntryForm.Meta):
        fields = ["event", *EntryForm.Meta.fields, "correction"]
        widgets = {}  # the admin's own: its date and time boxes, with their shortcuts

    def __init__(self, *args, **kwargs) -> None:
        # Pinning is kept from journalists by EntryAdmin.get_readonly_fields, which also
        # shows them whether the entry is pinned.
        super().__init__(*args, can_pin=True, **kwargs)
        if self.instance.pk:
            self.fields["opened_version"].initial = self.instance.version

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        opened = data.get("opened_version")
        if self.instance.pk and opened is not None:
            current = Entry.objects.get(pk=self.instance.pk)
            if current.version != opened:
                raise forms.ValidationError(conflict_message(current), code="conflict")
        return data


def conflict_message(current: Entry) -> str:
    who = current.changes.select_related("changed_by").first()
    by = f" by {who.changed_by}" if who and who.changed_by else ""
    return (
        f"Someone else saved this entry{by} while you were editing it; nothing of yours "
        f"was saved. Their version: headline “{current.headline}”, body: "
        f"{current.body} Reload the page to edit their version."
    )


# The desk's one-click actions (updates/entry_actions.py), on the list's selection too; a
# delete has the admin's own, with its confirmation page.
LIST_ACTIONS = ["pin", "unpin", "key", "unkey", "publish", "restore", "approve"]


def list_action(name: str):
    action = ENTRY_ACTIONS[name]

    def run(model_admin: admin.ModelAdmin, request: HttpRequest, queryset) -> None:
        user = signed_in(request)
        # What is not the user's to change (a contributor's selection of others' entries)
        # is left as it is, as the desk offers it no button.
        done = [
            action.run(entry=entry, by=user)
            for entry in queryset
            if action.offered(entry) and action.allowed(entry, user)
        ]
        model_admin.message_user(request, f"{action.label}: {len(done)} entries.", messages.SUCCESS)

    run.__name__ = name
    # Offered by the admin's has_<x>_permission: "updates.pin_entry" is has_pin_permission.
    allowed = action.permission.removeprefix("updates.").removesuffix("_entry")
    return admin.action(description=action.description, permissions=[allowed])(run)


class DeletedFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("live", _("Published")),
            ("waiting", _("Draft or scheduled")),
            ("approval", _("Awaiting approval")),
            ("returned", _("Returned")),
            ("deleted", _("Deleted")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(live=True)
        if self.value() == "waiting":
            return queryset.filter(live=False, deleted_at__isnull=True, review=Entry.Review.NONE)
        if self.value() == "approval":
            return queryset.awaiting_approval()
        if self.value() == "returned":
            return queryset.filter(review=Entry.Review.RETURNED, deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


class EntryChangeInline(admin.TabularInline):
    """The corrections trail: who changed what, and the words as they were before."""

    model = EntryChange
    fields = readonly_fields = ("changed_at", "changed_by", "action", "fields", "headline", "body")
    extra = 0
    can_delete = False
    verbose_name_plural = "history (the words as they were before each change)"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    form = EntryAdminForm
    fields = [*EntryAdminForm.Meta.fields, "embed_url", "embed_title", "opened_version"]
    list_display = ["headline", "event", "published_at", "byline", "pinned", "key_event", "state"]
    list_filter = [DeletedFilter, "event", "pinned", "key_event"]
    list_select_related = ["event"]
    search_fields = ["headline", "body", "byline"]
    date_hierarchy = "published_at"
    actions = [list_action(name) for name in LIST_ACTIONS]
    inlines = [EntryChangeInline]

    @admin.display(description=_("state"))
    def state(self, entry: Entry) -> str:
        return str(desk.STATES[entry.state])  # in the desk's words

    def has_pin_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("updates.pin_entry")

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(APPROVE)

    def has_change_permission(self, request: HttpRequest, obj: Entry | None = None) -> bool:
        # A contributor opens others' entries, and their own once approved, read-only.
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or may_change(signed_in(request), obj))

    def get_inlines(self, request: HttpRequest, obj: Entry | None):
        return self.inlines if obj and request.user.has_perm("updates.view_entrychange") else []

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("byline", default_byline(request.user))
        return initial

    def get_readonly_fields(self, request: HttpRequest, obj: Entry | None = None):
        # A tombstone is restored first (an action on the list), then edited.
        if obj is not None and obj.is_deleted:
            return EntryAdminForm.Meta.fields
        fixed = ["event"] if obj is not None else []
        return fixed if self.has_pin_permission(request) else [*fixed, "pinned"]

    def save_model(self, request: HttpRequest, obj: Entry, form, change: bool) -> None:
        try:
            if change:
                entry_update(
                    entry=obj,
                    changes=changed_values(form, ENTRY_EDITABLE_FIELDS) | form.media_changes(),
                    by=signed_in(request),
                    expected_version=form.cleaned_data.get("opened_version"),
                )
                drafts.discard(user=signed_in(request), event=obj.event, entry=obj)
                return
            entry = entry_publish(
                event=form.cleaned_data["event"], author=signed_in(request), **form.entry_values()
            )
            obj.pk = entry.pk
            if entry.review == Entry.Review.WAITING:
                # Besides the admin's "was added": the contributor learns readers wait.
                messages.info(request, desk.POSTED_AS["waiting"] % {"headline": entry.headline})
        except EditConflict as conflict:
            # Lost a race with another save between the form's check and this one.
            # For response_change, which tells the journalist.
            request.edit_conflict = conflict  # type: ignore[attr-defined]
            form.forget_stored_pictures()
            return
        except Exception:
            form.forget_stored_pictures()
            raise
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change) -> None:
        if not getattr(request, "edit_conflict", None):
            super().save_related(request, form, formsets, change)

    def response_change(self, request: HttpRequest, obj: Entry) -> HttpResponse:
        conflict = getattr(request, "edit_conflict", None)
        if conflict:
            self.message_user(request, conflict_message(conflict.current), messages.ERROR)
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def get_urls(self):
        # Before the model's own, whose <path:object_id>/ would take it for an entry.
        upload = self.admin_site.admin_view(desk.upload_picture)
        return [
            path("pictures/", upload, name="updates_entry_upload_picture"),
            *super().get_urls(),
        ]

    def delete_model(self, request: HttpRequest, obj: Entry) -> None:
        entry_delete(entry=obj, by=signed_in(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        for entry in queryset:
            entry_delete(entry=entry, by=signed_in(request))


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "starts_at", "revision", "desk_link", "live_page"]
    list_filter = ["status"]
    search_fields = ["title", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    fields = ["title", "slug", "summary", "status", "starts_at", "language"]

    @admin.display(description="desk")
    def desk_link(self, event: Event) -> str:
        url = reverse("admin:updates_event_desk", args=[event.pk])
        return format_html('<a href="{}">Post updates</a>', url)

    @admin.display(description="live page")
    def live_page(self, event: Event) -> str:
        return format_html(
            '<a href="{}">{}</a>', event.get_absolute_url(), event.get_absolute_url()
        )

    def get_urls(self):
        def desk_page(request: HttpRequest, event_id: int) -> HttpResponse:
            return desk.page(request, event_id, self.admin_site.each_context(request))

        view = self.admin_site.admin_view
        return [
            path("<int:event_id>/desk/", view(desk_page), name="updates_event_desk"),
            path("<int:event_id>/desk/preview/", view(desk.preview), name="updates_event_preview"),
            path("<int:event_id>/desk/readers/", view(desk.readers), name="updates_event_readers"),
            path(
                "<int:event_id>/desk/entries/<int:entry_id>/<str:action>/",
                view(desk.entry_action),
                name="updates_event_entry_action",
            ),
            # The live list's rows (static/desk-live.js).
            *desk.urls(view),
            *drafts.urls(view),
            *review.urls(view),
            *key_points.urls(view),
            *super().get_urls(),
        ]

    def save_model(self, request: HttpRequest, obj: Event, form, change: bool) -> None:
        if change:
            event_update(event=obj, changes=changed_values(form), by=signed_in(request))
            return
        obj.pk = event_create(**form.cleaned_data, by=signed_in(request)).pk
        obj.refresh_from_db()


@admin.register(JournalistProfile)
class JournalistProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "role", "user"]
    search_fields = ["display_name", "role", "user__username"]
    list_select_related = ["user"]


@admin.register(AuditRecord)
class AuditRecordAdmin(admin.ModelAdmin):
    """The audit log (updates/audit.py): read by whoever may view it (editors), added to
    only by the actions themselves, changed and deleted by no one, superusers included."""

    list_display = ["at", "actor_name", "action", "subject", "event"]
    list_filter = ["action", "event"]
    list_select_related = ["event"]
    search_fields = ["subject", "actor_name"]
    date_hierarchy = "at"
    fields = ["at", "actor_name", "action", "subject", "event", "entry", "details"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditRecord | None = None) -> bool:
        # Also takes away the list's "Delete selected" action.
        return False


# What a person may do in the newsroom, as the audit log compares it before and after a save.
ROLE_FLAGS = ("is_staff", "is_superuser", "is_active")
# A new account's, before its first save: the model's defaults.
NO_ROLES: dict[str, Any] = {
    "groups": set(),
    "permissions": set(),
    "is_staff": False,
    "is_superuser": False,
    "is_active": True,
}


def roles_of(user: User) -> dict[str, Any]:
    permissions = user.user_permissions.values_list("content_type__app_label", "codename")
    return {
        "groups": set(user.groups.values_list("name", flat=True)),
        "permissions": {f"{app}.{codename}" for app, codename in permissions},
        **{flag: getattr(user, flag) for flag in ROLE_FLAGS},
    }


def role_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What a save changed of someone's roles, for the audit record; empty: nothing."""
    changes: dict[str, Any] = {}
    for name in ("groups", "permissions"):
        if added := sorted(after[name] - before[name]):
            changes[f"{name}_added"] = added
        if removed := sorted(before[name] - after[name]):
            changes[f"{name}_removed"] = removed
    for flag in ROLE_FLAGS:
        if before[flag] != after[flag]:
            changes[flag] = {"from": before[flag], "to": after[flag]}
    return changes


admin.site.unregister(User)


@admin.register(User)
class NewsroomUserAdmin(UserAdmin):
    """Django's, with every change of someone's roles (groups, direct permissions, the
    staff, superuser and active flags) recorded in the audit log, in the save's own
    transaction: the groups are saved after the user (save_related), so the record is
    made once both are."""

    def save_model(self, request: HttpRequest, obj: User, form, change: bool) -> None:
        # As stored: the form has already put the new flags on obj.
        before = roles_of(User.objects.get(pk=obj.pk)) if change else NO_ROLES
        request.roles_before = before  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        changes = role_changes(request.roles_before, roles_of(user))  # type: ignore[attr-defined]
        if changes:
            audit.record(
                AuditRecord.Action.ROLE_CHANGED,
                by=signed_in(request),
                subject=user.get_username(),
                details=changes,
            )
