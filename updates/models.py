from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from updates.sanitize import sanitize_body


class Event(models.Model):
    class Status(models.TextChoices):
        # As the badge on the event's pages says (static/live.js has the same words).
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", _("Live")
        ENDED = "ended", _("Ended")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(
        _("address"), max_length=100, unique=True, help_text=_("Part of the page's address.")
    )
    summary = models.TextField(
        _("summary"), blank=True, help_text=_("One or two sentences under the title.")
    )
    status = models.CharField(_("status"), max_length=10, choices=Status, default=Status.LIVE)
    starts_at = models.DateTimeField(_("starts at"), default=timezone.now)
    # When the coverage ended (status "ended"), for search engines' coverageEndTime
    # (updates/page_metadata.py); set and cleared by services.py with the status.
    ended_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The short "Key points" block an editor keeps above the pinned entries (the desk's
    # form); rich text, sanitised as an entry's body is.
    key_points = models.TextField(
        _("key points"),
        blank=True,
        help_text=_("A few short points that bring a reader arriving late up to date."),
    )
    language = models.CharField(
        _("language"),
        max_length=10,
        blank=True,
        choices=settings.LANGUAGES,
        help_text=_("The language of this event's pages; empty: the site's."),
    )
    # Grows by one with every change to the event or its entries; see services.py.
    revision = models.PositiveBigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-starts_at"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.key_points = sanitize_body(self.key_points)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("live", args=[self.slug])

    @property
    def page_language(self) -> str:
        """What readers' pages of the event are written in."""
        return self.language or settings.LANGUAGE_CODE


class EntryQuerySet(models.QuerySet["Entry"]):
    def visible(self) -> "EntryQuerySet":
        return self.filter(live=True)

    def due(self, now: datetime) -> "EntryQuerySet":
        """Scheduled entries whose time has come but that readers cannot see yet."""
        return self.filter(
            live=False,
            draft=False,
            deleted_at__isnull=True,
            review=Entry.Review.NONE,
            published_at__lte=now,
        )

    def awaiting_approval(self) -> "EntryQuerySet":
        return self.filter(review=Entry.Review.WAITING, deleted_at__isnull=True)

    def newest_first(self) -> "EntryQuerySet":
        return self.order_by("-published_at", "-id")

    def oldest_first(self) -> "EntryQuerySet":
        return self.order_by("published_at", "id")


class Entry(models.Model):
    class Review(models.TextChoices):
        """Where a contributor's entry stands with the editors (services.entry_approve)."""

        NONE = "", _("Approved or not needed")
        WAITING = "waiting", _("Awaiting approval")
        RETURNED = "returned", _("Returned")

    event = models.ForeignKey(
        Event, on_delete=models.CASCADE, related_name="entries", verbose_name=_("event")
    )
    headline = models.CharField(_("headline"), max_length=200)
    body = models.TextField(
        _("body"), help_text=_("Paragraphs, subheadings, links, emphasis, lists and quotes.")
    )
    byline = models.CharField(
        _("byline"),
        max_length=200,
        blank=True,
        help_text=_('As readers see it, e.g. "Jane Smith, Political Editor".'),
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, editable=False
    )
    published_at = models.DateTimeField(
        _("published at"), default=timezone.now, help_text=_("Readers see this time.")
    )
    updated_at = models.DateTimeField(auto_now=True)
    # When the words last changed after publishing; readers see "Updated HH:MM".
    edited_at = models.DateTimeField(null=True, blank=True, editable=False)
    pinned = models.BooleanField(
        _("pinned"), default=False, help_text=_("Keep above the stream of updates.")
    )
    key_event = models.BooleanField(
        _("key event"), default=False, help_text=_("List among the key events.")
    )
    draft = models.BooleanField(
        _("draft"), default=False, help_text=_("Readers never see a draft.")
    )
    correction = models.TextField(
        _("correction"),
        blank=True,
        help_text=_('Shown to readers under the entry as "Correction: ...".'),
    )
    # Pictures (and, later, embeds) in the order readers see them, as stored: each picture
    # with its alt text, caption, credit and renditions (updates/pictures.py). Part of the
    # entry's row, so that adding, reordering or removing one is an edit like any other:
    # numbered, told to readers, kept in the history.
    media = models.JSONField(default=list, blank=True, editable=False)
    # A contributor's entry waits for an editor: readers never see it until approved.
    review = models.CharField(
        _("review"), max_length=10, choices=Review, blank=True, default="", editable=False
    )
    # Why an editor returned it, for the contributor.
    review_note = models.TextField(_("note from the editor"), blank=True, editable=False)
    # Readers see the entry: published, its time has come, not a draft, not deleted, not
    # awaiting approval.
    # Only services.py changes it, so that readers are told every time it does.
    live = models.BooleanField(default=False, editable=False)
    # The event's revision at this entry's last change that readers could see: null
    # until they first see it (drafts and scheduled entries); unique per event.
    revision = models.PositiveBigIntegerField(null=True, editable=False)
    # Grows with every save, seen by readers or not: two people editing one entry
    # find out from it (services.EditConflict).
    version = models.PositiveIntegerField(default=1, editable=False)
    # A tombstone: readers are told the entry is gone, an editor can restore it.
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = EntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("entry")
        verbose_name_plural = _("entries")
        ordering = ["-published_at", "-id"]
        constraints = [
            # Also the index for "changes since revision R".
            models.UniqueConstraint(fields=["event", "revision"], name="entry_unique_revision"),
        ]
        indexes = [
            # The live page and every "Load more" cursor page: an index scan in page order.
            models.Index(
                "event",
                models.F("published_at").desc(),
                models.F("id").desc(),
                name="entry_live_newest",
                condition=models.Q(live=True),
            ),
            # What the scheduler looks for every second.
            models.Index(
                "published_at",
                name="entry_scheduled",
                condition=models.Q(live=False, draft=False, deleted_at__isnull=True),
            ),
        ]
        permissions = [
            ("pin_entry", "Can pin and unpin entries"),
            # Without it (a contributor), an entry waits for an editor's approval.
            ("publish_entry", "Can publish entries without approval"),
            ("approve_entry", "Can approve or return contributors' entries"),
        ]

    def __str__(self) -> str:
        return self.headline

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.body = sanitize_body(self.body)
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("entry", args=[self.event.slug, self.pk])

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def should_be_live(self, now: datetime | None = None) -> bool:
        """Whether readers should see the entry (at `now`, by default now)."""
        due = self.published_at <= (now or timezone.now())
        approved = self.review == Entry.Review.NONE
        return due and approved and not self.draft and not self.is_deleted

    @property
    def state(self) -> str:
        if self.is_deleted:
            return "deleted"
        if self.review:
            return self.review  # "waiting" or "returned"
        if self.draft:
            return "draft"
        return "published" if self.live else "scheduled"


class JournalistProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="journalist_profile"
    )
    display_name = models.CharField(max_length=100)
    role = models.CharField(
        max_length=100, blank=True, help_text=_('e.g. "Political Correspondent".')
    )

    def __str__(self) -> str:
        return self.byline

    @property
    def byline(self) -> str:
        return f"{self.display_name}, {self.role}" if self.role else self.display_name


class EntryChange(models.Model):
    """The corrections trail: one row per change, with the words as they were before it."""

    entry = models.ForeignKey(Entry, on_delete=models.CASCADE, related_name="changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=20)
    fields = models.CharField(max_length=200, blank=True, help_text=_("What changed."))
    headline = models.CharField(_("headline"), max_length=200)
    body = models.TextField(
        _("body"),
    )
    byline = models.CharField(max_length=200, blank=True)
    media = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.entry_id} at {self.changed_at:%Y-%m-%d %H:%M}"


class Draft(models.Model):
    """What a journalist has typed into a post or edit form and not yet saved: kept on the
    server as they type (updates/drafts.py), so that it survives a new laptop; the browser
    keeps its own copy against a lost connection (static/drafts.js)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    # The entry being edited; none for a new entry on the desk.
    entry = models.ForeignKey(
        Entry, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The form's fields as typed (headline, body, byline, the pictures' tokens and words).
    fields = models.JSONField(default=dict)
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event"],
                condition=models.Q(entry__isnull=True),
                name="draft_one_new_entry_per_desk",
            ),
            models.UniqueConstraint(
                fields=["user", "entry"],
                condition=models.Q(entry__isnull=False),
                name="draft_one_per_entry_edit",
            ),
        ]

    def __str__(self) -> str:
        return f"Draft by {self.user_id} for {self.entry_id or 'a new entry'}"


class AuditRecord(models.Model):
    """The newsroom's log: every action with who, when and what (updates/audit.py writes
    it, inside the action's own transaction). Readable by editors, changed by no one."""

    class Action(models.TextChoices):
        POSTED = "posted", _("Posted")
        SUBMITTED = "submitted", _("Submitted for approval")
        EDITED = "edited", _("Edited")
        DELETED = "deleted", _("Deleted")
        RESTORED = "restored", _("Restored")
        PINNED = "pinned", _("Pinned")
        UNPINNED = "unpinned", _("Unpinned")
        APPROVED = "approved", _("Approved")
        RETURNED = "returned", _("Returned")
        WENT_LIVE = "went live", _("Went live at its time")
        EVENT_CREATED = "event created", _("Event created")
        EVENT_CHANGED = "event changed", _("Event changed")
        ROLE_CHANGED = "role changed", _("Role changed")

    at = models.DateTimeField(_("when"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("who"),
    )
    # As the account was named then: kept when the account is renamed or goes.
    actor_name = models.CharField(_("who"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=20, choices=Action)
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    entry = models.ForeignKey(
        Entry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # What it was done to, as it was named then: a headline, an event's title, an account.
    subject = models.CharField(_("what"), max_length=200)
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit record")
        verbose_name_plural = _("audit log")
        ordering = ["-at", "-id"]
        # Only viewing: no one adds, changes or deletes a record through the admin.
        default_permissions = ("view",)
        indexes = [models.Index(fields=["event", "-at"], name="audit_by_event")]

    def __str__(self) -> str:
        return f"{self.actor_name or '-'} {self.action} {self.subject}"
