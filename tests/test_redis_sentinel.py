"""Redis through Sentinel (REDIS_SENTINELS, REDIS_SENTINEL_MASTER): the channel layer,
the cache (and so the rate limits) and /readyz reach the primary the Sentinels name,
whatever host REDIS_URL says; bad values stop the start.

Against a real primary and a real Sentinel of the test's own; the failover itself, under
readers, is tests/faults/test_redis_failover.py.
"""

from collections.abc import Iterator

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import caches as django_caches
from django.core.exceptions import ImproperlyConfigured

from liveblog.backends import (
    RedisSentinel,
    async_redis_client,
    caches,
    channel_layers,
    redis_client,
    redis_sentinel,
)
from tests.faults.conftest import SENTINEL_MASTER, RedisWithSentinels
from tests.servers import free_port
from tests.test_configuration import start_refused

DB = 3


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisWithSentinels]:
    """A primary and one Sentinel watching it (no replica: nothing to fail over to)."""
    servers = RedisWithSentinels(
        tmp_path_factory.mktemp("sentinel"), replicas=0, sentinels=1, quorum=1
    )
    yield servers
    servers.stop()


@pytest.fixture
def sentinel(watched: RedisWithSentinels) -> RedisSentinel:
    with watched.primary.client() as primary:
        primary.flushall()
    return RedisSentinel(((("127.0.0.1", watched.sentinels[0].port),)), SENTINEL_MASTER)


@pytest.fixture
def nowhere_url() -> str:
    """A REDIS_URL whose host nothing listens on, with the database to use: reaching the
    primary proves the Sentinel was asked."""
    return f"redis://127.0.0.1:{free_port()}/{DB}"


def test_the_cache_and_its_counts_reach_the_primary_the_sentinel_names(
    settings, watched, sentinel, nowhere_url
):
    settings.CACHES = caches(nowhere_url, sentinel=sentinel)
    cache = django_caches["default"]
    cache.set("headline", "Polls close", 60)
    assert cache.get("headline") == "Polls close"
    # The rate limits' one-command count (liveblog.backends.RedisCache.count).
    assert [cache.count("connects", 60), cache.count("connects", 60)] == [1, 2]
    with watched.primary.client() as primary:
        primary.select(DB)
        assert sorted(key.decode() for key in primary.scan_iter()) == [":1:connects", ":1:headline"]
        assert 0 < primary.ttl(":1:connects") <= 60


async def test_the_channel_layer_reaches_the_primary_the_sentinel_names(
    settings, watched, sentinel, nowhere_url
):
    settings.CHANNEL_LAYERS = channel_layers(nowhere_url, sentinel=sentinel)
    layer = get_channel_layer()
    try:
        channel = await layer.new_channel()
        await layer.group_add("event-1", channel)
        await layer.group_send("event-1", {"type": "entry.created", "revision": 7})
        assert await layer.receive(channel) == {"type": "entry.created", "revision": 7}
        with watched.primary.client() as primary:
            subscribed = dict(primary.pubsub_numsub(f"asgi-db{DB}__group__event-1"))
        assert subscribed == {f"asgi-db{DB}__group__event-1".encode(): 1}
    finally:
        await layer.flush()


def test_publishing_from_synchronous_code_leaves_no_connection_to_the_sentinel_open(
    settings, watched, sentinel, nowhere_url
):
    # Each publish from synchronous code (an admin save) runs in an event loop of its own,
    # for which channels-redis makes a pool and a Sentinel client (liveblog/backends.py,
    # _AsyncSentinelConnection).
    settings.CHANNEL_LAYERS = channel_layers(nowhere_url, sentinel=sentinel)
    layer = get_channel_layer()
    for revision in range(20):
        async_to_sync(layer.group_send)("event-1", {"type": "entry.created", "revision": revision})
    with watched.sentinels[0].client() as client:
        assert len(client.client_list()) == 1  # this one


async def test_an_asyncio_client_reaches_the_primary_the_sentinel_names(
    watched, sentinel, nowhere_url
):
    client = async_redis_client(nowhere_url, sentinel, socket_timeout=2)
    try:
        await client.set("lease", "daphne-1")
    finally:
        await client.aclose()
    with watched.primary.client() as primary:
        primary.select(DB)
        assert primary.get("lease") == b"daphne-1"
    with watched.sentinels[0].client() as client:
        assert len(client.client_list()) == 1


def test_readyz_pings_the_primary_the_sentinel_names(client, db, settings, sentinel, nowhere_url):
    settings.REDIS_URL, settings.REDIS_SENTINEL = nowhere_url, sentinel
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["redis"]["ok"] is True


def test_readyz_is_503_when_no_sentinel_answers(client, db, settings, nowhere_url):
    silent = RedisSentinel((("127.0.0.1", free_port()),), SENTINEL_MASTER)
    settings.REDIS_URL, settings.REDIS_SENTINEL = nowhere_url, silent
    response = client.get("/readyz")
    assert response.status_code == 503
    # redis-py 8 gives up on the refused Sentinel at once; the lowest release allowed,
    # 7.4, takes longer than the probe's 2 s, which answers for it.
    redis_check = response.json()["checks"]["redis"]
    assert redis_check["ok"] is False
    assert redis_check["error"] in ("MasterNotFoundError", "no answer within 2 s")


def test_a_client_takes_the_database_and_password_from_redis_url(watched, sentinel):
    url = f"redis://:s3cret@127.0.0.1:{free_port()}/{DB}"
    with watched.primary.client() as primary:
        primary.config_set("requirepass", "s3cret")
    try:
        with redis_client(url, sentinel, socket_timeout=2) as client:
            client.set("seen", "yes")
            assert client.connection_pool.connection_kwargs["db"] == DB
        wrong = redis_client(url.replace("s3cret", "wrong"), sentinel, socket_timeout=2)
        with wrong, pytest.raises(redis.AuthenticationError):
            wrong.ping()
    finally:
        with redis_client(url, sentinel, socket_timeout=2) as client:
            client.config_set("requirepass", "")
    with watched.primary.client() as primary:
        primary.select(DB)
        assert primary.get("seen") == b"yes"


def test_without_sentinel_settings_redis_url_alone_is_used():
    assert redis_sentinel([], "", "redis://127.0.0.1:6379/0") is None
    assert redis_sentinel([], "", "") is None


def test_sentinel_addresses_are_read_as_host_and_port():
    assert redis_sentinel(
        ["10.0.0.1:26379", "sentinel-2.internal:26380", "[::1]:26381"], "liveblog", "redis://x/2"
    ) == RedisSentinel(
        (("10.0.0.1", 26379), ("sentinel-2.internal", 26380), ("::1", 26381)), "liveblog"
    )


@pytest.mark.parametrize(
    ("sentinels", "master", "redis_url", "said"),
    [
        (["10.0.0.1:26379"], "", "redis://x/0", "go together"),
        ([], "liveblog", "redis://x/0", "go together"),
        (["10.0.0.1"], "liveblog", "redis://x/0", "'10.0.0.1' is not host:port"),
        (["10.0.0.1:http"], "liveblog", "redis://x/0", "is not host:port"),
        (["10.0.0.1:70000"], "liveblog", "redis://x/0", "is not host:port"),
        (["10.0.0.1:26379"], "liveblog", "", "REDIS_URL must be set"),
        (["10.0.0.1:26379"], "liveblog", "rediss://x/0", "REDIS_URL must be set"),
    ],
)
def test_sentinel_settings_that_cannot_work_are_refused(sentinels, master, redis_url, said):
    with pytest.raises(ImproperlyConfigured, match=said):
        redis_sentinel(sentinels, master, redis_url)


def test_a_bad_sentinel_address_stops_the_start():
    refused = start_refused(
        REDIS_URL="redis://127.0.0.1:6379/0",
        REDIS_SENTINELS="127.0.0.1:26379,127.0.0.1",
        REDIS_SENTINEL_MASTER="liveblog",
    )
    assert "REDIS_SENTINELS: '127.0.0.1' is not host:port" in refused
