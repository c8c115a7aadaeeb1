"""The back-ends REDIS_URL chooses for the settings: Channels' layer and Django's cache,
shared through Redis by every process, or without it each process's own memory."""

from typing import Any

import redis.connection
from django.core.cache.backends import redis as django_redis
from redis.commands.core import Script

REDIS_LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


def channel_layers(
    redis_url: str, *, group_expiry: int = 86400, redis_layer: str = "pubsub"
) -> dict[str, dict[str, object]]:
    """CHANNEL_LAYERS for one process (in memory) or for many sharing Redis.

    redis_layer: which channels-redis layer carries the one delivery per process (see
    updates/live/delivery.py and docs/performance.md).
    group_expiry: seconds a process's group membership lasts on the core layer unless
    renewed (each heartbeat renews it).
    """
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    config: dict[str, object] = {
        # Redis's pub/sub channels are shared by all its databases: without the number in
        # the names, sites (or a test run and a benchmark) on databases of one Redis
        # would hear each other's changes.
        "prefix": f"asgi-db{redis.connection.parse_url(redis_url).get('db', 0)}",
        "hosts": [
            {
                "address": redis_url,
                # redis-py 8 defaults to a 5 s socket timeout, as long as the core
                # layer's blocking pop: an idle receive would then time out
                # (channels_redis issue 422). Give the pop room to return.
                "socket_timeout": 15,
                # A publish while Redis is down fails fast instead of hanging.
                "socket_connect_timeout": 2,
                # redis-py 8 caps a pool at 100; a burst of handshakes after
                # a restart needs more.
                "max_connections": 1000,
                "health_check_interval": 30,
                # No CLIENT SETINFO on connect. A publish from synchronous code (an
                # admin save, a benchmark) runs in a fresh event loop, so on a fresh
                # connection, every time; SETINFO made that two more round trips and
                # reads of redis-py's package metadata, a good part of the publish
                # (bench/fanout.py prints how long entry_publish() blocks;
                # tests/test_channel_layer_connections.py holds SETINFO off).
                "driver_info": None,
            }
        ],
    }
    if redis_layer == "core":
        # Each process receives on one channel (see updates/live/delivery.py), so its
        # queue holds a burst of changes to every event it serves.
        config |= {"capacity": 1000, "group_expiry": group_expiry}
    return {"default": {"BACKEND": REDIS_LAYERS[redis_layer], "CONFIG": config}}


def caches(redis_url: str) -> dict[str, dict[str, object]]:
    """CACHES: shared through Redis by every process when there is one, else per process."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "liveblog.backends.RedisCache",
            "LOCATION": redis_url,
            # A cache that cannot answer quickly is skipped, not waited for.
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }


class RedisCache(django_redis.RedisCache):
    """Django's Redis cache, with one redis.Redis client per connection pool instead of a
    new one for every call: redis-py 8 builds its table of reply callbacks in each
    client's constructor, which costs more CPU than the GET it is made for, and a "Load
    more" request makes two or three calls (bench/reads.py measures that request;
    docs/performance.md has the figures)."""

    # Django makes the client from self._class, set below.
    _cache: "_ReusedClientRedisCacheClient"

    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ReusedClientRedisCacheClient

    def count(self, key: str, timeout: int) -> int:
        """Adds one to the key's count, giving a new key the timeout: one command, where
        incr() is two round trips (EXISTS, then INCR) and a new key a third (add()).
        Every websocket handshake and API request is counted (updates/ratelimit.py)."""
        return self._cache.count(self.make_and_validate_key(key), timeout)


class _ReusedClientRedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # redis.Redis is thread-safe: each command takes a connection from the pool.
        self._clients: dict[int, redis.Redis] = {}
        self._count_script: Script | None = None

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client

    def count(self, key: str, timeout: int) -> int:
        client = self.get_client(key, write=True)
        if self._count_script is None:
            # Run by EVALSHA; redis-py loads it again if Redis has forgotten it (a restart).
            self._count_script = client.register_script(_COUNT_SCRIPT)
        return self._count_script(keys=[key], args=[timeout], client=client)


_COUNT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""
