"""The desk and the admin post entries with one form (updates.forms.EntryForm): a field of
an entry, or a rule for one, is added there once and holds in both."""

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from updates.forms import EntryForm
from updates.models import Entry

ADD_URL = "/admin/updates/entry/add/"


@pytest.fixture
def refused(journalist_client, event):
    """Post an entry from the desk or from the admin's add form; what the form refused."""

    def post(where: str, **fields) -> dict[str, list[str]]:
        entry = {"headline": "Count under way", "body": "<p>Boxes arriving.</p>"} | fields
        if where == "desk":
            response = journalist_client.post(f"/admin/updates/event/{event.pk}/desk/", entry)
            return response.context["form"].errors
        time = {"published_at_0": "2026-11-25", "published_at_1": "22:41:00"}
        response = journalist_client.post(ADD_URL, {"event": event.pk} | time | entry)
        return response.context["adminform"].form.errors

    return post


@pytest.mark.parametrize("where", ["desk", "admin"])
def test_a_rule_added_to_the_entry_form_holds_on_the_desk_and_in_the_admin(
    refused, monkeypatch, where
):
    def clean_headline(form: EntryForm) -> str:
        if "!" in form.cleaned_data["headline"]:
            raise ValidationError("No exclamation marks.")
        return form.cleaned_data["headline"]

    monkeypatch.setattr(EntryForm, "clean_headline", clean_headline, raising=False)

    assert refused(where, headline="Count under way!") == {"headline": ["No exclamation marks."]}
    assert not Entry.objects.exists()


@pytest.mark.parametrize("where", ["desk", "admin"])
def test_an_empty_editor_is_refused_in_the_same_words_on_the_desk_and_in_the_admin(refused, where):
    # ProseMirror posts an empty body as one empty paragraph.
    assert refused(where, body="<p></p>") == {"body": ["Write something first."]}
    assert not Entry.objects.exists()


def test_an_update_left_at_the_time_the_desk_offered_is_published_as_of_posting(
    journalist_client, event
):
    desk_url = f"/admin/updates/event/{event.pk}/desk/"
    offered = journalist_client.get(desk_url).context["form"]["published_at"].value()
    as_offered = offered.strftime("%Y-%m-%dT%H:%M:%S")

    journalist_client.post(
        desk_url,
        {
            "headline": "Count under way",
            "body": "<p>Boxes arriving.</p>",
            "published_at": as_offered,
            "initial-published_at": offered.strftime("%Y-%m-%d %H:%M:%S"),
        },
    )

    assert Entry.objects.get().published_at > timezone.make_aware(offered)
