"""The canary: the code of Daphne, autobahn, Twisted and txaio that liveblog/server.py's
fast path copies or reads is the code it was proven against (liveblog/server_internals.py
records each one's hash, per version). An upgrade that changes any of it fails here, with
what to re-check (docs/upgrading.md); the server itself then serves on Daphne's own path.
"""

import logging

import pytest

from liveblog import server_internals
from liveblog.server import (
    LIMITS,
    FastPathServer,
    LiveblogServer,
    liveblog_server,
)
from liveblog.server_internals import INTERNALS, installed_version, source_hash

# Daphne's own default limit on a websocket message, both ways on its own path.
DAPHNES_MESSAGE_LIMIT = 1024 * 1024


@pytest.mark.parametrize("internal", INTERNALS, ids=[internal.name for internal in INTERNALS])
def test_the_installed_code_the_fast_path_relies_on_is_code_it_was_proven_against(internal):
    current = source_hash(internal.name)

    assert current in internal.recorded, (
        f"{internal.name} in {installed_version(internal)} is not the code the fast path was"
        f" proven against (its hash {current} is none of those recorded, from"
        f" {'; '.join(internal.recorded.values())}). Re-check {internal.reader}; run"
        " tests/test_server_protocol.py; then record the hash in"
        " liveblog/server_internals.py, as docs/upgrading.md says."
    )


def test_the_server_takes_the_fast_path_on_the_code_it_was_proven_against():
    server = liveblog_server(application=None, endpoints=["tcp:port=0"])

    assert type(server) is FastPathServer
    assert server.websocket_max_message_size == LIMITS["websocket_max_message_size"]


def test_the_server_warns_and_serves_on_daphnes_own_path_once_that_code_changed(
    monkeypatch, caplog
):
    send_message, *others = INTERNALS
    upgraded = send_message._replace(recorded={"0123456789abcdef": "autobahn 26.5.1"})
    monkeypatch.setattr(server_internals, "INTERNALS", (upgraded, *others))

    with caplog.at_level(logging.WARNING, logger="liveblog.server"):
        server = liveblog_server(application=None, endpoints=["tcp:port=0"])

    assert type(server) is LiveblogServer
    # autobahn's own sendMessage holds outgoing messages to this limit too.
    assert server.websocket_max_message_size == DAPHNES_MESSAGE_LIMIT
    assert "The fast path is off" in caplog.text
    assert f"{send_message.name} ({installed_version(send_message)})" in caplog.text
    assert others[0].name not in caplog.text


def test_the_fast_path_turned_off_leaves_daphnes_own_path_and_its_message_limit():
    server = liveblog_server(fast_path=False, application=None, endpoints=["tcp:port=0"])

    assert type(server) is LiveblogServer
    assert server.websocket_max_message_size == DAPHNES_MESSAGE_LIMIT


def test_a_message_limit_given_on_the_command_line_stands_on_either_path():
    for fast_path in (True, False):
        server = liveblog_server(
            fast_path=fast_path,
            application=None,
            endpoints=["tcp:port=0"],
            websocket_max_message_size=4096,
        )
        assert server.websocket_max_message_size == 4096
