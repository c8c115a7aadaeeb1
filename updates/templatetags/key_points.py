"""The desk's key points form (updates/key_points.py), so that the desk's include has it
without the desk's view knowing of it."""

from typing import Any

from django import template

from updates.key_points import KeyPointsForm, edits_key_points

register = template.Library()


@register.simple_tag(takes_context=True)
def key_points_form(context: dict[str, Any]) -> KeyPointsForm | None:
    """The form for context["event"], as posted after a refused save (key_points.desk_again);
    None for someone who may not change the key points."""
    request = context["request"]
    if not edits_key_points(request.user):
        return None
    refused: KeyPointsForm | None = getattr(request, "key_points_form", None)
    return refused or KeyPointsForm(event=context["event"])
