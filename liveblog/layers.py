def channel_layers(redis_url: str, *, group_expiry: int = 86400) -> dict:
    """CHANNEL_LAYERS for one process (in memory) or for many sharing Redis.

    group_expiry: seconds a process's group membership lasts on Redis unless renewed
    (each heartbeat renews it, see updates/delivery.py).
    """
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": redis_url,
                        # redis-py 8 defaults to a 5 s socket timeout, as long as the
                        # layer's blocking pop: an idle receive would then time out
                        # (channels_redis issue 422). Give the pop room to return.
                        "socket_timeout": 15,
                        # A publish while Redis is down fails fast instead of hanging.
                        "socket_connect_timeout": 2,
                        # redis-py 8 caps a pool at 100; a burst of handshakes after
                        # a restart needs more.
                        "max_connections": 1000,
                        "health_check_interval": 30,
                    }
                ],
                # Each process receives on one channel (see updates/delivery.py), so
                # its queue holds a burst of changes to every event it serves.
                "capacity": 1000,
                "group_expiry": group_expiry,
            },
        }
    }


def caches(redis_url: str) -> dict:
    """CACHES: shared through Redis by every process when there is one, else per process."""
    if not redis_url:
        return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            # A cache that cannot answer quickly is skipped, not waited for.
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        }
    }
