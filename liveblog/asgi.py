import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
# Set up Django before importing anything that touches models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from updates import collector, heartbeat, periodic, presence, scheduler  # noqa: E402
from updates.routing import websocket_urlpatterns  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)


# Each reader holds a few hundred objects: with thousands of readers a full collection
# stalls every reader of the process for 250-640 ms (bench/fanout.py). Collecting young
# objects less often lets a fan-out's short-lived ones die before they are promoted; the
# cycles readers leave behind are collected once enough have left (updates/collector.py).
gc.set_threshold(50_000, 20, 10)
# Django's settings, apps, models and URL patterns live as long as the process: out of
# the collector's sight, so that a full collection walks only what readers hold.
gc.collect()
gc.freeze()


async def application(scope, receive, send):
    # Daphne has no start-up hook: the first connection starts this process's jobs.
    periodic.ensure_running(scheduler.publish_due, every=scheduler.SCHEDULER_SECONDS)
    periodic.ensure_running(heartbeat.beat, every=heartbeat.HEARTBEAT_SECONDS)
    periodic.ensure_running(presence.report, every=presence.PRESENCE_SECONDS)
    periodic.ensure_running(collector.collect_after_readers_left, every=collector.COLLECTOR_SECONDS)
    return await router(scope, receive, send)
