"""Which message readers are sent for each change an editor makes (docs/api.md)."""

import orjson
import pytest

from updates.live import delivery
from updates.serialize import entry_to_dict
from updates.services import entry_delete, entry_publish, entry_restore, entry_update


@pytest.fixture
def sent(monkeypatch) -> list[dict]:
    """The messages the services hand to the delivery (whole, as clients that ask nothing
    get them), decoded, in order."""
    messages = []
    monkeypatch.setattr(
        delivery,
        "publish",
        lambda event_id, change: messages.append(orjson.loads(change.frames.full)),
    )
    return messages


def test_a_restored_entry_reaches_readers_as_a_new_one_does(
    make_entry, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        entry = make_entry()
    with django_capture_on_commit_callbacks(execute=True):
        entry_delete(entry=entry)
    with django_capture_on_commit_callbacks(execute=True):
        entry_restore(entry=entry)

    created, deleted, restored = sent
    assert (created["type"], deleted["type"]) == ("entry.created", "entry.deleted")
    # To a reader a restored entry is one it does not show: it inserts it in its place
    # in time, as it does a new entry or a scheduled one going live.
    assert restored == {"type": "entry.created", "revision": 3, "entry": entry_to_dict(entry)}
    assert restored["entry"]["published_at"] == created["entry"]["published_at"]


def test_an_edit_reaches_readers_as_an_update(make_entry, sent, django_capture_on_commit_callbacks):
    entry = make_entry()
    with django_capture_on_commit_callbacks(execute=True):
        entry_update(entry=entry, changes={"headline": "Turnout is up"})

    assert [(message["type"], message["revision"]) for message in sent] == [("entry.updated", 2)]


def test_a_deleted_draft_restored_tells_readers_nothing(
    event, journalist, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        draft = entry_publish(
            event=event, author=journalist, headline="Not yet", body="<p>.</p>", draft=True
        )
        entry_delete(entry=draft)
        entry_restore(entry=draft)

    assert sent == []
