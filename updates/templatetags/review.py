"""The desk's review queue (updates/review.py), for the desk's include: its data comes
with it, so desk.py needs to know nothing of it."""

from typing import Any

from django import template

from updates.models import Event
from updates.review import ReviewQueue, review_queue
from updates.roles import signed_in

register = template.Library()


@register.simple_tag(takes_context=True)
def desk_review_queue(context: dict[str, Any], event: Event) -> ReviewQueue:
    return review_queue(event=event, user=signed_in(context["request"]))
