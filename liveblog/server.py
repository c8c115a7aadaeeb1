"""Daphne with liveblog's limits: the one way to serve the app.

    python -m liveblog.server -b 127.0.0.1 -p 8000 liveblog.asgi:application

It is Daphne's own command line (every option still works and wins over these
defaults); what changes is the defaults, chosen for this app's traffic: readers hold
a websocket open for hours and only ever listen, journalists post small forms. Why
each value, and what a proxy in front must add: docs/reliability.md.
"""

import struct

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import tcp

LIMITS = {
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
    # Readers send nothing (the consumer closes 4003 on any message), but autobahn
    # buffers a whole message before the app sees it: a bigger one drops the
    # connection instead of holding up to Daphne's 1 MiB default per socket. (Only
    # what readers send: see ListenOnlyWebSocketProtocol.)
    "websocket_max_message_size": 1024,
    "websocket_max_frame_size": 1024,
    # A request the app has not answered in 30 s gets a 503 and its connection back.
    # Every view answers in milliseconds and a save waits at most 2 s on Redis
    # (updates/delivery.py), so only a stuck database comes near this.
    "http_timeout": 30,
    # What a disconnect has to do (leave the delivery, maybe a group on Redis) takes
    # well under a second; an app instance that takes longer than this is cancelled.
    "application_close_timeout": 10,
}

# Twisted closes an HTTP connection that has sent nothing for this long (its default
# is 60 s): an idle keep-alive connection, or a client trickling its request headers
# slower than a byte per 15 s. Twisted also caps request headers at 16 KiB and 500
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


class ListenOnlyWebSocketProtocol(WebSocketProtocol):
    """Daphne's websocket protocol, with the message size limit on incoming messages only,
    and a short path for the frames a fan-out sends.

    autobahn holds outgoing messages to maxMessagePayloadSize too, raising for a bigger
    one: an entry's frame is as big as its body (twice: the body and its card), so
    readers would silently miss every long entry.
    """

    # The options every connection copies from its factory. autobahn's _connectionMade
    # copies them too, and pretty-prints the lot for a debug line that txaio then drops:
    # 12% of Daphne's CPU while 3,000 readers reconnected at once (py-spy, bench/storm.py).
    # So they are copied here, and autobahn is given none to copy.
    OPTIONS_FROM_FACTORY = WebSocketProtocol.CONFIG_ATTRS
    CONFIG_ATTRS = ()

    def _connectionMade(self):
        for name in self.OPTIONS_FROM_FACTORY:
            # As autobahn does: an option set on the protocol itself stands.
            if not hasattr(self, name):
                setattr(self, name, getattr(self.factory, name))
        super()._connectionMade()

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
        # as usual (write() also pauses the producer, Twisted's HTTP channel, while the
        # buffer is full). Reads FileDescriptor's buffer (Twisted 26.10.0); TLS and other
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


class LiveblogServer(Server):
    """Daphne's server, with what Daphne's options do not reach: the accept queue, the
    HTTP idle timeout and the websocket protocol.

    Daphne builds its factories inside run(), just before the reactor starts; these
    properties are where the factories are set up before any connection.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.endpoints = [
            f"{endpoint}:backlog={LISTEN_BACKLOG}"
            if endpoint.startswith("tcp:") and ":backlog=" not in endpoint
            else endpoint
            for endpoint in self.endpoints
        ]

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


class CommandLine(CommandLineInterface):
    description = "liveblog's Daphne: Daphne's options, with liveblog's limits as defaults"
    server_class = LiveblogServer

    def __init__(self) -> None:
        super().__init__()
        self.parser.set_defaults(**LIMITS)


if __name__ == "__main__":
    CommandLine.entrypoint()
