"""What liveblog/server.py's fast path copies or reads of Daphne, autobahn, Twisted and
txaio, with the hash of each one's source as recorded from the versions proven.

An upgrade that changes any of them may break the fast path without a test noticing:
tests/test_daphne_internals.py fails, and `python -m liveblog.server` logs a warning and
serves on Daphne's own path instead (docs/upgrading.md says what to re-check).

    python -m liveblog.server_internals    # each one's hash in the installed versions
"""

import hashlib
import importlib
import inspect
from importlib.metadata import version
from typing import NamedTuple

DISTRIBUTIONS = {"autobahn": "autobahn", "daphne": "daphne", "twisted": "Twisted", "txaio": "txaio"}


class Internal(NamedTuple):
    name: str  # module:qualified name
    reader: str  # what in liveblog/server.py copies or reads it: what to re-check
    recorded: dict[str, str]  # hash of its source: the versions it was recorded from

    @property
    def library(self) -> str:
        return self.name.split(".", 1)[0]


def _internal(name: str, reader: str, *recorded: tuple[str, str]) -> Internal:
    return Internal(name, reader, dict(recorded))


INTERNALS = (
    _internal(
        "autobahn.websocket.protocol:WebSocketProtocol.sendMessage",
        "ListenOnlyWebSocketProtocol.sendMessage: which messages take autobahn's path, the"
        " traffic counters, the size limit it lifts while sending",
        ("048d6bcf0d712309", "autobahn 26.6.1 to 26.11.1"),
    ),
    _internal(
        "autobahn.websocket.protocol:WebSocketProtocol.sendFrame",
        "ListenOnlyWebSocketProtocol.sendMessage: the frame header it writes",
        ("89cc8b024c413aa0", "autobahn 26.6.1 to 26.11.1"),
    ),
    _internal(
        "autobahn.websocket.protocol:WebSocketProtocol.sendData",
        "ListenOnlyWebSocketProtocol.sendMessage: the wire counter, and the debug logging"
        " that sends a message autobahn's way (DEBUG_LOG_LEVELS)",
        ("5dcca425b048b07e", "autobahn 26.6.1 to 26.11.1"),
    ),
    _internal(
        "autobahn.websocket.protocol:WebSocketProtocol._connectionMade",
        "ListenOnlyWebSocketProtocol: CONFIG_ATTRS emptied (options read from the factory,"
        " OPTIONS_COPIED copied) and the attributes sendMessage tests",
        ("7ac58d8bb6c3c752", "autobahn 26.6.1 to 26.11.1"),
    ),
    _internal(
        "autobahn.websocket.protocol:WebSocketServerProtocol._connectionMade",
        "ListenOnlyWebSocketProtocol._connectionMade",
        ("213dadb6d12d3d48", "autobahn 26.6.1 to 26.11.1"),
    ),
    _internal(
        "autobahn.websocket.protocol:WebSocketServerProtocol.processHandshake",
        "HANDSHAKE_ONLY: the attributes the handshake sets, dropped once open",
        ("0055f4d349937673", "autobahn 26.6.1 to 26.11.1"),
    ),
    _internal(
        "autobahn.websocket.protocol:WebSocketServerProtocol.succeedHandshake",
        "HANDSHAKE_ONLY, and ListenOnlyWebSocketProtocol.onOpen, which it calls",
        ("80b1786d1e5dd589", "autobahn 26.6.1, 26.6.2"),
        ("fb43d387929cf206", "autobahn 26.7.1 to 26.11.1"),
    ),
    _internal(
        "txaio.tx:Logger._set_log_level",
        "ListenOnlyWebSocketProtocol.sendMessage reads the logger's _log_level",
        ("674ffbcc3702cd37", "txaio 25.12.2, 26.6.1"),
    ),
    _internal(
        "daphne.server:Server.create_application",
        "FastPathServer.create_application, a copy with an InputQueue",
        ("f1e300b4ecf636c8", "daphne 4.2.3"),
    ),
    _internal(
        "daphne.server:Server.run",
        "FastPathServer's http_factory and ws_factory hooks: where run() builds the factories"
        " and which options it sets",
        ("447c6bd42c62e98c", "daphne 4.2.3"),
    ),
    _internal(
        "daphne.ws_protocol:WebSocketProtocol",
        "ListenOnlyWebSocketProtocol (its subclass): HANDSHAKE_ONLY, OpenedRequest (only"
        " request.path read once open), the InputQueue's put_nowait",
        ("5a4cfd647234cdbd", "daphne 4.2.3"),
    ),
    _internal(
        "daphne.http_protocol:WebRequest.process",
        "ListenOnlyWebSocketProtocol._forget_the_handshake: the upgrade leaves the HTTP"
        " channel as the socket's producer; InputQueue stands in for the queue it gets",
        ("e9babd1c97ce710b", "daphne 4.2.3"),
    ),
    _internal(
        "twisted.internet.abstract:FileDescriptor.write",
        "ListenOnlyWebSocketProtocol._write: what is buffered (dataBuffer, offset,"
        " _tempDataLen) and when nothing is",
        ("3e46c97fc173bc7e", "twisted 24.11.0 to 26.10.0"),
    ),
    _internal(
        "twisted.internet.abstract:FileDescriptor.writeSequence",
        "ListenOnlyWebSocketProtocol._write: _tempDataLen",
        ("1606f230d318191a", "twisted 24.11.0 to 26.10.0"),
    ),
    _internal(
        "twisted.internet.abstract:FileDescriptor.doWrite",
        "ListenOnlyWebSocketProtocol._write: dataBuffer, offset and _tempDataLen",
        ("a986d7b1b1054e43", "twisted 24.11.0 to 26.10.0"),
    ),
    _internal(
        "twisted.internet.tcp:Connection.writeSomeData",
        "ListenOnlyWebSocketProtocol._write: what it returns (bytes sent, or an error)",
        ("a1a0690f53b7f640", "twisted 24.11.0 to 26.4.0"),
        ("2dd0d4209260b94e", "twisted 26.10.0"),
    ),
    _internal(
        "twisted.web.http:HTTPFactory.buildProtocol",
        "FastPathServer.http_factory: the factory's timeOut given to each channel",
        ("e9dcf19658434a4a", "twisted 24.11.0, 25.5.0"),
        ("d08b3853c62705a5", "twisted 26.4.0, 26.10.0"),
    ),
    _internal(
        "twisted.web.http:HTTPChannel.pauseProducing",
        "ListenOnlyWebSocketProtocol._forget_the_handshake: a channel with an unfinished"
        " request does nothing when paused or resumed",
        ("8fe306cf284ba8e7", "twisted 24.11.0 to 26.10.0"),
    ),
    _internal(
        "twisted.web.http:HTTPChannel.resumeProducing",
        "ListenOnlyWebSocketProtocol._forget_the_handshake, as pauseProducing",
        ("561ac237d3468e84", "twisted 24.11.0 to 26.10.0"),
    ),
)


def source_hash(name: str) -> str:
    """The sha256 of the installed source of module:qualified.name (its first 16 digits)."""
    module_name, qualified_name = name.split(":")
    found = importlib.import_module(module_name)
    for part in qualified_name.split("."):
        found = getattr(found, part)
    return hashlib.sha256(inspect.getsource(found).encode()).hexdigest()[:16]


def installed_version(internal: Internal) -> str:
    return f"{internal.library} {version(DISTRIBUTIONS[internal.library])}"


def changed() -> list[Internal]:
    """The internals whose installed source is none of those recorded (or cannot be read)."""
    found = []
    for internal in INTERNALS:
        try:
            current = source_hash(internal.name)
        except (ImportError, AttributeError, OSError, TypeError):
            current = None
        if current not in internal.recorded:
            found.append(internal)
    return found


def report(internals: list[Internal]) -> str:
    """A line for each: what it is, in which installed version, and what to re-check."""
    return "\n".join(
        f"  {internal.name} ({installed_version(internal)}): re-check {internal.reader}"
        for internal in internals
    )


if __name__ == "__main__":
    for internal in INTERNALS:
        current = source_hash(internal.name)
        state = internal.recorded.get(current, "NOT RECORDED")
        print(f'("{current}", "{installed_version(internal)}"),  # {internal.name}: {state}')
