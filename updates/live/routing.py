from channels.auth import AuthMiddlewareStack
from django.urls import path

from updates.live.consumers import LiveConsumer
from updates.live.desk_socket import DeskConsumer

websocket_urlpatterns = [
    # Channels routes ASGI applications with Django's path(), typed for views only.
    path("ws/live/<slug:slug>/", LiveConsumer.as_asgi()),  # type: ignore[arg-type]
    # The admin's session on the desk's route alone: a reader's handshake looks up none.
    path(
        "ws/desk/<int:event_id>/",
        AuthMiddlewareStack(DeskConsumer.as_asgi()),  # type: ignore[arg-type]
    ),
]
