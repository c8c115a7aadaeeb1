"""Media in templates: the card's as the wire carries them (the page, the websocket and the
API show the same sources, serialize.media_to_dicts), and the desk's thumbnails."""

from typing import Any

from django import template

from updates import media
from updates.embeds import PROVIDERS, player_of
from updates.models import Entry
from updates.serialize import media_to_dicts

register = template.Library()


@register.filter
def media_for_card(entry: Entry) -> list[dict[str, Any]]:
    """What the card draws: each item as the wire has it, an embed with its provider's name
    and the player to frame once the reader asks (empty for a link card)."""
    drawn: list[dict[str, Any]] = []
    for item in media_to_dicts(entry):
        if item["kind"] == "embed":
            provider = PROVIDERS[item["provider"]]
            drawn.append(dict(item) | {"label": provider.label, "player": player_of(item)})
        else:
            drawn.append(dict(item))
    return drawn


@register.filter
def thumbnail(entry: Entry) -> str:
    """The address of a small rendition of the entry's first picture; empty if it has none."""
    pictures = media.pictures_of(entry.media)
    return media.thumbnail_url(pictures[0]) if pictures else ""


@register.simple_tag(takes_context=True)
def absolute(context: dict[str, Any], address: str) -> str:
    """The address as a crawler needs it (og:image): with the site's scheme and host, unless
    it has its own (a bucket's domain)."""
    return str(context["request"].build_absolute_uri(address))
