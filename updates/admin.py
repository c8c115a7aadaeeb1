"""The newsroom. Every save and delete goes through services.py, which numbers the
change and tells readers once it has committed."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from updates.models import Entry, Event, JournalistProfile
from updates.services import (
    default_byline,
    entry_delete,
    entry_publish,
    entry_restore,
    entry_update,
    event_create,
    event_update,
)

ENTRY_FORM_FIELDS = ["event", "headline", "body", "byline", "published_at", "pinned", "key_event"]


def changed_values(form) -> dict:
    return {name: form.cleaned_data[name] for name in form.changed_data}


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("published", "Published"), ("deleted", "Deleted")]

    def queryset(self, request, queryset):
        if self.value() == "published":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Entry)
class EntryAdmin(admin.ModelAdmin):
    fields = ENTRY_FORM_FIELDS
    list_display = ["headline", "event", "published_at", "byline", "pinned", "key_event", "state"]
    list_filter = [DeletedFilter, "event", "pinned", "key_event"]
    list_select_related = ["event"]
    search_fields = ["headline", "body", "byline"]
    date_hierarchy = "published_at"
    actions = ["pin", "unpin", "restore"]

    @admin.display(description="state")
    def state(self, entry: Entry) -> str:
        return "Deleted" if entry.is_deleted else "Published"

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("byline", default_byline(request.user))
        return initial

    def get_readonly_fields(self, request: HttpRequest, obj: Entry | None = None):
        # A tombstone is restored first (an action on the list), then edited.
        return ENTRY_FORM_FIELDS if obj is not None and obj.is_deleted else []

    def save_model(self, request: HttpRequest, obj: Entry, form, change: bool) -> None:
        if change:
            entry_update(entry=obj, changes=changed_values(form))
            return
        data = form.cleaned_data
        obj.pk = entry_publish(
            event=data["event"],
            author=request.user,
            headline=data["headline"],
            body=data["body"],
            byline=data["byline"],
            # Untouched, the prefilled time is when the form was opened: publish as of now,
            # so an update written over ten minutes still lands at the top.
            published_at=data["published_at"] if "published_at" in form.changed_data else None,
            pinned=data["pinned"],
            key_event=data["key_event"],
        ).pk
        obj.refresh_from_db()

    def delete_model(self, request: HttpRequest, obj: Entry) -> None:
        entry_delete(entry=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        for entry in queryset:
            entry_delete(entry=entry)

    @admin.action(description="Pin the selected entries", permissions=["change"])
    def pin(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        self._update_each(request, queryset.filter(deleted_at__isnull=True), {"pinned": True})

    @admin.action(description="Unpin the selected entries", permissions=["change"])
    def unpin(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        self._update_each(request, queryset.filter(deleted_at__isnull=True), {"pinned": False})

    @admin.action(description="Restore the selected deleted entries", permissions=["delete"])
    def restore(self, request: HttpRequest, queryset: QuerySet[Entry]) -> None:
        restored = [
            entry_restore(entry=entry) for entry in queryset.filter(deleted_at__isnull=False)
        ]
        self.message_user(request, f"Restored {len(restored)} entries.", messages.SUCCESS)

    def _update_each(self, request: HttpRequest, queryset: QuerySet[Entry], changes: dict) -> None:
        updated = [entry_update(entry=entry, changes=changes) for entry in queryset]
        self.message_user(request, f"Updated {len(updated)} entries.", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["title", "status", "starts_at", "revision", "live_page"]
    list_filter = ["status"]
    search_fields = ["title", "summary"]
    prepopulated_fields = {"slug": ["title"]}
    fields = ["title", "slug", "summary", "status", "starts_at"]

    @admin.display(description="live page")
    def live_page(self, event: Event) -> str:
        return format_html(
            '<a href="{}">{}</a>', event.get_absolute_url(), event.get_absolute_url()
        )

    def save_model(self, request: HttpRequest, obj: Event, form, change: bool) -> None:
        if change:
            event_update(event=obj, changes=changed_values(form))
            return
        obj.pk = event_create(**form.cleaned_data).pk
        obj.refresh_from_db()


@admin.register(JournalistProfile)
class JournalistProfileAdmin(admin.ModelAdmin):
    list_display = ["display_name", "role", "user"]
    search_fields = ["display_name", "role", "user__username"]
    list_select_related = ["user"]
