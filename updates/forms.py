"""Validation of the query strings of pages and the API."""

import hashlib

from django import forms
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import QueryDict

from updates.selectors import PAGE_SIZE, Cursor


class CursorField(forms.Field):
    def to_python(self, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            return Cursor.decode(value)
        except ValueError as error:
            raise forms.ValidationError("is not a cursor this site gave out") from error


class EntryPageForm(forms.Form):
    """Newest first, older with `before`; or oldest first (`order=oldest`), newer with `after`."""

    before = CursorField(required=False)
    after = CursorField(required=False)
    order = forms.ChoiceField(required=False, choices=[("newest", "newest"), ("oldest", "oldest")])
    limit = forms.IntegerField(required=False, min_value=1, max_value=100)

    @classmethod
    def query_digest(cls, query: QueryDict) -> str:
        """Names the page `query` asks for by exactly the values this form reads of it (so
        junk parameters make no new page), for looking a page up before validating: a
        stored page is only ever one whose query passed, so a hit stands for a cursor this
        site signed. Keyed with SECRET_KEY, so a new key also retires the pages its old
        cursors found."""
        values = repr([query.get(name) for name in cls.base_fields]).encode()
        secret = hashlib.blake2b(settings.SECRET_KEY.encode()).digest()
        return hashlib.blake2b(values, key=secret, digest_size=16).hexdigest()

    @staticmethod
    def cursor_page_asked(query: QueryDict) -> tuple | None:
        """Names a page after a cursor by the position the cursor stands for (cursors made
        at different times for one entry differ as text) and the other values this form
        reads, as given: to look up a page kept for a query that passed, without the
        cost of validating the rest (updates/held_pages.py). None for the newest page,
        and for a cursor this site did not sign."""
        try:
            before, after = (
                Cursor.decode(value) if (value := query.get(name)) else None
                for name in ("before", "after")
            )
        except ValueError:
            return None
        if before is None and after is None:
            return None
        return (before, after, query.get("order"), query.get("limit"))

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or PAGE_SIZE

    def clean(self) -> dict:
        data = super().clean()
        before, after = data.get("before"), data.get("after")
        if before and after:
            raise forms.ValidationError("give before or after, not both", code="both")
        if before and data.get("order") == "oldest":
            raise forms.ValidationError("before pages newest first; use after", code="order")
        data["oldest_first"] = bool(after) or data.get("order") == "oldest"
        data["cursor"] = before or after
        return data


def revision_field(*, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(required=required, min_value=0, max_value=2**62)


class ChangesForm(forms.Form):
    since = revision_field()


_MIN_REVISION = revision_field(required=False)


def min_revision_asked(query: QueryDict) -> int | None:
    """?min_revision= of an entries page: the revision the asking page shows, so that any
    page at least that new will do (updates/held_pages.py). None if not given. Raises
    ValueError with the reason."""
    try:
        return _MIN_REVISION.clean(query.get("min_revision"))
    except ValidationError as error:
        raise ValueError(f"min_revision: {error.messages[0]}") from error


def first_error(form: forms.Form) -> str:
    """One reason a client can read, e.g. "limit: Ensure this value is less than ..."."""
    name, errors = next(iter(form.errors.items()))
    return errors[0] if name == NON_FIELD_ERRORS else f"{name}: {errors[0]}"
