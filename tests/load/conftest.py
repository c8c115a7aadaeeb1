"""Load tests: real Daphne processes (tests/servers.py) under many raw websocket readers.

The readers run in a child process of their own (bench/storm.py's client, which keeps
each reader's page as static/live-feed.js does), so this process is free to publish
and to watch the server. Publishing goes through updates.services on the same Redis
as Daphne, as the admin's saves do.
"""

import multiprocessing
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest

from bench import storm
from liveblog.backends import channel_layers
from tests.servers import DaphneServer
from updates.models import Event


@pytest.fixture
def daphne_settings() -> dict[str, str]:
    # All the readers come from 127.0.0.1: see storm.UNREACHED_RATE_LIMITS.
    return storm.UNREACHED_RATE_LIMITS


@pytest.fixture(autouse=True)
def enough_file_descriptors() -> None:
    # Daphne inherits the limit: each reader is a socket on both sides.
    storm.fanout.raise_fd_limit()


@pytest.fixture
def publisher(settings, redis_url: str) -> None:
    """This process publishes through the Daphne processes' Redis, as the admin does."""
    settings.CHANNEL_LAYERS = channel_layers(redis_url)


@pytest.fixture
def readers_of() -> Iterator[Callable[[str, Event, int], storm.StormClient]]:
    """readers_of(server_url, event, n): n readers connected to the event (each has its
    hello), in a child process; they reconnect and catch up as the page does."""
    clients: list[storm.StormClient] = []
    context = multiprocessing.get_context("spawn")

    def connect(server_url: str, event: Event, count: int) -> storm.StormClient:
        address = urlsplit(server_url)
        client = storm.StormClient(
            context,
            f"ws://{address.netloc}/ws/live/{event.slug}/",
            (address.hostname, address.port, f"/api/events/{event.slug}/changes/"),
            count,
        )
        clients.append(client)
        client.wait_ready()
        return client

    yield connect
    for client in clients:
        client.stop()


def server_errors(*servers: DaphneServer) -> list[str]:
    """Lines of the servers' logs that show an error: a logged ERROR, a traceback, a 5xx."""
    return [line for server in servers for line in storm.logged_errors(server.log_path)]
