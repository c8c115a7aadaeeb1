"""Validation of the query strings of pages and the API."""

from django import forms

from updates.selectors import Cursor


class CursorField(forms.Field):
    def to_python(self, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            return Cursor.decode(value)
        except ValueError as error:
            raise forms.ValidationError("is not a cursor this site gave out") from error


class EntryPageForm(forms.Form):
    before = CursorField(required=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=100)

    def clean_limit(self) -> int:
        return self.cleaned_data["limit"] or 20


class ChangesForm(forms.Form):
    since = forms.IntegerField(min_value=0, max_value=2**62)


def first_error(form: forms.Form) -> str:
    """One reason a client can read, e.g. "limit: Ensure this value is less than ..."."""
    name, errors = next(iter(form.errors.items()))
    return f"{name}: {errors[0]}"
