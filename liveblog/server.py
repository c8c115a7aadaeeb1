"""Daphne with liveblog's limits: the one way to serve the app.

    python -m liveblog.server -b 127.0.0.1 -p 8000 liveblog.asgi:application

It is Daphne's own command line (every option still works and wins over these
defaults); what changes is the defaults, chosen for this app's traffic: readers hold
a websocket open for hours and only ever listen, journalists post small forms. Why
each value, and what a proxy in front must add: docs/reliability.md.
"""

from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol

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

# Twisted listens with an accept queue of 50: when thousands of readers come back after a
# restart the kernel drops the rest, and each dropped client waits 1, 3, 7 s to retry its
# SYN (bench/storm.py counted tens of thousands). The kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024


class ListenOnlyWebSocketProtocol(WebSocketProtocol):
    """Daphne's websocket protocol, with the message size limit on incoming messages only.

    autobahn holds outgoing messages to maxMessagePayloadSize too, raising for a bigger
    one: an entry's frame is as big as its body (twice: the body and its card), so
    readers would silently miss every long entry.
    """

    def sendMessage(self, payload, *args, **kwargs):
        limit, self.maxMessagePayloadSize = self.maxMessagePayloadSize, 0
        try:
            return super().sendMessage(payload, *args, **kwargs)
        finally:
            self.maxMessagePayloadSize = limit


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
