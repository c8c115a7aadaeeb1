"""liveblog/server.py's websocket protocol: the frames it writes itself are autobahn's frames,
and what an open connection keeps.

ListenOnlyWebSocketProtocol.sendMessage frames a server's plain message itself instead of
going through autobahn's sendMessage, sendFrame and sendData. These tests hold it to
autobahn's own output (byte for byte, and the same traffic counters) on the installed
autobahn, check that everything else still takes autobahn's path, and that a real client
of a real Daphne reads what it writes. Then what a connection keeps once open (nothing of
its handshake), and the input queue FastPathServer gives each application instance.
"""

import asyncio
import gc
import socket
import sys
import weakref
from collections.abc import Iterator

import orjson
import pytest
import txaio
import websockets
from autobahn.websocket.compress_deflate import PerMessageDeflate
from autobahn.websocket.protocol import WebSocketProtocol as AutobahnProtocol
from autobahn.websocket.protocol import WebSocketServerProtocol as AutobahnServerProtocol
from channels.db import database_sync_to_async
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.ws_protocol import WebSocketFactory
from daphne.ws_protocol import WebSocketProtocol as DaphneProtocol
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from liveblog.backends import channel_layers
from liveblog.server import (
    HANDSHAKE_ONLY,
    LIMITS,
    FastPathServer,
    InputQueue,
    ListenOnlyWebSocketProtocol,
)
from tests.servers import DaphneServer
from updates.services import entry_publish

# Each side of each boundary of the frame's length field (7 bits, 16 bits, 64 bits) and
# of the size limit on what readers may send.
SIZES = [0, 1, 125, 126, 1024, 1025, 0xFFFF, 0x10000, 200_000]
TRAFFIC_COUNTERS = [
    "outgoingWebSocketMessages",
    "outgoingOctetsAppLevel",
    "outgoingOctetsWebSocketLevel",
    "outgoingWebSocketFrames",
    "outgoingOctetsWireLevel",
]


def open_protocol(**options) -> ListenOnlyWebSocketProtocol:
    """A protocol as Daphne sets it up (liveblog's limits), past its handshake, writing
    into a StringTransport."""
    factory = WebSocketFactory(object(), server="daphne")
    factory.setProtocolOptions(
        allowNullOrigin=True,
        openHandshakeTimeout=0,  # no timer: nothing here runs a reactor
        maxMessagePayloadSize=LIMITS["websocket_max_message_size"],
        maxFramePayloadSize=LIMITS["websocket_max_frame_size"],
        **options,
    )
    factory.protocol = ListenOnlyWebSocketProtocol
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(StringTransport())
    protocol.state = protocol.STATE_OPEN
    protocol.client_addr = ["127.0.0.1", 50000]
    return protocol


def autobahns_frames(payload: bytes, is_binary: bool) -> tuple[bytes, list[int]]:
    """What autobahn's own sendMessage writes, and its traffic counters."""
    protocol = open_protocol()
    protocol.maxMessagePayloadSize = 0
    DaphneProtocol.sendMessage(protocol, payload, is_binary)
    return protocol.transport.value(), counters(protocol)


def counters(protocol) -> list[int]:
    return [getattr(protocol.trafficStats, name) for name in TRAFFIC_COUNTERS]


@pytest.fixture
def autobahn_writes(monkeypatch) -> list[bytes]:
    """Each write that goes through autobahn's sendData."""
    writes = []
    send_data = AutobahnProtocol.sendData

    def spy(self, data, *args, **kwargs):
        writes.append(data)
        return send_data(self, data, *args, **kwargs)

    monkeypatch.setattr(AutobahnProtocol, "sendData", spy)
    return writes


@pytest.fixture
def debug_logging() -> Iterator[None]:
    level = txaio.get_global_log_level()
    txaio.set_global_log_level("debug")
    try:
        yield
    finally:
        txaio.set_global_log_level(level)


def test_a_new_connection_has_every_option_of_its_factory_without_pretty_printing_them(
    monkeypatch,
):
    import autobahn.websocket.protocol

    pretty_printed = []
    monkeypatch.setattr(autobahn.websocket.protocol, "pformat", pretty_printed.extend)
    protocol = open_protocol(autoPingInterval=7)

    assert pretty_printed == []

    options = ListenOnlyWebSocketProtocol.OPTIONS_FROM_FACTORY
    assert options == AutobahnServerProtocol.CONFIG_ATTRS
    assert {name: getattr(protocol, name) for name in options} == {
        name: getattr(protocol.factory, name) for name in options
    }
    assert (protocol.autoPingInterval, protocol.maxMessagePayloadSize) == (7, 1024)


@pytest.mark.parametrize("is_binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("size", SIZES)
def test_it_writes_the_bytes_autobahn_writes_in_one_write_of_its_own(
    size: int, is_binary: bool, autobahn_writes: list[bytes]
):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    expected_bytes, expected_counters = autobahns_frames(payload, is_binary)
    autobahn_writes.clear()
    protocol = open_protocol()

    protocol.sendMessage(payload, is_binary)

    assert protocol.transport.value() == expected_bytes
    assert counters(protocol) == expected_counters
    assert autobahn_writes == [], "the message went through autobahn's sendData after all"


def test_daphnes_text_reply_goes_out_as_one_unmasked_text_frame(autobahn_writes: list[bytes]):
    protocol = open_protocol()
    text = '{"type": "entry", "headline": "Résultat: 52 %"}' * 100

    protocol.handle_reply({"type": "websocket.send", "text": text})

    encoded = text.encode()
    assert protocol.transport.value() == b"\x81\x7e" + len(encoded).to_bytes(2) + encoded
    assert autobahn_writes == []


def test_the_size_limit_still_holds_for_what_readers_send_after_a_big_send():
    protocol = open_protocol()

    protocol.sendMessage(b"x" * 5000)

    assert protocol.maxMessagePayloadSize == LIMITS["websocket_max_message_size"]


def test_with_txaio_logging_at_debug_level_messages_take_autobahns_path_and_its_log(
    debug_logging, autobahn_writes: list[bytes]
):
    protocol = open_protocol()
    payload = b"x" * 5000  # over the limit on what readers send: still goes out
    expected_bytes, _ = autobahns_frames(payload, False)
    autobahn_writes.clear()

    protocol.sendMessage(payload)

    assert protocol.transport.value() == expected_bytes == b"".join(autobahn_writes)
    assert protocol.maxMessagePayloadSize == LIMITS["websocket_max_message_size"]


def test_a_message_asked_in_fragments_goes_out_in_autobahns_fragments(
    autobahn_writes: list[bytes],
):
    protocol = open_protocol()

    protocol.sendMessage(b"x" * 2500, fragmentSize=1000)

    assert [write[:2] for write in autobahn_writes] == [b"\x01\x7e", b"\x00\x7e", b"\x80\x7e"]
    assert protocol.transport.value() == b"".join(autobahn_writes)


def test_a_compressed_connection_takes_autobahns_path(autobahn_writes: list[bytes]):
    # Daphne accepts no compression, but should a handshake ever agree to it:
    protocol = open_protocol()
    protocol._perMessageCompress = PerMessageDeflate(True, False, False, 0, 0, 0)

    protocol.sendMessage(b"x" * 5000)

    assert [write[:1] for write in autobahn_writes] == [b"\xc1"]  # FIN, RSV1 (compressed), text
    assert len(protocol.transport.value()) < 100


def test_pings_and_closes_still_go_through_autobahn(autobahn_writes: list[bytes]):
    protocol = open_protocol()

    protocol.sendPing(b"ping")
    protocol.sendClose(1000)

    assert [write[:1] for write in autobahn_writes] == [b"\x89", b"\x88"]


@pytest.mark.parametrize("state", ["STATE_CLOSING", "STATE_CLOSED"])
def test_a_message_to_a_reader_who_is_leaving_is_dropped_as_daphne_drops_it_once_closed(
    state: str, autobahn_writes: list[bytes]
):
    protocol = open_protocol()
    protocol.state = getattr(protocol, state)
    written = protocol.transport.value()

    protocol.sendMessage(b"late")  # autobahn's own raises Disconnected

    assert protocol.transport.value() == written
    assert autobahn_writes == []


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    # A heartbeat is the shortest frame the app sends (a 7-bit length): one a second.
    return {"LIVE_HEARTBEAT_SECONDS": "1"}


@pytest.mark.django_db(transaction=True)
async def test_a_real_client_reads_every_frame_size_from_a_real_daphne(
    event, journalist, settings, redis_url: str, reader_server: DaphneServer
):
    # websockets checks every frame it reads: unmasked, no reserved bits, the length
    # field in its shortest form, valid UTF-8 for text.
    settings.CHANNEL_LAYERS = channel_layers(redis_url)
    url = reader_server.url.replace("http://", "ws://") + f"/ws/live/{event.slug}/"
    bodies = {
        "16-bit length": "<p>" + "Turnout by ward: 61 %. " * 100 + "</p>",
        "64-bit length": "<p>" + "Every ward's count, in full: é. " * 3000 + "</p>",
    }
    heartbeats: list[str] = []

    async def next_entry(connection) -> dict:
        while True:
            frame = await connection.recv()
            assert isinstance(frame, str)
            message = orjson.loads(frame)
            if message["type"] != "heartbeat":
                return message
            heartbeats.append(frame)

    async with websockets.connect(url, origin=reader_server.url, max_size=None) as connection:
        async with asyncio.timeout(10):
            assert orjson.loads(await connection.recv())["type"] == "hello"
            for headline, body in bodies.items():
                entry = await database_sync_to_async(entry_publish)(
                    event=event, author=journalist, headline=headline, body=body
                )
                message = await next_entry(connection)
                assert message["entry"]["id"] == entry.pk, message
                assert message["entry"]["body"] == body
            while not heartbeats:
                frame = await connection.recv()
                if orjson.loads(frame)["type"] == "heartbeat":
                    heartbeats.append(frame)

    assert len(heartbeats[0].encode()) <= 125
    assert 125 < len(bodies["16-bit length"]) <= 0xFFFF < len(bodies["64-bit length"].encode())


@pytest.mark.django_db(transaction=True)
async def test_a_reader_that_stops_reading_gets_every_frame_whole_and_in_order_once_it_reads(
    event, journalist, settings, redis_url: str, reader_server: DaphneServer
):
    # Frames bigger than one send, to a reader whose buffers are full: Daphne sends what
    # the socket takes at once and leaves the rest, and every later frame, to Twisted.
    settings.CHANNEL_LAYERS = channel_layers(redis_url)
    url = reader_server.url.replace("http://", "ws://") + f"/ws/live/{event.slug}/"
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", reader_server.port))
    bodies = [
        f"<p>{number}: " + "Every ward's count, in full. " * 6000 + "</p>" for number in range(4)
    ]
    published = []
    # max_queue=1: once a frame waits to be read, the client reads nothing more from the socket.
    async with websockets.connect(
        url, sock=sock, origin=reader_server.url, max_size=None, max_queue=1
    ) as connection:
        async with asyncio.timeout(20):
            assert orjson.loads(await connection.recv())["type"] == "hello"
            for body in bodies:
                published.append(
                    await database_sync_to_async(entry_publish)(
                        event=event, author=journalist, headline="Count", body=body
                    )
                )
            received = []
            while len(received) < len(bodies):
                message = orjson.loads(await connection.recv())
                if message["type"] == "batch":
                    received.extend(message["messages"])
                elif message["type"] != "heartbeat":
                    received.append(message)

    assert [message["entry"]["id"] for message in received] == [entry.pk for entry in published]
    assert [message["entry"]["body"] for message in received] == bodies


UPGRADE = (
    b"GET /ws/live/harbourside/?since=3 HTTP/1.1\r\n"
    b"Host: localhost\r\n"
    b"Upgrade: websocket\r\n"
    b"Connection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Origin: http://localhost\r\n"
    b"\r\n"
)


async def open_through_daphne(application, **server_options):
    """A websocket opened as Daphne opens one, in this process: an HTTP request through
    Daphne's HTTP channel, upgraded, handed to the application, accepted. Returns the
    server, the transport, and a weak reference to the HTTP channel."""
    server = FastPathServer(application, endpoints=["tcp:port=0"], **server_options)
    # What Server.run sets up, without listening or running a reactor.
    server.connections = {}
    server.http_factory = HTTPFactory(server)
    server.ws_factory = WebSocketFactory(server, server="daphne")
    server.ws_factory.setProtocolOptions(allowNullOrigin=True, openHandshakeTimeout=0)
    transport = StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8000),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 50000),
    )
    channel = server.http_factory.buildProtocol(None)
    channel.makeConnection(transport)
    channel.dataReceived(UPGRADE)
    async with asyncio.timeout(2):
        while transport.protocol.state != transport.protocol.STATE_OPEN:
            await asyncio.sleep(0)
    return server, transport, weakref.ref(channel)


async def accept_and_listen(scope, receive, send):
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    await receive()


async def test_an_open_connection_keeps_nothing_of_its_handshake():
    server, transport, _ = await open_through_daphne(accept_and_listen)
    protocol = transport.protocol

    assert transport.value().startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert isinstance(protocol, ListenOnlyWebSocketProtocol)
    assert vars(protocol).keys() & set(HANDSHAKE_ONLY) == set()
    assert protocol.request.path == "/ws/live/harbourside/"
    # Past 85 entries CPython doubles an instance dict's table, to 3.3 KB: autobahn's
    # options copied onto each connection took it there.
    assert sys.getsizeof(vars(protocol)) < 2048
    assert protocol.maxMessagePayloadSize == server.ws_factory.maxMessagePayloadSize


async def test_the_http_channel_of_an_upgrade_is_freed_without_the_garbage_collector():
    server, transport, channel = await open_through_daphne(accept_and_listen)
    gc.disable()
    try:
        assert transport.producer is None
        # What Daphne's application_checker does within a second of the upgrade.
        for request in [key for key in server.connections if isinstance(key, WebRequest)]:
            del server.connections[request]

        assert channel() is None
    finally:
        gc.enable()


async def test_a_closed_connection_still_tells_its_application_and_the_access_log():
    logged = []
    disconnected = asyncio.Event()

    async def application(scope, receive, send):
        await accept_and_listen(scope, receive, send)
        disconnected.set()

    server, transport, _ = await open_through_daphne(
        application, action_logger=lambda *record: logged.append(record)
    )

    transport.protocol.onClose(True, 1000, None)

    async with asyncio.timeout(2):
        await disconnected.wait()
    assert ("websocket", "disconnected") in [record[:2] for record in logged]
    assert logged[-1][2]["path"] == "/ws/live/harbourside/"


def test_an_option_set_on_a_connection_stands_over_its_factorys():
    protocol = open_protocol(autoPingSize=12)

    protocol.autoPingSize = 20

    assert (protocol.autoPingSize, protocol.factory.autoPingSize) == (20, 12)


async def test_the_input_queue_hands_out_messages_in_order():
    queue = InputQueue()
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)

    queue.put_nowait({"type": "websocket.connect"})
    queue.put_nowait({"type": "websocket.receive", "text": "1"})
    queue.put_nowait({"type": "websocket.disconnect", "code": 1000})

    assert await waiting == {"type": "websocket.connect"}
    assert await queue.get() == {"type": "websocket.receive", "text": "1"}
    assert await queue.get() == {"type": "websocket.disconnect", "code": 1000}


async def test_the_input_queue_wakes_one_getter_per_message():
    queue = InputQueue()
    getters = [asyncio.ensure_future(queue.get()) for _ in range(2)]
    await asyncio.sleep(0)

    queue.put_nowait("first")
    await asyncio.sleep(0)
    assert [getter.done() for getter in getters] == [True, False]

    queue.put_nowait("second")
    assert await asyncio.gather(*getters) == ["first", "second"]


async def test_a_getter_cancelled_once_woken_passes_its_message_on():
    queue = InputQueue()
    cancelled, waiting = asyncio.ensure_future(queue.get()), asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)

    queue.put_nowait("message")
    cancelled.cancel()

    assert await waiting == "message"
    assert cancelled.cancelled()


def test_an_empty_input_queue_is_true_as_daphne_tests_it():
    # Daphne's HTTP request sends a disconnect only `if self.application_queue`.
    assert InputQueue()
