import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import orjson
import pytest
import redis
from asgiref.sync import sync_to_async
from django.utils.module_loading import import_string

from liveblog.backends import channel_layers
from tests.servers import free_port, wait_for
from updates.live import delivery
from updates.live.delivery import Change, Frames, Subscription
from updates.models import Entry


class Recorder:
    def __init__(self) -> None:
        self.frames: list[str] = []

    async def __call__(self, frame: str) -> None:
        self.frames.append(frame)


def alone(revision: int, frame: str) -> tuple[list[Change], Frames]:
    """A change as a fan-out pushes it when it came alone."""
    change = Change(revision, Frames.same(frame))
    return [change], change.frames


async def test_frames_before_start_are_held_and_only_newer_ones_sent():
    sent = Recorder()
    subscription = Subscription(hub=None, event_id=1, send=sent)
    await subscription.push(*alone(4, "four"))
    await subscription.push(*alone(5, "five"))
    assert sent.frames == []

    await subscription.start(after_revision=4)
    await subscription.push(*alone(6, "six"))

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
    await subscription.push(None, Frames.same("heartbeat before hello"))
    await subscription.start(after_revision=7)
    await subscription.push(None, Frames.same("heartbeat 7"))
    assert sent.frames == ["heartbeat 7"]


def change(revision: int) -> str:
    return orjson.dumps({"type": "entry.updated", "revision": revision}).decode()


def numbered(revision: int) -> Change:
    return Change(revision, Frames.same(change(revision)))


def messages_in(frame: str) -> list[dict]:
    message = orjson.loads(frame)
    return message["messages"] if message["type"] == "batch" else [message]


async def test_changes_held_before_start_go_out_as_one_frame_of_those_newer_than_hello():
    sent = Recorder()
    subscription = Subscription(hub=None, event_id=1, send=sent)
    for revision in (4, 5, 6):
        await subscription.push(*alone(revision, change(revision)))

    await subscription.start(after_revision=4)

    assert [orjson.loads(frame) for frame in sent.frames] == [
        {"type": "batch", "messages": [orjson.loads(change(5)), orjson.loads(change(6))]}
    ]


async def test_a_batch_partly_older_than_hello_goes_out_without_the_older_changes():
    sent = Recorder()
    subscription = Subscription(hub=None, event_id=1, send=sent)
    await subscription.start(after_revision=5)
    changes = [numbered(revision) for revision in (5, 6, 7)]

    await subscription.push(changes, delivery.frame_of(changes))

    assert [m["revision"] for frame in sent.frames for m in messages_in(frame)] == [6, 7]


async def frames_sent(frames: list[str], count: int) -> None:
    for _ in range(50):
        if len(frames) >= count:
            return
        await asyncio.sleep(0.1)


async def test_changes_arriving_during_a_fan_out_reach_readers_merged_in_one_frame_after_it(
    channel_layer,
):
    frames: list[str] = []
    first_frame_sent = asyncio.Event()
    release_first_frame = asyncio.Event()

    async def slow_reader(frame: str) -> None:
        frames.append(frame)
        if len(frames) == 1:
            first_frame_sent.set()
            await asyncio.wait_for(release_first_frame.wait(), timeout=5)

    publish = sync_to_async(delivery.publish)
    subscription = await delivery.subscribe(1, slow_reader)
    await subscription.start(after_revision=0)

    await publish(1, numbered(1))
    await asyncio.wait_for(first_frame_sent.wait(), timeout=5)
    for revision in (2, 3, 4):
        await publish(1, numbered(revision))  # while 1 is still being sent
    await asyncio.sleep(0.5)  # until the process has received them
    release_first_frame.set()
    await frames_sent(frames, 2)
    await publish(1, numbered(5))  # after the burst: alone
    await frames_sent(frames, 3)

    assert [[m["revision"] for m in messages_in(frame)] for frame in frames] == [
        [1],
        [2, 3, 4],
        [5],
    ]
    assert orjson.loads(frames[1])["type"] == "batch"
    await subscription.close()


def answers(url: str) -> bool:
    with redis.Redis.from_url(url, socket_timeout=1) as client:
        return client.ping()


@contextlib.contextmanager
def own_redis_server(port: int) -> Iterator[str]:
    """A redis-server of this test's own (never the shared one): empty, saving nothing."""
    process = subprocess.Popen(
        [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(port)]
        + ["--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        wait_for(lambda: answers(url), timeout=10, what="redis-server start")
        yield url
    finally:
        process.kill()
        process.wait(timeout=5)


@pytest.mark.parametrize("redis_layer", ["core", "pubsub"])
async def test_after_redis_restarts_a_process_is_sent_changes_again_once_it_has_rejoined(
    settings, redis_layer
):
    port = free_port()
    frames = Recorder()
    publish = sync_to_async(delivery.publish)
    with own_redis_server(port) as url:
        settings.CHANNEL_LAYERS = channel_layers(url, redis_layer=redis_layer)
        subscription = await delivery.subscribe(1, frames)
        await subscription.start(after_revision=0)
        await publish(1, numbered(1))
        await frames_sent(frames.frames, 1)
    # Killed and started again, empty: on the core layer the group forgot this process.
    with own_redis_server(port):
        for revision in range(2, 40):
            await delivery.rejoin()  # as each heartbeat does
            await publish(1, numbered(revision))
            await asyncio.sleep(0.25)
            if len(frames.frames) > 1:
                break
        received = [m["revision"] for frame in frames.frames for m in messages_in(frame)]
        assert received[0] == 1
        assert len(received) > 1  # a change after the restart arrived
        await subscription.close()


@pytest.mark.parametrize("redis_layer", ["core", "pubsub"])
async def test_sites_on_two_databases_of_one_redis_do_not_hear_each_other(redis_url, redis_layer):
    def layer_on_database(number: int):
        url = redis_url.rsplit("/", 1)[0] + f"/{number}"
        config = channel_layers(url, redis_layer=redis_layer)["default"]
        return import_string(config["BACKEND"])(**config["CONFIG"])

    ours, theirs = layer_on_database(1), layer_on_database(2)
    channel = await ours.new_channel()
    await ours.group_add(delivery.group_name(1), channel)
    for layer, frame in ((theirs, "theirs"), (ours, "ours")):
        message = {"type": delivery.MESSAGE_TYPE, "frame": frame}
        await layer.group_send(delivery.group_name(1), message)

    received = await asyncio.wait_for(ours.receive(channel), timeout=3)

    assert received["frame"] == "ours"
    for layer in (ours, theirs):
        await layer.flush()
