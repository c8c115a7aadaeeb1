from django.urls import path

from updates.live.consumers import LiveConsumer

websocket_urlpatterns = [
    path("ws/live/<slug:slug>/", LiveConsumer.as_asgi()),
]
