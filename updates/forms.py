"""Validation of the query strings of pages and the API."""

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS

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


class ChangesForm(forms.Form):
    since = forms.IntegerField(min_value=0, max_value=2**62)


def first_error(form: forms.Form) -> str:
    """One reason a client can read, e.g. "limit: Ensure this value is less than ..."."""
    name, errors = next(iter(form.errors.items()))
    return errors[0] if name == NON_FIELD_ERRORS else f"{name}: {errors[0]}"
