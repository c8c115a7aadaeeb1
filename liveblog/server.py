"""Daphne with liveblog's limits, the ASGI lifespan and a fast path: how the app is served.

    python -m liveblog.server -b 127.0.0.1 -p 8000 liveblog.asgi:application

It is Daphne's own command line (every option still works and wins over these
defaults); what changes is the defaults, chosen for this app's traffic: readers hold
a websocket open for hours and only ever listen, journalists post small forms. Why
each value, and what a proxy in front must add: docs/reliability.md.

The fast path (FastPathServer) reaches into Daphne, autobahn and Twisted for less CPU and
memory per reader. `--no-fast-path` turns it off, and it turns itself off, with a warning,
when their code it copies or reads has changed since it was proven
(liveblog/server_internals.py): the app is correct without it, as under stock `daphne`
(docs/upgrading.md).
"""

import asyncio
import logging
import struct
from functools import partial
from typing import NamedTuple

from autobahn.websocket.types import ConnectionRequest
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import defer, reactor, tcp
from twisted.web.http import HTTPChannel

from liveblog import server_internals
from liveblog.lifespan import Lifespan

logger = logging.getLogger(__name__)

# Daphne's own options, which stock Daphne takes as well.
STOCK_LIMITS = {
    # Readers never send, so Daphne pings each of them this often (its pings are sent
    # after this long without a message from the peer). With ping_timeout, this bounds
    # how long a vanished reader (a phone that lost its network, a frozen tab's host)
    # keeps its socket, its subscription and the frames queued for it.
    "ping_interval": 20,
    # A live browser answers a ping in milliseconds, and still does when its tab is in
    # the background (pings are answered below JavaScript). One that has not answered
    # in 10 s is gone, or so far behind that every frame queued for it is stale: it is
    # dropped (its queued frames freed) and catches up by revision when it comes back.
    "ping_timeout": 10,
    # The handshake is one query and an accept; a client that has not finished it in
    # 5 s is refused (Daphne also uses this as autobahn's opening-handshake timeout).
    "websocket_connect_timeout": 5,
    # Every socket is closed after a day: what a forgotten connection holds is bounded,
    # and the page reconnects (with backoff) and catches up, as after any drop.
    "websocket_timeout": 24 * 60 * 60,
    # A request the app has not answered in 30 s gets a 503 and its connection back.
    # Every view answers in milliseconds and a save waits at most 2 s on Redis
    # (updates/live/delivery.py), so only a stuck database comes near this.
    "http_timeout": 30,
    # What a disconnect has to do (leave the delivery, maybe a group on Redis) takes
    # well under a second; an app instance that takes longer than this is cancelled.
    "application_close_timeout": 10,
}

# With the fast path only: autobahn's own sendMessage holds outgoing messages to the
# same limit, so on Daphne's own path (1 MiB there) readers would miss every long entry.
READER_MESSAGE_LIMITS = {
    # Readers send nothing (the consumer closes 4003 on any message), but autobahn
    # buffers a whole message before the app sees it: a bigger one drops the
    # connection instead of holding up to Daphne's 1 MiB default per socket. (Only
    # what readers send: see ListenOnlyWebSocketProtocol.)
    "websocket_max_message_size": 1024,
    "websocket_max_frame_size": 1024,
}

# What `python -m liveblog.server` runs with.
LIMITS = STOCK_LIMITS | READER_MESSAGE_LIMITS

# On the fast path, Twisted closes an HTTP connection that has sent nothing for this long
# (its default is 60 s): an idle keep-alive connection, or a client trickling its request
# headers slower than a byte per 15 s. Twisted also caps request headers at 16 KiB and 500
# lines. A header deadline (nginx's client_header_timeout) is the proxy's job.
HTTP_IDLE_TIMEOUT_SECONDS = 15

# A websocket frame's first byte: FIN and the opcode (text 1, binary 2); then the length,
# in the second byte up to 125, else in the next 2 or 8 bytes (RFC 6455, 5.2).
FIN_TEXT, FIN_BINARY = 0x81, 0x82
HEADER_16 = struct.Struct("!BBH")
HEADER_64 = struct.Struct("!BBQ")
# txaio's levels at which autobahn's sendData logs each write.
DEBUG_LOG_LEVELS = ("debug", "trace")

# Twisted listens with an accept queue of 50: when thousands of readers come back after a
# restart the kernel drops the rest, and each dropped client waits 1, 3, 7 s to retry its
# SYN (bench/storm.py counted tens of thousands). The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024

# How long the application has to stop its jobs once told the process stops (SIGTERM):
# well within systemd's TimeoutStopSec (deploy/liveblog-daphne@.service).
LIFESPAN_SHUTDOWN_SECONDS = 5


# What autobahn (its server's processHandshake) and Daphne (onConnect) keep of the handshake
# on the protocol, and read nowhere else.
HANDSHAKE_ONLY = (
    "http_request_data",
    "http_response_data",
    "http_status_line",
    "http_headers",
    "http_request_uri",
    "http_request_path",
    "http_request_params",
    "http_request_host",
    "websocket_origin",
    "websocket_protocols",
    "websocket_extensions",
    "_wskey",
    "application_deferred",
    "protocol_to_accept",
)


class FactoryOption:
    """A connection's option, read from its factory: autobahn copies every option onto
    every connection. As there, an option set on the connection itself stands (this is a
    non-data descriptor)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, protocol, owner=None):
        if protocol is None:
            return self
        return getattr(protocol.factory, self.name)


class OpenedRequest(NamedTuple):
    """What Daphne reads of autobahn's ConnectionRequest (headers, parameters, origin...)
    once the socket is open: the path, for its access log."""

    path: str


class ListenOnlyWebSocketProtocol(WebSocketProtocol):
    """Daphne's websocket protocol, with the message size limit on incoming messages only,
    a short path for the frames a fan-out sends, and nothing kept of the handshake.

    autobahn holds outgoing messages to maxMessagePayloadSize too, raising for a bigger
    one: an entry's frame is as big as its body (twice: the body and its card), so
    readers would silently miss every long entry.
    """

    # autobahn's _connectionMade copies its factory's 29 options onto every connection,
    # and pretty-prints the lot for a debug line that txaio then drops: a large share of
    # Daphne's CPU in a reconnect storm (py-spy on bench/storm.py). The copies also take
    # each connection's instance dict past the size at which CPython doubles its table.
    # So autobahn is given none to copy; the options sendMessage checks on every frame
    # are copied here (read through FactoryOption, they would slow every send of a
    # fan-out: bench/fanout.py), and the rest are read from the factory.
    # autobahn's handshake request, then only what Daphne reads of it once open.
    request: "ConnectionRequest | OpenedRequest"

    OPTIONS_FROM_FACTORY = WebSocketProtocol.CONFIG_ATTRS
    OPTIONS_COPIED = ("autoFragmentSize", "maskServerFrames", "logFrames", "logOctets")
    CONFIG_ATTRS = ()

    def _connectionMade(self):
        for name in self.OPTIONS_COPIED:
            # As autobahn does: an option set on the protocol itself stands.
            if name not in vars(self):
                setattr(self, name, getattr(self.factory, name))
        super()._connectionMade()

    def onOpen(self):
        super().onOpen()
        self._forget_the_handshake()

    def _forget_the_handshake(self) -> None:
        # A reader's socket stays open for hours, and so would what only its handshake
        # needed: a share of each reader's memory (bench/fanout.py's RSS per idle reader;
        # docs/performance.md, "Memory per idle reader").
        transport = self.transport
        channel = getattr(transport, "producer", None)
        if isinstance(channel, HTTPChannel):
            # Daphne's HTTP channel of the upgrade stays the socket's producer, with its
            # request and headers. It serves nothing any more: pausing or resuming it does
            # nothing while its request is unfinished, as an upgraded one stays. Channel and
            # request hold each other, and outlive a young collection (Daphne lists the
            # request for up to a second): emptied, they are freed at once, not at the next
            # full collection.
            transport.unregisterProducer()
            channel.requests.clear()
        for name in HANDSHAKE_ONLY:
            self.__dict__.pop(name, None)
        self.request = OpenedRequest(self.request.path)

    def sendMessage(
        self, payload, isBinary=False, fragmentSize=None, sync=False, doNotCompress=False
    ):
        # Every frame of a fan-out comes here once per reader. autobahn's sendMessage,
        # sendFrame and sendData (mirrored from autobahn 26.10.2) serve every case
        # (fragments, masks, compression, queued and chopped writes, fuzzing) and build
        # the arguments of a debug log call on every write (coloured through click when
        # it is installed), which txaio then drops: most of their cost for what Daphne
        # sends, an unmasked, uncompressed, unfragmented message. That message is framed
        # here, with autobahn's bytes and traffic counters; anything else, and everything
        # while txaio logs at debug level, takes autobahn's own path.
        # tests/test_server_protocol.py holds the two to the same bytes.
        if self.state in (self.STATE_CLOSING, self.STATE_CLOSED):
            # The reader is leaving, its close under way: Daphne drops what the application
            # sends once the close is done, and so this does a moment earlier. autobahn
            # would raise Disconnected into the application instead: a traceback in the log
            # for every reader who gave up during its handshake in a reconnect storm.
            return
        if (
            self.state != self.STATE_OPEN
            or type(payload) is not bytes
            or fragmentSize is not None
            or sync
            or self.autoFragmentSize
            or self._perMessageCompress is not None
            or self.maskServerFrames
            or self.send_queue
            or self.trackedTimings
            or self.logFrames
            or self.logOctets
            or self.log._log_level in DEBUG_LOG_LEVELS
        ):
            limit, self.maxMessagePayloadSize = self.maxMessagePayloadSize, 0
            try:
                return super().sendMessage(payload, isBinary, fragmentSize, sync, doNotCompress)
            finally:
                self.maxMessagePayloadSize = limit
        length = len(payload)
        first = FIN_BINARY if isBinary else FIN_TEXT
        if length <= 125:
            header = bytes((first, length))
        elif length <= 0xFFFF:
            header = HEADER_16.pack(first, 126, length)
        else:
            header = HEADER_64.pack(first, 127, length)
        stats = self.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingOctetsAppLevel += length
        stats.outgoingOctetsWebSocketLevel += length
        stats.outgoingWebSocketFrames += 1
        stats.outgoingOctetsWireLevel += len(header) + length
        self._write(header + payload)

    def _write(self, data: bytes) -> None:
        # Twisted's write() only buffers, and has the reactor watch the socket for
        # writing: two epoll_ctl calls and a turn of the loop per frame per reader, more
        # than the send itself. When nothing is buffered, send now, as asyncio's own
        # transports do; whatever the socket does not take, and any error, goes to
        # Twisted's write(), so that it is sent in order or the loss is handled by Twisted
        # as usual. Reads FileDescriptor's buffer (Twisted 26.10.0); TLS and other
        # transports just write().
        transport = self.transport
        if (
            isinstance(transport, tcp.Connection)
            and transport.connected
            and not transport.disconnecting
            and not transport._tempDataLen
            and transport.offset == len(transport.dataBuffer)
        ):
            sent = transport.writeSomeData(data)
            if type(sent) is int:
                if sent == len(data):
                    return
                data = data[sent:]
        transport.write(data)


def options_read_from_factory(protocol_class: type[ListenOnlyWebSocketProtocol]) -> None:
    """Has the protocol class read from the factory each option it does not copy."""
    for name in protocol_class.OPTIONS_FROM_FACTORY:
        if name not in protocol_class.OPTIONS_COPIED:
            setattr(protocol_class, name, FactoryOption(name))


options_read_from_factory(ListenOnlyWebSocketProtocol)


class InputQueue:
    """What Daphne's asyncio.Queue does as an application instance's input (connect,
    receive, disconnect): first in, first out, unbounded, for any number of getters.

    asyncio.Queue holds three deques and an asyncio.Event's deque, each with a block of 64
    slots, per connection, for the two messages a reader's socket ever gets. Daphne
    calls put_nowait and tests its truth; the application awaits get.
    """

    __slots__ = ("_messages", "_getters")

    def __init__(self) -> None:
        self._messages: list[dict] = []
        self._getters: list[asyncio.Future] = []

    def put_nowait(self, message: dict) -> None:
        self._messages.append(message)
        self._wake_a_getter()

    async def get(self) -> dict:
        while not self._messages:
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                # As asyncio.Queue.get: a getter cancelled after it was woken passes the
                # message on to the next one.
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if self._messages and not getter.cancelled():
                    self._wake_a_getter()
                raise
        return self._messages.pop(0)

    def _wake_a_getter(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class LiveblogServer(Server):
    """Daphne's server and protocols, with the ASGI lifespan and a bigger accept queue.

    The accept queue is an option of Twisted's endpoint string (which stock Daphne takes as
    `-e tcp:8000:backlog=1024`); the lifespan uses only the reactor and ASGI.
    """

    # Daphne's own limits on what clients send, unless given.
    reader_message_limits: dict[str, int] = {}

    def __init__(self, *args, **options) -> None:
        given = {}
        for name in READER_MESSAGE_LIMITS:
            value = options.pop(name, None)
            if value is not None:
                given[name] = value
        super().__init__(*args, **options | self.reader_message_limits | given)
        self.endpoints: list[str] = [
            f"{endpoint}:backlog={LISTEN_BACKLOG}"
            if endpoint.startswith("tcp:") and ":backlog=" not in endpoint
            else endpoint
            for endpoint in self.endpoints
        ]

    def run(self) -> None:
        self.lifespan = Lifespan(self.application)
        # Once the reactor runs its asyncio loop, where the application lives. Daphne
        # listens before that: the first connections may come before startup completes.
        # (Twisted types the reactor through zope interfaces, whose methods mypy reads with
        # `self` as their first argument.)
        reactor.callLater(0, self._lifespan_startup)  # type: ignore[arg-type]
        reactor.addSystemEventTrigger("before", "shutdown", self._lifespan_shutdown)  # type: ignore[arg-type]
        super().run()

    def _lifespan_startup(self) -> None:
        started = defer.Deferred.fromFuture(asyncio.ensure_future(self.lifespan.startup()))
        started.addErrback(self._lifespan_startup_failed)

    def _lifespan_startup_failed(self, failure) -> None:
        logger.critical("The application failed to start: %s", failure.getErrorMessage())
        # Daphne's command line exits 1 for this.
        self.abort_start = True
        self.stop()

    def _lifespan_shutdown(self) -> defer.Deferred:
        # Twisted waits for the Deferred before it stops the reactor.
        return defer.Deferred.fromFuture(
            asyncio.ensure_future(self.lifespan.shutdown(LIFESPAN_SHUTDOWN_SECONDS))
        )


class FastPathServer(LiveblogServer):
    """LiveblogServer, with what Daphne's options do not reach: the HTTP idle timeout, the
    websocket protocol (ListenOnlyWebSocketProtocol), and a lighter input queue.

    Daphne builds its factories inside run(), just before the reactor starts; these
    properties are where the factories are set up before any connection.
    """

    reader_message_limits = READER_MESSAGE_LIMITS

    def create_application(self, protocol, scope):
        # Daphne's create_application (mirrored from Daphne 4.2.3), with an InputQueue for
        # Daphne's asyncio.Queue.
        assert "application_instance" not in self.connections[protocol]
        input_queue = InputQueue()
        scope.setdefault("asgi", {"version": "3.0"})
        application_instance = self.application(
            scope=scope,
            receive=input_queue.get,
            send=partial(self.handle_reply, protocol),
        )
        if protocol not in self.connections:
            return None
        self.connections[protocol]["application_instance"] = asyncio.ensure_future(
            application_instance, loop=asyncio.get_event_loop()
        )
        return input_queue

    @property
    def http_factory(self):
        return self._http_factory

    @http_factory.setter
    def http_factory(self, factory) -> None:
        factory.timeOut = HTTP_IDLE_TIMEOUT_SECONDS
        self._http_factory = factory

    @property
    def ws_factory(self):
        return self._ws_factory

    @ws_factory.setter
    def ws_factory(self, factory) -> None:
        factory.protocol = ListenOnlyWebSocketProtocol
        self._ws_factory = factory


def liveblog_server(*, fast_path: bool = True, **options) -> LiveblogServer:
    """The server, on the fast path unless it is turned off or the library code it copies
    or reads is not the code it was proven against."""
    if fast_path and (changed := server_internals.changed()):
        logger.warning(
            "The fast path is off: Daphne, autobahn, Twisted or txaio changed where"
            " liveblog/server.py copies or reads them, so it serves as stock Daphne does"
            " (docs/upgrading.md). Changed:\n%s",
            server_internals.report(changed),
        )
        fast_path = False
    return (FastPathServer if fast_path else LiveblogServer)(**options)


class CommandLine(CommandLineInterface):
    description = "liveblog's Daphne: Daphne's options, with liveblog's limits as defaults"

    def __init__(self) -> None:
        super().__init__()
        # The limits on what readers send depend on the path (READER_MESSAGE_LIMITS).
        self.parser.set_defaults(**STOCK_LIMITS, **dict.fromkeys(READER_MESSAGE_LIMITS))
        self.parser.add_argument(
            "--no-fast-path",
            dest="fast_path",
            action="store_false",
            help="Serve on Daphne's own protocol and server, as stock Daphne (with"
            " the lifespan and the accept queue): docs/upgrading.md",
        )

    def run(self, args) -> None:
        fast_path = self.parser.parse_args(args).fast_path
        self.server_class = partial(liveblog_server, fast_path=fast_path)
        super().run(args)


if __name__ == "__main__":
    CommandLine.entrypoint()
