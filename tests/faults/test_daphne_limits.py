"""The limits liveblog/server.py gives Daphne hold against clients that abuse them."""

import asyncio
import socket
import subprocess
import time
from pathlib import Path

import orjson
import pytest
import websockets

from liveblog.server import HTTP_IDLE_TIMEOUT_SECONDS, LIMITS, LISTEN_BACKLOG
from tests.faults.conftest import changes_in, open_reader
from tests.servers import DaphneServer

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

SLUG = "harbourside"
READER_SENT_A_MESSAGE = 4003


async def closed_with(connection) -> int | None:
    """The close code the server sent, or None if it dropped the connection without one."""
    try:
        for _ in range(10):  # what was sent before the close, if anything
            await connection.recv()
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    raise AssertionError("the server kept the connection open")


async def test_a_reader_sending_more_than_the_message_limit_is_dropped_before_the_app_sees_it(
    transactional_db, event, reader_server: DaphneServer
):
    connection, _ = await open_reader(reader_server.url, SLUG)
    await connection.send("x" * (LIMITS["websocket_max_message_size"] + 1))
    # autobahn drops the TCP connection as soon as the frame's header announces more
    # than the limit; the app, had it seen the message, would have closed with 4003.
    assert await closed_with(connection) is None


async def test_readers_get_frames_far_bigger_than_what_they_may_send(
    transactional_db, desk, reader_server: DaphneServer
):
    connection, _ = await open_reader(reader_server.url, SLUG)
    try:
        body = "<p>" + "Turnout by ward, in full. " * 4000 + "</p>"
        entry = await desk.publish("Every ward's turnout", body)
        async with asyncio.timeout(5):
            frame = orjson.loads(await connection.recv())
        assert len(body) > 100 * LIMITS["websocket_max_message_size"]
        assert [message["entry"]["id"] for message in changes_in(frame)] == [entry.pk]
    finally:
        await connection.close()


async def test_a_reader_sending_a_message_within_the_limit_is_closed_by_the_app(
    transactional_db, event, reader_server: DaphneServer
):
    connection, _ = await open_reader(reader_server.url, SLUG)
    await connection.send("x" * LIMITS["websocket_max_message_size"])
    assert await closed_with(connection) == READER_SENT_A_MESSAGE


def test_an_http_connection_that_says_nothing_is_closed_after_the_idle_timeout(
    transactional_db, reader_server: DaphneServer, timings
):
    with socket.create_connection(("127.0.0.1", reader_server.port), timeout=5) as sock:
        opened = time.monotonic()
        sock.settimeout(HTTP_IDLE_TIMEOUT_SECONDS + 5)
        assert sock.recv(1024) == b"", "the server answered a request nobody sent"
        closed_after = time.monotonic() - opened
    timings("idle HTTP connection -> closed by Daphne", closed_after)
    assert HTTP_IDLE_TIMEOUT_SECONDS - 1 <= closed_after <= HTTP_IDLE_TIMEOUT_SECONDS + 3


def test_a_client_trickling_its_headers_is_closed_when_it_pauses_longer_than_the_idle_timeout(
    transactional_db, reader_server: DaphneServer
):
    with socket.create_connection(("127.0.0.1", reader_server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
        sock.settimeout(HTTP_IDLE_TIMEOUT_SECONDS + 5)
        assert sock.recv(1024) == b""


def test_request_headers_over_16_kib_are_refused(transactional_db, reader_server: DaphneServer):
    with socket.create_connection(("127.0.0.1", reader_server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for number in range(20):
            sock.sendall(f"X-Padding-{number}: {'a' * 1000}\r\n".encode())
        sock.sendall(b"\r\n")
        answer = sock.recv(1024)
    assert answer.startswith(b"HTTP/1.1 400"), answer


def test_daphne_listens_with_room_for_a_crowd_of_reconnecting_readers(
    transactional_db, reader_server: DaphneServer
):
    # For a listening socket, ss reports the accept queue's length as its Send-Q.
    listening = subprocess.run(
        ["ss", "-Hltn", f"sport = :{reader_server.port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert int(listening[2]) == min(LISTEN_BACKLOG, somaxconn)
