import logging
import socket
import threading
import time

from liveblog.layers import channel_layers
from updates.delivery import Subscription
from updates.models import Entry


class Recorder:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def __call__(self, frame: str) -> None:
        self.frames.append(frame)


async def test_frames_before_start_are_held_and_only_newer_ones_sent():
    sent = Recorder()
    subscription = Subscription(hub=None, event_id=1, send=sent)
    await subscription.push(4, "four")
    await subscription.push(5, "five")
    assert sent.frames == []

    await subscription.start(after_revision=4)
    await subscription.push(6, "six")

    assert sent.frames == ["five", "six"]


def post_entry(client, event) -> object:
    return client.post(
        "/admin/updates/entry/add/",
        {
            "event": event.pk,
            "headline": "Count under way",
            "body": "<p>Boxes arriving.</p>",
            "byline": "Sam Okafor",
            "published_at_0": "2026-11-25",
            "published_at_1": "22:41:00",
        },
    )


def test_a_publish_while_redis_is_down_still_saves_and_is_logged(
    journalist_client, event, settings, caplog, django_capture_on_commit_callbacks
):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket closes
    settings.CHANNEL_LAYERS = channel_layers(f"redis://127.0.0.1:{port}/0")

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = post_entry(journalist_client, event)

    assert response.status_code == 302
    assert Entry.objects.get().headline == "Count under way"
    assert "Could not deliver revision 1" in caplog.text


def test_a_publish_to_a_frozen_redis_gives_up_within_its_deadline(
    journalist_client, event, settings, caplog, django_capture_on_commit_callbacks
):
    # A server that accepts connections and never answers, like a Redis under SIGSTOP.
    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(16)
    accepted = []
    threading.Thread(target=lambda: accepted.append(frozen.accept()), daemon=True).start()
    settings.CHANNEL_LAYERS = channel_layers(f"redis://127.0.0.1:{frozen.getsockname()[1]}/0")

    started = time.monotonic()
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = post_entry(journalist_client, event)
    took = time.monotonic() - started
    for connection, _ in accepted:
        connection.close()
    frozen.close()

    assert response.status_code == 302
    assert Entry.objects.filter(headline="Count under way").exists()
    assert took < 4
    assert "Could not deliver revision 1" in caplog.text


async def test_a_status_frame_is_sent_whatever_the_revision_but_never_before_start():
    sent = Recorder()
    subscription = Subscription(hub=None, event_id=1, send=sent)
    await subscription.push(None, "heartbeat before hello")
    await subscription.start(after_revision=7)
    await subscription.push(None, "heartbeat 7")
    assert sent.frames == ["heartbeat 7"]
