"""What Redis is sent when a change is published from synchronous code (an admin save).

Such a publish runs in a fresh event loop, so on a fresh connection every time, and
liveblog/backends.py turns off redis-py's CLIENT SETINFO on connect ("driver_info": None),
which cost 0.6 to 1.2 ms of each publish. pyproject.toml's floor for redis-py rests on it.

The commands are read off the wire by a relay between the layer and Redis, not from
Redis's own accounts: a Redis before 7.2 (7.0 here) rejects CLIENT SETINFO as an unknown
subcommand, and then neither CLIENT LIST, MONITOR nor INFO commandstats shows it; only
errorstats' count of ERR replies moves, which any error moves, on any connection.
"""

import contextlib
import socket
import threading

import pytest
import redis

from liveblog.backends import channel_layers


class RecordingRelay:
    """A TCP relay in front of Redis that keeps the bytes each connection sent to it."""

    def __init__(self, redis_url: str) -> None:
        parsed = redis.connection.parse_url(redis_url)
        self._redis_address = (parsed.get("host", "localhost"), parsed.get("port", 6379))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self._listener.getsockname()[1]}/{parsed.get('db', 0)}"
        self.sent: list[bytearray] = []
        self._sockets = [self._listener]
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(self._redis_address)
            sent = bytearray()
            self.sent.append(sent)
            self._sockets += [client, upstream]
            for source, destination, record in ((client, upstream, sent), (upstream, client, None)):
                thread = threading.Thread(
                    target=self._pass, args=(source, destination, record), daemon=True
                )
                self._threads.append(thread)
                thread.start()

    @staticmethod
    def _pass(source: socket.socket, destination: socket.socket, record: bytearray | None):
        try:
            while data := source.recv(65536):
                if record is not None:
                    # Kept before Redis has it, so before its answer can reach the client.
                    record += data
                destination.sendall(data)
            destination.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # closed by close()

    def commands(self) -> list[list[str]]:
        return [command for sent in self.sent for command in commands_in(bytes(sent))]

    def close(self) -> None:
        # The listener first, and its thread joined, so that no connection is added after.
        close(self._listener)
        self._threads[0].join(timeout=5)
        for each in self._sockets[1:]:
            close(each)
        for thread in self._threads[1:]:
            thread.join(timeout=5)


def close(connection: socket.socket) -> None:
    # shutdown() first: close() alone does not wake a thread blocked on the socket.
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    connection.close()


def commands_in(stream: bytes) -> list[list[str]]:
    """The commands in a client's byte stream: RESP arrays of bulk strings."""
    commands, at = [], 0

    def header() -> int:  # "*<count>\r\n" or "$<length>\r\n"
        nonlocal at
        end = stream.index(b"\r\n", at)
        number, at = int(stream[at + 1 : end]), end + 2
        return number

    while at < len(stream):
        command = []
        for _ in range(header()):
            length = header()
            command.append(stream[at : at + length].decode(errors="replace"))
            at += length + 2
        commands.append(command)
    return commands


@pytest.fixture
def relay(redis_url: str, settings):
    """The app's Redis channel layer, reaching Redis through a RecordingRelay."""
    relay = RecordingRelay(redis_url)
    settings.CHANNEL_LAYERS = channel_layers(relay.url)
    yield relay
    relay.close()


def test_a_publish_from_an_admin_save_sends_redis_no_client_setinfo_or_setname(
    relay, make_entry, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_entry()

    commands = relay.commands()
    # The publish went through the relay: no SETINFO below is not for want of looking.
    assert [name.upper() for name, *_ in commands].count("PUBLISH") == 1
    identifying = [
        command
        for command in commands
        if command[0].upper() == "CLIENT" and command[1].upper() in ("SETINFO", "SETNAME")
    ]
    assert identifying == []
