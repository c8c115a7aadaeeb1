"""The desk's socket, /ws/desk/<event_id>/: staff only, by the admin's session; every
change to the event's entries, drafts too; and who else is on the desk, editing what."""

from collections.abc import Callable

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from liveblog.asgi import application
from updates.live import presence
from updates.live.desk_socket import FORGET_AFTER_SECONDS
from updates.models import Event
from updates.services import entry_publish, entry_update, event_create

pytestmark = pytest.mark.django_db(transaction=True)

publish = database_sync_to_async(entry_publish)
update = database_sync_to_async(entry_update)

ORIGIN = (b"origin", b"http://localhost")

type SignIn = Callable[[User], bytes]


@pytest.fixture
def session_of() -> SignIn:
    """The Cookie header of an admin session signed in as the user."""

    def sign_in(user: User) -> bytes:
        client = Client()
        client.force_login(user)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        return f"{settings.SESSION_COOKIE_NAME}={session}".encode()

    return sign_in


def socket(event_id: int, cookie: bytes | None = None, query: str = "") -> WebsocketCommunicator:
    headers = [ORIGIN] + ([(b"cookie", cookie)] if cookie else [])
    return WebsocketCommunicator(application, f"/ws/desk/{event_id}/{query}", headers=headers)


async def refusal(communicator: WebsocketCommunicator) -> int:
    """The close code a socket is refused with, once accepted (so that a browser sees it)."""
    connected, _ = await communicator.connect()
    assert connected
    closed = await communicator.receive_output(timeout=3)
    assert closed["type"] == "websocket.close", closed
    await communicator.disconnect()
    return closed["code"]


async def desk_of(cookie: bytes, event: Event, query: str = "") -> WebsocketCommunicator:
    communicator = socket(event.pk, cookie, query)
    connected, _ = await communicator.connect()
    assert connected
    revision = await Event.objects.values_list("revision", flat=True).aget(pk=event.pk)
    assert await communicator.receive_json_from(timeout=3) == {
        "type": "hello",
        "revision": revision,
    }
    return communicator


def here(name: str, editing: int | None) -> dict:
    return {"name": name, "editing": editing, "forget_after": FORGET_AFTER_SECONDS}


async def test_nobody_signed_in_nor_a_reader_with_an_account_gets_a_desk_4401(
    channel_layer, event, session_of
):
    assert await refusal(socket(event.pk)) == 4401
    reader = await database_sync_to_async(User.objects.create_user)("reader", password="x")
    assert await refusal(socket(event.pk, await database_sync_to_async(session_of)(reader))) == 4401


async def test_staff_without_the_permission_to_post_are_refused_4403(
    channel_layer, event, session_of
):
    clerk = await database_sync_to_async(User.objects.create_user)(
        "clerk", password="x", is_staff=True
    )
    assert await refusal(socket(event.pk, await database_sync_to_async(session_of)(clerk))) == 4403


async def test_a_desk_of_no_event_is_refused_4004(channel_layer, event, journalist, session_of):
    cookie = await database_sync_to_async(session_of)(journalist)
    assert await refusal(socket(event.pk + 1000, cookie)) == 4004


async def test_a_message_the_desk_does_not_know_closes_the_socket_4400(
    channel_layer, event, journalist, session_of
):
    cookie = await database_sync_to_async(session_of)(journalist)
    other = await database_sync_to_async(event_create)(title="Cup final", slug="cup-final")
    foreign = await publish(event=other, author=journalist, headline="Kick-off", body="<p>3pm</p>")

    for message in ['{"type": "typing"}', "not json", '{"type": "editing", "entry": "7; drop"}']:
        desk = await desk_of(cookie, event)
        await desk.send_to(text_data=message)
        closed = await desk.receive_output(timeout=3)
        assert (closed["type"], closed["code"]) == ("websocket.close", 4400), message
        await desk.disconnect()
    # An entry of another event, whether on the URL or said.
    assert await refusal(socket(event.pk, cookie, f"?editing={foreign.pk}")) == 4400
    assert await refusal(socket(event.pk, cookie, "?editing=first")) == 4400
    desk = await desk_of(cookie, event)
    await desk.send_json_to({"type": "editing", "entry": foreign.pk})
    closed = await desk.receive_output(timeout=3)
    assert (closed["type"], closed["code"]) == ("websocket.close", 4400)
    await desk.disconnect()


async def test_a_journalist_hears_of_a_draft_a_colleague_saves_which_readers_never_do(
    channel_layer, event, journalist, editor, session_of
):
    desk = await desk_of(await database_sync_to_async(session_of)(journalist), event)
    reader = WebsocketCommunicator(application, f"/ws/live/{event.slug}/", headers=[ORIGIN])
    await reader.connect()
    assert (await reader.receive_json_from(timeout=3))["type"] == "hello"

    draft = await publish(
        event=event, author=editor, headline="Exit poll", body="<p>Embargoed.</p>", draft=True
    )
    assert await desk.receive_json_from(timeout=3) == {
        "type": "desk.entry",
        "entry": draft.pk,
        "version": 1,
    }
    await update(entry=draft, changes={"headline": "Exit poll at 10pm"}, by=editor)
    assert await desk.receive_json_from(timeout=3) == {
        "type": "desk.entry",
        "entry": draft.pk,
        "version": 2,
    }
    assert await reader.receive_nothing(timeout=0.3)

    # Published, it reaches both, numbered, through the readers' delivery the desk joins.
    await update(entry=draft, changes={"draft": False}, by=editor)
    for communicator in (desk, reader):
        created = await communicator.receive_json_from(timeout=3)
        assert (created["type"], created["revision"], created["entry"]["id"]) == (
            "entry.created",
            1,
            draft.pk,
        )
    assert await desk.receive_nothing(timeout=0.3)
    await desk.disconnect()
    await reader.disconnect()


async def test_each_desk_names_the_colleagues_on_it_and_the_entry_each_is_editing(
    channel_layer, event, journalist, editor, make_entry, session_of
):
    entry = await database_sync_to_async(make_entry)(headline="Turnout at noon")
    sam = await desk_of(await database_sync_to_async(session_of)(journalist), event)
    # Ines opens the entry's change page: its socket says which entry.
    ines = await desk_of(
        await database_sync_to_async(session_of)(editor), event, f"?editing={entry.pk}"
    )

    ines_arrives = await sam.receive_json_from(timeout=3)
    assert ines_arrives["type"] == "desk.here"
    assert ines_arrives | here("Ines Duarte", entry.pk) == ines_arrives
    # Sam's desk answers the newcomer: Ines learns who was there before her.
    sam_answers = await ines.receive_json_from(timeout=3)
    assert sam_answers["type"] == "desk.here"
    assert sam_answers | here("Sam Okafor", None) == sam_answers
    assert sam_answers["id"] != ines_arrives["id"]

    # She moves on to nothing in particular; then leaves.
    await ines.send_json_to({"type": "editing", "entry": None})
    moved = await sam.receive_json_from(timeout=3)
    assert (moved["type"], moved["id"], moved["editing"]) == ("desk.here", ines_arrives["id"], None)
    await ines.disconnect()
    assert await sam.receive_json_from(timeout=3) == {"type": "desk.gone", "id": ines_arrives["id"]}

    # Nobody hears of themselves: a second tab of Sam's is not a colleague.
    sam_again = await desk_of(await database_sync_to_async(session_of)(journalist), event)
    assert await sam.receive_nothing(timeout=0.3)
    assert await sam_again.receive_nothing(timeout=0.3)
    await sam_again.disconnect()
    await sam.disconnect()


def test_a_desk_fetches_a_changed_entrys_row_with_its_own_buttons(
    client, journalist, editor, event, make_entry
):
    entry = make_entry(headline="Turnout at noon")
    row_url = f"/admin/updates/event/{event.pk}/desk/rows/{entry.pk}/"
    client.force_login(journalist)
    row = client.get(row_url).content.decode().strip()
    assert row.startswith(f'<tr id="desk-entry-{entry.pk}"') and "Turnout at noon" in row
    assert ">Key event</button>" in row and ">Pin</button>" not in row
    client.force_login(editor)
    assert ">Pin</button>" in client.get(row_url).content.decode()

    rows = client.get(f"/admin/updates/event/{event.pk}/desk/rows/").content.decode().strip()
    assert rows.startswith('<tbody id="desk-entries-body" data-revision="1"')
    assert f'id="desk-entry-{entry.pk}"' in rows
    assert (
        client.get(f"/admin/updates/event/{event.pk}/desk/rows/{entry.pk + 1}/").status_code == 404
    )
    client.logout()
    assert client.get(row_url).status_code == 302  # to the admin's login


async def test_an_open_desk_is_not_counted_among_the_readers(
    event, journalist, session_of, settings
):
    settings.REDIS_URL = ""  # one process: its own count is all (updates/live/presence.py)
    desk = await desk_of(await database_sync_to_async(session_of)(journalist), event)
    reader = WebsocketCommunicator(application, f"/ws/live/{event.slug}/", headers=[ORIGIN])
    await reader.connect()
    assert (await reader.receive_json_from(timeout=3))["type"] == "hello"

    assert await database_sync_to_async(presence.readers_now)(event.pk) == 1
    await reader.disconnect()
    assert await database_sync_to_async(presence.readers_now)(event.pk) == 0
    await desk.disconnect()
