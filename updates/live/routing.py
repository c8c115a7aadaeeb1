from django.urls import path

from updates.live.consumers import LiveConsumer

websocket_urlpatterns = [
    # Channels routes ASGI applications with Django's path(), typed for views only.
    path("ws/live/<slug:slug>/", LiveConsumer.as_asgi()),  # type: ignore[arg-type]
]
