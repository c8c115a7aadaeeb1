"""Rate limits per client address, counted in Django's cache.

With REDIS_URL set the cache is Redis, so every Daphne process counts into one budget per
address; without it each process counts on its own (one process, the embedded default).

A fixed window per minute, written here rather than taken from django-ratelimit: that
library has no async path for consumers, needs an HttpRequest to key on, and raises
when Redis is down (it fails open only when the cache answers None), while a limit here
must never lock readers out during a Redis outage. The count is Redis's INCR (atomic
across processes), a new key given its expiry in the same script: one round trip.
A fixed window lets a client spend up to twice its budget across a window's edge;
against a script hammering the API that is close enough.
"""

import functools
import ipaddress
import logging
import math
import time
from collections.abc import Mapping
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Any

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, BaseCache, caches
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest

from liveblog.backends import RedisCache
from updates import cache_keys, metrics

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
# A key outlives its window, so a process whose clock is a little behind still finds it.
KEY_SECONDS = 2 * WINDOW_SECONDS

type IPAddress = IPv4Address | IPv6Address


@functools.cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def _parse(text: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _budget(address: IPAddress) -> str:
    # One IPv6 subscriber is handed a whole /64: counting single addresses would give a
    # script 2**64 budgets.
    if isinstance(address, IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_ip(peer: str | None, forwarded_for: str | None) -> IPAddress | None:
    """The client's address: the peer (REMOTE_ADDR, the ASGI scope's client), unless it
    is one of TRUSTED_PROXIES; then the right-most X-Forwarded-For hop that is not itself
    a trusted proxy. Hops to the left of that one are whatever the client wrote, so an
    X-Forwarded-For from anyone else is never read. None if there is no address.
    """
    trusted = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    hops = [peer or "", *reversed((forwarded_for or "").split(","))]
    found: IPAddress | None = None
    for hop in hops:
        address = _parse(hop)
        if address is None:
            # Not an address (none at all, or a proxy passing on junk): trust stops at the
            # hop before, whose own address is then the client's.
            break
        found = address
        if not any(address in network for network in trusted):
            break
    return found


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """Whom to count a request against: client_ip()'s, IPv6 per /64."""
    address = client_ip(peer, forwarded_for)
    return _budget(address) if address else "unknown"


def request_client_ip(request: HttpRequest) -> IPAddress | None:
    # Django joins repeated X-Forwarded-For headers with commas, in order.
    return client_ip(request.META.get("REMOTE_ADDR"), request.META.get("HTTP_X_FORWARDED_FOR"))


def request_client_address(request: HttpRequest) -> str:
    address = request_client_ip(request)
    return _budget(address) if address else "unknown"


def scope_client_address(scope: Mapping[str, Any]) -> str:
    peer = (scope.get("client") or [None])[0]
    # ASGI header names are lower case; repeated headers are joined as Django does.
    forwarded = [
        value.decode("latin-1") for name, value in scope["headers"] if name == b"x-forwarded-for"
    ]
    return client_address(peer, ",".join(forwarded) or None)


def rate_limited(name: str, *, address: str, per_minute: int) -> int | None:
    """Counts one use of `name` by `address`. None while within `per_minute` uses in this
    minute's window (or when per_minute is 0: no limit); over it, the whole seconds until
    the window ends, for Retry-After. A cache that fails lets the use through.
    """
    if per_minute <= 0:
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = cache_keys.rate_limit(name, per_minute=per_minute, address=address, window=window)
    try:
        count = _count(key)
    except Exception as error:
        logger.warning(
            "Rate limit %s not counted for %s (cache unavailable: %s)", name, address, error
        )
        return None
    if count <= per_minute:
        return None
    metrics.RATE_LIMIT_REFUSALS.labels(limit=name).inc()
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


@functools.cache
def _counts() -> BaseCache:
    """The cache, one client for the whole process. Django's `cache` under ASGI is one per
    request (and per socket), so each would open a new connection to Redis."""
    return caches.create_connection(DEFAULT_CACHE_ALIAS)


@receiver(setting_changed)
def _forget_counts_client(*, setting: str, **kwargs) -> None:
    # A test that points CACHES elsewhere (at a Redis that is down) counts there.
    if setting == "CACHES":
        _counts.cache_clear()


def _count(key: str) -> int:
    counts = _counts()
    if isinstance(counts, RedisCache):
        return counts.count(key, KEY_SECONDS)
    # Any other cache (the embedded default's, in process): incr(), and add() to start
    # the window's count with its expiry, past the window's end, so that no incr()
    # meets a key just expiring.
    try:
        return counts.incr(key)
    except ValueError:
        if counts.add(key, 1, KEY_SECONDS):
            return 1
        # Another process counted the window's first use in between.
        return counts.incr(key)
