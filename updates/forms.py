"""The forms: the query strings of pages and the API, and the entry as journalists write it."""

import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import QueryDict
from django.utils.html import strip_tags
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_prose_editor.fields import ProseEditorFormField

from updates import embeds, media, pictures
from updates.models import Entry
from updates.selectors import PAGE_SIZE, Cursor


class NumberField(forms.IntegerField):
    """A whole number as a query string spells it: the digits 0 to 9, with no sign, space
    or leading zero. IntegerField takes whatever int() does ("٣", "１２", "+3", " 3", "03",
    "1_0") and "3.0" besides: so many addresses for one page, each of which a cache keyed
    by address would build and keep again. Empty is no number either."""

    PLAIN_DIGITS = re.compile(r"0|[1-9][0-9]*")
    default_error_messages = {
        "invalid": "must be a number in the digits 0 to 9, with no sign, space or leading zero",
        "too_long": "has more digits than any number this site reads",
    }

    def to_python(self, value: str | None) -> int | None:
        if value is None:
            return None
        if not self.PLAIN_DIGITS.fullmatch(value):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        try:
            return int(value)
        except ValueError as error:  # sys.get_int_max_str_digits(), 4300
            raise ValidationError(self.error_messages["too_long"], code="too_long") from error


class CursorField(forms.Field):
    def to_python(self, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            return Cursor.decode(value)
        except ValueError as error:
            raise forms.ValidationError("is not a cursor this site gave out") from error


class BadQuery(ValueError):
    """A query string the API refuses; the message is the reason a client reads."""


class EntryPageForm(forms.Form):
    """Newest first, older with `before`; or oldest first (`order=oldest`), newer with `after`."""

    before = CursorField(required=False)
    after = CursorField(required=False)
    order = forms.ChoiceField(required=False, choices=[("newest", "newest"), ("oldest", "oldest")])
    limit = NumberField(required=False, min_value=1, max_value=100)

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or PAGE_SIZE

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        before, after = data.get("before"), data.get("after")
        if before and after:
            raise forms.ValidationError("give before or after, not both", code="both")
        if before and data.get("order") == "oldest":
            raise forms.ValidationError("before pages newest first; use after", code="order")
        data["oldest_first"] = bool(after) or data.get("order") == "oldest"
        data["cursor"] = before or after
        return data


def revision_field(*, required: bool = True) -> NumberField:
    return NumberField(required=required, min_value=0, max_value=2**62)


class ChangesForm(forms.Form):
    since = revision_field()


class SocketQueryForm(forms.Form):
    """The query of a reader's socket. ?since= is the revision the page shows, read as
    changes/ reads it. ?entry= is "card" for each entry as the live page reads it (its card
    and what places it: serialize.card_fields), or "full" (the default) for all of it.
    Either may be left out; one given must be valid."""

    since = revision_field()
    entry = forms.ChoiceField(choices=[("full", "full"), ("card", "card")])

    def __init__(self, data: QueryDict) -> None:
        super().__init__(data)
        for name, field in self.fields.items():
            field.required = name in data


class EntryListForm(EntryPageForm):
    """The API's entries/, which the page's "Load more" asks with the revision the page
    shows (`min_revision`): any page at least that new will do (updates/held_pages.py)."""

    min_revision = revision_field(required=False)


@dataclass(frozen=True, slots=True)
class PageAsked:
    """A page of entries as a valid query asks for it: what a kept page is found by, its
    cursor by the position it stands for (cursors signed at different times for one entry
    differ as text)."""

    cursor: Cursor | None
    oldest_first: bool
    limit: int

    def digest(self) -> str:
        return hashlib.blake2b(repr(self).encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class EntriesAsked:
    page: PageAsked
    min_revision: int | None


def entries_asked(query: QueryDict) -> EntriesAsked:
    """What a query of entries/ asks, as EntryListForm validates it. Raises BadQuery."""
    # Only the values the form reads: junk parameters are the same query.
    values = tuple(query.get(name) for name in EntryListForm.base_fields)
    return _entries_asked(values, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


# Every reader of a page asks its "Load more" with the same values, and validating them (a
# Django form) cost more than answering from a held page: each is validated once per process.
# The keys are in the arguments, as whether a cursor is valid depends on them; a query that
# fails is not kept, and is validated every time.
@functools.lru_cache(maxsize=1024)
def _entries_asked(
    values: tuple[str | None, ...], key: str, fallback_keys: tuple[str, ...]
) -> EntriesAsked:
    form = EntryListForm(dict(zip(EntryListForm.base_fields, values, strict=True)))
    if not form.is_valid():
        raise BadQuery(first_error(form))
    data = form.cleaned_data
    page = PageAsked(data["cursor"], data["oldest_first"], data["limit"])
    return EntriesAsked(page, data["min_revision"])


def first_error(form: forms.Form) -> str:
    """One reason a client can read, e.g. "limit: Ensure this value is less than ..."."""
    name, errors = next(iter(form.errors.items()))
    reason = str(errors[0])
    return reason if name == NON_FIELD_ERRORS else f"{name}: {reason}"


# What the editor offers is what sanitize.py keeps: nothing else can be typed or pasted.
EDITOR_EXTENSIONS = {
    "Bold": True,
    "Italic": True,
    "Strike": True,
    "Heading": {"levels": [2, 3]},
    "BulletList": True,
    "OrderedList": True,
    "ListItem": True,
    "Blockquote": True,
    "HardBreak": True,
    "Link": {"enableTarget": False, "protocols": ["http", "https", "mailto"]},
}


class PictureForm(forms.Form):
    """One picture of an entry: a new file, one stored as soon as it was chosen
    (`uploaded`, desk.upload_picture), or one the entry has (`kept`), with its words."""

    kept_thumbnail = ""  # the address of a small rendition of a picture the entry has

    file = forms.FileField(
        required=False,
        label=_("Picture"),
        widget=forms.ClearableFileInput(attrs={"accept": pictures.TAKEN_CONTENT_TYPES}),
        help_text=format_lazy(
            _("{formats}, up to {size} MB."),
            formats=", ".join(pictures.TAKEN),
            size=pictures.MAX_UPLOAD_BYTES // 2**20,
        ),
    )
    alt = forms.CharField(
        max_length=300,
        required=False,
        label=_("Alt text"),
        help_text=_("What the picture shows, for readers who cannot see it."),
    )
    caption = forms.CharField(max_length=300, required=False, label=_("Caption"))
    credit = forms.CharField(
        max_length=120, required=False, label=_("Credit"), help_text=_('e.g. "Photo: Reuters".')
    )
    # media.upload_token() of a picture stored when it was chosen, until the post.
    uploaded = forms.CharField(widget=forms.HiddenInput, required=False)
    # The id of a picture the entry has (updates/media.py), kept unless a file replaces it.
    kept = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_uploaded(self) -> pictures.StoredPicture | None:
        token = self.cleaned_data["uploaded"]
        if not token:
            return None
        try:
            return media.uploaded_picture(token)
        except media.UploadLost:
            # Shown by the file input, the one the journalist can do something with.
            self.add_error(
                "file", _("This picture is no longer kept for posting: choose it again.")
            )
            return None

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        has_picture = data.get("file") or data.get("uploaded") or data.get("kept")
        if has_picture and not data.get("DELETE") and not data.get("alt", "").strip():
            self.add_error("alt", _("Say what the picture shows, for readers who cannot see it."))
        return data

    @property
    def thumbnail(self) -> str:
        """What the row shows: the picture uploaded for it, else the one the entry has."""
        uploaded = getattr(self, "cleaned_data", {}).get("uploaded")
        return media.smallest_url(uploaded) if uploaded else self.kept_thumbnail

    def asked(self) -> media.PictureAsked | None:
        data = self.cleaned_data
        if not (data.get("file") or data.get("uploaded") or data.get("kept")):
            return None
        return media.PictureAsked(
            alt=data["alt"].strip(),
            caption=data["caption"].strip(),
            credit=data["credit"].strip(),
            upload=data.get("file") or None,
            uploaded=data.get("uploaded"),
            kept=data.get("kept", ""),
        )


PictureFormSet = forms.formset_factory(
    PictureForm,
    extra=1,
    can_order=True,
    can_delete=True,
    max_num=media.MAX_PICTURES,
    validate_max=True,
)


class EntryForm(forms.ModelForm):
    """An entry as journalists write it: the desk's post form (desk.py) and, with what only
    the admin has, its entry form (admin.EntryAdminForm). A field of an entry, or a rule
    for one, is added here once for both."""

    # The model's help text too: a field declared on a form does not take it by itself.
    body = ProseEditorFormField(
        extensions=EDITOR_EXTENSIONS,
        label=_("Body"),
        help_text=Entry._meta.get_field("body").help_text,
    )
    embed_url = forms.URLField(
        required=False,
        assume_scheme="https",
        label=_("Video or social post"),
        help_text=format_lazy(
            _("A link to a post on {providers}: readers see it once they ask."),
            providers=", ".join(provider.label for provider in embeds.PROVIDERS.values()),
        ),
    )
    embed_title = forms.CharField(
        required=False, max_length=200, label=_("What the video or post is")
    )

    class Meta:
        model = Entry
        fields = ["headline", "body", "byline", "published_at", "pinned", "key_event", "draft"]
        labels = {"published_at": _("Publish at"), "pinned": _("Pin"), "draft": _("Save as draft")}
        help_texts = {
            "published_at": _(
                "Readers see this time; a later one schedules the update. "
                "A new update left at the time offered is published as of posting."
            )
        }
        # Seconds too, as the form's copy of the time offered has them: left alone, the
        # time is then seen as unchanged (clean_published_at).
        widgets = {
            "published_at": forms.DateTimeInput(
                attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M:%S"
            )
        }

    def __init__(self, *args, can_pin: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not can_pin:
            del self.fields["pinned"]
        if self.instance.pk is None and "published_at" in self.fields:
            self.fields["published_at"].required = False  # empty: as of posting
        kept = media.pictures_of(self.instance.media)
        # A tombstone is restored before it is edited (services.entry_update).
        self.takes_media = not self.instance.is_deleted
        if not self.takes_media:
            for name in ("embed_url", "embed_title"):
                self.fields[name].disabled = True
        for embed in media.embeds_of(self.instance.media)[:1]:
            self.initial.setdefault("embed_url", embed["url"])
            self.initial.setdefault("embed_title", embed["title"])
        # A post without the pictures' rows (a script, an older page) leaves them as they are.
        self.asks_pictures = (
            self.takes_media and self.is_bound and "pictures-TOTAL_FORMS" in self.data
        )
        self.pictures = PictureFormSet(
            self.data if self.asks_pictures else None,
            self.files if self.asks_pictures else None,
            prefix="pictures",
            initial=[
                {name: item[name] for name in ("alt", "caption", "credit")} | {"kept": item["id"]}
                for item in kept
            ],
        )
        for form, item in zip(self.pictures.forms, kept, strict=False):
            form.kept_thumbnail = media.thumbnail_url(item)
        self._media_made: list[dict[str, Any]] | None = None

    def is_multipart(self) -> bool:
        return True

    def is_valid(self) -> bool:
        """The entry's fields and its pictures; only when all of them pass are new
        pictures stored, so that a refused post leaves no file behind."""
        if self._media_made is not None:
            return True  # stored already: asked twice
        if not (super().is_valid() & (not self.asks_pictures or self.pictures.is_valid())):
            return False
        if not self.asks_pictures:
            pictures = media.pictures_of(self.instance.media)
        else:
            in_order = self.pictures.ordered_forms
            try:
                pictures = media.media_made(
                    [form.asked() for form in in_order], had=self.instance.media
                )
            except media.UploadRefused as refused:
                in_order[refused.position].add_error("file", str(refused))
                return False
        self._media_made = pictures + self._embeds()
        return True

    def _embeds(self) -> list[dict[str, Any]]:
        # A post without the field (a script, an older page) leaves the embed as it is.
        if "embed_url" not in self.data or not self.takes_media:
            return media.embeds_of(self.instance.media)
        url = self.cleaned_data["embed_url"]
        return [embeds.embed_for(url, title=self.cleaned_data["embed_title"])] if url else []

    def clean_embed_url(self) -> str:
        url: str = self.cleaned_data["embed_url"]
        if url:
            embeds.embed_for(url)  # raises ValidationError for a link no provider takes
        return url

    def media_changes(self) -> dict[str, Any]:
        """{"media": the new list} for an edit that changed the pictures, else nothing."""
        if self._media_made is None or self._media_made == self.instance.media:
            return {}
        return {"media": self._media_made}

    def clean_body(self) -> str:
        body = self.cleaned_data["body"]
        # Words, not only markup: the editor left empty posts an empty paragraph.
        if not strip_tags(body).strip():
            raise ValidationError(_("Write something first."))
        return body

    def clean_published_at(self) -> datetime | None:
        """None for a new entry to be published as of posting: its time left empty, or at
        the one offered when the form was opened, so that an update written over ten
        minutes still lands at the top."""
        published_at = self.cleaned_data["published_at"]
        if self.instance.pk is None and "published_at" not in self.changed_data:
            return None
        return published_at

    def entry_values(self) -> dict[str, Any]:
        """The entry's fields as entry_publish takes them: those this form has, and its
        pictures as stored once the form is valid."""
        values = {
            name: self.cleaned_data[name] for name in EntryForm.Meta.fields if name in self.fields
        }
        return values | {"media": self._media_made or []}

    def forget_stored_pictures(self) -> None:
        """For a save that failed after is_valid() stored the new pictures."""
        if self._media_made is not None:
            media.forget_stored(self.instance.media, self._media_made)
