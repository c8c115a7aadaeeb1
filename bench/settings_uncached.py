"""Bench only: liveblog's settings with no cache, so every page is built on every request.

bench/reads.py serves the newest pages with these beside the real settings, to show
what caching them by revision is worth. Not a production switch.
"""

from liveblog.settings import *  # noqa: F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
