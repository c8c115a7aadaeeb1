"""Rate limits per client address: the API answers 429, the websocket closes with 4029."""

import json
import logging
import time
import urllib.error
import urllib.request

import pytest
from channels.testing import WebsocketCommunicator
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from liveblog.asgi import application
from liveblog.backends import caches
from tests.servers import DaphneServer, free_port
from updates import ratelimit
from updates.ratelimit import client_address

EVENT_URL = "/api/events/harbourside/"
PROXY = "10.0.0.5"


def wait_for_a_fresh_window(at_least: float) -> None:
    """So that a test's requests all fall in one window, with `at_least` seconds of it left."""
    left = ratelimit.WINDOW_SECONDS - time.time() % ratelimit.WINDOW_SECONDS
    if left < at_least:
        time.sleep(left + 0.05)


# Whom a request counts against -------------------------------------------------------


@pytest.mark.parametrize(
    "peer, forwarded_for, counted",
    [
        ("198.51.100.7", None, "198.51.100.7"),
        # Anyone can write the header: from a peer that is not a trusted proxy it is ignored.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        # The proxy appends the address it saw; what the client wrote stays to the left.
        (PROXY, "1.2.3.4, 203.0.113.9", "203.0.113.9"),
        # Through two trusted proxies (a CDN in front of nginx).
        (PROXY, "1.2.3.4, 203.0.113.9, 10.9.9.9", "203.0.113.9"),
        # The proxy's own request (a health check): the proxy is the client.
        (PROXY, None, PROXY),
        # Junk passed on by a proxy: counted against the last hop that was an address.
        (PROXY, "203.0.113.9, not-an-address", PROXY),
        # One IPv6 subscriber has a /64 of addresses: one budget for all of them.
        ("2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:bbbb::9", None, "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", None, "198.51.100.7"),
        # No peer (a unix socket): one shared budget rather than none.
        (None, "203.0.113.9", "unknown"),
    ],
)
def test_a_request_counts_against_the_client_not_a_trusted_proxy(
    settings, peer, forwarded_for, counted
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_address(peer, forwarded_for) == counted


def test_without_trusted_proxies_the_header_is_never_read(settings):
    settings.TRUSTED_PROXIES = []
    assert client_address(PROXY, "203.0.113.9") == PROXY


# The API -------------------------------------------------------------------------------


def test_over_the_limit_the_api_answers_429_with_a_reason_and_retry_after(client, settings, event):
    settings.RATE_LIMIT_API_PER_MINUTE = 3
    wait_for_a_fresh_window(at_least=5)

    served = [client.get(EVENT_URL).status_code for _ in range(3)]
    refused = client.get(EVENT_URL)

    assert served == [200, 200, 200]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/json"
    assert "too many requests from 127.0.0.1" in refused.json()["error"]
    assert 1 <= int(refused["Retry-After"]) <= ratelimit.WINDOW_SECONDS
    # Other methods and other endpoints draw on the same budget.
    assert client.post(EVENT_URL).status_code == 429
    assert client.get(EVENT_URL + "changes/?since=0").status_code == 429


def test_the_api_serves_again_once_retry_after_has_passed(client, settings, event):
    settings.RATE_LIMIT_API_PER_MINUTE = 1
    wait_for_a_fresh_window(at_least=2)
    assert client.get(EVENT_URL).status_code == 200
    refused = client.get(EVENT_URL)
    assert refused.status_code == 429

    # At most a minute: what is left of this window.
    time.sleep(int(refused["Retry-After"]))

    assert client.get(EVENT_URL).status_code == 200


def test_each_client_address_has_its_own_budget(client, settings, event):
    settings.RATE_LIMIT_API_PER_MINUTE = 2
    wait_for_a_fresh_window(at_least=5)
    for _ in range(2):
        assert client.get(EVENT_URL, REMOTE_ADDR="198.51.100.1").status_code == 200
    assert client.get(EVENT_URL, REMOTE_ADDR="198.51.100.1").status_code == 429

    assert client.get(EVENT_URL, REMOTE_ADDR="198.51.100.2").status_code == 200


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(client, settings, event):
    settings.RATE_LIMIT_API_PER_MINUTE = 2
    settings.TRUSTED_PROXIES = [PROXY]
    wait_for_a_fresh_window(at_least=5)

    def through_the_proxy(forwarded_for: str) -> int:
        return client.get(
            EVENT_URL, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for
        ).status_code

    assert [through_the_proxy("203.0.113.1") for _ in range(3)] == [200, 200, 429]
    assert through_the_proxy("203.0.113.2") == 200
    # A client writing its own X-Forwarded-For is still counted as the address the proxy saw.
    assert through_the_proxy("192.0.2.99, 203.0.113.1") == 429


def test_a_spoofed_x_forwarded_for_from_an_untrusted_peer_is_ignored(client, settings, event):
    settings.RATE_LIMIT_API_PER_MINUTE = 2
    settings.TRUSTED_PROXIES = [PROXY]
    wait_for_a_fresh_window(at_least=5)
    statuses = [
        client.get(
            EVENT_URL, REMOTE_ADDR="198.51.100.1", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_a_limit_of_zero_is_no_limit(client, settings, event):
    settings.RATE_LIMIT_API_PER_MINUTE = 0
    assert {client.get(EVENT_URL).status_code for _ in range(20)} == {200}


# The websocket ---------------------------------------------------------------------------


def reader_from(address: str) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, "/ws/live/harbourside/", headers=[(b"origin", b"http://localhost")]
    )
    communicator.scope["client"] = [address, 50000]
    return communicator


@pytest.mark.django_db(transaction=True)
async def test_over_the_limit_the_socket_is_accepted_then_closed_with_4029(settings, event):
    settings.RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE = 2
    wait_for_a_fresh_window(at_least=5)
    readers = [reader_from("198.51.100.1") for _ in range(2)]
    for communicator in readers:
        assert await communicator.connect() == (True, None)
        assert (await communicator.receive_json_from())["type"] == "hello"

    refused = reader_from("198.51.100.1")
    assert await refused.connect() == (True, None)
    assert await refused.receive_output() == {"type": "websocket.close", "code": 4029}

    # Another address has a budget of its own.
    other = reader_from("198.51.100.2")
    await other.connect()
    assert (await other.receive_json_from())["type"] == "hello"
    for communicator in [*readers, other]:
        await communicator.disconnect()


# A cache that is down ----------------------------------------------------------------------


@pytest.fixture
def cache_down(settings) -> None:
    # Redis on a port where nothing listens: every cache call fails, quickly.
    settings.CACHES = caches(f"redis://127.0.0.1:{free_port()}/0")


def test_on_redis_a_count_starts_with_its_expiry_and_refuses_past_the_limit(redis_url, settings):
    import redis

    settings.CACHES = caches(redis_url)
    wait_for_a_fresh_window(at_least=2)
    with redis.Redis.from_url(redis_url) as server:
        server.flushdb()
        answers = [
            ratelimit.rate_limited("api", address="198.51.100.7", per_minute=2) for _ in range(3)
        ]
        (key,) = server.keys("*ratelimit*")
        assert int(server.get(key)) == 3
        assert 0 < server.ttl(key) <= ratelimit.KEY_SECONDS
    assert answers[:2] == [None, None]
    assert 0 < answers[2] <= ratelimit.WINDOW_SECONDS


def test_with_the_cache_down_the_api_serves_and_says_why_it_did_not_count(
    client, settings, event, cache_down, caplog
):
    settings.RATE_LIMIT_API_PER_MINUTE = 1
    with caplog.at_level(logging.WARNING, logger="updates.ratelimit"):
        statuses = [client.get(EVENT_URL).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert "cache unavailable" in caplog.text


@pytest.mark.django_db(transaction=True)
async def test_with_the_cache_down_readers_still_connect(settings, event, cache_down):
    settings.RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE = 1
    for _ in range(2):
        communicator = reader_from("198.51.100.1")
        assert await communicator.connect() == (True, None)
        assert (await communicator.receive_json_from())["type"] == "hello"
        await communicator.disconnect()


# Shared by every Daphne process, through Redis ---------------------------------------------

SHARED_LIMIT = 6


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    return {
        "RATE_LIMIT_API_PER_MINUTE": str(SHARED_LIMIT),
        "RATE_LIMIT_SOCKET_CONNECTS_PER_MINUTE": str(SHARED_LIMIT),
    }


def status_of(server: DaphneServer, path: str) -> int:
    # Straight to 127.0.0.1, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(server.url + path, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        if error.code == 429:
            assert json.loads(error.read())["error"]
            assert int(error.headers["Retry-After"]) >= 1
        return error.code


@pytest.mark.django_db(transaction=True)
def test_requests_split_between_two_processes_draw_on_one_budget(
    event, reader_server: DaphneServer, newsroom_server: DaphneServer
):
    wait_for_a_fresh_window(at_least=10)
    servers = [reader_server, newsroom_server]

    # Half the budget at each process: each alone would still be far from the limit.
    served = [status_of(servers[n % 2], EVENT_URL) for n in range(SHARED_LIMIT)]
    refused = [status_of(server, EVENT_URL) for server in servers]

    assert served == [200] * SHARED_LIMIT
    assert refused == [429, 429]


def socket_close_code(server: DaphneServer) -> int | None:
    """The close code a reader's socket ends with; None if it said hello and stayed open."""
    url = f"ws://127.0.0.1:{server.port}/ws/live/harbourside/"
    with connect(url, origin=server.url, proxy=None, open_timeout=5) as socket:
        try:
            message = json.loads(socket.recv(timeout=5))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None
        assert message["type"] == "hello"
        return None


@pytest.mark.django_db(transaction=True)
def test_socket_connects_split_between_two_processes_draw_on_one_budget(
    event, reader_server: DaphneServer, newsroom_server: DaphneServer
):
    wait_for_a_fresh_window(at_least=10)
    servers = [reader_server, newsroom_server]

    accepted = [socket_close_code(servers[n % 2]) for n in range(SHARED_LIMIT)]
    refused = [socket_close_code(server) for server in servers]

    assert accepted == [None] * SHARED_LIMIT
    # What a browser sees too: the handshake succeeded, then the close came with 4029.
    assert refused == [4029, 4029]
