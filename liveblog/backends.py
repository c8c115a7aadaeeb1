"""The back-ends REDIS_URL chooses for the settings: Channels' layer and Django's cache,
shared through Redis by every process, or without it each process's own memory.

With Sentinel (REDIS_SENTINELS and REDIS_SENTINEL_MASTER), each of them asks the
Sentinels which server is the primary, on every new connection: after a failover, the
next connection goes to the promoted replica. REDIS_URL then gives the database number
and the credentials; its host and port are not used for them.
"""

from dataclasses import dataclass
from typing import Any

import redis.asyncio.sentinel
import redis.connection
import redis.sentinel
from django.core.cache.backends import redis as django_redis
from django.core.exceptions import ImproperlyConfigured
from redis.commands.core import Script

REDIS_LAYERS = {
    "core": "channels_redis.core.RedisChannelLayer",
    "pubsub": "channels_redis.pubsub.RedisPubSubChannelLayer",
}


# Sentinel is asked at every new connection; one that does not answer is skipped for the
# next one, quickly.
SENTINEL_SOCKET_OPTIONS = {"socket_timeout": 1, "socket_connect_timeout": 1}


@dataclass(frozen=True)
class RedisSentinel:
    """Where the Sentinels are, and the name they watch the primary under (their
    `sentinel monitor <master> ...`)."""

    addresses: tuple[tuple[str, int], ...]
    master: str


def redis_sentinel(sentinels: list[str], master: str, redis_url: str) -> RedisSentinel | None:
    """The Sentinel settings from REDIS_SENTINELS ("host:port,host:port") and
    REDIS_SENTINEL_MASTER, checked; None when neither is set."""
    if not sentinels and not master:
        return None
    if not sentinels or not master:
        raise ImproperlyConfigured(
            "REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together: set both, or neither"
        )
    if not redis_url.startswith("redis://"):
        # REDIS_URL still gives the database and the password; a unix socket or TLS
        # (rediss://) would need connection classes of Sentinel's own, not wired here.
        raise ImproperlyConfigured(
            "With REDIS_SENTINELS, REDIS_URL must be set, as redis://[:password@]host/db "
            "(its database and password are used; Sentinel names the host)"
        )
    return RedisSentinel(tuple(_address(each) for each in sentinels), master)


def _address(sentinel: str) -> tuple[str, int]:
    host, _, port = sentinel.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"REDIS_SENTINELS: {sentinel!r} is not host:port")
    return host.strip("[]"), int(port)  # [::1]:26379 names an IPv6 address


def _server_options(redis_url: str) -> dict[str, Any]:
    """What REDIS_URL says beside the host: the database, the user and password, and
    options given in its query string."""
    options = redis.connection.parse_url(redis_url)
    for address in ("host", "port"):
        options.pop(address, None)
    return options


def redis_client(redis_url: str, sentinel: RedisSentinel | None, **options: Any) -> redis.Redis:
    """A client of the primary: REDIS_URL's server, or the one the Sentinels name now
    (asked again whenever a connection is made). options: redis.Redis's. Closing the
    client closes its connections, to the Sentinels too."""
    if sentinel is None:
        return redis.Redis.from_url(redis_url, **options)
    return redis.Redis.from_pool(SentinelPool.from_url(redis_url, sentinel=sentinel, **options))


def async_redis_client(
    redis_url: str, sentinel: RedisSentinel | None, **options: Any
) -> redis.asyncio.Redis:
    """redis_client() for asyncio."""
    if sentinel is None:
        return redis.asyncio.Redis.from_url(redis_url, **options)
    return redis.asyncio.Redis.from_pool(
        redis.asyncio.sentinel.SentinelConnectionPool(
            sentinel.master,
            redis.asyncio.sentinel.Sentinel(
                sentinel.addresses, sentinel_kwargs=SENTINEL_SOCKET_OPTIONS
            ),
            connection_class=_AsyncSentinelConnection,
            **_server_options(redis_url) | options,
        )
    )


class _AsyncSentinelConnection(redis.asyncio.sentinel.SentinelManagedConnection):
    """A connection to the primary that, when it is closed, also closes the idle
    connections to the Sentinels its pool asked. channels-redis makes a pool, and a
    Sentinel client, for each event loop, and closes only the pool as the loop closes:
    each publish from synchronous code (an admin save, in an event loop of its own) would
    otherwise leave a connection to a Sentinel open until garbage collection. Closed more
    often than that costs one connect to a Sentinel the next time the primary is looked up."""

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().disconnect(*args, **kwargs)
        finally:
            for client in self.connection_pool.sentinel_manager.sentinels:
                # Idle ones only: another task may be asking that Sentinel right now.
                await client.connection_pool.disconnect(inuse_connections=False)


def channel_layers(
    redis_url: str,
    *,
    sentinel: RedisSentinel | None = None,
    group_expiry: int = 86400,
    redis_layer: str = "pubsub",
) -> dict[str, dict[str, object]]:
    """CHANNEL_LAYERS for one process (in memory) or for many sharing Redis.

    redis_layer: which channels-redis layer carries the one delivery per process (see
    updates/live/delivery.py and docs/performance.md).
    group_expiry: seconds a process's group membership lasts on the core layer unless
    renewed (each heartbeat renews it).
    """
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    # channels-redis makes a Sentinel-backed pool from a host with "master_name" and
    # "sentinels" (channels_redis/utils.py create_pool), the rest of it the connections'
    # options; tests/test_redis_sentinel.py holds it to that.
    server: dict[str, object] = (
        {"address": redis_url}
        if sentinel is None
        else {
            "master_name": sentinel.master,
            "sentinels": list(sentinel.addresses),
            "sentinel_kwargs": SENTINEL_SOCKET_OPTIONS,
            "connection_class": _AsyncSentinelConnection,
        }
        | _server_options(redis_url)
    )
    config: dict[str, object] = {
        # Redis's pub/sub channels are shared by all its databases: without the number in
        # the names, sites (or a test run and a benchmark) on databases of one Redis
        # would hear each other's changes.
        "prefix": f"asgi-db{redis.connection.parse_url(redis_url).get('db', 0)}",
        "hosts": [
            server
            | {
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


def caches(
    redis_url: str, *, sentinel: RedisSentinel | None = None
) -> dict[str, dict[str, object]]:
    """CACHES: shared through Redis by every process when there is one, else per process."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # A cache that cannot answer quickly is skipped, not waited for.
    options: dict[str, object] = {"socket_timeout": 1, "socket_connect_timeout": 1}
    if sentinel is not None:
        # Django's documented pool_class option: it makes the pool as
        # pool_class.from_url(LOCATION, **the other OPTIONS).
        options |= {
            "pool_class": "liveblog.backends.SentinelPool",
            "sentinel": sentinel,
        }
    return {
        "default": {
            "BACKEND": "liveblog.backends.RedisCache",
            "LOCATION": redis_url,
            "OPTIONS": options,
        }
    }


class SentinelPool(redis.sentinel.SentinelConnectionPool):
    """Connections to the primary the Sentinels name, REDIS_URL giving the database and
    the password: the cache's pool (Django makes it with from_url) and redis_client()'s."""

    @classmethod
    def from_url(  # type: ignore[override]  # the Sentinels come as an option
        cls, url: str, *, sentinel: RedisSentinel, **options: Any
    ) -> "SentinelPool":
        return cls(
            sentinel.master,
            redis.sentinel.Sentinel(sentinel.addresses, sentinel_kwargs=SENTINEL_SOCKET_OPTIONS),
            **_server_options(url) | options,
        )

    def disconnect(self, inuse_connections: bool = True) -> None:
        super().disconnect(inuse_connections)
        # The Sentinels' idle connections too, or they stay open until garbage collection
        # (another thread may be asking a Sentinel right now: idle ones only).
        for client in self.sentinel_manager.sentinels:
            client.connection_pool.disconnect(inuse_connections=False)


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
