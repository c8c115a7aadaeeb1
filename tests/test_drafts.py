"""Drafts: what a journalist types into the desk's post form or an entry's change form is
kept on the server as they type (static/drafts.js sends it), one per journalist for a new
entry on a desk and one per journalist for an edit; it is theirs alone, refused when
malformed or too big, carried by the page that has the form, and gone once posted or saved."""

import json

import lxml.html
import pytest
from django.test import Client

from tests.test_admin import change_url, edit_form
from updates.drafts import MAX_DRAFT_BYTES
from updates.models import Draft, Entry, Event
from updates.services import entry_publish

TYPED = {
    "fields": {"headline": "Recount in the east ward", "body": "<p>Called at 02:10.</p>"},
    "pictures": [
        {
            "uploaded": "token",
            "alt": "Counters at a table",
            "ORDER": "1",
            "thumbnail": "/media/pictures/ab/cd-480.webp",
        }
    ],
    "version": None,
}


def desk_url(event: Event) -> str:
    return f"/admin/updates/event/{event.pk}/desk/"


def drafts_url(event: Event, entry: Entry | None = None) -> str:
    return f"{desk_url(event)}drafts/" + (f"{entry.pk}/" if entry else "")


def save(client: Client, url: str, typed: dict | str | bytes):
    body = typed if isinstance(typed, str | bytes) else json.dumps(typed)
    return client.post(url, body, content_type="application/json")


def keeper(client: Client, url: str) -> dict | None:
    """What the page with the form gives static/drafts.js."""
    response = client.get(url)
    script = lxml.html.fromstring(response.content).xpath("//script[@id='draft-keeper']")
    return json.loads(script[0].text) if script else None


def test_a_journalists_draft_is_saved_replaced_returned_and_discarded(journalist_client, event):
    url = drafts_url(event)
    assert journalist_client.get(url).json() == {"draft": None}

    first = save(journalist_client, url, TYPED)
    assert first.status_code == 200 and "saved_at" in first.json()
    again = TYPED | {"fields": {"headline": "Recount confirmed"}}
    second = save(journalist_client, url, again)
    assert second.json()["saved_at"] >= first.json()["saved_at"]

    kept = journalist_client.get(url).json()["draft"]
    assert kept == {
        "fields": {"headline": "Recount confirmed"},
        "pictures": TYPED["pictures"],
        "version": None,
        "saved_at": second.json()["saved_at"],
    }
    assert Draft.objects.count() == 1

    assert journalist_client.delete(url).json() == {"draft": None}
    assert journalist_client.get(url).json() == {"draft": None}
    assert not Draft.objects.exists()


def test_an_edit_has_a_draft_of_its_own_beside_the_desks(journalist_client, event, make_entry):
    entry = make_entry()
    edit = {"fields": {"headline": "Polls are open until 10pm"}, "version": entry.version}
    assert save(journalist_client, drafts_url(event, entry), edit).status_code == 200
    assert save(journalist_client, drafts_url(event), TYPED).status_code == 200

    kept = journalist_client.get(drafts_url(event, entry)).json()["draft"]
    assert (kept["fields"], kept["version"]) == (edit["fields"], entry.version)
    assert journalist_client.get(drafts_url(event)).json()["draft"]["fields"] == TYPED["fields"]
    journalist_client.delete(drafts_url(event, entry))
    assert journalist_client.get(drafts_url(event)).json()["draft"] is not None


def test_another_journalists_draft_is_never_returned(client, journalist, editor, event):
    client.force_login(editor)
    save(client, drafts_url(event), TYPED)

    client.force_login(journalist)
    assert client.get(drafts_url(event)).json() == {"draft": None}
    assert keeper(client, desk_url(event))["server"] is None
    save(client, drafts_url(event), {"fields": {"headline": "Mine"}})
    client.delete(drafts_url(event))

    client.force_login(editor)
    assert client.get(drafts_url(event)).json()["draft"]["fields"] == TYPED["fields"]


def test_a_contributor_keeps_no_draft_of_an_entry_they_may_not_change(
    client, contributor, event, make_entry
):
    client.force_login(contributor)
    someone_elses = make_entry()
    refused = save(client, drafts_url(event, someone_elses), {"fields": {"headline": "Mine now"}})
    assert refused.status_code == 403 and refused.json()["error"]
    assert client.get(drafts_url(event, someone_elses)).status_code == 403
    assert keeper(client, change_url(someone_elses)) is None
    assert not Draft.objects.exists()
    own = entry_publish(event=event, author=contributor, headline="From the count", body="<p>…</p>")
    assert (
        save(client, drafts_url(event, own), {"fields": {"headline": "Fixed"}}).status_code == 200
    )
    assert save(client, drafts_url(event), TYPED).status_code == 200


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "Send the draft as JSON."),
        ("[1, 2]", "Send the draft as a JSON object."),
        ("[" * 100_000 + "]" * 100_000, "Send the draft as JSON."),
        ({"fields": {"Headline!": "x"}}, "fields: Headline! is not a field of the form."),
        ({"fields": {"headline": 3}}, "fields: headline is not a field of the form."),
        ({"fields": {f"f{n}": "" for n in range(41)}}, "fields: give an object of at most 40"),
        ({"pictures": [{"file": "x"}]}, "pictures: a row holds only the words of a picture row."),
        ({"pictures": [{"thumbnail": "javascript:alert(1)"}]}, "pictures: a thumbnail is"),
        ({"pictures": [{}] * 11}, "pictures: give a list of at most 10 rows."),
        ({"version": "3"}, "version: give the entry's version as a number, or null."),
        ({"version": True}, "version: give the entry's version as a number, or null."),
        ({"fields": {"body": "x" * MAX_DRAFT_BYTES}}, "A draft is kept up to 1 MB"),
    ],
)
def test_a_malformed_or_oversized_draft_is_refused_with_its_reason(
    journalist_client, event, body, reason
):
    response = save(journalist_client, drafts_url(event), body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason)
    assert not Draft.objects.exists()


def test_the_signed_out_are_sent_to_sign_in_and_a_forged_request_is_refused(
    client, journalist, event
):
    for method in (client.get, client.delete):
        response = method(drafts_url(event))
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=")
    response = save(client, drafts_url(event), TYPED)
    assert response.status_code == 302

    forged = Client(enforce_csrf_checks=True)
    forged.force_login(journalist)
    assert save(forged, drafts_url(event), TYPED).status_code == 403
    assert not Draft.objects.exists()


def test_a_post_from_the_desk_discards_the_draft_and_a_refused_one_keeps_it(
    journalist_client, event
):
    save(journalist_client, drafts_url(event), TYPED)
    refused = journalist_client.post(desk_url(event), {"headline": "Recount", "body": ""})
    assert refused.status_code == 400
    assert Draft.objects.count() == 1

    posted = journalist_client.post(
        desk_url(event), {"headline": "Recount", "body": "<p>Called at 02:10.</p>"}
    )
    assert posted.status_code == 302
    assert not Draft.objects.exists()


def test_a_saved_edit_discards_its_draft_and_no_one_elses(
    journalist_client, client, editor, event, make_entry
):
    entry = make_entry()
    save(journalist_client, drafts_url(event, entry), {"fields": {"headline": "Typo fixed"}})
    save(journalist_client, drafts_url(event), TYPED)
    other = Client()
    other.force_login(editor)
    save(other, drafts_url(event, entry), {"fields": {"headline": "Editor's version"}})

    response = journalist_client.post(change_url(entry), edit_form(entry, headline="Typo fixed"))
    assert response.status_code == 302
    assert Entry.objects.get(pk=entry.pk).headline == "Typo fixed"
    left = {(draft.user.username, draft.entry_id) for draft in Draft.objects.all()}
    assert left == {("sam", None), ("ines", entry.pk)}


def test_the_pages_with_the_form_carry_the_journalists_draft(journalist_client, event, make_entry):
    entry = make_entry()
    save(journalist_client, drafts_url(event), TYPED)
    on_desk = keeper(journalist_client, desk_url(event))
    assert on_desk["url"] == drafts_url(event) and on_desk["form"] == "post-form"
    assert on_desk["server"]["fields"] == TYPED["fields"] and on_desk["desk"] == desk_url(event)

    refused = journalist_client.post(desk_url(event), {"headline": "No body", "body": ""})
    bound = lxml.html.fromstring(refused.content).xpath("//script[@id='draft-keeper']")[0]
    assert json.loads(bound.text)["bound"] is True

    on_entry = keeper(journalist_client, change_url(entry))
    assert on_entry["url"] == drafts_url(event, entry) and on_entry["form"] == "entry_form"
    assert (on_entry["server"], on_entry["version"], on_entry["desk"]) == (
        None,
        entry.version,
        None,
    )
    # The add page chooses its event in the form: it keeps no draft.
    assert keeper(journalist_client, "/admin/updates/entry/add/") is None


def test_the_post_form_offers_the_phones_camera_as_the_new_pictures_field(journalist_client, event):
    tree = lxml.html.fromstring(journalist_client.get(desk_url(event)).content)
    chooser = tree.get_element_by_id("id_pictures-0-file")
    camera = tree.get_element_by_id("pictures-camera")
    # Without JavaScript a photo taken posts as the new row's picture; an empty box sends
    # nothing, so the two never clash.
    assert camera.get("name") == chooser.get("name") == "pictures-0-file"
    assert (camera.get("type"), camera.get("accept"), camera.get("capture")) == (
        "file",
        "image/*",
        "environment",
    )
    label = tree.xpath("//label[@for='pictures-camera']")[0]
    assert label.text_content() == "Take a photo"
